"""The ``explain``/``top_k`` request options and the ``contributions`` answer in the OpenAPI
document (service/docs/openapi.py): schemas only; the examples are the loaded model's real answers."""

from __future__ import annotations

import copy
from typing import Any, Final

from service.api.explain import DEFAULT_TOP_K

OPTION_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "explain": {
        "type": "boolean",
        "default": False,
        "description": "add each prediction's per-feature contributions (models exported with "
        "explanations; others answer 422 naming explain). Top level only: in a batch, next to "
        "transactions, for the whole batch",
    },
    "top_k": {
        "type": "integer",
        "minimum": 1,
        "default": DEFAULT_TOP_K,
        "description": "with explain: how many entries to list, largest |contribution| first "
        "(more than the model has: all of them)",
    },
}

EXPLANATION_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "Why this score: contributions to the log-odds (XGBoost's approximate, "
    "Saabas, contributions computed inside model.onnx). sum(features[].contribution) + other "
    "+ bias = log(p / (1 - p)) of probability_fraud, up to float32 rounding. Positive pushes "
    "towards fraud. The one-hot type_* features are one entry named type.",
    "properties": {
        "features": {
            "type": "array",
            "description": "top_k entries by descending |contribution| (ties: model order)",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "feature name, or type"},
                    "value": {
                        "type": ["number", "string", "null"],
                        "description": "the engineered feature value the trees read (float32; "
                        "null if not finite); for type the transaction type",
                    },
                    "contribution": {"type": "number", "description": "log-odds"},
                },
                "required": ["name", "value", "contribution"],
                "additionalProperties": False,
            },
        },
        "other": {"type": "number", "description": "sum of the entries not listed"},
        "bias": {"type": "number", "description": "base log-odds, the same for every row"},
    },
    "required": ["features", "other", "bias"],
    "additionalProperties": False,
}


def add_explain_schemas(components: dict[str, dict[str, Any]]) -> None:
    """Add the options to the request bodies and ``contributions`` to ``Prediction``, in place.

    Single bodies become ``TransactionRequest``/``LegacyTransactionRequest`` (a transaction plus
    the options); batch items keep the plain ``Transaction`` schemas, which do not take them.
    """
    for name in ("Transaction", "LegacyTransaction"):
        request = copy.deepcopy(components[name])
        request["properties"].update(OPTION_SCHEMAS)
        components[f"{name}Request"] = request
    components["BatchRequest"]["properties"].update(OPTION_SCHEMAS)
    for name in ("Prediction", "BatchItem"):
        components[name]["properties"]["contributions"] = {
            "$ref": "#/components/schemas/Explanation"
        }
    components["Explanation"] = EXPLANATION_SCHEMA
