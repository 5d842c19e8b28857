"""Cold start: fresh processes importing each side's Lambda entry module and answering one event.

``python -m benchmarks.cold_start --runs N`` starts, for each side and each run, a new Python
process that imports the Lambda entry module (model on local disk) and answers one API Gateway
HTTP API v2 event (see benchmarks/cold_probe.py). The wall time from process start to the answer
is what Lambda bills as init plus the first invoke. Sides alternate run by run so background load
hits both alike; one unrecorded run per side first fills the OS file cache and ``.pyc`` files.
Also: a ``python -X importtime`` breakdown per side and, when the deployment tooling is present,
fraudlite under AWS's Lambda Runtime Interface Emulator. Writes cold_start.json and cold_start.png.

The third side, ``floor`` (benchmarks/floor_probe.py, issue 20), is the least any Python Lambda can
do for the same answer: numpy and onnxruntime, open model.onnx, decode the event's JSON body, one
``session.run``. It runs interleaved with the other two; ``floor_ratio`` is fraudlite's median
over the floor's (target: at most 1.3). ``init_steps`` is fraudlite's cold start step by step
(benchmarks/cold_steps.py: imports, settings, model fetch, session, warm-up, app build, invoke).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.cold_probe import ENTRY_MODULES, MARKER
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
from benchmarks.events import http_api_v2_event
from benchmarks.importtime import measure
from benchmarks.payloads import single_body
from service import schema

SIDES = ("fraudlite", "baseline", "floor")
#: The bare-onnxruntime floor, run as a script so that not even the benchmarks package is imported.
FLOOR_SCRIPT = PROJECT_ROOT / "benchmarks" / "floor_probe.py"
PROBE_SCRIPT = PROJECT_ROOT / "benchmarks" / "cold_probe.py"
#: What ``python -X importtime`` imports for each side (the floor's script imports onnxruntime).
IMPORTED = {**ENTRY_MODULES, "floor": "onnxruntime"}
#: Fresh interpreters that time fraudlite's init step by step (after the interleaved runs).
STEP_RUNS = 5
#: The transaction both sides score (the issue's example), each in its own request shape.
EXAMPLE = schema.EXAMPLE_TRANSACTION


def side_env(side: str, artifacts: Path) -> dict[str, str]:
    """Environment of the side's Lambda function with the model on local disk."""
    if side in ("fraudlite", "floor"):
        model = require(artifacts / "model.onnx", "run fraud-convert on the artifacts first")
        return {"FRAUD_MODEL_URI": str(model)}
    return {"MODEL_PATH": str(require(artifacts / "pipeline.joblib", "run fraud-train first"))}


