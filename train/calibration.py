"""Probabilities that mean what they say: correcting the training prior, and measuring calibration.

Two things make the booster's raw probability overstate fraud:

- SMOTE adds synthetic frauds (and ``scale_pos_weight`` up-weights frauds): the model learns the
  odds of the resampled data, ``factor`` times the odds of the rows it was given;
- a biased sample that kept every fraud but one legitimate row in ``legit_weight`` (the real
  PaySim sample: x24.3) shows odds ``legit_weight`` times those of the population served.

Both are priors on the class balance, so the correction is one constant in log-odds:
``logit(p_population) = logit(p_model) - log(factor * legit_weight)``. It is folded into the
booster's ``base_score`` (:func:`apply_shift`), so ``predict_proba``, ``xgb_model.json`` and the
ONNX graph built from them (convert/trees.py reads ``base_score``) all carry it, with no extra node.

The alternative, ``correction="weights"``, trains with ``scale_pos_weight`` chosen so that the
weighted class balance equals the population's (:func:`balancing_weight`); the prior shift left to
apply is then zero up to rounding. docs/calibration.md measures both.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from xgboost import XGBClassifier

Correction = Literal["prior", "weights"]
CORRECTIONS: tuple[Correction, ...] = ("prior", "weights")

#: Equal-width bins of the expected calibration error (the usual definition).
ECE_BINS = 10
#: Bin edges of the reliability plot: fraud probabilities live near 0, so log-spaced.
PLOT_EDGES = np.r_[0.0, np.logspace(-5, 0, 16)]
RELIABILITY_FILE = "reliability.png"


def smote_factor(y: np.ndarray, smote_ratio: float | None) -> float:
    """How many times SMOTE multiplies the frauds of ``y`` (imbalanced-learn's float rule)."""
    labels = np.asarray(y)
    pos, neg = int(labels.sum()), int((labels == 0).sum())
    if smote_ratio is None or pos == 0:
        return 1.0
    generated = max(int(neg * smote_ratio - pos), 0)
    return (pos + generated) / pos


def balancing_weight(y: np.ndarray, smote_ratio: float | None, legit_weight: float) -> float:
    """``scale_pos_weight`` that makes the weighted (resampled) classes match the population."""
    return 1.0 / (smote_factor(y, smote_ratio) * legit_weight)


def prior_shift(
    y: np.ndarray, smote_ratio: float | None, scale_pos_weight: float | None, legit_weight: float
) -> float:
    """Log-odds by which a model fitted on ``y`` overstates fraud in the population served."""
    spw = 1.0 if scale_pos_weight is None else float(scale_pos_weight)
    return math.log(smote_factor(y, smote_ratio)) + math.log(spw) + math.log(legit_weight)


def base_score(model: XGBClassifier) -> float:
    """The booster's saved ``base_score`` (a probability)."""
    raw = json.loads(model.get_booster().save_config())["learner"]["learner_model_param"][
        "base_score"
    ]
    values = json.loads(raw) if raw.strip().startswith("[") else [float(raw)]
    if len(values) != 1:
        raise ValueError(f"expected one base_score for a binary model, got {raw}")
    return float(values[0])


def apply_shift(model: XGBClassifier, shift: float) -> float:
    """Subtract ``shift`` from every margin by moving ``base_score``; return the new base_score.

    Trees are unchanged, so the ranking (and PR-AUC) is exactly the same; only the probability
    scale moves. The new value is stored in float32 by XGBoost (an error below 1e-7 in log-odds).
    """
    old = base_score(model)
    margin = math.log(old / (1.0 - old)) - shift
    new = 1.0 / (1.0 + math.exp(-margin))
    if not 0.0 < new < 1.0:
        raise ValueError(f"a log-odds shift of {shift} leaves no representable base_score")
    model.get_booster().set_param({"base_score": new})
    return new


def _weights(y: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)


def reliability_bins(
    y: np.ndarray, proba: np.ndarray, weights: np.ndarray | None, edges: np.ndarray
) -> list[dict[str, float]]:
    """Per bin of predicted probability: weight share, mean prediction, observed fraud rate."""
    y = np.asarray(y, np.float64)
    p = np.asarray(proba, np.float64)
    w = _weights(y, weights)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    total = w.sum()
    out = []
    for b in range(edges.size - 1):
        mask = which == b
        bw = w[mask].sum()
        if bw == 0:
            continue
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "rows": int(mask.sum()),
                "weight": float(bw / total),
                "predicted": float((w[mask] * p[mask]).sum() / bw),
                "observed": float((w[mask] * y[mask]).sum() / bw),
            }
        )
    return out


def calibration_summary(
    y: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """Mean predicted vs observed rate, Brier score and ECE (10 equal-width bins), weighted."""
    y = np.asarray(y, np.float64)
    p = np.asarray(proba, np.float64)
    w = _weights(y, weights)
    bins = reliability_bins(y, p, w, np.linspace(0.0, 1.0, ECE_BINS + 1))
    return {
        "mean_predicted": float((w * p).sum() / w.sum()),
        "observed_rate": float((w * y).sum() / w.sum()),
        "brier": float((w * (p - y) ** 2).sum() / w.sum()),
        "ece": float(sum(b["weight"] * abs(b["predicted"] - b["observed"]) for b in bins)),
        "ece_bins": ECE_BINS,
        "weighted": weights is not None,
    }


def plot_reliability(
    path: Path, y: np.ndarray, proba: np.ndarray, weights: np.ndarray | None, title: str
) -> list[dict[str, float]]:
    """Reliability diagram (log axes) of the test part; returns the plotted bins."""
    import matplotlib

    matplotlib.use("Agg")  # headless: servers and CI have no display
    import matplotlib.pyplot as plt

    bins = reliability_bins(y, proba, weights, PLOT_EDGES)
    floor = 1e-6  # an observed rate of 0 is drawn at the bottom edge of the log axis
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    ax.plot([floor, 1], [floor, 1], color="#7f7f7f", ls="--", lw=1, label="perfect calibration")
    predicted = [b["predicted"] for b in bins]
    observed = [max(b["observed"], floor) for b in bins]
    sizes = [20 + 400 * b["weight"] ** 0.5 for b in bins]
    ax.plot(predicted, observed, color="#1f4e79", lw=1.2)
    ax.scatter(predicted, observed, s=sizes, color="#1f4e79", zorder=3, label="test bins (rows)")
    # Few rows make a bin's observed rate noisy: say how many each point rests on.
    for x, yv, b in zip(predicted, observed, bins, strict=True):
        ax.annotate(
            f"{b['rows']:,}", (x, yv), textcoords="offset points", xytext=(4, 4), fontsize=7
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1.2)
    ax.set_ylim(floor, 1.2)
    ax.set_xlabel("mean predicted fraud probability (bin)")
    ax.set_ylabel("observed fraud rate (bin; 0 drawn at the bottom)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return bins
