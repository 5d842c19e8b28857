"""Small fitted artifacts for tests and benchmarks: no dependency on train/pipeline.py.

:func:`write_artifacts` fits ``Pipeline([("features", PaySimFeatures), ("model", XGBClassifier)])``
on a raw frame and writes ``pipeline.joblib`` and ``metrics.json`` as fraud-train would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from service.schema import LABEL_FIELDS, PAYSIM_COLUMNS
from train.features import FEATURE_SETS, PaySimFeatures
from train.synthetic import generate


def paysim_like_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` generated PaySim rows (train.synthetic): all five types, about 0.13% fraud."""
    return generate(n, seed=seed)


def fit_pipeline(frame: pd.DataFrame, feature_set: str = "full", **params: Any) -> Pipeline:
    """Fit the inference pipeline on ``frame`` (label column ``isFraud``); no SMOTE."""
    defaults: dict[str, Any] = {"n_estimators": 30, "max_depth": 4, "n_jobs": 1, "random_state": 0}
    pipeline = Pipeline(
        [
            ("features", PaySimFeatures(feature_set=feature_set)),
            ("model", XGBClassifier(**{**defaults, **params})),
        ]
    )
    return pipeline.fit(frame.drop(columns=list(LABEL_FIELDS)), frame["isFraud"].to_numpy())


def write_artifacts(
    out: Path, pipeline: Pipeline, threshold: float, rows: int = 0, feature_set: str = "full"
) -> Path:
    """Write ``pipeline.joblib`` and a ``metrics.json`` with the keys convert/ reads."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out / "pipeline.joblib")
    metrics = {
        "threshold": threshold,
        "feature_set": feature_set,
        "feature_names": list(FEATURE_SETS[feature_set]),
        "test": {"pr_auc": 0.9, "roc_auc": 0.99, "precision": 0.8, "recall": 0.7, "f1": 0.75},
        "rows": rows,
        "versions": {"xgboost": "test", "scikit-learn": "test"},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return out


def make_artifacts(
    out: Path, rows: int = 10_000, seed: int = 0, threshold: float = 0.4, **params: Any
):
    """Generate data, fit a small pipeline and write artifacts; return (dir, pipeline)."""
    frame = paysim_like_frame(rows, seed)
    pipeline = fit_pipeline(frame, **params)
    return write_artifacts(out, pipeline, threshold, rows=rows), pipeline


def write_paysim_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` (PaySim columns) as a Kaggle-format PaySim CSV."""
    full = frame[list(PAYSIM_COLUMNS)].copy()
    full["type"] = full["type"].astype(str)
    full.to_csv(path, index=False)
    return Path(path)
