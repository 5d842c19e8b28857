"""Randomized hyper-parameter search over stratified folds, with progress on stderr."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import pandas as pd
from sklearn.metrics import get_scorer
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold

SCORINGS = ("average_precision", "recall", "roc_auc", "f1")


def check_scoring(scoring: str) -> None:
    """Refuse a ``scoring`` neither search supports (this one and train/search_ray.py)."""
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")


def stratified_folds(cv: int, seed: int) -> StratifiedKFold:
    """The search's folds; both searches use these, so their candidates see the same rows."""
    return StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)


@dataclass
class ProgressScorer:
    """Wraps a scorer to report fits done / total, the best mean score so far and elapsed time.

    scikit-learn evaluates candidates one after another, each on every fold in turn (with
    ``n_jobs=1``), so every ``folds`` calls complete one candidate.
    """

    scoring: str
    total: int
    folds: int
    stream: TextIO | None = None
    calls: int = 0
    best: float = float("-inf")
    _fold_scores: list[float] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter)

    def __call__(self, estimator: Any, X: pd.DataFrame, y: Any) -> float:
        score = float(get_scorer(self.scoring)(estimator, X, y))
        self.calls += 1
        self._fold_scores.append(score)
        if len(self._fold_scores) == self.folds:
            self.best = max(self.best, float(np.mean(self._fold_scores)))
            self._fold_scores.clear()
        best = f"{self.best:.4f}" if np.isfinite(self.best) else "n/a"
        elapsed = time.perf_counter() - self._start
        print(
            f"[search] fit {self.calls}/{self.total}  {self.scoring}={score:.4f}  "
            f"best mean so far={best}  elapsed {elapsed:.0f}s",
            file=self.stream or sys.stderr,
            flush=True,
        )
        return score


def run_search(
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    param_distributions: dict[str, Any],
    *,
    n_iter: int,
    cv: int,
    scoring: str,
    seed: int,
    stream: TextIO | None = None,
) -> RandomizedSearchCV:
    """Tune ``pipeline`` and refit the best candidate on all of ``X``.

    Candidates run one at a time (``n_jobs=1``); XGBoost itself uses the cores, which keeps
    the progress count exact and avoids oversubscribing a small machine.
    """
    check_scoring(scoring)
    folds = stratified_folds(cv, seed)
    search = RandomizedSearchCV(
        pipeline,
        param_distributions,
        n_iter=n_iter,
        scoring=ProgressScorer(scoring, total=n_iter * cv, folds=cv, stream=stream),
        cv=folds,
        refit=True,
        n_jobs=1,
        random_state=seed,
        error_score="raise",
    )
    search.fit(X, y)
    return search
