"""Out-of-fold scores for the threshold, and the prior correction of every fitted model.

Each fold refits a copy of the tuned training pipeline on its earlier rows, corrects its
probabilities to the served population exactly as the final model is corrected
(train/calibration.py), and scores its own block. The threshold policy then rests on every
scored fraud instead of one validation slice.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import pandas as pd
from sklearn.base import clone

from train.calibration import Correction, apply_shift, balancing_weight, prior_shift
from train.folds import Fold


@dataclass(frozen=True)
class OutOfFold:
    """Scores of the rows some fold scored (``rows`` index the data given), and per-fold facts."""

    rows: np.ndarray
    scores: np.ndarray
    folds: list[dict[str, Any]]


def smote_ratio_of(pipeline: Any) -> float | None:
    """The SMOTE ratio of a (training) pipeline, or None without SMOTE."""
    smote = dict(pipeline.steps).get("smote")
    return None if smote is None else float(smote.sampling_strategy)


def prepare(pipeline: Any, y: np.ndarray, correction: Correction, legit_weight: float) -> Any:
    """Set what depends on the rows about to be fitted: SMOTE's k, and class weights if asked."""
    frauds = int(np.asarray(y).sum())
    if "smote" in dict(pipeline.steps):
        if frauds < 2:
            raise ValueError(f"SMOTE needs at least 2 frauds to fit on, got {frauds}")
        k = pipeline.get_params()["smote__k_neighbors"]
        pipeline.set_params(smote__k_neighbors=min(k, frauds - 1))
    if correction == "weights":
        spw = balancing_weight(y, smote_ratio_of(pipeline), legit_weight)
        pipeline.set_params(model__scale_pos_weight=spw)
    return pipeline


def correct(pipeline: Any, y: np.ndarray, legit_weight: float) -> float:
    """Fold the prior shift of a pipeline fitted on ``y`` into its booster; return the shift."""
    model = dict(pipeline.steps)["model"]
    shift = prior_shift(
        y, smote_ratio_of(pipeline), model.get_params().get("scale_pos_weight"), legit_weight
    )
    apply_shift(model, shift)
    return shift


def out_of_fold_scores(
    template: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[Fold],
    *,
    correction: Correction,
    legit_weight: float,
    stream: TextIO | None = None,
) -> OutOfFold:
    """Fit a clone of ``template`` per fold on its train rows and score its score rows."""
    stream = stream or sys.stderr
    labels = np.asarray(y)
    rows, scores, facts = [], [], []
    for k, fold in enumerate(folds, 1):
        started = time.perf_counter()
        y_train = labels[fold.train]
        pipeline = prepare(clone(template), y_train, correction, legit_weight)
        pipeline.fit(X.iloc[fold.train], y_train)
        shift = correct(pipeline, y_train, legit_weight)
        proba = pipeline.predict_proba(X.iloc[fold.score])[:, 1]
        rows.append(fold.score)
        scores.append(proba)
        facts.append(
            {
                "fold": k,
                "train_rows": int(fold.train.size),
                "train_fraud": int(y_train.sum()),
                "scored_rows": int(fold.score.size),
                "scored_fraud": int(labels[fold.score].sum()),
                "log_odds_shift": shift,
            }
        )
        print(
            f"[threshold] fold {k}/{len(folds)}: trained on {fold.train.size:,} rows, scored "
            f"{fold.score.size:,} ({int(labels[fold.score].sum())} fraud) in "
            f"{time.perf_counter() - started:.1f}s",
            file=stream,
            flush=True,
        )
    return OutOfFold(np.concatenate(rows), np.concatenate(scores).astype(np.float32), facts)
