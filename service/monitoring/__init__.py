"""Drift monitoring against the model's own training reference (numpy only).

- :mod:`service.monitoring.profile`: the reference profile a model carries in its metadata
  (``drift_profile``): quantile bin edges and training shares per feature and for the score.
- :mod:`service.monitoring.binning`: values to reference bin indices, all features at once.
- :mod:`service.monitoring.stats`: population stability index and binned KS statistics.
- :mod:`service.monitoring.live`: per-feature bin counts of scored traffic, in memory.

Shared by the service (live counts) and ``fraud-drift`` (drift/); imports nothing outside
``service``.
"""
