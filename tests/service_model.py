"""Small ONNX models that follow docs/model-contract.md, for the service tests.

The graph is a logistic function of the raw fields (a LabelEncoder weight per transaction type
plus a weighted log1p of each numeric input), so tests need neither train/ nor convert/.
Deliberately broken variants exercise every load-time refusal of the service.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from service import schema
from service.model.identity import content_version

TYPE_WEIGHTS = {"CASH_IN": -3.0, "CASH_OUT": 0.5, "DEBIT": -2.0, "PAYMENT": -4.0, "TRANSFER": 1.5}
NUMERIC_WEIGHTS = {
    "step": 0.05,
    "amount": 0.6,
    "oldbalanceOrg": 0.3,
    "newbalanceOrig": -0.5,
    "oldbalanceDest": -0.2,
    "newbalanceDest": -0.1,
}
NAME_WEIGHTS = {"C1": 2.0, "M1": -1.0}
BIAS = -3.0
PREAUTH_INPUTS = ("type", "step", "amount", "oldbalanceOrg", "oldbalanceDest", "nameDest")

_ELEMENT = {"string": TensorProto.STRING, "float32": TensorProto.FLOAT}


def build_model(
    path: Path,
    *,
    inputs: Sequence[str] = schema.MODEL_INPUTS,
    threshold: float = 0.5,
    feature_set: str = "full",
    metadata: Mapping[str, str | None] | None = None,
    graph_input_types: Mapping[str, int] | None = None,
    label_threshold: float | None = None,
) -> Path:
    """Write a contract-conforming model to ``path`` and return it.

    ``metadata`` overrides (or, with None values, removes) metadata keys; ``graph_input_types``
    changes the ONNX element type of inputs in the graph only (to build mismatched models);
    ``label_threshold`` makes the in-graph label use another threshold than the metadata says.
    """
    input_types = {name: _ELEMENT[schema.INPUT_TYPES.get(name, "float32")] for name in inputs}
    input_types.update(graph_input_types or {})
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    terms: list[str] = []
    for name in inputs:
        term = f"term_{name}"
        element = input_types[name]
        if element == TensorProto.STRING:
            weights = TYPE_WEIGHTS if name == "type" else NAME_WEIGHTS
            nodes.append(
                helper.make_node(
                    "LabelEncoder",
                    [name],
                    [term],
                    domain="ai.onnx.ml",
                    keys_strings=list(weights),
                    values_floats=list(weights.values()),
                    default_float=0.0,
                )
            )
        else:
            source = name
            if element != TensorProto.FLOAT:
                source = f"{name}_f32"
                nodes.append(helper.make_node("Cast", [name], [source], to=TensorProto.FLOAT))
            inits.append(_scalar(f"w_{name}", NUMERIC_WEIGHTS.get(name, 0.1)))
            nodes += [
                helper.make_node("Add", [source, "one"], [f"{name}_p1"]),
                helper.make_node("Log", [f"{name}_p1"], [f"{name}_log"]),
                helper.make_node("Mul", [f"{name}_log", f"w_{name}"], [term]),
            ]
        terms.append(term)
    inits += [
        _scalar("one", 1.0),
        _scalar("bias", BIAS),
        _scalar("thr", threshold if label_threshold is None else label_threshold),
    ]
    nodes += [
        helper.make_node("Sum", [*terms, "bias"], ["z"]),
        helper.make_node("Sigmoid", ["z"], [schema.OUTPUT_PROBABILITY]),
        helper.make_node("GreaterOrEqual", [schema.OUTPUT_PROBABILITY, "thr"], ["is_pos"]),
        helper.make_node("Cast", ["is_pos"], [schema.OUTPUT_LABEL], to=TensorProto.INT64),
    ]
    graph = helper.make_graph(
        nodes,
        "fraudlite_test_logistic",
        [helper.make_tensor_value_info(n, input_types[n], ["N"]) for n in inputs],
        [
            helper.make_tensor_value_info(schema.OUTPUT_PROBABILITY, TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info(schema.OUTPUT_LABEL, TensorProto.INT64, ["N"]),
        ],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="fraudlite-tests",
    )
    model.ir_version = 9
    onnx.checker.check_model(model)
    props = default_metadata(tuple(inputs), "", threshold, feature_set)
    del props["model_version"]  # derived from the content below, as fraud-convert does
    forged = (metadata or {}).get("model_version", "")
    for key, value in (metadata or {}).items():
        if value is None:
            props.pop(key, None)
        elif key != "model_version":
            props[key] = value
    helper.set_model_props(model, props)
    if metadata is None or "model_version" not in metadata:
        stamp_version(model)
    elif forged is not None:  # a test's own version: not derived from the bytes
        model.metadata_props.add(key="model_version", value=forged)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def stamp_version(model: onnx.ModelProto) -> str:
    """Give ``model`` the content-derived ``model_version`` the service verifies at load
    (service/model/identity.py), replacing any it has; returns it. Call it after every edit."""
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != "model_version"]
    del model.metadata_props[:]
    for key, value in kept:
        model.metadata_props.add(key=key, value=value)
    version = content_version(model.SerializeToString())
    model.metadata_props.add(key="model_version", value=version)
    return version


def default_metadata(
    inputs: tuple[str, ...], version: str, threshold: float, feature_set: str
) -> dict[str, str]:
    """The metadata a real export writes, per docs/model-contract.md."""
    try:
        input_schema = schema.input_schema_json(inputs)
    except ValueError:  # deliberately unknown inputs still need some schema text
        input_schema = json.dumps(
            {
                "inputs": [
                    {"name": n, "type": schema.INPUT_TYPES.get(n, "float32"), "shape": ["N"]}
                    for n in inputs
                ],
                "type_values": list(schema.TRANSACTION_TYPES),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
    return {
        "format": schema.MODEL_FORMAT,
        "model_version": version,
        "input_schema": input_schema,
        "feature_set": feature_set,
        "feature_names": json.dumps([n for n in inputs if n != "type"]),
        "threshold": repr(threshold),
        "metrics": json.dumps({"pr_auc": 0.9, "roc_auc": 0.99, "rows": 1000}),
        "versions": json.dumps({"onnx": onnx.__version__}),
        "created_at": "2024-01-01T00:00:00Z",
    }


def broken_models(directory: Path) -> dict[str, tuple[Path, str]]:
    """Models the service must refuse, each with a substring its refusal reason contains."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    corrupt = d / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is not a protobuf model" * 10)
    truncated = d / "truncated.onnx"
    truncated.write_bytes(build_model(d / "whole.onnx").read_bytes()[:200])
    return {
        "wrong_format": (
            build_model(d / "fmt.onnx", metadata={"format": "fraudlite/0"}),
            "format",
        ),
        "unknown_input": (
            build_model(d / "unknown.onnx", inputs=(*schema.MODEL_INPUTS, "velocity")),
            "velocity",
        ),
        "wrong_input_type": (
            build_model(d / "dtype.onnx", graph_input_types={"amount": TensorProto.DOUBLE}),
            "amount",
        ),
        "missing_metadata": (
            build_model(d / "nometa.onnx", metadata={"threshold": None, "input_schema": None}),
            "threshold",
        ),
        "schema_mismatch": (
            build_model(
                d / "mismatch.onnx",
                metadata={"input_schema": schema.input_schema_json(schema.MODEL_INPUTS[:-1])},
            ),
            "do not match",
        ),
        "bad_threshold": (build_model(d / "thr.onnx", metadata={"threshold": "high"}), "threshold"),
        "label_disagrees": (
            build_model(d / "label.onnx", threshold=0.5, label_threshold=0.0),
            "label",
        ),
        # A version that is not derived from the bytes (issue 13): the identity is verified.
        "forged_version": (
            build_model(d / "forged.onnx", metadata={"model_version": "0123456789abcdef"}),
            "does not match the model's content",
        ),
        "corrupt": (corrupt, "not a loadable ONNX model"),
        "truncated": (truncated, "not a loadable ONNX model"),
    }


