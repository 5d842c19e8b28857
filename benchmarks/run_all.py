"""``python -m benchmarks`` (``make bench``): every benchmark, one JSON, one table.

Runs, in this order: in-process latency, cold start, the Locust load test of both sides, and the
dependency footprint (benchmarks/footprint.py, whose JSON is embedded as it is). Writes
``latest.json`` (machine, versions, timestamp, every figure, ratios against the baseline and the
issue's targets, reported not asserted), ``latest.md`` (the table for the README) and the PNGs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import cold_start, latency, load
from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    PROJECT_ROOT,
    BenchmarkError,
    Stopwatch,
    model_files,
    progress,
    run_metadata,
    write_json,
)
from benchmarks.summary import render_table, summarize_results


@dataclass(frozen=True)
class Plan:
    """How long each part runs; ``quick()`` is for smoke tests."""

    latency_seconds: float = 5.0
    cold_runs: int = 10
    users: int = 10
    spawn_rate: float = 10.0
    duration: int = 60
    rie: bool = True

    @classmethod
    def quick(cls) -> Plan:
        return cls(latency_seconds=0.3, cold_runs=1, users=2, spawn_rate=2.0, duration=3)


def footprint(out: Path) -> dict[str, Any]:
    """The dependency footprint from benchmarks/footprint.py, embedded as it writes it."""
    path = out / "footprint.json"
    command = [sys.executable, "-m", "benchmarks.footprint", "--out", str(path)]
    # Its progress goes straight to this terminal; its installs are cached between runs.
    process = subprocess.run(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    if process.returncode != 0 or not path.exists():
        raise BenchmarkError(f"benchmarks.footprint failed (exit {process.returncode})")
    return json.loads(path.read_text())


def assemble(artifacts: Path, plan: Plan, parts: dict[str, Any]) -> dict[str, Any]:
    """The latest.json document from each part's report, with the summary rows."""
    report = {
        **run_metadata(),
        "plan": plan.__dict__,
        "model_files_bytes": model_files(artifacts),
        **parts,
    }
    report["summary"] = summarize_results(report)
    return report


def run(artifacts: Path, out: Path, plan: Plan) -> dict[str, Any]:
    """Run every part and write latest.json and latest.md; returns the report."""
    clock = Stopwatch()
    parts: dict[str, Any] = {}
    progress("bench", "1/4 in-process latency")
    parts["latency"] = latency.run(artifacts, out, plan.latency_seconds)
    progress("bench", f"2/4 cold start ({clock():.0f}s so far)")
    parts["cold_start"] = cold_start.run(artifacts, out, plan.cold_runs, rie=plan.rie)
    progress("bench", f"3/4 load test ({clock():.0f}s so far)")
    config = load.LoadConfig(
        artifacts=artifacts,
        out=out,
        users=plan.users,
        spawn_rate=plan.spawn_rate,
        duration=plan.duration,
    )
    parts["load"] = load.run(config, load.TARGETS)
    progress("bench", f"4/4 footprint ({clock():.0f}s so far)")
    parts["footprint"] = footprint(out)
    report = assemble(artifacts, plan, parts)
    report["seconds"] = clock()
    write_json(out / "latest.json", report)
    (out / "latest.md").write_text(render_table(report))
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--quick", action="store_true", help="tiny settings: a smoke run in seconds")
    p.add_argument("--users", type=int, help="Locust users (default 10)")
    p.add_argument("--duration", type=int, help="seconds of load per side (default 60)")
    p.add_argument("--runs", type=int, help="cold starts per side (default 10)")
    p.add_argument("--seconds", type=float, help="latency timing budget per case (default 5)")
    p.add_argument("--no-rie", action="store_true", help="skip the Lambda emulator measurement")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark set; exit 2 when a part cannot run."""
    args = build_parser().parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    overrides = {
        "users": args.users,
        "duration": args.duration,
        "cold_runs": args.runs,
        "latency_seconds": args.seconds,
    }
    plan = Plan(**{**plan.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    if args.no_rie:
        plan = Plan(**{**plan.__dict__, "rie": False})
    try:
        report = run(args.artifacts, args.out, plan)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_table(report))
    print(f"wrote {args.out / 'latest.json'} in {report['seconds']:.0f}s")
    return 0
