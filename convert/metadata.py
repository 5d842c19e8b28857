"""Metadata written into model.onnx (``metadata_props``); see docs/model-contract.md."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import onnx

from convert.artifacts import Artifacts
from convert.contributions import CONTRIBUTIONS, contribution_columns
from convert.features_graph import FEATURES_TENSOR
from service.model.identity import VERSION_KEY, content_version
from service.schema import MODEL_FORMAT, input_schema_json

#: Test metrics copied from metrics.json["test"] into the ``metrics`` key.
METRIC_KEYS = ("pr_auc", "roc_auc", "precision", "recall", "f1")

#: Outputs a model exported with explanations has beyond probability and label, in order.
EXPLANATION_OUTPUTS = (CONTRIBUTIONS, FEATURES_TENSOR)

#: Distributions whose versions the export records (``versions.export``).
EXPORT_PACKAGES = ("fraudlite", "numpy", "onnx", "onnxmltools", "onnxruntime", "scikit-learn")
#: xgboost ships as xgboost-cpu here; either distribution name may be installed.
XGBOOST_PACKAGES = ("xgboost-cpu", "xgboost")


def threshold_float32(threshold: float) -> np.float32:
    """The threshold as the graph compares it: the float32 nearest to the trained threshold.

    This is what ``proba >= threshold`` does in numpy 2 for a float32 ``proba`` and a Python
    float (NEP 50: the float is cast to float32), i.e. train.evaluate's decision and the
    service's check. Trained thresholds come from precision_recall_curve on float32
    probabilities, so they are float32 values and the cast is exact in practice.
    """
    return np.float32(threshold)


def stamp_version(model: onnx.ModelProto) -> str:
    """Write the content-derived ``model_version`` into ``model``, replacing any; return it.

    The version is the first 16 hex digits of the sha256 of the serialized model without its
    ``model_version`` entry (service/model/identity.py, which the service uses to verify it at
    load): graph, weights, threshold and every other metadata key count, so a file cannot claim
    another model's version. :func:`attach_metadata` calls this after every change.
    """
    kept = {p.key: p.value for p in model.metadata_props if p.key != VERSION_KEY}
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, kept)
    version = content_version(model.SerializeToString())
    model.metadata_props.add(key=VERSION_KEY, value=version)
    return version


def _version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return None


def export_versions() -> dict[str, str | None]:
    """Versions of the libraries doing the export."""
    versions = {name: _version((name,)) for name in EXPORT_PACKAGES}
    versions["xgboost"] = _version(XGBOOST_PACKAGES)
    versions["python"] = platform.python_version()
    return versions


def metrics_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics`` metadata value: test metrics plus the training row count."""
    test = metrics.get("test") or {}
    summary: dict[str, Any] = {k: test[k] for k in METRIC_KEYS if k in test}
    if "rows" in metrics:
        summary["rows"] = metrics["rows"]
    return summary


def build_metadata(
    artifacts: Artifacts,
    created_at: datetime | None = None,
    explain: bool = False,
) -> dict[str, str]:
    """All metadata keys of the contract but ``model_version``, as strings (JSON where the
    contract says so); :func:`attach_metadata` derives the version from the content.

    ``explain``: the graph has the ``contributions`` and ``features`` outputs; the keys
    ``explanation_outputs`` and ``contributions_columns`` say so (absent otherwise).
    """
    created = (created_at or datetime.now(UTC)).astimezone(UTC)

    def dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)

    extra = (
        {
            "explanation_outputs": dumps(list(EXPLANATION_OUTPUTS)),
            "contributions_columns": dumps(contribution_columns(artifacts.feature_names)),
        }
        if explain
        else {}
    )
    return {
        "format": MODEL_FORMAT,
        "input_schema": input_schema_json(artifacts.inputs),
        "feature_set": artifacts.feature_set,
        "feature_names": dumps(list(artifacts.feature_names)),
        "threshold": repr(artifacts.threshold),
        "metrics": dumps(metrics_summary(artifacts.metrics)),
        "versions": dumps(
            {"train": artifacts.metrics.get("versions"), "export": export_versions()}
        ),
        "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        # --- threshold policy (issue 21): how the threshold was chosen; absent before it ---
        **(
            {"threshold_policy": dumps(artifacts.metrics["threshold_policy"])}
            if "threshold_policy" in artifacts.metrics
            else {}
        ),
        **extra,
    }


def attach_metadata(model: onnx.ModelProto, values: dict[str, str]) -> str:
    """Write ``values`` into ``model.metadata_props`` (replacing keys already there), then
    re-derive ``model_version`` from the new content (:func:`stamp_version`); returns it."""
    existing = {p.key: p.value for p in model.metadata_props}
    existing.update(values)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, existing)
    return stamp_version(model)
