"""Load test: each app under uvicorn on 127.0.0.1, Locust headless against it, one after the other.

``python -m benchmarks.load --target fraudlite|baseline|both --users N --spawn-rate R --duration S``
writes, under ``--out`` (default benchmarks/results): Locust's CSV files per target in ``load/``,
``load.json`` (requests/s, latency percentiles, failures, memory, ratios) and ``load_latency.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    BenchmarkError,
    progress,
    ratio,
    run_metadata,
    write_json,
)
from benchmarks.load_locust import (
    LOCUSTFILE,
    ROWS_PER_ENTRY,
    LoadConfig,
    read_stats,
    run_locust,
    summarize_run,
)
from benchmarks.payloads import (
    load_transactions,
    sample_transactions,
    save_transactions,
    single_body,
)
from benchmarks.servers import TARGETS, Target, start_server

# Re-exported: running Locust and reading its output live in benchmarks/load_locust.py.
__all__ = [
    "LOCUSTFILE",
    "ROWS_PER_ENTRY",
    "TARGETS",
    "LoadConfig",
    "compare",
    "main",
    "read_stats",
    "run",
    "run_locust",
    "run_target",
    "summarize_run",
]


def run_target(target: Target, config: LoadConfig, data: Path, raws: list[dict[str, Any]]) -> dict:
    """Start ``target``, warm it up, load it, record its memory, stop it."""
    load_dir = config.out / "load"
    progress("load", f"{target}: starting server")
    server = start_server(target, config.artifacts, load_dir)
    try:
        ready = server.wait_ready(single_body(raws[0], target))
        server.warm_up(raws)
        server.record_memory("after_warmup")
        progress("load", f"{target}: ready in {ready:.1f}s, {config.users} users")
        exit_code = run_locust(server, config, data, load_dir / target)
        server.record_memory("after_load")
    finally:
        server.stop()
    result = summarize_run(target, load_dir / target, config)
    result.update(
        {"locust_exit_code": exit_code, "memory_kib": server.memory, "command": server.spec.command}
    )
    progress(
        "load",
        f"{target}: {result['requests_per_s']:.1f} req/s, p99 {result['latency_ms']['p99']:.1f} ms,"
        f" {result['failures']} failures",
    )
    return result


def compare(results: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Ratios of fraudlite against the baseline (> 1 means fraudlite is better)."""
    if not {"fraudlite", "baseline"} <= results.keys():
        return {}
    ours, theirs = results["fraudlite"], results["baseline"]

    def single(side: dict[str, Any], key: str) -> float | None:
        return side["by_name"].get("single", {}).get("latency_ms", {}).get(key)

    return {
        "requests_per_s": ratio(ours["requests_per_s"], theirs["requests_per_s"]),
        "transactions_per_s": ratio(ours["transactions_per_s"], theirs["transactions_per_s"]),
        "p50_lower": ratio(theirs["latency_ms"]["p50"], ours["latency_ms"]["p50"]),
        "p99_lower": ratio(theirs["latency_ms"]["p99"], ours["latency_ms"]["p99"]),
        "single_p99_lower": ratio(single(theirs, "p99"), single(ours, "p99")),
        "peak_rss_lower": ratio(
            theirs["memory_kib"]["after_load"]["peak_rss_kib"],
            ours["memory_kib"]["after_load"]["peak_rss_kib"],
        ),
    }


def run(config: LoadConfig, targets: tuple[Target, ...]) -> dict[str, Any]:
    """Run the load test for ``targets`` one after the other; write load.json and the PNG."""
    from benchmarks.plots import plot_load

    if config.data is not None:
        raws = load_transactions(config.data)
    else:
        raws = sample_transactions(config.transactions, seed=config.seed)
    data = save_transactions(config.out / "load" / "transactions.json", raws)
    results = {target: run_target(target, config, data, raws) for target in targets}
    report = {**run_metadata(), "targets": results, "ratios": compare(results)}
    write_json(config.out / "load.json", report)
    plot_load(results, config.out / "load_latency.png")
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.load``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    p.add_argument("--target", choices=[*TARGETS, "both"], default="both")
    p.add_argument("--users", type=int, default=10, help="concurrent Locust users")
    p.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    p.add_argument("--duration", type=int, default=60, help="seconds of load per target")
    p.add_argument("--transactions", type=int, default=2000, help="generated rows to draw from")
    p.add_argument(
        "--data", type=Path, help="JSON list of raw transactions to send instead of generated ones"
    )
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark; exit 2 when it cannot run."""
    args = build_parser().parse_args(argv)
    config = LoadConfig(
        artifacts=args.artifacts,
        out=args.out,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration=args.duration,
        transactions=args.transactions,
        data=args.data,
    )
    targets = TARGETS if args.target == "both" else (args.target,)
    try:
        report = run(config, targets)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"ratios": report["ratios"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
