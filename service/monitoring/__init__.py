"""Drift monitoring against the model's own training reference (numpy and the standard library).

- :mod:`service.monitoring.reference`: the reference profile a model carries in its metadata
  (``drift_profile``): quantile bin edges and training shares per feature and for the score.
- :mod:`service.monitoring.binning`: values to reference bin indices, all features at once.
- :mod:`service.monitoring.stats`: population stability index and binned KS statistics.
- :mod:`service.monitoring.decisions`: ``drift_bins`` in the decision log (live traffic).
- :mod:`service.monitoring.records`: decision logs and counts documents back to bin counts.
- :mod:`service.monitoring.live`: per-feature bin counts of scored traffic, in memory.

Shared by the service, ``fraud-drift`` (drift/) and the scheduled drift job
(service/aws/drift_job.py); imports nothing outside ``service``.
"""
