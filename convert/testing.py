"""Small fitted artifacts for tests and benchmarks: no dependency on train/pipeline.py.

:func:`write_artifacts` fits ``Pipeline([("features", PaySimFeatures), ("model", XGBClassifier)])``
on a raw frame and writes ``pipeline.joblib`` and ``metrics.json`` as fraud-train would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from service.schema import PAYSIM_COLUMNS, TRANSACTION_TYPES
from train.features import FEATURE_SETS, PaySimFeatures


def paysim_like_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """A random frame with the PaySim model columns, all five types, and a learnable label.

    Frauds are TRANSFER/CASH_OUT rows that empty the origin account, plus some noise, so that
    trees split on the derived balance features too.
    """
    rng = np.random.default_rng(seed)
    kind = rng.choice(len(TRANSACTION_TYPES), size=n, p=[0.22, 0.35, 0.01, 0.34, 0.08])
    amount = np.round(rng.lognormal(10, 1.6, n), 2)
    old_orig = np.where(rng.random(n) < 0.3, 0.0, np.round(rng.lognormal(10, 2, n), 2))
    empties = rng.random(n) < 0.05
    amount = np.where(empties, old_orig, amount)
    new_orig = np.maximum(old_orig - amount, 0.0)
    old_dest = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.lognormal(11, 2, n), 2))
    new_dest = np.where(rng.random(n) < 0.5, old_dest + amount, old_dest)
    step = rng.integers(1, 744, n)
    risky = np.isin(kind, [1, 4]) & (empties | (rng.random(n) < 0.02)) & (old_orig > 0)
    fraud = (risky & (rng.random(n) < 0.8)) | (rng.random(n) < 0.002)
    return pd.DataFrame(
        {
            "step": step.astype(np.int32),
            "type": pd.Categorical.from_codes(kind, categories=list(TRANSACTION_TYPES)),
            "amount": amount.astype(np.float32),
            "oldbalanceOrg": old_orig.astype(np.float32),
            "newbalanceOrig": new_orig.astype(np.float32),
            "oldbalanceDest": old_dest.astype(np.float32),
            "newbalanceDest": new_dest.astype(np.float32),
            "isFraud": fraud.astype(np.int8),
        }
    )


def fit_pipeline(frame: pd.DataFrame, feature_set: str = "full", **params: Any) -> Pipeline:
    """Fit the inference pipeline on ``frame`` (label column ``isFraud``); no SMOTE."""
    defaults: dict[str, Any] = {"n_estimators": 30, "max_depth": 4, "n_jobs": 1, "random_state": 0}
    pipeline = Pipeline(
        [
            ("features", PaySimFeatures(feature_set=feature_set)),
            ("model", XGBClassifier(**{**defaults, **params})),
        ]
    )
    return pipeline.fit(frame.drop(columns=["isFraud"]), frame["isFraud"].to_numpy())


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
    out: Path, rows: int = 4000, seed: int = 0, threshold: float = 0.4, **params: Any
):
    """Generate data, fit a small pipeline and write artifacts; return (dir, pipeline)."""
    frame = paysim_like_frame(rows, seed)
    pipeline = fit_pipeline(frame, **params)
    return write_artifacts(out, pipeline, threshold, rows=rows), pipeline


def write_paysim_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as a Kaggle-format PaySim CSV (adds names and isFlaggedFraud)."""
    full = frame.copy()
    full["nameOrig"] = [f"C{i}" for i in range(len(full))]
    full["nameDest"] = [f"M{i}" for i in range(len(full))]
    full["isFlaggedFraud"] = 0
    full["type"] = full["type"].astype(str)
    full[list(PAYSIM_COLUMNS)].to_csv(path, index=False)
    return Path(path)
