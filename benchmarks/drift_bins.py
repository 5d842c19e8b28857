"""Cost of live drift: reference-bin indices per scored row, against what it rides on.

``python -m benchmarks.drift_bins [--model MODEL] [--repeat N]`` times, per batch size (1, 10,
100, 1000 rows), in this process with one ORT thread:

- ``decision_log``: rendering the decision-log lines without drift (what the service already
  does after each answer: the approach without drift monitoring);
- ``decision_log_with_bins``: the same with ``drift_bins`` (service/monitoring/decisions.py);
  the difference is the cost of live drift per row;
- ``bin_rows``: the binning the decision log adds, alone (plain Python up to 16 rows);
- ``bins_only``: the numpy binning alone (values matrix, broadcast compare, count);
- ``live_counts``: the in-memory alternative (LiveCounts.observe: bins and a bincount);
- ``score`` and ``score_with_features``: ``session.run`` fetching the probability alone, and
  also the graph's ``features`` output, which counting engineered features live would need.

Writes benchmarks/results/drift_bins.json and drift_bins.png. Without ``--model`` (or when the
model has no drift profile) a small generator-trained model is built in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DEFAULT_RESULTS, progress, run_metadata, write_json

BATCHES = (1, 10, 100, 1000)


def median_us(call: Callable[[], Any], repeat: int) -> float:
    """Median CPU time of one ``call`` in microseconds: ``repeat`` calls in 20 groups, each
    group timed with this thread's CPU clock, so time spent waiting for a core on a shared
    machine is not counted (wall-clock figures there measure the neighbours)."""
    for _ in range(20):
        call()
    groups, size = 20, max(1, repeat // 20)
    times = np.empty(groups)
    for g in range(groups):
        started = time.thread_time_ns()
        for _ in range(size):
            call()
        times[g] = (time.thread_time_ns() - started) / size
    return float(np.median(times) / 1000)


def _model(path: Path | None, workdir: Path) -> Path:
    from service.monitoring.reference import PROFILE_KEY

    if path is not None:
        import onnx

        props = {p.key for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if PROFILE_KEY in props:
            return path
        progress("drift_bins", f"{path} has no drift profile: building a small model")
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from drift_fixtures import profiled_model

    return profiled_model(workdir)


def _methods(model, plain, with_bins, binner, counts, columns, probabilities, labels) -> dict:
    """The timed calls on one batch (bound here, not in the loop, so each sees its batch)."""
    from service.telemetry.decision_log import DecisionBatch

    def batch() -> DecisionBatch:
        return DecisionBatch(model.version, model.threshold, probabilities, labels, columns)

    feeds = {name: columns[name] for name in model.input_names}
    return {
        "decision_log": lambda: plain.render(batch(), "r", "/predict"),
        "decision_log_with_bins": lambda: with_bins.render(batch(), "r", "/predict"),
        "bin_rows": lambda: binner.bin_rows(columns, probabilities),
        "bins_only": lambda: binner.bins(binner.values(columns, probabilities)),
        "live_counts": lambda: counts.observe(columns, probabilities),
        "score": lambda: model.session.run(["probability"], feeds),
        "score_with_features": lambda: model.session.run(["probability", "features"], feeds),
    }


def measure(model_path: Path, repeat: int) -> dict[str, Any]:
    """Per-row microseconds of each method at each batch size."""
    from drift.scoring import DriftModel
    from service.model import LoadedModel, load_model
    from service.monitoring.decisions import DriftBinsLog, live_binner
    from service.monitoring.live import LiveCounts
    from service.settings import Settings
    from service.telemetry.decision_log import DecisionLog
    from train.synthetic import generate

    model = load_model(Settings(model_uri=str(model_path)))
    assert isinstance(model, LoadedModel), model
    binner = live_binner(model)
    assert binner is not None
    helper = DriftModel.open(str(model_path))
    frame = generate(max(BATCHES), seed=5)
    plain = DecisionLog(lambda text: None)
    with_bins = DriftBinsLog(plain, binner, model.version)
    counts = LiveCounts(helper.profile, model.version, model.metadata.feature_names)
    results: dict[str, dict[str, float]] = {}
    for n in BATCHES:
        columns = helper.columns(frame.iloc[:n])
        probabilities, labels = model.score(columns)
        progress("drift_bins", f"batch of {n}")

        methods = _methods(model, plain, with_bins, binner, counts, columns, probabilities, labels)
        runs = max(50, repeat // n)
        results[str(n)] = {name: median_us(call, runs) / n for name, call in methods.items()}
        results[str(n)]["drift_bins_added"] = (
            results[str(n)]["decision_log_with_bins"] - results[str(n)]["decision_log"]
        )
    return results


def plot(results: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [int(n) for n in results]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = {
        "bin_rows": "drift_bins computed (the cost of live drift)",
        "drift_bins_added": "with bins minus without (noisier: a difference)",
        "decision_log": "decision log alone (no drift)",
        "decision_log_with_bins": "decision log with drift_bins",
        "live_counts": "in-memory LiveCounts (numpy; the alternative)",
        "score": "scoring (session.run)",
    }
    for name, label in labels.items():
        width = 2.5 if name == "bin_rows" else 1.2
        values = [results[str(n)][name] for n in sizes]
        ax.plot(sizes, values, marker="o", linewidth=width, label=label)
    ax.axhline(5, color="grey", linestyle="--", linewidth=1, label="target 5 µs/row")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows per request")
    ax.set_ylabel("CPU µs per row (median)")
    ax.set_title("Live drift: CPU per row, against the decision log and scoring it rides on")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift_bins", description=__doc__)
    parser.add_argument("--model", type=Path, help="model.onnx with a drift profile")
    parser.add_argument("--repeat", type=int, default=3000, help="timed calls at batch size 1")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        model_path = _model(args.model, Path(workdir))
        results = measure(model_path, args.repeat)
    data = {
        **run_metadata(),
        "unit": "µs of CPU per row (thread CPU time, median of 20 groups)",
        "per_batch_size": results,
    }
    write_json(args.out / "drift_bins.json", data)
    plot(results, args.out / "drift_bins.png")
    for n, row in results.items():
        print(
            f"batch {n:>4}: decision log {row['decision_log']:.2f}, with bins "
            f"{row['decision_log_with_bins']:.2f} (+{row['drift_bins_added']:.2f}), bin_rows "
            f"{row['bin_rows']:.2f}, numpy bins "
            f"{row['bins_only']:.2f}, live counts {row['live_counts']:.2f}, score "
            f"{row['score']:.2f}, score+features {row['score_with_features']:.2f} µs/row"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