def _scalar(name: str, value: float) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, [], [value])


def columns_of(rows: Sequence[Mapping[str, Any]], inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Model input columns from request-like rows (what the service should feed the model)."""
    out: dict[str, np.ndarray] = {}
    for name in inputs:
        values = [row[name] for row in rows]
        kind = schema.INPUT_TYPES[name]
        out[name] = np.array(values, dtype=object if kind == "string" else np.float32)
    return out


def direct_scores(path: Path, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """onnxruntime's own (probability, label) for ``rows`` scored in one call, bypassing the
    service.

    Compare like with like: ORT's vectorised kernels can give a row a result a few float32 ulps
    away from the one it gets when scored alone, so a single request is compared with a
    one-row call and a batch with the same batch.
    """
    session = _session(str(path), path.stat().st_mtime_ns)
    inputs = [i.name for i in session.get_inputs()]
    probability, label = session.run(
        [schema.OUTPUT_PROBABILITY, schema.OUTPUT_LABEL], columns_of(rows, inputs)
    )
    return probability, label


@functools.lru_cache(maxsize=16)
def _session(path: str, mtime_ns: int) -> ort.InferenceSession:
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


#: The issue's example transaction: a TRANSFER that empties the origin account.
EXAMPLE_TRANSACTION = schema.EXAMPLE_TRANSACTION


def example_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` varied, valid transactions (raw request bodies) for tests."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        old = float(rng.choice([0.0, float(rng.integers(0, 200_000))]))
        amount = float(np.round(rng.uniform(0, 300_000), 2))
        kind = schema.TRANSACTION_TYPES[i % len(schema.TRANSACTION_TYPES)]
        rows.append(
            {
                "type": kind,
                "step": int(rng.integers(1, 744)),
                "amount": amount,
                "oldbalanceOrg": old,
                "newbalanceOrig": max(old - amount, 0.0),
                "oldbalanceDest": float(rng.integers(0, 100_000)),
                "newbalanceDest": float(rng.integers(0, 400_000)),
                "nameOrig": f"C{1000 + i}",
                "nameDest": ("M" if kind == "PAYMENT" else "C") + str(i % 3),
            }
        )
    return rows
