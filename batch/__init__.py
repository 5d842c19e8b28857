"""fraud-score: batch scoring of files and S3 prefixes with a fraudlite ONNX model.

Streams CSV, CSV.gz or Parquet in chunks (bounded memory), validates every row with the API's rules
and wording, scores the valid ones with the same ``LoadedModel.score`` core as POST /predict and
writes scored rows, rejected rows (with the reason) and a summary. Two engines run the same job:
``local`` (threads on this machine) and ``ray`` (Ray Data actors, one onnxruntime session each).
"""
