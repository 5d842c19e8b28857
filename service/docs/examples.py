"""The request examples of the OpenAPI document and the loaded model's real answers to them.

Every example carries every field a contract model may take as input (account names included),
so it validates for any loaded model: scoring it cannot fail for a lack of fields, and a failure
would be a bug to see, not to hide.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from service import schema
from service.api.requests import RequestValidator
from service.api.scoring import prediction_body, score_parsed
from service.model import LoadedModel

NAMES: Final = {"nameOrig": "C1231006815", "nameDest": "C1666544295"}
EXAMPLE: Final = {"transaction_id": "tx-0001", **schema.EXAMPLE_TRANSACTION, **NAMES}
LEGACY_EXAMPLE: Final = {
    "step": 1,
    "amount": 181.0,
    "nameOrig": NAMES["nameOrig"],
    "oldbalanceOrg": 181.0,
    "newbalanceOrig": 0.0,
    "nameDest": NAMES["nameDest"],
    "oldbalanceDest": 0.0,
    "newbalanceDest": 0.0,
    "type_CASH_OUT": 0,
    "type_DEBIT": 0,
    "type_PAYMENT": 0,
    "type_TRANSFER": 1,
    "amt_ratio_orig": 1.0,
}
BATCH_EXAMPLE: Final = {
    "transactions": [
        EXAMPLE,
        {**EXAMPLE, "transaction_id": "tx-0002", "type": "PAYMENT", "amount": 9839.64,
         "oldbalanceOrg": 170136.0, "newbalanceOrig": 160296.36, "nameDest": "M1979787155"},
    ]
}  # fmt: skip
ERROR_EXAMPLE: Final = {
    "error": "invalid request: transactions[1].amount: must not be negative, got -5.0",
    "details": [{"field": "transactions[1].amount", "problem": "must not be negative, got -5.0"}],
}
#: Shown instead of a real answer when no model is loaded.
ILLUSTRATIVE_ANSWER: Final = {
    "probability_fraud": 0.998,
    "is_fraud": True,
    "threshold": 0.42,
    "model_version": "...",
}


def request_examples(model: LoadedModel | None) -> dict[str, Any]:
    """The request examples; ``explained`` only for a model that can explain."""
    bodies: dict[str, Any] = {"single": EXAMPLE, "batch": BATCH_EXAMPLE, "legacy": LEGACY_EXAMPLE}
    if model is not None and model.explanation is not None:
        bodies["explained"] = {**EXAMPLE, "explain": True, "top_k": 3}
    return bodies


def answer_examples(model: LoadedModel | None, validator: RequestValidator) -> dict[str, Any]:
    """The model's real answer to each request example (scored now, on the first GET of the
    document), or an illustrative one without a model."""
    out: dict[str, Any] = {}
    for name, body in request_examples(model).items():
        if model is None:
            out[name] = ILLUSTRATIVE_ANSWER
            continue
        parsed = validator.parse(msgspec.json.encode(body))
        out[name] = prediction_body(model, parsed, *score_parsed(model, parsed))
    return out
