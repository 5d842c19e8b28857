"""The set of served models beyond the primary: a shadow scored on every transaction and an A/B
arm chosen by a hash of the transaction id; plus the golden transactions a model carries.

Nothing here changes the primary's answer: a shadow's result (or failure) only goes to the
decision log, the metrics, ``GET /model`` and ``GET /health``. See docs/rollout.md.
"""
