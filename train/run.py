"""One training run: split, search, threshold, evaluation and every artifact on disk."""

from __future__ import annotations

import importlib.metadata as md
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import joblib
import numpy as np
import pandas as pd

from train.evaluate import choose_threshold, evaluate
from train.features import FEATURE_SETS
from train.pipeline import Sampler, build_training_pipeline, inference_pipeline, param_distributions
from train.report import plot_pr_curve, render_report, write_metrics
from train.search import run_search
from train.split import SplitKind, split_rows

VERSIONED = ("numpy", "pandas", "scikit-learn", "imbalanced-learn", "xgboost", "xgboost-cpu")


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (the fraud-train command line)."""

    out: Path = Path("artifacts")
    feature_set: str = "full"
    scoring: str = "average_precision"
    n_iter: int = 8
    cv: int = 3
    sampler: Sampler = "smote"
    smote_ratio: float = 0.1
    split: SplitKind = "step"
    test_size: float = 0.2
    validation_size: float = 0.2
    target_recall: float = 0.95
    seed: int = 0
    n_jobs: int = 2


@dataclass(frozen=True)
class EvalSet:
    """An extra labelled set to evaluate the trained model on (e.g. real PaySim rows)."""

    name: str
    frame: pd.DataFrame
    legit_weight: float = 1.0


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the model."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions


def _features_and_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=["isFraud", "isFlaggedFraud"]), frame["isFraud"]


def train_model(
    frame: pd.DataFrame,
    config: TrainConfig,
    data_info: dict[str, Any],
    extra_eval: tuple[EvalSet, ...] = (),
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Train, tune, choose the threshold, evaluate, and write the artifacts to ``config.out``.

    Returns the metrics dictionary also written to ``metrics.json``.
    """
    started = time.perf_counter()
    stream = stream or sys.stderr  # looked up per call, so redirected stderr is honoured
    config.out.mkdir(parents=True, exist_ok=True)
    split = split_rows(frame, config.split, config.test_size, config.validation_size, config.seed)
    X, y = _features_and_labels(frame)
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    imbalance = float((y_train == 0).sum() / max(int(y_train.sum()), 1))
    print(
        f"[train] {len(frame):,} rows; train {split.train.size:,} / validation "
        f"{split.validation.size:,} / test {split.test.size:,} ({config.split} split)",
        file=stream,
        flush=True,
    )
    pipeline = build_training_pipeline(
        feature_set=config.feature_set,
        sampler=config.sampler,
        smote_ratio=config.smote_ratio,
        seed=config.seed,
        n_jobs=config.n_jobs,
    )
    search_start = time.perf_counter()
    search = run_search(
        pipeline,
        X_train,
        y_train,
        param_distributions(config.sampler, imbalance),
        n_iter=config.n_iter,
        cv=config.cv,
        scoring=config.scoring,
        seed=config.seed,
        stream=stream,
    )
    search_seconds = time.perf_counter() - search_start
    model = inference_pipeline(search.best_estimator_)
    val_proba = model.predict_proba(X.iloc[split.validation])[:, 1]
    threshold = choose_threshold(
        y.iloc[split.validation].to_numpy(), val_proba, config.target_recall
    )
    test_y = y.iloc[split.test].to_numpy()
    test_proba = model.predict_proba(X.iloc[split.test])[:, 1]

    joblib.dump(model, config.out / "pipeline.joblib")
    model.named_steps["model"].get_booster().save_model(str(config.out / "xgb_model.json"))
    plot_pr_curve(config.out / "pr_curve.png", test_y, test_proba, threshold)

    metrics: dict[str, Any] = {
        "feature_set": config.feature_set,
        "feature_names": list(FEATURE_SETS[config.feature_set]),
        "threshold": threshold,
        "target_recall": config.target_recall,
        "test": evaluate(test_y, test_proba, threshold),
        "validation": evaluate(y.iloc[split.validation].to_numpy(), val_proba, threshold),
        "rows": split.describe(y),
        "data": data_info,
        "params": {k.removeprefix("model__"): _plain(v) for k, v in search.best_params_.items()},
        "search": {
            "sampler": config.sampler,
            "smote_ratio": config.smote_ratio if config.sampler == "smote" else None,
            "scoring": config.scoring,
            "n_iter": config.n_iter,
            "cv": config.cv,
            "best_score": float(search.best_score_),
        },
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "versions": library_versions(),
    }
    for extra in extra_eval:
        ex_X, ex_y = _features_and_labels(extra.frame)
        labels = ex_y.to_numpy()
        weights = np.where(labels == 1, 1.0, extra.legit_weight)
        proba = model.predict_proba(ex_X)[:, 1]
        result = evaluate(labels, proba, threshold, weights if extra.legit_weight != 1 else None)
        metrics.setdefault("external", {})[extra.name] = {
            **result,
            "legit_weight": extra.legit_weight,
        }
    metrics["seconds"] = {"search": search_seconds, "total": time.perf_counter() - started}
    write_metrics(config.out / "metrics.json", metrics)
    (config.out / "report.md").write_text(render_report(metrics))
    return metrics


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, for JSON."""
    return value.item() if isinstance(value, np.generic) else value
