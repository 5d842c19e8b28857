"""Compare trained models' thresholds and probabilities on the test part of their own split.

``python -m research.calibration_compare --data PAYSIM --legit-weight 24.3 NAME=DIR ...``

Each DIR is a ``fraud-train --out`` directory trained on ``--data``; the split recorded in its
metrics.json is redone, the saved pipeline scores the test part (rows no model or threshold
saw), and the script reports recall and precision at the model's own threshold with exact 95%
intervals, PR-AUC, and calibration weighted by ``--legit-weight`` (the population the sample was
drawn from). A model trained with a prior correction is also shown with the correction undone,
which is what the probabilities were before issue 21. Writes JSON and a reliability plot.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.metrics import average_precision_score

from train.calibration import PLOT_EDGES, calibration_summary, reliability_bins
from train.data import load_transactions
from train.intervals import decision_intervals
from train.split import split_rows

RESULTS = Path("benchmarks/results")


def undo_shift(proba: np.ndarray, shift: float) -> np.ndarray:
    """The probability before a log-odds correction of ``shift`` (``shift`` added back)."""
    p = np.clip(proba.astype(np.float64), 1e-12, 1 - 1e-12)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + shift)))


def figures(y: np.ndarray, proba: np.ndarray, threshold: float, legit_weight: float) -> dict:
    """Decision figures with intervals, PR-AUC and weighted calibration."""
    weights = np.where(y == 1, 1.0, legit_weight)
    flagged = proba >= np.float32(threshold)
    tp, fp = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
    fn = int(((~flagged) & (y == 1)).sum())
    iv = decision_intervals(tp, fp, fn, legit_weight)
    return {
        "threshold": threshold,
        "recall": tp / max(tp + fn, 1),
        "recall_interval": iv["recall"],
        "precision": tp / (tp + legit_weight * fp) if tp + fp else 0.0,
        "precision_interval": iv["precision"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "pr_auc": float(average_precision_score(y, proba, sample_weight=weights)),
        "calibration": calibration_summary(y, proba, weights),
    }


def compare(data: str, legit_weight: float, models: dict[str, Path]) -> dict[str, Any]:
    """Figures per model (and per model with its correction undone)."""
    frame = load_transactions(data).frame
    results: dict[str, Any] = {"data": data, "legit_weight": legit_weight, "models": {}}
    for name, directory in models.items():
        metrics = json.loads((directory / "metrics.json").read_text())
        config = metrics["config"]
        split = split_rows(
            frame, config["split"], config["test_size"], config["validation_size"], config["seed"]
        )
        test = frame.iloc[split.test]
        y = test["isFraud"].to_numpy()
        pipeline = joblib.load(directory / "pipeline.joblib")
        proba = pipeline.predict_proba(test.drop(columns=["isFraud", "isFlaggedFraud"]))[:, 1]
        entry = figures(y, proba, metrics["threshold"], legit_weight)
        entry["policy"] = metrics.get("threshold_policy", {}).get(
            "policy", "recall 0.95 on the validation slice (before issue 21)"
        )
        shift = metrics.get("probability", {}).get("log_odds_shift", 0.0)
        entry["correction"] = metrics.get("probability", {}).get("correction", "none")
        entry["log_odds_shift"] = shift
        entry["uncorrected_calibration"] = calibration_summary(
            y, undo_shift(proba, shift), np.where(y == 1, 1.0, legit_weight)
        )
        entry["reliability"] = reliability_bins(
            y, proba, np.where(y == 1, 1.0, legit_weight), PLOT_EDGES
        )
        results["models"][name] = entry
        print(f"[compare] {name}: done", file=sys.stderr, flush=True)
    return results


def plot(results: dict[str, Any], path: Path) -> None:
    """Reliability curves of every model on log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=110)
    floor = 1e-6
    ax.plot([floor, 1], [floor, 1], color="#7f7f7f", ls="--", lw=1, label="perfect calibration")
    for name, entry in results["models"].items():
        bins = entry["reliability"]
        cal = entry["calibration"]
        ax.plot(
            [b["predicted"] for b in bins],
            [max(b["observed"], floor) for b in bins],
            marker="o",
            lw=1.2,
            label=f"{name}: ECE {cal['ece']:.5f}, mean {cal['mean_predicted']:.5f}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1.2)
    ax.set_ylim(floor, 1.2)
    ax.set_xlabel("mean predicted fraud probability (bin)")
    ax.set_ylabel(f"observed fraud rate (legit x{results['legit_weight']:g})")
    ax.set_title("real PaySim sample, test steps: reliability")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(results: dict[str, Any]) -> str:
    """A markdown table of the comparison."""

    def pct(x: float) -> str:
        return f"{100 * x:.2f}%"

    lines = [
        "| model | threshold | recall [95% CI] | precision [95% CI] | PR-AUC | mean predicted "
        "(observed) | ECE | Brier |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, e in results["models"].items():
        c = e["calibration"]
        lines.append(
            f"| {name} | {e['threshold']:.6f} | {pct(e['recall'])} [{pct(e['recall_interval'][0])},"
            f" {pct(e['recall_interval'][1])}] | {pct(e['precision'])} "
            f"[{pct(e['precision_interval'][0])}, {pct(e['precision_interval'][1])}] | "
            f"{e['pr_auc']:.4f} | {c['mean_predicted']:.5f} ({c['observed_rate']:.5f}) | "
            f"{c['ece']:.5f} | {c['brier']:.6f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Compare NAME=DIR models; write JSON and a PNG under benchmarks/results/."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--legit-weight", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=RESULTS / "calibration_real.json")
    p.add_argument("models", nargs="+", metavar="NAME=DIR")
    args = p.parse_args(argv)
    models = dict(item.split("=", 1) for item in args.models)
    results = compare(args.data, args.legit_weight, {k: Path(v) for k, v in models.items()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
