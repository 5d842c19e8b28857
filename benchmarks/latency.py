"""In-process scoring latency and throughput: single row and 1000-row batch, per method.

``python -m benchmarks.latency [--seconds S]`` times, each in its own process (see
benchmarks/latency_worker.py): the fraudlite ONNX session on raw fields, xgboost's
``Booster.inplace_predict`` on prepared features, and the joblib'd pipeline on a one-row
DataFrame. Writes latency.json (p50/p99 µs, rows/s, ratios) and latency.png under ``--out``.
For a model with explanations the ONNX session is also timed with ``explain`` (beside, not instead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    PROJECT_ROOT,
    BenchmarkError,
    progress,
    ratio,
    require,
    run_metadata,
    write_json,
)
from benchmarks.latency_worker import BATCH, MARKER, METHODS
from benchmarks.payloads import sample_transactions, save_transactions

#: Probabilities of the methods must agree this closely (same trees; float32 vs float64 math).
AGREEMENT = 1e-4


def run_method(method: str, artifacts: Path, data: Path, seconds: float, threads: int) -> dict:
    """Run one worker process and return its figures."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.latency_worker",
        method,
        "--artifacts",
        str(artifacts),
        "--data",
        str(data),
        "--seconds",
        str(seconds),
        "--threads",
        str(threads),
    ]
    process = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        timeout=seconds * 4 + 180,
    )
    for line in process.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise BenchmarkError(
        f"{method} worker failed (exit {process.returncode}):\n{process.stderr[-2000:]}"
    )


def compare(methods: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """How many times faster fraudlite's ONNX session is than each other method."""
    onnx = methods["fraudlite_onnx"]
    out: dict[str, float | None] = {}
    for other in ("joblib_pipeline", "xgboost_inplace"):
        if other not in methods:
            continue
        them = methods[other]
        out[f"single_p50_vs_{other}"] = ratio(them["single"]["p50_us"], onnx["single"]["p50_us"])
        out[f"single_p99_vs_{other}"] = ratio(them["single"]["p99_us"], onnx["single"]["p99_us"])
        batch = f"batch_{BATCH}"
        out[f"batch_rows_per_s_vs_{other}"] = ratio(
            onnx[batch]["rows_per_s"], them[batch]["rows_per_s"]
        )
    return out


def explain_overhead(onnx: dict[str, Any]) -> dict[str, float | None] | None:
    """What explanations add to the ONNX session's figures; None without them."""
    if "single_explain" not in onnx:
        return None
    single, explained = onnx["single"], onnx["single_explain"]
    batch, batch_explained = onnx[f"batch_{BATCH}"], onnx[f"batch_{BATCH}_explain"]
    return {
        "single_p50_added_us": explained["p50_us"] - single["p50_us"],
        "single_p50_times": ratio(explained["p50_us"], single["p50_us"]),
        f"batch_{BATCH}_p50_times": ratio(batch_explained["p50_us"], batch["p50_us"]),
    }


def run(artifacts: Path, out: Path, seconds: float, threads: int = 1) -> dict[str, Any]:
    """Time every method; write latency.json and latency.png."""
    from benchmarks.plots import plot_latency

    require(artifacts / "model.onnx", "run fraud-convert on the artifacts first")
    require(artifacts / "pipeline.joblib", "run fraud-train first")
    data = save_transactions(out / "latency_transactions.json", sample_transactions(BATCH, seed=1))
    methods: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        progress(
            "latency",
            f"{method}: timing single rows then a {BATCH}-row batch (~{2 * seconds:.0f}s)",
        )
        methods[method] = run_method(method, artifacts, data, seconds, threads)
        single = methods[method]["single"]
        progress(
            "latency",
            f"{method}: single p50 {single['p50_us']:.0f} µs, p99 {single['p99_us']:.0f} µs",
        )
        if "single_explain" in methods[method]:
            explained = methods[method]["single_explain"]
            progress("latency", f"{method} with explain: single p50 {explained['p50_us']:.0f} µs")
    means = [m["batch_mean_probability"] for m in methods.values()]
    report = {
        **run_metadata(),
        "seconds_per_size": seconds,
        "methods": methods,
        "ratios": compare(methods),
        "explain_overhead": explain_overhead(methods["fraudlite_onnx"]),
        "agreement": {
            "batch_mean_probability_spread": max(means) - min(means),
            "ok": max(means) - min(means) <= AGREEMENT,
        },
    }
    write_json(out / "latency.json", report)
    onnx = methods["fraudlite_onnx"]
    if "single_explain" in onnx:  # drawn beside the others as one more method
        explained = {"single": onnx["single_explain"], "batch_1000": onnx["batch_1000_explain"]}
        methods = {**methods, "onnx+explain": explained}
    plot_latency(methods, out / "latency.png")
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.latency``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0, help="timing budget per method and size")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="xgboost threads for the booster and the pipeline (0: the pipeline's saved n_jobs)",
    )
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the latency benchmark; exit 2 when it cannot run."""
    args = build_parser().parse_args(argv)
    try:
        report = run(args.artifacts, args.out, args.seconds, args.threads)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = ("ratios", "agreement", "explain_overhead")
    print(json.dumps({key: report[key] for key in keys}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
