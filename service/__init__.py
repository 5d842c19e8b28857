"""fraudlite scoring service: one ONNX graph served by Starlette, locally or on AWS Lambda.

Runtime dependencies are onnxruntime, numpy, starlette, msgspec and mangum (boto3 only to fetch
the model from S3). Nothing here imports train/, convert/, xgboost, scikit-learn or pandas.
"""
