"""What a published model version is: its files and the manifest describing them.

The manifest is built from the model itself (its checked ONNX metadata: version, feature set,
threshold, metrics) and the training run's ``metrics.json`` (training data source and hash), so
the published description cannot disagree with the model it describes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnxruntime as ort

from service.model.errors import ModelLoadError
from service.model.metadata import parse_metadata

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
#: Files published beside the model when the artifacts directory has them.
SIDE_FILES = ("metrics.json", "report.md", "golden.json")
MANIFEST_FORMAT = "fraudlite-publish/1"


class ArtifactsError(ValueError):
    """The artifacts directory cannot be published; the message says why."""


@dataclass(frozen=True)
class Release:
    """One model version ready to publish: its bytes, side files and manifest."""

    version: str
    model: bytes
    sha256: str
    side_files: dict[str, bytes]
    manifest: dict[str, Any]


def read_release(artifacts: Path, now: datetime | None = None) -> Release:
    """Read ``artifacts/model.onnx`` (checked against the model contract) and its side files."""
    path = artifacts / MODEL_FILE
    try:
        model = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactsError(f"{path} not found (run fraud-convert first)") from None
    except OSError as exc:
        raise ArtifactsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises several pybind error types for unreadable files
        raise ArtifactsError(f"{path} is not a loadable ONNX model: {exc}") from None
    try:
        metadata = parse_metadata(session.get_modelmeta().custom_metadata_map)
    except ModelLoadError as exc:
        raise ArtifactsError(f"{path}: {exc.reason}") from None
    side = {
        name: (artifacts / name).read_bytes() for name in SIDE_FILES if (artifacts / name).is_file()
    }
    training = _training_data(side.get("metrics.json"))
    sha = hashlib.sha256(model).hexdigest()
    manifest = {
        "format": MANIFEST_FORMAT,
        "model_version": metadata.model_version,
        "sha256": sha,
        "size_bytes": len(model),
        "created": metadata.created_at,
        "published": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "training_data": training,
        "feature_set": metadata.feature_set,
        "inputs": [i.name for i in metadata.inputs],
        "threshold": metadata.threshold,
        "metrics": metadata.metrics,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in side.items()},
    }
    return Release(metadata.model_version, model, sha, side, manifest)


def _training_data(metrics_json: bytes | None) -> dict[str, Any] | None:
    """``metrics.json["data"]`` (source and sha256 of the training data), if recorded."""
    if metrics_json is None:
        return None
    try:
        data = json.loads(metrics_json).get("data")
    except (ValueError, AttributeError):
        raise ArtifactsError("metrics.json is not a JSON object") from None
    return data if isinstance(data, dict) else None
