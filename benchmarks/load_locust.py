"""One Locust run: headless against a running server, then its figures from Locust's output.

Locust runs in its own process (``python -m locust`` with benchmarks/locustfile.py) and writes
its final stats, CSV files and the unrounded response times next to ``prefix``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    BenchmarkError,
    progress,
    summarize,
)
from benchmarks.servers import RunningServer, Target


@dataclass(frozen=True)
class LoadConfig:
    """One load run's settings (the command line)."""

    artifacts: Path = DEFAULT_ARTIFACTS
    out: Path = DEFAULT_RESULTS
    users: int = 10
    spawn_rate: float = 10.0
    duration: int = 60
    transactions: int = 2000
    data: Path | None = None
    seed: int = 0


LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: Transactions scored by one successful Locust entry of each kind.
ROWS_PER_ENTRY = {"single": 1, "batch_10": 10, "batch_100": 100}


def run_locust(server: RunningServer, config: LoadConfig, data: Path, prefix: Path) -> int:
    """Run Locust headless for ``config.duration`` seconds against ``server``; its exit code."""
    target = server.spec.target
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(config.users),
        "-r",
        str(config.spawn_rate),
        "-t",
        f"{config.duration}s",
        "--stop-timeout",
        "10",
        "-H",
        server.url,
        "--payload-shape",
        target,
        "--transactions",
        str(data),
        "--raw-times",
        str(prefix) + "_times.json",
        "--csv",
        str(prefix),
        "--json-file",
        str(prefix) + "_final",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    log = prefix.parent / f"locust_{target}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        deadline = config.duration + 60
        while process.poll() is None:
            elapsed = time.perf_counter() - started
            if elapsed > deadline:
                process.kill()
                raise BenchmarkError(f"locust did not stop after {deadline}s; see {log}")
            progress("load", f"{target}: {min(elapsed, config.duration):.0f}/{config.duration}s")
            time.sleep(min(10.0, max(config.duration / 3, 1.0)))
    if not Path(str(prefix) + "_final.json").exists():
        raise BenchmarkError(f"locust wrote no stats (exit {process.returncode}); see {log}")
    return process.returncode


def read_stats(prefix: Path) -> tuple[dict[str, dict[str, float]], float]:
    """Final Locust stats per entry name (requests, failures, requests/s) and the run's seconds.

    Read from ``--json-file``, written after the users stopped; the CSV is written periodically
    and may miss the last second of a run.
    """
    entries = json.loads(Path(str(prefix) + "_final.json").read_text())
    start = min(e["start_time"] for e in entries)
    end = max(e["last_request_timestamp"] or e["start_time"] for e in entries)
    elapsed = max(end - start, 1e-9)
    rows = {
        e["name"]: {
            "requests": int(e["num_requests"]),
            "failures": int(e["num_failures"]),
            "requests_per_s": e["num_requests"] / elapsed,
        }
        for e in entries
    }
    return rows, elapsed


def summarize_run(target: Target, prefix: Path, config: LoadConfig) -> dict[str, Any]:
    """Figures of one target's run from Locust's CSV and the unrounded response times."""
    stats, elapsed = read_stats(prefix)
    times: dict[str, list[float]] = json.loads(Path(str(prefix) + "_times.json").read_text())
    requests = sum(row["requests"] for row in stats.values())
    by_name = {
        name: {**row, "latency_ms": summarize(times.get(name, []))} for name, row in stats.items()
    }
    transactions = sum(
        (row["requests"] - row["failures"]) * ROWS_PER_ENTRY.get(name, 0)
        for name, row in stats.items()
    )
    # The baseline has no batch request: each of its batches is one HTTP request per row.
    http = sum(
        row["requests"] * (ROWS_PER_ENTRY.get(name, 1) if target == "baseline" else 1)
        for name, row in stats.items()
    )
    return {
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "duration_s": config.duration,
        "elapsed_s": elapsed,
        "requests": requests,
        "failures": sum(row["failures"] for row in stats.values()),
        "requests_per_s": requests / elapsed,
        "http_requests_per_s": http / elapsed,
        "transactions_per_s": transactions / elapsed,
        "latency_ms": summarize(v for values in times.values() for v in values),
        "by_name": by_name,
        "csv": str(prefix) + "_stats.csv",
        "times": str(prefix) + "_times.json",
    }
