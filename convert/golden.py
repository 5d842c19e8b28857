"""Golden transactions written into model.onnx at export (service/rollout/golden.py reads them).

A fixed, varied set: for every transaction type, an ordinary payment, an account-emptying
transfer (PaySim's fraud pattern), zero balances and a very large amount; each row holds exactly
the model's inputs. Their expected probabilities are what onnxruntime computes on the exported
graph now, so a deployment can check that the served model, in its runtime, gives the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from service.rollout.golden import GOLDEN_KEY, GoldenSet
from service.schema import INPUT_TYPES, OUTPUT_PROBABILITY, TRANSACTION_TYPES

#: Raw-field values of the golden rows (each used with every transaction type).
_PATTERNS: tuple[dict[str, float], ...] = (
    # an ordinary payment (the first row of the PaySim file)
    {"step": 1, "amount": 9839.64, "oldbalanceOrg": 170136.0, "newbalanceOrig": 160296.36,
     "oldbalanceDest": 0.0, "newbalanceDest": 0.0},
    # the origin account emptied into an empty destination
    {"step": 1, "amount": 181.0, "oldbalanceOrg": 181.0, "newbalanceOrig": 0.0,
     "oldbalanceDest": 0.0, "newbalanceDest": 0.0},
    # all balances zero
    {"step": 300, "amount": 500.0, "oldbalanceOrg": 0.0, "newbalanceOrig": 0.0,
     "oldbalanceDest": 0.0, "newbalanceDest": 0.0},
    # a very large amount late in the month, destination credited
    {"step": 700, "amount": 1.0e7, "oldbalanceOrg": 1.0e7, "newbalanceOrig": 0.0,
     "oldbalanceDest": 2.5e6, "newbalanceDest": 1.25e7},
)  # fmt: skip
_NAMES = {"nameOrig": "C1231006815", "nameDest": "M1979787155"}


def golden_rows(inputs: tuple[str, ...], type_values: tuple[str, ...]) -> list[dict[str, Any]]:
    """The golden transactions for a model with these inputs and transaction types."""
    rows = []
    for pattern in _PATTERNS:
        for type_name in type_values:
            values = {**pattern, **_NAMES, "type": type_name}
            rows.append({name: values[name] for name in inputs})
    return rows


def golden_set(
    model: onnx.ModelProto,
    inputs: tuple[str, ...],
    threshold: float,
    type_values: tuple[str, ...] = TRANSACTION_TYPES,
) -> GoldenSet:
    """Score the golden rows with onnxruntime on ``model``; the set to store in its metadata."""
    import onnxruntime as ort  # only needed here, as for the export's parity check

    rows = golden_rows(inputs, type_values)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {
        name: np.array(
            [row[name] for row in rows],
            dtype=object if INPUT_TYPES[name] == "string" else np.float32,
        )
        for name in inputs
    }
    (probabilities,) = session.run([OUTPUT_PROBABILITY], feeds)
    return GoldenSet(tuple(rows), tuple(float(p) for p in probabilities), float(threshold))


def golden_metadata(
    model: onnx.ModelProto,
    inputs: tuple[str, ...],
    threshold: float,
    type_values: tuple[str, ...] = TRANSACTION_TYPES,
) -> dict[str, str]:
    """``{GOLDEN_KEY: json}`` to attach with convert.metadata.attach_metadata."""
    return {GOLDEN_KEY: golden_set(model, inputs, threshold, type_values).to_json()}
