"""Threshold policies: recall or precision promised with a stated confidence, or least cost.

A policy is chosen on out-of-fold scores (train/folds.py), never on the test part. Candidate
thresholds are the distinct scores (a row is flagged when ``score >= threshold``) plus one just
above the highest score (flag nothing). Legitimate rows count ``legit_weight`` times wherever
precision or cost involves them; recall involves frauds only.

- ``recall:R``: among thresholds whose one-sided exact lower bound of recall at ``confidence``
  is at least R, the one with the best (weighted) precision; ties go to the highest threshold.
- ``precision:P``: among thresholds whose lower bound of weighted precision is at least P, the
  one with the best recall; ties go to the highest threshold.
- ``cost:FN,FP``: the threshold minimising ``FN * missed frauds + FP * W * false alarms``; with
  ``per_amount`` a missed fraud costs ``FN * amount`` (the money lost) while a false alarm keeps a
  fixed cost (a review, a blocked good customer). Ties go to the highest threshold.

When no threshold keeps a recall or precision promise, the point-estimate rule is used instead
(recall >= R, or precision >= P) and ``met`` says the bound was not reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from train.intervals import lower_bound, weighted_precision

PolicyKind = Literal["recall", "precision", "cost"]

#: The policy used when none is given: recall 0.95 at 90% confidence.
DEFAULT_POLICY = "recall:0.95"
DEFAULT_CONFIDENCE = 0.9


class PolicyError(ValueError):
    """A threshold policy string that cannot be parsed; the message names the expected form."""


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the decision threshold is chosen; ``spec`` is the command-line form."""

    kind: PolicyKind
    target: float | None = None
    fn_cost: float | None = None
    fp_cost: float | None = None
    per_amount: bool = False
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def spec(self) -> str:
        if self.kind == "cost":
            return f"cost:{self.fn_cost:g},{self.fp_cost:g}"
        return f"{self.kind}:{self.target:g}"

    def describe(self) -> dict[str, Any]:
        """The policy as recorded in metrics.json and the model metadata."""
        out: dict[str, Any] = {"policy": self.spec, "kind": self.kind}
        if self.kind == "cost":
            out |= {"fn_cost": self.fn_cost, "fp_cost": self.fp_cost, "per_amount": self.per_amount}
        else:
            out |= {"target": self.target, "confidence": self.confidence}
        return out


def parse_policy(
    text: str, *, confidence: float = DEFAULT_CONFIDENCE, per_amount: bool = False
) -> ThresholdPolicy:
    """``recall:R``, ``precision:P`` (R, P in (0, 1]) or ``cost:FN_COST,FP_COST`` (>= 0)."""
    if not 0.0 < confidence < 1.0:
        raise PolicyError(f"--confidence must be in (0, 1), got {confidence}")
    kind, sep, value = text.strip().partition(":")
    usage = "use recall:R, precision:P or cost:FN_COST,FP_COST"
    if not sep:
        raise PolicyError(f"threshold policy {text!r} has no ':'; {usage}")
    if kind in ("recall", "precision"):
        target = _number(value, text, usage)
        if not 0.0 < target <= 1.0:
            raise PolicyError(f"threshold policy {text!r}: the target must be in (0, 1]")
        if per_amount:
            raise PolicyError("--cost-per-amount applies to a cost:FN_COST,FP_COST policy only")
        return ThresholdPolicy(kind, target=target, confidence=confidence)  # type: ignore[arg-type]
    if kind == "cost":
        parts = value.split(",")
        if len(parts) != 2:
            raise PolicyError(f"threshold policy {text!r}: cost takes two numbers; {usage}")
        fn_cost, fp_cost = (_number(p, text, usage) for p in parts)
        if fn_cost < 0 or fp_cost < 0 or fn_cost + fp_cost == 0:
            raise PolicyError(f"threshold policy {text!r}: costs must be >= 0, not both 0")
        return ThresholdPolicy(
            "cost", fn_cost=fn_cost, fp_cost=fp_cost, per_amount=per_amount, confidence=confidence
        )
    raise PolicyError(f"unknown threshold policy kind {kind!r}; {usage}")


