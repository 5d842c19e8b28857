"""Parse and check a model's ONNX metadata (docs/model-contract.md) against service/schema.py.

A model is refused at load time, with a reason naming the key, when its ``format`` is unknown, a
key is missing or malformed, or its ``input_schema`` names a field or type outside the schema.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service import schema
from service.model.errors import ModelLoadError

#: Keys every fraudlite/1 model carries (docs/model-contract.md).
REQUIRED_KEYS = (
    "format",
    "model_version",
    "input_schema",
    "feature_set",
    "feature_names",
    "threshold",
    "metrics",
    "versions",
    "created_at",
)


@dataclass(frozen=True)
class InputSpec:
    """One model input: a raw field name and its element type (``float32`` or ``string``)."""

    name: str
    type: str


@dataclass(frozen=True)
class ModelMetadata:
    """The checked contents of a model's ``metadata_props``."""

    format: str
    model_version: str
    inputs: tuple[InputSpec, ...]
    type_values: tuple[str, ...]
    input_schema: dict[str, Any]
    feature_set: str
    feature_names: tuple[str, ...]
    threshold: float
    metrics: dict[str, Any]
    versions: dict[str, Any]
    created_at: str
    # --- threshold policy (issue 21): how the threshold was chosen; None in older models ---
    threshold_policy: dict[str, Any] | None = None


def parse_metadata(props: Mapping[str, str]) -> ModelMetadata:
    """Check ``props`` (string to string, as ORT returns it); raises ModelLoadError."""
    missing = [key for key in REQUIRED_KEYS if key not in props]
    if "format" in props and props["format"] != schema.MODEL_FORMAT:
        raise ModelLoadError(
            f"model metadata format {props['format']!r} is not supported "
            f"(this service serves {schema.MODEL_FORMAT!r})"
        )
    if missing:
        raise ModelLoadError(f"model metadata lacks required key(s): {', '.join(missing)}")

    version = props["model_version"].strip()
    if not version:
        raise ModelLoadError("model metadata 'model_version' is empty")
    input_schema = _json(props, "input_schema", dict)
    inputs, type_values = _check_input_schema(input_schema)
    feature_names = _json(props, "feature_names", list)
    try:
        threshold = float(props["threshold"])
    except ValueError:
        raise ModelLoadError(
            f"model metadata 'threshold' {props['threshold']!r} is not a number"
        ) from None
    if not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise ModelLoadError(f"model metadata 'threshold' {threshold} is not within [0, 1]")
    return ModelMetadata(
        format=props["format"],
        model_version=version,
        inputs=inputs,
        type_values=type_values,
        input_schema=input_schema,
        feature_set=props["feature_set"],
        feature_names=tuple(str(name) for name in feature_names),
        threshold=threshold,
        metrics=_json(props, "metrics", dict),
        versions=_json(props, "versions", dict),
        created_at=props["created_at"],
        threshold_policy=(
            _json(props, "threshold_policy", dict) if "threshold_policy" in props else None
        ),
    )


def _json(props: Mapping[str, str], key: str, kind: type) -> Any:
    try:
        value = json.loads(props[key])
    except ValueError:
        raise ModelLoadError(f"model metadata {key!r} is not valid JSON") from None
    if not isinstance(value, kind):
        raise ModelLoadError(f"model metadata {key!r} must be a JSON {kind.__name__}")
    return value


def _check_input_schema(
    declared: dict[str, Any],
) -> tuple[tuple[InputSpec, ...], tuple[str, ...]]:
    entries = declared.get("inputs")
    if not isinstance(entries, list) or not entries:
        raise ModelLoadError("model input_schema has no 'inputs' list")
    inputs = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ModelLoadError(f"model input_schema entry {entry!r} has no name")
        name, kind = entry["name"], entry.get("type")
        if name not in schema.INPUT_TYPES:
            raise ModelLoadError(
                f"model input {name!r} is not a field of service/schema.py "
                f"(known: {', '.join(schema.INPUT_TYPES)})"
            )
        if kind != schema.INPUT_TYPES[name]:
            raise ModelLoadError(
                f"model input {name!r} has type {kind!r}; service/schema.py says "
                f"{schema.INPUT_TYPES[name]!r}"
            )
        inputs.append(InputSpec(name=name, type=kind))
    names = [spec.name for spec in inputs]
    if len(set(names)) != len(names):
        raise ModelLoadError(f"model input_schema repeats an input: {names}")
    type_values = declared.get("type_values")
    if not isinstance(type_values, list) or not type_values:
        raise ModelLoadError("model input_schema has no 'type_values' list")
    unknown = [value for value in type_values if value not in schema.TRANSACTION_TYPES]
    if unknown:
        raise ModelLoadError(
            f"model type_values {unknown} are not transaction types of service/schema.py"
        )
    # Anything else that differs (shapes, extra keys) is a contract this service does not know.
    if declared != schema.input_schema(tuple(names)):
        raise ModelLoadError("model input_schema differs from service/schema.py's input_schema()")
    return tuple(inputs), tuple(type_values)
