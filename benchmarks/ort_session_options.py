"""Single-row latency of model.onnx under onnxruntime session options (measured, not guessed).

Each configuration runs in its own Python process that imports only onnxruntime and numpy
(no xgboost: its OpenMP threads would spin and skew the timings). Configurations are run in
interleaved rounds so a background load hits them alike; the summary takes, per configuration,
the median over rounds of each statistic. Writes benchmarks/results/ort_session_options.json
and a PNG next to it.

    python benchmarks/ort_session_options.py --model artifacts/model.onnx [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "ort_session_options.json"

#: Default session settings; each configuration overrides some of them.
BASE: dict[str, Any] = {"intra": 1, "inter": 1, "mode": "sequential", "level": "all", "spin": True}
CONFIGS: dict[str, dict[str, Any]] = {
    "intra1_seq_all": {},
    "intra2_seq_all": {"intra": 2},
    "intra0_default_threads": {"intra": 0, "inter": 0},
    "intra2_nospin": {"intra": 2, "spin": False},
    "intra1_parallel_inter1": {"mode": "parallel"},
    "intra1_parallel_inter2": {"mode": "parallel", "inter": 2},
    "intra1_level_disabled": {"level": "disabled"},
    "intra1_level_basic": {"level": "basic"},
    "intra1_level_extended": {"level": "extended"},
    "intra1_preoptimised_disabled": {"preoptimised": True, "level": "disabled"},
    "intra1_preoptimised_all": {"preoptimised": True, "level": "all"},
}

#: One ordinary transaction, as the service would feed it (batch of one).
ROW = {
    "type": "TRANSFER",
    "step": 13.0,
    "amount": 181000.0,
    "oldbalanceOrg": 181000.0,
    "newbalanceOrig": 0.0,
    "oldbalanceDest": 21182.0,
    "newbalanceDest": 0.0,
}


def session_options(ort: Any, cfg: dict[str, Any]) -> Any:
    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = cfg["intra"]
    options.inter_op_num_threads = cfg["inter"]
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL
        if cfg["mode"] == "parallel"
        else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    options.graph_optimization_level = levels[cfg["level"]]
    if not cfg["spin"]:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def worker(model: str, cfg: dict[str, Any], repeats: int, warmup: int) -> dict[str, Any]:
    """Run in a fresh process: build the session, time ``repeats`` single-row calls."""
    import numpy as np
    import onnxruntime as ort

    if cfg.get("preoptimised"):
        # Save the fully optimised graph once, then time loading and running the saved file.
        saved = Path(tempfile.mkdtemp()) / "optimised.onnx"
        prep = ort.SessionOptions()
        prep.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        prep.optimized_model_filepath = str(saved)
        ort.InferenceSession(model, prep, providers=["CPUExecutionProvider"])
        model = str(saved)
    started = time.perf_counter()
    session = ort.InferenceSession(
        model, session_options(ort, cfg), providers=["CPUExecutionProvider"]
    )
    load_ms = (time.perf_counter() - started) * 1e3
    feed = {
        k: np.array([v], dtype=object if isinstance(v, str) else np.float32) for k, v in ROW.items()
    }
    first = time.perf_counter()
    session.run(None, feed)
    first_ms = (time.perf_counter() - first) * 1e3
    for _ in range(warmup):
        session.run(None, feed)
    times = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        session.run(None, feed)
        times[i] = (time.perf_counter_ns() - t0) / 1e3
    batch = {k: np.repeat(v, 1000) for k, v in feed.items()}
    t0 = time.perf_counter()
    for _ in range(20):
        session.run(None, batch)
    return {
        "load_ms": load_ms,
        "first_run_ms": first_ms,
        "p50_us": float(np.percentile(times, 50)),
        "p90_us": float(np.percentile(times, 90)),
        "p99_us": float(np.percentile(times, 99)),
        "mean_us": float(times.mean()),
        "min_us": float(times.min()),
        "batch1000_ms": (time.perf_counter() - t0) / 20 * 1e3,
    }


def run_config(model: Path, name: str, repeats: int, warmup: int) -> dict[str, Any]:
    cfg = {**BASE, **CONFIGS[name]}
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            json.dumps(cfg),
            "--model",
            str(model),
            "--repeats",
            str(repeats),
            "--warmup",
            str(warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return json.loads(done.stdout)


def model_facts(model: Path) -> dict[str, Any]:
    import onnx

    proto = onnx.load(model)
    meta = {p.key: p.value for p in proto.metadata_props}
    (trees,) = [n for n in proto.graph.node if n.op_type == "TreeEnsembleClassifier"]
    tree_ids = next(a.ints for a in trees.attribute if a.name == "nodes_treeids")
    return {
        "path": str(model),
        "model_version": meta.get("model_version"),
        "nodes": len(proto.graph.node),
        "trees": len(set(tree_ids)),
        "tree_nodes": len(tree_ids),
    }


def plot(summary: dict[str, dict[str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.barh(names, [summary[n]["p50_us"] for n in names], label="p50")
    ax.barh(
        names,
        [summary[n]["p99_us"] - summary[n]["p50_us"] for n in names],
        left=[summary[n]["p50_us"] for n in names],
        alpha=0.4,
        label="p50..p99",
    )
    ax.set_xscale("log")  # one configuration is 100x slower than the rest
    ax.set_xlim(left=10)
    ax.set_xlabel("single-row session.run latency (µs, log scale)")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model.onnx"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(
            json.dumps(worker(str(args.model), json.loads(args.worker), args.repeats, args.warmup))
        )
        return 0
    if not args.model.is_file():
        parser.error(f"model not found: {args.model} (run fraud-train and fraud-convert first)")
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    for r in range(args.rounds):
        for name in CONFIGS:
            rounds[name].append(run_config(args.model, name, args.repeats, args.warmup))
            print(
                f"round {r + 1}/{args.rounds} {name:32s} p50 {rounds[name][-1]['p50_us']:7.1f} µs",
                file=sys.stderr,
            )
    summary = {
        name: {
            **{k: round(statistics.median(x[k] for x in runs), 2) for k in runs[0]},
            # The quietest round: closest to an unloaded machine (this one is shared).
            "best_round_p50_us": round(min(x["p50_us"] for x in runs), 2),
        }
        for name, runs in rounds.items()
    }
    best = min(summary, key=lambda n: summary[n]["p50_us"])
    import onnxruntime

    result = {
        "model": model_facts(args.model),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "platform": platform.platform(),
        },
        "method": {
            "rounds": args.rounds,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "statistic": "median over rounds of per-round statistics; best_round_p50_us = min",
        },
        "configs": {name: {**BASE, **CONFIGS[name]} for name in CONFIGS},
        "summary": summary,
        "fastest_p50": best,
        "rounds": rounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(summary, args.out.with_suffix(".png"))
    for name, stats in sorted(summary.items(), key=lambda kv: kv[1]["p50_us"]):
        print(
            f"{name:32s} p50 {stats['p50_us']:7.1f} µs  best {stats['best_round_p50_us']:6.1f} µs  "
            f"p99 {stats['p99_us']:7.1f} µs  "
            f"load {stats['load_ms']:6.1f} ms  batch1000 {stats['batch1000_ms']:6.2f} ms"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
