"""Folds for out-of-fold scores: forward-chaining over time, or stratified for a random split.

Forward chaining cuts the time-ordered training rows into ``n_folds + 1`` blocks of whole steps
holding about the same number of frauds (PaySim's legitimate volume falls in later steps while
frauds keep their pace, so equal row counts would leave late blocks with few frauds). Fold k
trains on blocks 0..k-1 and scores block k: no fold ever trains on a step later than the rows it
scores, as the deployed model never sees the future. Block 0 is only ever trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold


class FoldError(ValueError):
    """Folds that cannot be built: too few steps or too few frauds for the number asked."""


@dataclass(frozen=True)
class Fold:
    """Row positions (into the array given) to train on and to score."""

    train: np.ndarray
    score: np.ndarray


def forward_chaining_folds(steps: np.ndarray, y: np.ndarray, n_folds: int = 4) -> list[Fold]:
    """``n_folds`` folds over time; every fold's training steps precede its scored steps."""
    if n_folds < 1:
        raise FoldError(f"need at least one fold, got {n_folds}")
    steps = np.asarray(steps)
    labels = np.asarray(y).astype(bool)
    distinct = np.unique(steps)
    if distinct.size < n_folds + 1:
        raise FoldError(f"{distinct.size} distinct steps cannot make {n_folds + 1} time blocks")
    fraud_steps = np.sort(steps[labels])
    if fraud_steps.size < 2 * (n_folds + 1):
        raise FoldError(
            f"{fraud_steps.size} frauds are too few for {n_folds} forward-chaining folds; "
            "use more data or fewer folds"
        )
    # Block boundaries: the step at each fraud quantile, so blocks hold equal frauds.
    quantiles = [
        fraud_steps[int(np.floor(fraud_steps.size * k / (n_folds + 1)))]
        for k in range(1, n_folds + 1)
    ]
    cuts = np.unique(np.asarray(quantiles))
    if cuts.size < n_folds or cuts[0] <= distinct[0]:
        raise FoldError(
            "frauds sit in too few distinct steps to cut "
            f"{n_folds + 1} time blocks; use fewer folds"
        )
    block = np.searchsorted(cuts, steps, side="right")  # 0 .. n_folds
    positions = np.arange(steps.size)
    folds = []
    for k in range(1, n_folds + 1):
        train, score = positions[block < k], positions[block == k]
        if not labels[train].any() or not labels[score].any():
            raise FoldError(f"fold {k} has no fraud to train on or to score; use fewer folds")
        folds.append(Fold(train, score))
    return folds


def stratified_folds(y: np.ndarray, n_folds: int = 4, seed: int = 0) -> list[Fold]:
    """Ordinary stratified folds (random split): every row is scored once."""
    if n_folds < 2:
        raise FoldError(f"stratified folds need at least 2 folds, got {n_folds}")
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [Fold(tr, te) for tr, te in splitter.split(np.zeros(len(y)), np.asarray(y))]


def fit_folds(
    kind: str, steps: np.ndarray, y: np.ndarray, n_folds: int = 4, seed: int = 0
) -> list[Fold]:
    """The folds for a ``kind`` ("step" or "random") split: up to ``n_folds`` of them.

    Small data may not hold enough frauds (or distinct fraud steps) for ``n_folds``; fewer folds
    are used then, down to one (two for stratified folds), and FoldError only when even that
    fails. The folds actually used are recorded in metrics.json.
    """
    make = (
        (lambda n: forward_chaining_folds(steps, y, n))
        if kind == "step"
        else (lambda n: stratified_folds(y, n, seed))
    )
    floor = 1 if kind == "step" else 2
    for n in range(n_folds, floor - 1, -1):
        try:
            return make(n)
        except FoldError:
            if n == floor:
                raise
    raise FoldError(f"need at least {floor} folds, got {n_folds}")
