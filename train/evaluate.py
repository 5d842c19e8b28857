"""Threshold choice on validation data and honest metrics on held-out data."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)


def choose_threshold(y_true: np.ndarray, proba: np.ndarray, target_recall: float) -> float:
    """The threshold that keeps recall >= ``target_recall`` with the best precision.

    Among thresholds with equal precision the highest is taken, so fewer rows are flagged.
    Call it on validation data only: choosing it on the test part would flatter the test figures.
    """
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target recall must be in (0, 1], got {target_recall}")
    precision, recall, thresholds = precision_recall_curve(y_true, proba)
    # precision/recall have one more entry than thresholds (the final recall=0 point).
    ok = np.flatnonzero(recall[:-1] >= target_recall)
    if ok.size == 0:
        return float(thresholds[0])
    best = ok[precision[ok] == precision[ok].max()].max()
    return float(thresholds[best])


def decision_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """Precision, recall, F1 and the confusion matrix of ``proba >= threshold``."""
    predicted = (proba >= threshold).astype(np.int8)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, predicted, average="binary", zero_division=0, sample_weight=weights
    )
    matrix = confusion_matrix(y_true, predicted, labels=[0, 1])
    return {
        "threshold": float(threshold),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": {
            "tn": int(matrix[0, 0]),
            "fp": int(matrix[0, 1]),
            "fn": int(matrix[1, 0]),
            "tp": int(matrix[1, 1]),
        },
        "flagged": int(predicted.sum()),
    }


def recall_at_precision(
    y_true: np.ndarray,
    proba: np.ndarray,
    precision_floor: float,
    weights: np.ndarray | None = None,
) -> float:
    """The best recall reachable while precision stays at or above ``precision_floor``."""
    precision, recall, _ = precision_recall_curve(y_true, proba, sample_weight=weights)
    ok = precision >= precision_floor
    return float(recall[ok].max()) if ok.any() else 0.0


def precision_at_recall(
    y_true: np.ndarray,
    proba: np.ndarray,
    recall_floor: float,
    weights: np.ndarray | None = None,
) -> float:
    """The best precision reachable while recall stays at or above ``recall_floor``.

    Read off the curve of the data given (an oracle threshold): it says what the ranking allows,
    not what a threshold chosen beforehand delivers.
    """
    precision, recall, _ = precision_recall_curve(y_true, proba, sample_weight=weights)
    ok = recall >= recall_floor
    return float(precision[ok].max()) if ok.any() else 0.0


def evaluate(
    y_true: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """All test-set figures: ranking metrics, and decisions at the threshold and at 0.5."""
    y_true = np.asarray(y_true)
    at_threshold = decision_metrics(y_true, proba, threshold, weights)
    return {
        "rows": int(y_true.size),
        "fraud": int(y_true.sum()),
        "pr_auc": float(average_precision_score(y_true, proba, sample_weight=weights)),
        "roc_auc": float(roc_auc_score(y_true, proba, sample_weight=weights)),
        "precision": at_threshold["precision"],
        "recall": at_threshold["recall"],
        "f1": at_threshold["f1"],
        "confusion_matrix": at_threshold["confusion_matrix"],
        "flagged": at_threshold["flagged"],
        "recall_at_precision_0_9": recall_at_precision(y_true, proba, 0.9, weights),
        "at_0_5": decision_metrics(y_true, proba, 0.5, weights),
    }
