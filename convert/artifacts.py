"""Read and check the training artifacts that the converter turns into ONNX."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from convert.errors import ArtifactsError, UnsupportedModelError
from train.features import FEATURE_SET_INPUTS, FEATURE_SETS, PaySimFeatures

PIPELINE_FILE = "pipeline.joblib"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class Artifacts:
    """A fitted inference pipeline and the facts about it that the ONNX graph needs."""

    pipeline: Pipeline
    features: PaySimFeatures
    model: XGBClassifier
    feature_set: str
    feature_names: tuple[str, ...]
    threshold: float
    metrics: dict[str, Any]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Raw fields the graph takes, in ONNX input order."""
        return FEATURE_SET_INPUTS[self.feature_set]


def load_pipeline(path: Path) -> tuple[Pipeline, PaySimFeatures, XGBClassifier]:
    """Load ``pipeline.joblib``; check its steps are PaySimFeatures then XGBClassifier."""
    if not path.is_file():
        raise ArtifactsError(f"pipeline file not found: {path}")
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # joblib raises many types for a corrupt or foreign file
        raise ArtifactsError(f"cannot load pipeline {path}: {exc}") from exc
    return (pipeline, *split_pipeline(pipeline, str(path)))


def split_pipeline(pipeline: Any, where: str = "pipeline") -> tuple[PaySimFeatures, XGBClassifier]:
    """Return the (features, model) steps of a fitted inference pipeline, or raise clearly."""
    if not isinstance(pipeline, Pipeline) or [n for n, _ in pipeline.steps] != [
        "features",
        "model",
    ]:
        raise UnsupportedModelError(
            f"{where}: expected sklearn Pipeline with steps ['features', 'model'], "
            f"got {type(pipeline).__name__}"
            + (
                f" with steps {[n for n, _ in pipeline.steps]}"
                if isinstance(pipeline, Pipeline)
                else ""
            )
        )
    features, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
    if not isinstance(features, PaySimFeatures):
        raise UnsupportedModelError(
            f"{where}: step 'features' must be PaySimFeatures, got {type(features).__name__}"
        )
    if not isinstance(model, XGBClassifier):
        raise UnsupportedModelError(
            f"{where}: step 'model' must be XGBClassifier, got {type(model).__name__}"
        )
    if features.feature_set not in FEATURE_SETS:
        raise UnsupportedModelError(f"{where}: unknown feature set {features.feature_set!r}")
    return features, model


def load_artifacts(artifacts_dir: Path) -> Artifacts:
    """Load ``pipeline.joblib`` and ``metrics.json`` from a ``fraud-train --out`` directory."""
    artifacts_dir = Path(artifacts_dir)
    if not artifacts_dir.is_dir():
        raise ArtifactsError(f"artifacts directory not found: {artifacts_dir}")
    pipeline, features, model = load_pipeline(artifacts_dir / PIPELINE_FILE)
    metrics = _load_metrics(artifacts_dir / METRICS_FILE)
    feature_set = metrics["feature_set"]
    if feature_set != features.feature_set:
        raise ArtifactsError(
            f"metrics.json says feature_set {feature_set!r}, "
            f"the pipeline computes {features.feature_set!r}"
        )
    expected = FEATURE_SETS[feature_set]
    for name, names in (
        ("metrics.json feature_names", tuple(metrics["feature_names"])),
        ("pipeline features", tuple(features.get_feature_names_out())),
    ):
        if names != expected:
            raise ArtifactsError(f"{name} {list(names)} differ from FEATURE_SETS[{feature_set!r}]")
    n_model = getattr(model, "n_features_in_", None)
    if n_model != len(expected):
        raise ArtifactsError(f"the model takes {n_model} features, feature set has {len(expected)}")
    return Artifacts(
        pipeline=pipeline,
        features=features,
        model=model,
        feature_set=feature_set,
        feature_names=expected,
        threshold=metrics["threshold"],
        metrics=metrics,
    )


def _load_metrics(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactsError(f"metrics file not found: {path}")
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactsError(f"cannot read {path}: {exc}") from exc
    if not isinstance(metrics, dict):
        raise ArtifactsError(f"{path}: expected a JSON object")
    missing = [k for k in ("threshold", "feature_set", "feature_names") if k not in metrics]
    if missing:
        raise ArtifactsError(f"{path}: missing key(s) {missing}")
    threshold = metrics["threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or not 0.0 <= threshold <= 1.0
    ):
        raise ArtifactsError(f"{path}: threshold must be a number in [0, 1], got {threshold!r}")
    metrics["threshold"] = float(threshold)
    if metrics["feature_set"] not in FEATURE_SETS:
        raise ArtifactsError(
            f"{path}: feature_set {metrics['feature_set']!r} is not one of {sorted(FEATURE_SETS)}"
        )
    return metrics
