"""The raw transaction schema: the one source of truth shared by training, export and serving.

Only the standard library is used here, so the service, the trainer and the converter can all
import it. The ONNX model carries a copy of the parts it was built with in its metadata
(``input_schema``), and the service checks that copy against this module when it loads a model.
"""

from __future__ import annotations

import json
from typing import Any, Final

#: Identifies the metadata layout written by convert/ and read by service/.
MODEL_FORMAT: Final = "fraudlite/1"

#: PaySim transaction types, in the order used for one-hot encoding.
TRANSACTION_TYPES: Final[tuple[str, ...]] = ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER")

#: Numeric raw fields a model may take as inputs, all float32 in the ONNX graph.
NUMERIC_FIELDS: Final[tuple[str, ...]] = (
    "step",
    "amount",
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
)

#: Post-transaction fields: unknown before a transaction executes (see the preauth feature set).
POST_TRANSACTION_FIELDS: Final[tuple[str, ...]] = ("newbalanceOrig", "newbalanceDest")

#: Account identifiers: in the PaySim file, accepted by the API, not model inputs (full model).
NAME_FIELDS: Final[tuple[str, ...]] = ("nameOrig", "nameDest")

#: Labels present in PaySim files; never model inputs.
LABEL_FIELDS: Final[tuple[str, ...]] = ("isFraud", "isFlaggedFraud")

#: All columns of the Kaggle PaySim CSV, in file order.
PAYSIM_COLUMNS: Final[tuple[str, ...]] = (
    "step",
    "type",
    "amount",
    "nameOrig",
    "oldbalanceOrg",
    "newbalanceOrig",
    "nameDest",
    "oldbalanceDest",
    "newbalanceDest",
    "isFraud",
    "isFlaggedFraud",
)

#: Model inputs of the full feature set, in ONNX input order: each a 1-D tensor of shape [N].
MODEL_INPUTS: Final[tuple[str, ...]] = ("type", *NUMERIC_FIELDS)

#: Model inputs of the pre-authorization feature set: only what is known before execution.
PREAUTH_INPUTS: Final[tuple[str, ...]] = (
    "type",
    *(name for name in NUMERIC_FIELDS if name not in POST_TRANSACTION_FIELDS),
)

#: ONNX element type of each possible model input.
INPUT_TYPES: Final[dict[str, str]] = {
    "type": "string",
    **{name: "float32" for name in NUMERIC_FIELDS},
    **{name: "string" for name in NAME_FIELDS},
}

#: The original project's pre-engineered request body, still accepted by POST /predict.
LEGACY_ONE_HOT: Final[dict[str, str]] = {
    "type_CASH_OUT": "CASH_OUT",
    "type_DEBIT": "DEBIT",
    "type_PAYMENT": "PAYMENT",
    "type_TRANSFER": "TRANSFER",
}
LEGACY_BASE_TYPE: Final = "CASH_IN"
LEGACY_DERIVED: Final[tuple[str, ...]] = ("amt_ratio_orig",)

#: The example transaction used by the docs, the OpenAPI document, benchmarks and tests: a
#: TRANSFER that empties the origin account into an empty destination (PaySim's fraud pattern).
EXAMPLE_TRANSACTION: Final[dict[str, Any]] = {
    "type": "TRANSFER",
    "step": 1,
    "amount": 181.0,
    "oldbalanceOrg": 181.0,
    "newbalanceOrig": 0.0,
    "oldbalanceDest": 0.0,
    "newbalanceDest": 0.0,
}

#: Model outputs, in ONNX output order.
OUTPUT_PROBABILITY: Final = "probability"
OUTPUT_LABEL: Final = "label"


def input_schema(inputs: tuple[str, ...] = MODEL_INPUTS) -> dict[str, Any]:
    """Return the input schema a model built for ``inputs`` declares in its metadata."""
    unknown = [name for name in inputs if name not in INPUT_TYPES]
    if unknown:
        raise ValueError(f"unknown model inputs: {unknown}")
    return {
        "inputs": [{"name": name, "type": INPUT_TYPES[name], "shape": ["N"]} for name in inputs],
        "type_values": list(TRANSACTION_TYPES),
    }


def input_schema_json(inputs: tuple[str, ...] = MODEL_INPUTS) -> str:
    """The canonical JSON text of :func:`input_schema`, as stored in ONNX metadata."""
    return json.dumps(input_schema(inputs), sort_keys=True, separators=(",", ":"))
