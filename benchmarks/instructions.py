"""One row in process, counted in CPU instructions: the request paths against ``session.run``.

``python -m benchmarks.instructions [--artifacts DIR] [--calls N]`` runs each arm in a fresh
interpreter under valgrind's callgrind twice, once with 0 calls and once with N, one after the
other (after one plain run that writes any stale ``.pyc``), and divides the difference by N: the
instructions one call executes, whatever else the machine is doing (wall-time ratios on a shared
2-core machine move by 2x from run to run; instruction counts repeat to a fraction of a percent).
Arms, as in benchmarks/inprocess.py and with the same model and row:

- ``session_run``: onnxruntime's ``session.run`` alone on prepared feeds;
- ``parse_score``: validation of the body (``RequestValidator.parse``) and ``LoadedModel.score``;
- ``app_quiet``: POST /predict as an ASGI call through the app (fast path), metrics and decision
  log off, the request line written (to /dev/null);
- ``lambda_quiet``: the same row as an API Gateway v2 event through the Lambda entry's handler,
  metrics and decision log off;
- ``lambda``: the Lambda entry's handler as deployed (EMF metrics and decision records on).

Writes instructions.json under --out with instructions per call and each arm over ``session_run``
(issue 20's in-process target: at most 2x). Instructions are not time: the Python request path
runs at fewer instructions per cycle than onnxruntime's tree loops, so its time ratio is higher
(benchmarks/inprocess.py measures time). Needs valgrind (Debian's package); exit 2 without it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

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

ARMS: Final = ("session_run", "parse_score", "app_quiet", "lambda_quiet", "lambda")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")

#: Run under callgrind: set up every arm (so both counts pay the same set-up), warm up, then run
#: one arm N times.
_CHILD = r"""
import asyncio, contextlib, dataclasses, json, os, sys
from benchmarks.events import LambdaContext, http_api_v2_event
from benchmarks.inprocess import asgi_call
from service import schema
from service.app import create_app
from service.lambda_app import LambdaHandler
from service.model import load_model
from service.runtime import build_runtime
from service.settings import Settings
from service.telemetry.logs import configure_logging
from service.telemetry.setup import build_telemetry

arm, n, model_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = Settings(model_uri=model_path)
model = load_model(settings)
sink = open(os.devnull, "w")
configure_logging("INFO", stream=sink)
quiet = dataclasses.replace(settings, metrics=False, decision_log="off")
raw = dict(schema.EXAMPLE_TRANSACTION)
body = json.dumps(raw).encode()
with contextlib.redirect_stdout(sink):
    app = create_app(quiet, model, build_telemetry(quiet, "server"))
    validator = app.state.service.validator
    feeds = {k: v for k, v in validator.parse(body).columns.items()}
    handlers = {
        name: LambdaHandler(build_runtime(s, model, build_telemetry(s, "lambda")))
        for name, s in (("lambda_quiet", quiet), ("lambda", settings))
    }
    event, context = http_api_v2_event(raw), LambdaContext()
    loop = asyncio.new_event_loop()

    async def requests(count):
        for _ in range(count):
            status, _ = await asgi_call(app, body)
            assert status == 200

    def calls(name, count):
        if name == "session_run":
            for _ in range(count):
                model.session.run(["probability"], feeds)
        elif name == "parse_score":
            for _ in range(count):
                model.score(validator.parse(body).columns)
        elif name == "app_quiet":
            loop.run_until_complete(requests(count))
        else:
            handler = handlers[name]
            for _ in range(count):
                assert handler(event, context)["statusCode"] == 200

    calls(arm, 50)  # warm: first-call caches, lazily built pieces
    calls(arm, n)
"""


def count(arm: str, calls: int, model: Path, valgrind: str = "valgrind") -> int:
    """Instructions callgrind counts for a fresh interpreter running ``arm`` ``calls`` times."""
    process = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            _CHILD,
            arm,
            str(calls),
            str(model),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = _COLLECTED.search(process.stderr)
    if process.returncode != 0 or found is None:
        raise BenchmarkError(f"callgrind run of {arm} failed:\n{process.stderr[-2000:]}")
    return int(found.group(1))


def warm_bytecode(model: Path) -> None:
    """One plain run of the child: a stale ``.pyc`` compiled inside a counted run would add
    millions of instructions to that run alone (seen: a per-call figure off by a sixth)."""
    subprocess.run(
        [sys.executable, "-c", _CHILD, "session_run", "0", str(model)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )


def per_call(base: int, loaded: int, calls: int) -> float:
    """Instructions of one call: the difference between the two runs over the calls made."""
    if calls < 1:
        raise ValueError("calls must be at least 1")
    return (loaded - base) / calls


def run(artifacts: Path, out: Path, calls: int) -> dict[str, Any]:
    """Count every arm; write instructions.json."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise BenchmarkError("valgrind is not installed (apt-get install valgrind)")
    model = require(artifacts / "model.onnx", "run fraud-convert on the artifacts first")
    warm_bytecode(model)
    counts: dict[str, dict[str, int]] = {}
    for arm in ARMS:
        progress("instructions", f"{arm}: 0 and {calls} calls under callgrind")
        counts[arm] = {
            "base": count(arm, 0, model, valgrind),
            "loaded": count(arm, calls, model, valgrind),
        }
    instructions = {arm: per_call(c["base"], c["loaded"], calls) for arm, c in counts.items()}
    report = {
        **run_metadata(),
        "calls": calls,
        "counts": counts,
        "instructions_per_call": instructions,
        "over_session_run": {
            arm: ratio(value, instructions["session_run"]) for arm, value in instructions.items()
        },
    }
    write_json(out / "instructions.json", report)
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.instructions``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--calls", type=int, default=300, help="calls per arm in the counted run")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print instructions per call and the ratios over session.run; exit 2 if it cannot run."""
    args = build_parser().parse_args(argv)
    if args.calls < 1:
        print("error: --calls must be at least 1", file=sys.stderr)
        return 2
    try:
        report = run(args.artifacts, args.out, args.calls)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for arm, value in report["instructions_per_call"].items():
        over = report["over_session_run"][arm]
        print(f"{arm:>13}: {value:12,.0f} instructions per call ({over:.2f}x session.run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
