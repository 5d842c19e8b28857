"""The approach fraudlite replaces, reproduced for comparison only.

A FastAPI app taking the original project's 11 pre-engineered fields, building one pandas
DataFrame per request and calling the joblib'd pipeline's ``predict`` and ``predict_proba``;
wrapped by Mangum for Lambda. The service never imports this package.
"""
