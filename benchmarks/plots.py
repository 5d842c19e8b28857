"""PNG figures of the benchmark results (written next to their JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np

COLORS = {"fraudlite": "#1b7f5a", "baseline": "#c0504d"}
METHOD_COLORS = {
    "fraudlite_onnx": "#1b7f5a",
    "onnx+explain": "#6fc29d",
    "xgboost_inplace": "#4a7ebb",
    "joblib_pipeline": "#c0504d",
}


def save_figure(fig: Any, path: Path) -> Path:
    """Lay ``fig`` out, write it as a PNG at ``path`` (creating its folder) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_load(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """Latency percentiles (all entries and single transactions) and single-request histograms."""
    fig, (bars, hist) = plt.subplots(1, 2, figsize=(12, 4.5))
    groups = [("all", "p50"), ("all", "p95"), ("all", "p99"), ("single", "p50"), ("single", "p99")]
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(groups))
    for i, (target, result) in enumerate(results.items()):
        values = []
        for scope, key in groups:
            figures = (
                result["latency_ms"]
                if scope == "all"
                else result["by_name"]["single"]["latency_ms"]
            )
            values.append(figures.get(key, np.nan))
        bars.bar(x + i * width, values, width, label=target, color=COLORS.get(target))
    bars.set_xticks(x + width * (len(results) - 1) / 2, [f"{s} {k}" for s, k in groups])
    bars.set_yscale("log")
    bars.set_ylabel("latency (ms, log scale)")
    users = next(iter(results.values()))["users"] if results else 0
    bars.set_title(f"Locust, {users} users: latency percentiles")
    bars.legend()
    all_times = {
        target: json.loads(Path(result["times"]).read_text()).get("single", [])
        for target, result in results.items()
    }
    positive = [v for values in all_times.values() for v in values if v > 0]
    if positive:
        edges = np.geomspace(min(positive), max(positive), 60)
        for target, values in all_times.items():
            # Shares, not counts: the faster side answers many more requests in the same time.
            weights = np.full(len(values), 100 / max(len(values), 1))
            hist.hist(
                values,
                bins=edges,
                weights=weights,
                alpha=0.6,
                label=target,
                color=COLORS.get(target),
            )
        hist.set_xscale("log")
    hist.set_xlabel("single-transaction response time (ms, log scale)")
    hist.set_ylabel("% of single-transaction requests")
    hist.set_title("single transactions: distribution")
    hist.legend()
    return save_figure(fig, path)


def plot_latency(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """p50/p99 per scoring method, single row and 1000-row batch, in microseconds (log scale)."""
    sizes = [("single", "single row"), ("batch_1000", "1000-row batch")]
    fig, axes = plt.subplots(1, len(sizes), figsize=(12, 4.5))
    for axis, (size, title) in zip(axes, sizes, strict=True):
        names = [m for m in results if size in results[m]]
        x = np.arange(len(names))
        for offset, key in ((-0.2, "p50_us"), (0.2, "p99_us")):
            values = [results[m][size][key] for m in names]
            colors = [METHOD_COLORS.get(m) for m in names]
            axis.bar(x + offset, values, 0.4, color=colors, alpha=1.0 if key == "p50_us" else 0.55)
        axis.set_xticks(x, names)
        axis.set_yscale("log")
        axis.set_ylabel("µs per call (log); dark p50, light p99")
        axis.set_title(f"in-process scoring: {title}")
    return save_figure(fig, path)


def plot_cold_start(results: dict[str, Any], path: Path) -> Path:
    """Wall time from process start to the first answered event, every run, per side."""
    # The floor (issue 20): numpy + onnxruntime, one session.run, nothing else.
    sides = [s for s in ("floor", "fraudlite", "baseline") if s in results["sides"]]
    fig, (runs, imports) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, side in enumerate(sides):
        values = results["sides"][side]["wall_s"]
        color = COLORS.get(side, "grey")
        runs.scatter(np.full(len(values), i), values, color=color, alpha=0.7)
        runs.hlines(np.median(values), i - 0.25, i + 0.25, color="black")
    runs.set_xticks(range(len(sides)), sides)
    runs.set_yscale("log")
    runs.set_ylabel("seconds to first answered v2 event (log)")
    title = "cold start (fresh process each run; line = median)"
    if results.get("floor_ratio"):
        title += f"\nfraudlite / floor: {results['floor_ratio']:.2f}x"
    runs.set_title(title)
    labels: list[str] = []
    values: list[float] = []
    colors: list[str] = []
    for side in sides:
        for row in results["sides"][side].get("import_breakdown", {}).get("top", [])[:6]:
            labels.append(f"{side}: {row['package']}")
            values.append(row["self_ms"])
            colors.append(COLORS.get(side, "grey"))
    imports.barh(np.arange(len(values)), values, color=colors)
    imports.set_yticks(np.arange(len(values)), labels)
    imports.invert_yaxis()
    imports.set_xlabel("import self time (ms), top packages")
    imports.set_title("python -X importtime of the Lambda entry module")
    return save_figure(fig, path)
