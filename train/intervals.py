"""Exact (Clopper-Pearson) confidence bounds for recall and for precision on weighted samples.

Recall only counts frauds, so it is a plain binomial proportion. Precision on a sample that
keeps every fraud but only one legitimate row in ``legit_weight`` is the weighted proportion
``tp / (tp + W * fp)``: a strictly increasing function of the sample's own precision
``tp / (tp + fp)``, so the exact binomial bounds of that proportion map to exact bounds of the
weighted one. Both assume rows are independent draws; PaySim frauds come in pairs (a TRANSFER
and its CASH_OUT), so the true uncertainty is somewhat wider than stated.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta


def lower_bound(successes: np.ndarray | int, trials: np.ndarray | int, confidence: float):
    """One-sided Clopper-Pearson lower bound: P(true proportion >= bound) >= ``confidence``.

    Vectorised over ``successes``/``trials``; 0 where there are no successes or no trials.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = beta.ppf(1.0 - confidence, k, n - k + 1.0)
    return np.where((k > 0) & (n > 0), np.nan_to_num(bound, nan=0.0), 0.0)


def upper_bound(successes: np.ndarray | int, trials: np.ndarray | int, confidence: float):
    """One-sided Clopper-Pearson upper bound; 1 where every trial succeeded or there are none."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    return 1.0 - lower_bound(n - k, n, confidence)


def weighted_precision(sample_precision: np.ndarray | float, legit_weight: float):
    """Precision once each legitimate row counts ``legit_weight`` times: p / (p + W (1 - p))."""
    p = np.asarray(sample_precision, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = p / (p + legit_weight * (1.0 - p))
    return np.nan_to_num(out, nan=0.0)


def interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at ``level`` (each tail (1 - level) / 2)."""
    one_sided = 1.0 - (1.0 - level) / 2.0
    return (
        float(lower_bound(successes, trials, one_sided)),
        float(upper_bound(successes, trials, one_sided)),
    )


def decision_intervals(
    tp: int, fp: int, fn: int, legit_weight: float = 1.0, level: float = 0.95
) -> dict[str, object]:
    """Recall and (weighted) precision at a threshold with their two-sided exact intervals."""
    recall = interval(tp, tp + fn, level)
    sample = interval(tp, tp + fp, level)
    precision = tuple(float(weighted_precision(b, legit_weight)) for b in sample)
    return {
        "level": level,
        "method": "Clopper-Pearson (exact binomial)"
        + (f"; precision with legitimate rows x{legit_weight}" if legit_weight != 1 else ""),
        "recall": list(recall),
        "precision": list(precision),
    }
