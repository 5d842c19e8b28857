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
from pathlib import Path
from typing import Any

from benchmarks.ort_options_worker import BASE, CONFIGS, ROW, session_options, worker

# Re-exported: the configurations and the timing worker live in benchmarks/ort_options_worker.py.
__all__ = ["BASE", "CONFIGS", "RESULTS", "ROW", "main", "session_options", "worker"]

RESULTS = Path(__file__).resolve().parent / "results" / "ort_session_options.json"


def run_config(model: Path, name: str, repeats: int, warmup: int) -> dict[str, Any]:
    """Time configuration ``name`` in a fresh process (this file with ``--worker``)."""
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
    """Version and size (nodes, trees) of the model timed, recorded with the results."""
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
    """Bars of p50 and p50..p99 per configuration, saved as ``out`` (PNG)."""
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
    """Command line: ``python benchmarks/ort_session_options.py --model M [--rounds N]``."""
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
