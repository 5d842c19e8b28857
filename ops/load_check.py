"""``fraud-load-check URL``: a short Locust run against a deployed API, with limits.

The deploy workflow runs it against staging before production is touched (`make load-check
URL=...` locally). Locust runs headless in its own process with ops/locustfile.py for
``--duration`` seconds; the aggregate row of its CSV statistics gives the request count, the
failure count and the 99th percentile. The run passes when the error rate is at most
``--max-error-rate`` and p99 at most ``--max-p99-ms``, and at least one request was made.

Exit 0 pass, 1 a limit exceeded (or Locust failed to run), 2 for usage errors. ``--json`` writes
the figures and the decision.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class LoadFigures:
    """The aggregate of one Locust run."""

    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


@dataclass(frozen=True)
class LoadVerdict:
    passed: bool
    reasons: list[str]
    figures: LoadFigures

    def as_json(self) -> dict:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            **asdict(self.figures),
            "error_rate": self.figures.error_rate,
        }


def read_stats(path: Path) -> LoadFigures:
    """The ``Aggregated`` row of Locust's ``<prefix>_stats.csv``."""
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    if not rows:
        raise ValueError(f"{path} has no Aggregated row")
    row = rows[0]

    def number(key: str) -> float:
        value = row.get(key, "")
        return float(value) if value not in ("", "N/A") else 0.0

    return LoadFigures(
        int(number("Request Count")),
        int(number("Failure Count")),
        number("50%"),
        number("99%"),
        number("Requests/s"),
    )


def judge(figures: LoadFigures, max_error_rate: float, max_p99_ms: float) -> LoadVerdict:
    """Apply the limits; each reason names a limit and the measured value."""
    reasons = []
    ok = figures.requests > 0
    if not ok:
        reasons.append("no request completed")
    errors_ok = figures.error_rate <= max_error_rate
    reasons.append(
        f"error rate {figures.error_rate:.4f} ({figures.failures}/{figures.requests}) "
        f"{'<=' if errors_ok else '>'} {max_error_rate:g}"
    )
    p99_ok = figures.p99_ms <= max_p99_ms
    reasons.append(f"p99 {figures.p99_ms:g} ms {'<=' if p99_ok else '>'} {max_p99_ms:g} ms")
    return LoadVerdict(ok and errors_ok and p99_ok, reasons, figures)


def run_locust(url: str, users: int, duration: int, workdir: Path) -> Path:
    """Run Locust headless against ``url``; the path of its aggregate statistics CSV."""
    prefix = workdir / "load"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{duration}s",
        "--stop-timeout",
        "5",
        "-H",
        url,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    # The project root on the path, so the locustfile can import ops/ from any checkout.
    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 120)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise RuntimeError(
            f"locust wrote no statistics (exit {done.returncode}): {done.stderr[-500:]}"
        )
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load check; exit 0 pass, 1 fail, 2 usage errors."""
    p = argparse.ArgumentParser(
        prog="fraud-load-check",
        description="A short Locust run against URL with limits on error rate and p99.",
    )
    p.add_argument("url", help="base URL of the API")
    p.add_argument("--users", type=int, default=5, help="concurrent users (5)")
    p.add_argument("--duration", type=int, default=30, help="seconds (30)")
    p.add_argument("--max-error-rate", type=float, default=0.01, help="failed/requests (0.01)")
    p.add_argument("--max-p99-ms", type=float, default=1000.0, help="p99 in ms (1000)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write figures and verdict")
    args = p.parse_args(argv)
    parsed = urlparse(args.url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        p.exit(2, f"fraud-load-check: error: URL must be http(s)://host, got {args.url!r}\n")
    if args.users < 1 or args.duration < 1 or not 0 <= args.max_error_rate <= 1:
        p.exit(2, "fraud-load-check: error: --users and --duration >= 1, error rate in [0, 1]\n")
    print(f"locust: {args.users} users for {args.duration} s against {args.url}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="fraud-load-") as tmp:
        try:
            figures = read_stats(run_locust(args.url, args.users, args.duration, Path(tmp)))
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            print(f"FAIL  locust: {exc}")
            return 1
    verdict = judge(figures, args.max_error_rate, args.max_p99_ms)
    print(
        f"{figures.requests} requests, {figures.requests_per_s:.1f}/s, "
        f"p50 {figures.p50_ms:g} ms, p99 {figures.p99_ms:g} ms"
    )
    for reason in verdict.reasons:
        print(f"  {reason}")
    print(f"load check {'passed' if verdict.passed else 'FAILED'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(verdict.as_json(), indent=2) + "\n")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
