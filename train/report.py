"""Training outputs: metrics.json, the precision-recall curve and a readable report.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from train.explain_report import render_section


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """Write ``metrics`` as indented JSON."""
    path.write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")


def plot_pr_curve(path: Path, y_true: np.ndarray, proba: np.ndarray, threshold: float) -> None:
    """Precision-recall curve of the test part, with the chosen threshold marked."""
    import matplotlib

    matplotlib.use("Agg")  # headless: servers and CI have no display
    import matplotlib.pyplot as plt

    precision, recall, thresholds = precision_recall_curve(y_true, proba)
    at = min(int(np.searchsorted(thresholds, threshold)), thresholds.size - 1)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.plot(recall, precision, color="#1f4e79", lw=1.8, label="test PR curve")
    ax.scatter(
        [recall[at]],
        [precision[at]],
        color="#c0392b",
        zorder=3,
        label=f"threshold {threshold:.4f}: P={precision[at]:.3f} R={recall[at]:.3f}",
    )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title("fraudlite: precision-recall on held-out data")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _iv(figures: dict[str, Any], name: str) -> str:
    """`` [low, high]`` from figures["intervals"], or nothing for metrics without intervals."""
    intervals = figures.get("intervals")
    if not intervals:
        return ""
    low, high = intervals[name]
    return f" [{_pct(low)}, {_pct(high)}]"


def _policy_line(metrics: dict[str, Any]) -> str:
    policy = metrics.get("threshold_policy")
    if policy is None:  # metrics written before issue 21
        return f"chosen on the validation part for recall >= {metrics['target_recall']}"
    if policy["kind"] == "cost":
        what = (
            f"least expected cost with a missed fraud costing {policy['fn_cost']:g}"
            + (" x its amount" if policy["per_amount"] else "")
            + f" and a false alarm {policy['fp_cost']:g}"
        )
    else:
        what = (
            f"{policy['kind']} >= {policy['target']:g} at {policy['confidence']:.0%} confidence "
            "(exact binomial lower bound)"
        )
    return f"policy `{policy['policy']}`: {what}, chosen on {policy['chosen_on']}" + (
        "" if policy["met"] else " (NOT met: no threshold reached the bound; point estimate used)"
    )


def _weight_note(metrics: dict[str, Any]) -> list[str]:
    test = metrics["test"]
    notes = []
    if "intervals" in test:
        notes.append(f"Brackets: {test['intervals']['level']:.0%} {test['intervals']['method']}.")
    if metrics.get("legit_weight", 1) != 1:
        notes.append(
            f"Legitimate rows weighted x{metrics['legit_weight']:g} (the population the data "
            "was sampled from): precision, calibration and cost are the population's."
        )
    return [" ".join(notes), ""] if notes else []


def _threshold_section(metrics: dict[str, Any]) -> list[str]:
    oof = metrics.get("out_of_fold")
    if oof is None:
        return []
    folds = oof["folds"]
    lines = [
        "## How the threshold was chosen",
        "",
        f"Chosen on {metrics['threshold_policy']['chosen_on']}"
        + (
            " (a forward-chaining fold trains only on steps before those it scores)"
            if "forward-chaining" in metrics["threshold_policy"]["chosen_on"]
            else ""
        )
        + f": {oof['rows']:,} rows scored, holding {oof['fraud']:,} frauds. At the threshold "
        "on those "
        f"scores: recall {_pct(oof['recall'])} (lower bound {_pct(oof['recall_lower_bound'])}), "
        f"precision {_pct(oof['precision'])} (lower bound {_pct(oof['precision_lower_bound'])}) "
        f"at {oof['confidence']:.0%} confidence"
        + (f"; expected cost {oof['expected_cost']:,.2f}" if "expected_cost" in oof else "")
        + ".",
        "",
        "| fold | trained on rows (fraud) | scored rows (fraud) | log-odds correction |",
        "|---|---|---|---|",
        *(
            f"| {f['fold']} | {f['train_rows']:,} ({f['train_fraud']:,}) | "
            f"{f['scored_rows']:,} ({f['scored_fraud']:,}) | {f['log_odds_shift']:+.3f} |"
            for f in folds
        ),
        "",
    ]
    if "expected_cost" in metrics["test"]:
        lines += [f"Expected cost on the test part: {metrics['test']['expected_cost']:,.2f}.", ""]
    return lines


def _calibration_section(metrics: dict[str, Any]) -> list[str]:
    calibration = metrics["test"].get("calibration")
    if calibration is None:
        return []
    probability = metrics.get("probability", {})
    return [
        "## Calibration on the test part",
        "",
        f"Probabilities corrected by `{probability.get('correction', '?')}` "
        f"(log-odds shift {probability.get('log_odds_shift', 0.0):+.3f}) to a population with "
        f"legitimate rows x{probability.get('legit_weight', 1):g}"
        + (" (weighted test rows)." if calibration["weighted"] else "."),
        "",
        "| mean predicted | observed rate | expected calibration error | Brier score |",
        "|---|---|---|---|",
        f"| {calibration['mean_predicted']:.6f} | {calibration['observed_rate']:.6f} | "
        f"{calibration['ece']:.6f} ({calibration['ece_bins']} equal-width bins) | "
        f"{calibration['brier']:.6f} |",
        "",
        "![reliability diagram](reliability.png)",
        "",
    ]


def render_report(metrics: dict[str, Any]) -> str:
    """The report.md text for a metrics.json dictionary."""
    test, rows = metrics["test"], metrics["rows"]
    cm = test["confusion_matrix"]
    lines = [
        "# fraudlite training report",
        "",
        f"- data: {metrics['data']['source']}"
        + (f" (sha256 {metrics['data']['sha256'][:16]}…)" if metrics["data"].get("sha256") else ""),
        f"- feature set: `{metrics['feature_set']}` ({len(metrics['feature_names'])} features)",
        f"- split: {rows['kind']}; fit (tuning and out-of-fold threshold) "
        f"{rows['train']['rows'] + rows['validation']['rows']:,} rows "
        f"({rows['train']['fraud'] + rows['validation']['fraud']:,} fraud), test "
        f"{rows['test']['rows']:,} ({rows['test']['fraud']:,})",
        f"- sampler: {metrics['search']['sampler']}; search: {metrics['search']['n_iter']} "
        f"candidates x {metrics['search']['cv']} folds on `{metrics['search']['scoring']}` "
        f"(best CV score {metrics['search']['best_score']:.4f})",
        f"- threshold: {metrics['threshold']:.6f}, {_policy_line(metrics)}",
        f"- time: {metrics['seconds']['total']:.1f} s",
        "",
        "## Held-out test part",
        "",
        *_weight_note(metrics),
        "| metric | at the threshold | at 0.5 |",
        "|---|---|---|",
        f"| precision | {_pct(test['precision'])}{_iv(test, 'precision')} | "
        f"{_pct(test['at_0_5']['precision'])} |",
        f"| recall | {_pct(test['recall'])}{_iv(test, 'recall')} | "
        f"{_pct(test['at_0_5']['recall'])} |",
        f"| F1 | {test['f1']:.4f} | {test['at_0_5']['f1']:.4f} |",
        f"| flagged rows | {test['flagged']:,} | {test['at_0_5']['flagged']:,} |",
        "",
        f"PR-AUC {test['pr_auc']:.4f}, ROC-AUC {test['roc_auc']:.4f}, recall at precision >= 0.9: "
        f"{_pct(test['recall_at_precision_0_9'])}.",
        "",
        f"Confusion matrix at the threshold: TN {cm['tn']:,}, FP {cm['fp']:,}, FN {cm['fn']:,}, "
        f"TP {cm['tp']:,}.",
        "",
        "![precision-recall curve](pr_curve.png)",
        "",
        *_threshold_section(metrics),
        *_calibration_section(metrics),
        "## Tuned parameters",
        "",
        *(f"- `{k}`: {v}" for k, v in metrics["params"].items()),
        "",
    ]
    if "feature_sets" in metrics:
        lines += [
            "## Feature sets on the same split",
            "",
            f"Test part; precision at recall >= {metrics['target_recall']} is read off the test "
            "curve (what the ranking allows), precision/recall at the threshold use the "
            "threshold chosen on the validation part."
            + (
                f" Legitimate rows weighted x{metrics['legit_weight']}."
                if metrics.get("legit_weight", 1) != 1
                else ""
            ),
            "",
            "| feature set | inputs | PR-AUC | recall at precision 0.9 | precision at target "
            "recall | precision / recall at threshold |",
            "|---|---|---|---|---|---|",
        ]
        for name, fs in metrics["feature_sets"].items():
            lines.append(
                f"| `{name}` | {fs['inputs']} | {fs['pr_auc']:.4f} | "
                f"{_pct(fs['recall_at_precision_0_9'])} | "
                f"{_pct(fs['precision_at_target_recall'])} | "
                f"{_pct(fs['precision'])} / {_pct(fs['recall'])} |"
            )
        lines.append("")
        lines += [
            f"- `{name}` is fit for {fs['fit_for']}" for name, fs in metrics["feature_sets"].items()
        ]
        lines.append("")
    for name, external in metrics.get("external", {}).items():
        lines += [
            f"## Also evaluated on {name}",
            "",
            f"{external['rows']:,} rows, {external['fraud']:,} fraud"
            + (
                f"; legitimate rows weighted x{external['legit_weight']}"
                if external.get("legit_weight", 1) != 1
                else ""
            )
            + f": PR-AUC {external['pr_auc']:.4f}, precision {_pct(external['precision'])}"
            f"{_iv(external, 'precision')}, recall {_pct(external['recall'])}"
            f"{_iv(external, 'recall')} at the threshold"
            + (
                f"; mean predicted {external['calibration']['mean_predicted']:.5f} vs observed "
                f"{external['calibration']['observed_rate']:.5f}, ECE "
                f"{external['calibration']['ece']:.5f}"
                if "calibration" in external
                else ""
            )
            + ".",
            "",
        ]
    if "explanations" in metrics:
        lines += render_section(metrics["explanations"])
    lines.append(
        "Figures on generated data describe the generator as much as the model: real PaySim "
        "rows, and real payments even more, are harder."
    )
    return "\n".join(lines) + "\n"
