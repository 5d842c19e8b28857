"""fraud-drift outputs: the markdown summary, the JSON document, the PNG of drifted entries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from drift.compare import DriftReport
from service.monitoring.reference import ReferenceProfile
from service.monitoring.stats import level, shares


def markdown(report: DriftReport, source: str, model_version: str) -> str:
    """A table of PSI/KS per entry, worst first, with the verdict."""
    lines = [
        f"# Drift of {source} against model {model_version}",
        "",
        f"{report.rows:,} rows. PSI < {report.watch_threshold:g} stable, "
        f"< {report.drift_threshold:g} watch, above: drifted.",
        "",
        "| feature | PSI | KS | status |",
        "|---|---:|---:|---|",
    ]
    for entry in sorted(report.entries, key=lambda e: -e.psi):
        ks = "" if entry.ks is None else f"{entry.ks:.3f}"
        status = level(entry.psi, report.watch_threshold, report.drift_threshold)
        lines.append(f"| {entry.name} | {entry.psi:.4f} | {ks} | {status} |")
    lines.append("")
    if report.drifted:
        lines.append(f"**Drifted:** {', '.join(report.drifted)}.")
    else:
        lines.append("**No drift.**")
    if report.watch:
        lines.append(f"Watch: {', '.join(report.watch)}.")
    return "\n".join(lines) + "\n"


def write_json(report: DriftReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")


def write_png(report: DriftReport, profile: ReferenceProfile, path: Path) -> None:
    """Reference vs current shares per bin, one panel per drifted entry (the worst if none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {e.name: e for e in profile.entries}
    names = report.drifted or [max(report.entries, key=lambda e: e.psi).name]
    found = {e.name: e for e in report.entries}
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        entry, reference = found[name], by_name[name]
        x = np.arange(reference.n_bins)
        ax.bar(x - 0.2, reference.shares, width=0.4, label="reference (training)")
        ax.bar(x + 0.2, shares(entry.counts), width=0.4, label="current")
        labels = reference.bin_labels()
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=6)
        ax.set_ylabel("share")
        ax.set_title(f"{name}: PSI {entry.psi:.3f}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
