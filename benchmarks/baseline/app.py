"""The original project's FastAPI app, reproduced faithfully.

One deviation, needed to score the same trees as fraudlite: the original model took the 11
pre-engineered fields directly, while our ``pipeline.joblib`` takes raw PaySim columns and
engineers its features itself. So the request's one DataFrame is built with the raw columns:
the transaction ``type`` is recovered from the one-hot fields (all zero means CASH_IN, the
dropped category), the numeric fields are passed through and ``amt_ratio_orig`` is left out
because the pipeline derives it. Everything else (Pydantic model, one DataFrame per request,
``predict`` then ``predict_proba``, the answer's fields) is as the original did it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

#: One-hot fields of the original request, and the type each stands for.
ONE_HOT_TYPES: dict[str, str] = {
    "type_CASH_OUT": "CASH_OUT",
    "type_DEBIT": "DEBIT",
    "type_PAYMENT": "PAYMENT",
    "type_TRANSFER": "TRANSFER",
}
#: The category dropped by the original one-hot encoding.
BASE_TYPE = "CASH_IN"
NUMERIC_FIELDS = (
    "step",
    "amount",
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
)


class Transaction(BaseModel):
    """The original request body: 11 pre-engineered fields."""

    step: int
    amount: float
    oldbalanceOrg: float
    newbalanceOrig: float
    oldbalanceDest: float
    newbalanceDest: float
    type_CASH_OUT: int
    type_DEBIT: int
    type_PAYMENT: int
    type_TRANSFER: int
    amt_ratio_orig: float


def raw_row(fields: dict[str, Any]) -> dict[str, Any]:
    """The raw PaySim columns our pipeline takes, from the original 11 fields."""
    types = [name for key, name in ONE_HOT_TYPES.items() if fields[key]]
    row: dict[str, Any] = {"type": types[0] if types else BASE_TYPE}
    row.update({name: fields[name] for name in NUMERIC_FIELDS})
    return row


def create_app(pipeline: Any) -> FastAPI:
    """The baseline app scoring with ``pipeline`` (the joblib'd scikit-learn Pipeline)."""
    app = FastAPI(title="Fraud detection API (baseline)")

    @app.get("/")
    def root() -> dict[str, str]:
        return {"message": "Fraud detection API is running"}

    @app.post("/predict")
    def predict(transaction: Transaction) -> dict[str, Any]:
        df = pd.DataFrame([raw_row(transaction.model_dump())])
        prediction = pipeline.predict(df)[0]
        probability = pipeline.predict_proba(df)[0][1]
        return {"is_fraud": bool(prediction), "probability_fraud": float(probability)}

    return app
