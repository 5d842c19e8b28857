"""``fraud-drift``: compare data or live traffic with the model's training reference.

- :mod:`drift.sources`: read SOURCE (CSV/CSV.gz/Parquet files, directories, ``s3://`` prefixes,
  JSON-lines decision logs and live counts documents);
- :mod:`drift.scoring`: score raw rows with the model and bin them against its reference;
- :mod:`drift.compare`: counts to PSI/KS per feature and the drift verdict;
- :mod:`drift.report`: markdown, JSON and PNG outputs; :mod:`drift.cli`: the command.

The binning and statistics are the service's own (service/monitoring/), so offline and live
figures are computed the same way.
"""