def one_cold_start(side: str, env: dict[str, str], timeout: float = 120.0) -> dict[str, Any]:
    """Start a fresh interpreter, wait for its answer line; wall seconds plus its own timings, and
    the CPU seconds it used (user + system, start to exit: far less sensitive than wall time to
    other work on the machine, so the ratios stay readable on a busy one)."""
    command = probe_command(side, env)
    with tempfile.TemporaryFile() as errors:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            text=True,
        )
        result = None
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(MARKER):
                result = {
                    "wall_s": time.perf_counter() - started,
                    **json.loads(line[len(MARKER) :]),
                }
                break
        process.stdout.close()
        code = process.wait(timeout=timeout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result is not None:  # children run one at a time: the difference is this one's
            result["cpu_s"] = (after.ru_utime - before.ru_utime) + (
                after.ru_stime - before.ru_stime
            )
            # The CPU time runs to the exit (the interpreter's shutdown after the answer too):
            # its wall-clock span is the process's whole life, not ``wall_s``.
            result["lifetime_s"] = time.perf_counter() - started
        result_ok = result is not None and result["status"] == 200 and code == 0
        if not result_ok:
            errors.seek(0)
            message = errors.read().decode(errors="replace")[-2000:]
            raise BenchmarkError(f"{side} cold start failed (exit {code}, {result}):\n{message}")
    return result


def probe_command(side: str, env: dict[str, str]) -> list[str]:
    """The fresh interpreter's command line for ``side`` (the floor gets the whole v2 event)."""
    if side == "floor":
        event = http_api_v2_event(single_body(EXAMPLE, "fraudlite"))
        return [sys.executable, str(FLOOR_SCRIPT), env["FRAUD_MODEL_URI"], json.dumps(event)]
    event = http_api_v2_event(single_body(EXAMPLE, side))
    return [sys.executable, str(PROBE_SCRIPT), side, json.dumps(event)]


def init_steps(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Median seconds of each fraudlite init step over ``runs`` fresh interpreters."""
    body = json.dumps(single_body(EXAMPLE, "fraudlite"))
    samples = []
    for _ in range(runs):
        process = subprocess.run(
            [sys.executable, "-m", "benchmarks.cold_steps", body],
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [x for x in process.stdout.splitlines() if x.startswith(MARKER)]
        if process.returncode != 0 or not lines:
            raise BenchmarkError(
                f"cold_steps failed (exit {process.returncode}):\n{process.stderr[-2000:]}"
            )
        samples.append(json.loads(lines[-1][len(MARKER) :]))
    names = list(samples[0]["steps_s"])
    return {
        "runs": runs,
        "median_s": {n: statistics.median(s["steps_s"][n] for s in samples) for n in names},
        "total_s_median": statistics.median(s["total_s"] for s in samples),
        "probability_fraud": samples[0]["probability_fraud"],
    }


def describe(values: list[float]) -> dict[str, float]:
    """Median, spread (min, max, quartiles, standard deviation) of a series of seconds."""
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "q1": quartiles[0],
        "q3": quartiles[2],
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def rie_part(artifacts: Path, runs: int) -> dict[str, Any]:
    """fraudlite under the Lambda Runtime Interface Emulator, or why that was not measured."""
    try:
        from benchmarks.rie import rie_cold_start
    except ImportError as exc:
        progress("cold_start", f"Lambda emulator not measured: {exc}")
        return {"skipped": f"emulator tooling not available: {exc}"}
    try:
        return rie_cold_start(artifacts, runs=runs, body=single_body(EXAMPLE, "fraudlite"))
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        raise BenchmarkError(f"Lambda emulator run failed: {exc}") from exc


def run(artifacts: Path, out: Path, runs: int, rie: bool = True) -> dict[str, Any]:
    """Measure both sides ``runs`` times each; write cold_start.json and cold_start.png."""
    from benchmarks.plots import plot_cold_start

    envs = {side: side_env(side, artifacts) for side in SIDES}
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for side in SIDES:
        progress("cold_start", f"{side}: unrecorded first run (file cache, .pyc)")
        one_cold_start(side, envs[side])
    for index in range(runs):
        for side in SIDES:
            sample = one_cold_start(side, envs[side])
            samples[side].append(sample)
            progress("cold_start", f"run {index + 1}/{runs} {side}: {sample['wall_s']:.2f}s")
    sides: dict[str, Any] = {}
    for side in SIDES:
        progress("cold_start", f"{side}: python -X importtime")
        wall = [s["wall_s"] for s in samples[side]]
        sides[side] = {
            "entry_module": IMPORTED[side],
            "runs": runs,
            "wall_s": wall,
            "wall": describe(wall),
            "cpu_s": [s["cpu_s"] for s in samples[side]],
            "cpu": describe([s["cpu_s"] for s in samples[side]]),
            "lifetime_s": [s["lifetime_s"] for s in samples[side]],
            "import_s_median": statistics.median(s["import_s"] for s in samples[side]),
            "first_invoke_s_median": statistics.median(s["invoke_s"] for s in samples[side]),
            "probability_fraud": samples[side][0]["probability_fraud"],
            "import_breakdown": measure(IMPORTED[side], envs[side], top=25),
        }
    sides["floor"]["entry_module"] = str(FLOOR_SCRIPT.relative_to(PROJECT_ROOT))
    progress(
        "cold_start", f"fraudlite: init step by step ({min(runs, STEP_RUNS)} fresh interpreters)"
    )
    steps = init_steps(envs["fraudlite"], runs=min(runs, STEP_RUNS))
    report: dict[str, Any] = {
        **run_metadata(),
        "sides": sides,
        "ratio": ratio(sides["baseline"]["wall"]["median"], sides["fraudlite"]["wall"]["median"]),
        # Issue 20: fraudlite's cold start as a multiple of the bare-onnxruntime floor (<= 1.3).
        "floor_ratio": ratio(
            sides["fraudlite"]["wall"]["median"], sides["floor"]["wall"]["median"]
        ),
        # The same on CPU seconds: what the machine's other work disturbs least.
        "floor_cpu_ratio": ratio(
            sides["fraudlite"]["cpu"]["median"], sides["floor"]["cpu"]["median"]
        ),
        "init_steps": steps,
    }
    if rie:
        report["rie"] = rie_part(artifacts, runs=max(1, min(runs, 5)))
    write_json(out / "cold_start.json", report)
    plot_cold_start(report, out / "cold_start.png")
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.cold_start``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    p.add_argument("--runs", type=int, default=10, help="cold starts per side")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-rie", action="store_true", help="skip the Lambda emulator measurement")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the cold-start benchmark; exit 2 when it cannot run."""
    args = build_parser().parse_args(argv)
    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    try:
        report = run(args.artifacts, args.out, args.runs, rie=not args.no_rie)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    medians = {side: report["sides"][side]["wall"]["median"] for side in SIDES}
    figures = {
        "median_wall_s": medians,
        "ratio": report["ratio"],
        "floor_ratio": report["floor_ratio"],
        "median_cpu_s": {side: report["sides"][side]["cpu"]["median"] for side in SIDES},
        "floor_cpu_ratio": report["floor_cpu_ratio"],
    }
    print(json.dumps(figures, indent=2))
    print(
        f"fraudlite / floor: {report['floor_ratio']:.2f}x wall, "
        f"{report['floor_cpu_ratio']:.2f}x CPU (issue 20 target: at most 1.3x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