def _number(value: str, text: str, usage: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise PolicyError(
            f"threshold policy {text!r}: {value!r} is not a number; {usage}"
        ) from None
    if not math.isfinite(number):
        raise PolicyError(f"threshold policy {text!r}: {value!r} is not finite")
    return number


@dataclass(frozen=True)
class Curve:
    """Counts at every candidate threshold, highest threshold first."""

    thresholds: np.ndarray  # float64 values of float32 scores (exact)
    tp: np.ndarray
    fp: np.ndarray
    missed_value: np.ndarray  # sum of the fraud values (1 or amount) not flagged
    positives: int
    legit_weight: float

    @property
    def recall(self) -> np.ndarray:
        return self.tp / max(self.positives, 1)

    @property
    def precision(self) -> np.ndarray:
        flagged = self.tp + self.fp
        sample = np.divide(self.tp, flagged, out=np.zeros(flagged.shape), where=flagged > 0)
        return weighted_precision(sample, self.legit_weight)


def threshold_curve(
    y_true: np.ndarray,
    scores: np.ndarray,
    legit_weight: float = 1.0,
    fraud_values: np.ndarray | None = None,
) -> Curve:
    """Counts of flagged frauds and legitimate rows for every distinct score as the threshold."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float32)
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError("labels and scores must be non-empty 1-D arrays of the same length")
    values = np.ones(y.size) if fraud_values is None else np.asarray(fraud_values, np.float64)
    order = np.argsort(-s, kind="stable")
    s, y, values = s[order], y[order], values[order]
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last row of each distinct score
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    caught = np.cumsum(np.where(y, values, 0.0))[last]
    total = float(values[y].sum())
    # Candidate "flag nothing": a threshold just above the highest score.
    above = float(np.nextafter(s[0], np.float32(np.inf)))
    return Curve(
        thresholds=np.r_[above, s[last].astype(np.float64)],
        tp=np.r_[0, tp],
        fp=np.r_[0, fp],
        missed_value=np.r_[total, total - caught],
        positives=int(y.sum()),
        legit_weight=legit_weight,
    )


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold, whether the policy's promise holds, and the figures it rests on."""

    threshold: float
    met: bool
    figures: dict[str, Any]


def choose(
    policy: ThresholdPolicy,
    y_true: np.ndarray,
    scores: np.ndarray,
    legit_weight: float = 1.0,
    amounts: np.ndarray | None = None,
) -> ThresholdChoice:
    """Apply ``policy`` to labelled scores (out-of-fold scores in training)."""
    values = amounts if policy.kind == "cost" and policy.per_amount else None
    if values is None and policy.kind == "cost" and policy.per_amount:
        raise ValueError("a per-amount cost policy needs the amounts")
    curve = threshold_curve(y_true, scores, legit_weight, values)
    precision, recall = curve.precision, curve.recall
    flagged = curve.tp + curve.fp
    recall_low = lower_bound(curve.tp, curve.positives, policy.confidence)
    precision_low = weighted_precision(
        lower_bound(curve.tp, flagged, policy.confidence), legit_weight
    )
    cost = None
    if policy.kind == "recall":
        met_mask = recall_low >= policy.target
        fallback = recall >= policy.target
        best = _best(met_mask if met_mask.any() else fallback, precision)
        met = bool(met_mask.any())
    elif policy.kind == "precision":
        met_mask = precision_low >= policy.target
        fallback = precision >= policy.target
        candidates = met_mask if met_mask.any() else fallback
        best = _best(candidates, recall) if candidates.any() else int(np.argmax(precision_low))
        met = bool(met_mask.any())
    else:
        cost = policy.fn_cost * curve.missed_value + policy.fp_cost * legit_weight * curve.fp
        best = _best(np.ones(cost.size, bool), -cost)
        met = True
    figures: dict[str, Any] = {
        "rows": int(np.asarray(y_true).size),
        "fraud": curve.positives,
        "tp": int(curve.tp[best]),
        "fp": int(curve.fp[best]),
        "recall": float(recall[best]),
        "precision": float(precision[best]),
        "recall_lower_bound": float(recall_low[best]),
        "precision_lower_bound": float(precision_low[best]),
        "confidence": policy.confidence,
    }
    if cost is not None:
        figures["expected_cost"] = float(cost[best])
    return ThresholdChoice(float(curve.thresholds[best]), met, figures)


def _best(candidates: np.ndarray, merit: np.ndarray) -> int:
    """Index of the best ``merit`` among ``candidates``; ties go to the highest threshold.

    With no candidate at all (a target nothing reaches), the lowest threshold: flag everything.
    """
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return merit.size - 1
    # Thresholds are in descending order, so the first maximum is the highest threshold.
    return int(idx[np.argmax(merit[idx])])


def expected_cost(
    policy: ThresholdPolicy,
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    legit_weight: float = 1.0,
    amounts: np.ndarray | None = None,
) -> float:
    """The cost of a cost policy at ``threshold`` on labelled rows (e.g. the test part)."""
    if policy.kind != "cost":
        raise ValueError("expected_cost applies to a cost policy")
    y = np.asarray(y_true).astype(bool)
    flagged = np.asarray(scores, dtype=np.float32) >= np.float32(threshold)
    values = np.asarray(amounts, np.float64) if policy.per_amount else np.ones(y.size)
    missed = float(values[y & ~flagged].sum())
    false_alarms = float((~y & flagged).sum())
    return policy.fn_cost * missed + policy.fp_cost * legit_weight * false_alarms
