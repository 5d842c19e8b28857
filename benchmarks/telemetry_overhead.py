"""What metrics and the decision log cost (issue 15), side by side with them off.

``python -m benchmarks.telemetry_overhead [--model artifacts/model.onnx] [--rounds 30]
[--requests 1000] [--cold-runs 15] [--library-python PATH]`` measures:

1. **In process, per request**: the app called directly through ASGI (no sockets, no Mangum,
   which cost the same either way) with one transaction, for configurations built from the
   same loaded model: ``off`` (no metrics, no decision log), ``lambda`` (an EMF record and the
   decision records on stdout, as on Lambda), ``server`` (Prometheus counters and the decision
   records on stdout: fraud-serve's defaults) and ``server+file`` (the decision records in a
   JSON-lines file, ``FRAUD_DECISION_LOG=<path>``: a second write per request); ``+bins``
   adds issue 17's drift bins. The request log line is written in all of them (it exists
   without this issue). stdout and the files go to real files in a temporary
   folder. Configurations alternate within each round in a shuffled order, so the machine's
   background load hits all alike; the figure is the median over rounds of each round's mean
   per-request time, and the overhead the median of the per-round differences with ``off``.
   A batch of 1,000 transactions is measured the same way (fewer rounds), for scale.
   **Direct arm**: the telemetry code of one request called in a warm loop (with the drift
   bins the app adds when the model has a reference profile), whole and by part.
   **In situ**: the whole request again, with telemetry added piece by piece (plumbing only,
   metrics, metrics + decisions), to say where the end-to-end overhead goes.
2. **Cold start**: fresh processes importing the Lambda entry module and answering one event
   (benchmarks/cold_probe.py), with telemetry on (the defaults) and off (FRAUD_METRICS=off,
   FRAUD_DECISION_LOG=off), alternating run by run; medians and paired differences.
3. **Import cost** of writing EMF by hand against aws-embedded-metrics and Powertools' Metrics:
   fresh interpreters of ``--library-python`` (a venv holding both libraries and msgspec; the
   project does not depend on them) import each after ``json`` and ``msgspec``, which the
   service loads anyway. Skipped, with the reason in the JSON, without that interpreter.

Writes benchmarks/results/telemetry_overhead.json and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import msgspec

from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    PROJECT_ROOT,
    BenchmarkError,
    progress,
    require,
    run_metadata,
    write_json,
)
from service import schema
from service.app import create_app
from service.model import LoadedModel, load_model
from service.monitoring.decisions import DriftBinsLog
from service.settings import Settings
from service.telemetry.decision_log import DecisionLog, FileLines
from service.telemetry.emf import EmfRecorder
from service.telemetry.logs import configure_logging
from service.telemetry.metrics import DEFAULT_NAMESPACE
from service.telemetry.prometheus import PrometheusRecorder
from service.telemetry.setup import Telemetry
from service.telemetry.stdout import write_stdout

_encode_lines = msgspec.json.Encoder().encode_lines
#: ``lambda``/``server``: issue 15's metrics and decision log; ``+bins``: as deployed with a model
#: that carries a drift profile, the decision lines also holding issue 17's ``drift_bins``.
CONFIGS: Final = ("off", "lambda", "lambda+bins", "server", "server+bins", "server+file")
SURFACES: Final = ("lambda", "server")
#: The configurations judged against the issue's per-request budget.
BUDGETED: Final = ("lambda", "server", "server+file")
#: The issue's budgets.
BUDGET_REQUEST_US: Final = 10.0
BUDGET_COLD_MS: Final = 10.0
#: Issue 17's target for the drift bins of one row (decision lines' ``drift_bins``).
BUDGET_BINS_US: Final = 5.0
#: What each library's users import to write EMF (ours: the module the service uses).
LIBRARIES: Final = {
    "fraudlite (EMF by hand)": "service.telemetry.emf",
    "aws-embedded-metrics": "aws_embedded_metrics",
    "aws-lambda-powertools Metrics": "aws_lambda_powertools.metrics",
}


def telemetry_for(config: str, folder: Path) -> Telemetry:
    """The telemetry of one configuration (``+bins`` or not: :func:`app_for_config` decides);
    its files live in ``folder``."""
    config = config.removesuffix("+bins")
    if config == "off":
        return Telemetry()
    if config == "lambda":
        return Telemetry(
            metrics=EmfRecorder(DEFAULT_NAMESPACE), decisions=DecisionLog(write_stdout)
        )
    recorder = PrometheusRecorder()
    if config == "server+file":
        decisions = DecisionLog(FileLines(str(folder / "decisions.jsonl")))
    else:  # fraud-serve's default: the decision lines on stdout, with the request line
        decisions = DecisionLog(write_stdout)
    return Telemetry(metrics=recorder, decisions=decisions, routes=recorder.routes())


def app_for_config(settings: Settings, model: LoadedModel, config: str, folder: Path) -> Any:
    """The app of one configuration or in-situ step, built as the entry points build it: with
    ``+bins`` in its name the decision lines also carry issue 17's drift bins (the default,
    when the model carries a profile), without it ``FRAUD_DRIFT_BINS=off`` (issue 15's
    metrics and decision log alone)."""
    telemetry = step_telemetry(config, folder) if config in STEPS else telemetry_for(config, folder)
    bins = replace(settings, drift_bins=config.endswith("+bins"))
    return create_app(bins, model, telemetry)


def asgi_scope(body: bytes) -> dict[str, Any]:
    """An HTTP scope for POST /predict, as uvicorn or Mangum would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _requests(app: Any, body: bytes, n: int) -> tuple[int, int, int]:
    """Send ``n`` requests; (elapsed wall ns, elapsed CPU ns of this process, answered 200)."""
    template = asgi_scope(body)
    ok = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal ok
        if message["type"] == "http.response.start" and message["status"] == 200:
            ok += 1

    started = time.perf_counter_ns()
    cpu_started = time.process_time_ns()
    for _ in range(n):
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(dict(template), receive, send)
    return time.perf_counter_ns() - started, time.process_time_ns() - cpu_started, ok


def time_requests(
    loop: asyncio.AbstractEventLoop, app: Any, body: bytes, n: int
) -> tuple[float, float]:
    """Mean (wall, CPU) microseconds per request over ``n`` requests (all must answer 200)."""
    gc.collect()
    elapsed, cpu, ok = loop.run_until_complete(_requests(app, body, n))
    if ok != n:
        raise BenchmarkError(f"{n - ok} of {n} requests did not answer 200")
    return elapsed / n / 1000, cpu / n / 1000


def in_process(model: LoadedModel, settings: Settings, rounds: int, requests: int) -> dict:
    """Per-request time of each configuration, interleaved; see the module docstring."""
    rows = schema.EXAMPLE_TRANSACTION
    single = json.dumps({**rows, "transaction_id": "bench-1"}).encode()
    batch = json.dumps(
        {"transactions": [{**rows, "transaction_id": f"b{i}"} for i in range(1000)]}
    ).encode()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="telemetry-bench-") as tmp:
        folder = Path(tmp)
        stdout_sink = (folder / "stdout.log").open("w", encoding="utf-8")
        saved_stdout = sys.stdout
        loop = asyncio.new_event_loop()
        try:
            sys.stdout = stdout_sink  # EMF and decision lines, as Lambda's stdout would get them
            configure_logging("INFO", stream=stdout_sink)  # the request log, in every config
            apps = {c: app_for_config(settings, model, c, folder) for c in CONFIGS}
            for app in apps.values():  # warm every path once
                time_requests(loop, app, single, 200)
                time_requests(loop, app, batch, 2)
            for name, body, n, count in (
                ("single", single, requests, rounds),
                ("batch1000", batch, max(requests // 200, 3), max(rounds // 3, 5)),
            ):
                wall: dict[str, list[float]] = {c: [] for c in CONFIGS}
                cpu: dict[str, list[float]] = {c: [] for c in CONFIGS}
                for index in range(count):
                    order = list(CONFIGS)
                    random.Random(index).shuffle(order)
                    for config in order:
                        wall_us, cpu_us = time_requests(loop, apps[config], body, n)
                        wall[config].append(wall_us)
                        cpu[config].append(cpu_us)
                    if index % 5 == 4 or index == count - 1:
                        progress("telemetry", f"{name}: round {index + 1}/{count}")
                results[name] = {
                    "cpu": summarize_rounds(cpu, n),
                    "wall": summarize_rounds(wall, n),
                }
        finally:
            sys.stdout = saved_stdout
            loop.close()
            configure_logging("INFO")
            stdout_sink.close()
            results["stdout_bytes_written"] = (folder / "stdout.log").stat().st_size
    return results


#: The in-situ breakdown's steps: each adds one piece of telemetry to the one before.
STEPS: Final = (
    "off",
    "plumbing",
    "emf",
    "emf+decisions",
    "emf+decisions+bins",
    "prometheus",
    "prometheus+decisions",
    "prometheus+decisions+bins",
)


class _IdleRecorder:
    """A metrics recorder that records nothing but, unlike NullRecorder, turns telemetry on:
    what remains is the plumbing (the per-request record, ``record_decisions``, the
    observation, the writer's telemetry step and flush)."""

    def startup(self, model_loaded: bool) -> None:
        pass

    def observe(self, observation: Any) -> None:
        pass


def step_telemetry(step: str, folder: Path) -> Telemetry:
    """The telemetry of one step of :func:`in_situ` (the bins: :func:`app_for_config`)."""
    step = step.removesuffix("+bins")
    metrics: Any = None
    if step == "plumbing":
        metrics = _IdleRecorder()
    elif step.startswith("emf"):
        metrics = EmfRecorder(DEFAULT_NAMESPACE)
    elif step.startswith("prometheus"):
        metrics = PrometheusRecorder()
    decisions = None
    if step.endswith("+decisions"):  # on stdout: both surfaces' default
        decisions = DecisionLog(write_stdout)
    return Telemetry(metrics=metrics, decisions=decisions)


def in_situ(model: LoadedModel, settings: Settings, rounds: int, requests: int) -> dict:
    """Where the whole-request overhead goes: single-transaction requests through the app with
    telemetry added piece by piece (:data:`STEPS`), interleaved as in :func:`in_process`;
    per step the median CPU µs per request and the median paired difference with ``off``.

    Code costs more inside a request than in a warm loop of its own (the request's other work
    evicts it from the caches between two calls): comparing these steps with the direct arm's
    parts says how much.
    """
    single = json.dumps({**schema.EXAMPLE_TRANSACTION, "transaction_id": "bench-1"}).encode()
    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    with tempfile.TemporaryDirectory(prefix="telemetry-steps-") as tmp:
        folder = Path(tmp)
        sink = (folder / "stdout.log").open("w", encoding="utf-8")
        saved = sys.stdout
        loop = asyncio.new_event_loop()
        try:
            sys.stdout = sink
            configure_logging("INFO", stream=sink)
            apps = {s: app_for_config(settings, model, s, folder) for s in STEPS}
            for app in apps.values():
                time_requests(loop, app, single, 200)
            for index in range(rounds):
                order = list(STEPS)
                random.Random(1000 + index).shuffle(order)
                for step in order:
                    cpu[step].append(time_requests(loop, apps[step], single, requests)[1])
                if index % 5 == 4 or index == rounds - 1:
                    progress("telemetry", f"in situ: round {index + 1}/{rounds}")
        finally:
            sys.stdout = saved
            loop.close()
            configure_logging("INFO")
            sink.close()
    out: dict[str, Any] = {"rounds": rounds, "requests_per_round": requests}
    for step in STEPS:
        deltas = [v - off for v, off in zip(cpu[step], cpu["off"], strict=True)]
        out[step] = {
            "median_us": statistics.median(cpu[step]),
            "overhead_median_us": statistics.median(deltas),
        }
    return out


def direct_path(model: LoadedModel, settings: Settings, repeats: int, number: int) -> dict:
    """CPU time of exactly the code telemetry adds to a single-transaction /predict request.

    The end-to-end difference above subtracts two ~0.2 ms totals and is at the mercy of the
    machine's load; this times the added code alone, on a real request's values: the scoring
    route's ``record_decisions`` plus the writer's telemetry step (EMF record and decision
    line rendered to go out with the request line, or Prometheus counters updated instead of EMF),
    with the decision log wrapped for drift bins as the app wraps it (``with_drift_bins``) when
    the model carries a reference profile. Reported as the median and the minimum over
    ``repeats`` runs of ``number`` calls, and split into its parts (``parts``: each timed alone
    the same way), to say where the microseconds go.
    """
    from service.monitoring.decisions import with_drift_bins
    from service.state import ServiceState

    state = ServiceState(settings=settings, model=model)
    assert state.validator is not None
    parsed = state.validator.parse(
        json.dumps({**schema.EXAMPLE_TRANSACTION, "transaction_id": "bench-1"}).encode()
    )
    probabilities, labels = model.score(parsed.columns)
    out: dict[str, Any] = {"repeats": repeats, "calls_per_repeat": number}
    with tempfile.TemporaryDirectory(prefix="telemetry-direct-") as tmp:
        sink = (Path(tmp) / "stdout.log").open("w", encoding="utf-8")
        saved = sys.stdout
        try:
            sys.stdout = sink
            for config in ("lambda", "server"):
                telemetry = with_drift_bins(telemetry_for(config, Path(tmp)), model)
                calls = _direct_calls(telemetry, model, parsed, (probabilities, labels))
                timed = {
                    name: _time_call(call, baseline, repeats, number)
                    for name, (call, baseline) in calls.items()
                }
                whole = timed.pop("telemetry")
                out[config] = {
                    **whole,
                    "drift_bins": isinstance(telemetry.decisions, DriftBinsLog),
                    "parts": {name: part["median_us"] for name, part in timed.items()},
                }
                progress("telemetry", f"direct {config}: {whole['median_us']:.2f} µs")
        finally:
            sys.stdout = saved
            sink.close()
    return out


def _time_call(
    call: Callable[[], Any], baseline: Callable[[], Any], repeats: int, number: int
) -> dict[str, float]:
    """Median and minimum CPU µs of ``call`` minus ``baseline`` over ``repeats`` runs."""
    runs = []
    for _ in range(repeats):
        gc.collect()
        start = time.process_time_ns()
        for _ in range(number):
            call()
        middle = time.process_time_ns()
        for _ in range(number):
            baseline()
        end = time.process_time_ns()
        runs.append(((middle - start) - (end - middle)) / number / 1000)
    return {"median_us": statistics.median(runs), "min_us": min(runs)}


def _direct_calls(
    telemetry: Telemetry, model: LoadedModel, parsed: Any, scored: tuple[Any, Any]
) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """One request's telemetry work (``telemetry``) and its parts alone, each with the set-up
    it repeats without the work (subtracted): name -> (call, baseline)."""
    from service.telemetry.metrics import Observation
    from service.telemetry.request_record import RequestLog, RequestLogWriter, record_decisions

    writer = RequestLogWriter(model.version, telemetry)
    probabilities, labels = scored
    request_id = "f2c0a8d1e3b44c5f9a7b6c5d4e3f2a1b"
    route = "/predict"
    decisions = telemetry.decisions
    assert decisions is not None

    def new_record(on: bool = True) -> RequestLog:
        record = RequestLog(request_id=request_id, telemetry_on=on)
        record.batch_size, record.scoring_us = 1, 50
        return record

    def note(record: RequestLog) -> RequestLog:
        record_decisions(
            record,
            model_version=model.version,
            threshold=model.threshold,
            probabilities=probabilities,
            labels=labels,
            columns=parsed.columns,
            transaction_ids=parsed.transaction_ids,
        )
        return record

    now = time.time()
    stamp = writer._stamps.at(now)
    # A request line, as the writer builds it (with telemetry off too): its encoding and its
    # write are the baseline; what the telemetry adds to them is measured.
    line = {
        "ts": stamp + "+00:00",
        "level": "info",
        "logger": "fraudlite.request",
        "message": "request",
        "event": "request",
        "request_id": request_id,
        "method": "POST",
        "route": route,
        "status": 200,
        "batch_size": 1,
        "scoring_us": 50,
        "duration_us": 150,
        "model_version": model.version,
    }

    def one_request() -> None:
        # The telemetry's stdout records are encoded with the request line, in one call (no
        # write here: in a request the line's one write carries them, there with telemetry
        # off too; the extra bytes are encoded here).
        lines: list[Any] = [line]
        writer._telemetry(route, note(new_record()), 200, 150, now, stamp, True, lines)
        _encode_lines(lines)

    def request_without() -> None:
        new_record()
        _encode_lines([line])

    noted = note(new_record())
    batch = noted.decisions
    assert batch is not None
    on_stdout = decisions.write is write_stdout

    def decision_line(log: Any = decisions) -> None:
        if on_stdout:  # rendered, to go out with the request line
            log.render(batch, request_id, route, stamp)
        else:  # written to its file
            log.record(batch, request_id, route, stamp)

    def metrics() -> None:
        observation = Observation(
            route, 200, 0.2, writer.model_version or "none", 1, 50, noted.flagged, {}, now
        )
        recorder = telemetry.metrics
        if isinstance(recorder, EmfRecorder):
            recorder.render(observation)
        else:
            recorder.observe(observation)

    def nothing() -> None:
        pass

    calls = {
        "telemetry": (one_request, request_without),
        "record_decisions": (lambda: note(new_record()), new_record),
        "decision_log": (decision_line, nothing),
        "metrics": (metrics, nothing),
    }
    if isinstance(decisions, DriftBinsLog):  # the same line without issue 17's bins
        calls["decision_log_without_bins"] = (lambda: decision_line(decisions.inner), nothing)
    return calls


def summarize_rounds(per_round: dict[str, list[float]], n: int) -> dict[str, Any]:
    """Median per-request µs of each configuration and median paired overhead against off."""
    out: dict[str, Any] = {"requests_per_round": n, "rounds": len(per_round["off"])}
    for config, values in per_round.items():
        out[config] = {
            "median_us": statistics.median(values),
            "q1_us": statistics.quantiles(values, n=4)[0],
            "q3_us": statistics.quantiles(values, n=4)[2],
        }
        if config != "off":
            deltas = [v - off for v, off in zip(values, per_round["off"], strict=True)]
            out[config]["overhead_median_us"] = statistics.median(deltas)
            out[config]["overhead_q1_us"] = statistics.quantiles(deltas, n=4)[0]
            out[config]["overhead_q3_us"] = statistics.quantiles(deltas, n=4)[2]
        plain = config.removesuffix("+bins")
        if plain != config and plain in per_round:  # what the bins add, paired likewise
            deltas = [v - w for v, w in zip(values, per_round[plain], strict=True)]
            out[config]["bins_median_us"] = statistics.median(deltas)
    return out


def cold_start(model_path: Path, runs: int) -> dict[str, Any]:
    """Fresh-process cold starts with telemetry on and off, alternating; seconds."""
    from benchmarks.cold_start import one_cold_start

    envs = {
        "on": {"FRAUD_MODEL_URI": str(model_path)},
        "off": {
            "FRAUD_MODEL_URI": str(model_path),
            "FRAUD_METRICS": "off",
            "FRAUD_DECISION_LOG": "off",
        },
    }
    # one_cold_start starts from os.environ: let its processes write .pyc files (see _pyc_env).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for env in envs.values():  # unrecorded: fills the file cache and .pyc files
        one_cold_start("fraudlite", env)
    walls: dict[str, list[float]] = {"on": [], "off": []}
    cpus: dict[str, list[float]] = {"on": [], "off": []}
    imports: dict[str, list[float]] = {"on": [], "off": []}
    for index in range(runs):
        order = ["on", "off"] if index % 2 == 0 else ["off", "on"]
        for config in order:
            before = _children_cpu()
            result = one_cold_start("fraudlite", envs[config])
            cpus[config].append(_children_cpu() - before)
            walls[config].append(result["wall_s"])
            imports[config].append(result["import_s"])
        progress("telemetry", f"cold start: run {index + 1}/{runs}")
    out: dict[str, Any] = {"runs": runs}
    for config in walls:
        out[config] = {
            "wall_median_ms": statistics.median(walls[config]) * 1000,
            "cpu_median_ms": statistics.median(cpus[config]) * 1000,
            "import_median_ms": statistics.median(imports[config]) * 1000,
        }
    for kind, series in (("wall", walls), ("cpu", cpus)):
        deltas = [on - off for on, off in zip(series["on"], series["off"], strict=True)]
        out[f"{kind}_overhead_median_ms"] = statistics.median(deltas) * 1000
        out[f"{kind}_overhead_q1_ms"] = statistics.quantiles(deltas, n=4)[0] * 1000
        out[f"{kind}_overhead_q3_ms"] = statistics.quantiles(deltas, n=4)[2] * 1000
    return out


def telemetry_imports(model_path: Path, runs: int) -> dict[str, Any]:
    """Import time of the telemetry modules inside a real Lambda entry import (fresh processes,
    ``-X importtime``): the part of the cold start that on/off cannot show, since the modules are
    imported either way. Sums the self time of ``service.telemetry.*`` but ``request_log`` (which
    predates this issue); also checks that prometheus_client is never imported."""
    from benchmarks.importtime import parse_importtime

    env = {**_pyc_env(), "FRAUD_MODEL_URI": str(model_path), "FRAUD_LOG_LEVEL": "WARNING"}
    totals, prometheus = [], False
    for index in range(runs + 1):  # the first run writes the .pyc files and is not counted
        process = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import service.lambda_handler"],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if process.returncode != 0:
            raise BenchmarkError(f"importing the Lambda entry failed:\n{process.stderr[-1500:]}")
        rows = parse_importtime(process.stderr)
        if index == 0:
            continue
        totals.append(
            sum(
                self_us
                for name, self_us, _ in rows
                if name.startswith("service.telemetry.") and name != "service.telemetry.request_log"
            )
            / 1000
        )
        prometheus = prometheus or any(name.startswith("prometheus_client") for name, _, _ in rows)
    return {
        "runs": runs,
        "median_ms": statistics.median(totals),
        "min_ms": min(totals),
        "prometheus_client_imported": prometheus,
    }


def _pyc_env() -> dict[str, str]:
    """This environment, but writing .pyc files: as in the Lambda image (compiled at build),
    a fresh process must not spend its cold start compiling sources."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def library_imports(python: Path | None, runs: int) -> dict[str, Any]:
    """Median import time of each EMF writer in fresh interpreters of ``python``."""
    if python is None:
        return {"skipped": "no --library-python (a venv with the EMF libraries) given"}
    probe = (
        "import json, msgspec, sys, time; t = time.perf_counter(); "
        "import importlib; importlib.import_module(sys.argv[1]); "
        "print((time.perf_counter() - t) * 1000)"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT)}
    out: dict[str, Any] = {"python": str(python), "runs": runs, "after": ["json", "msgspec"]}
    versions = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if versions.returncode == 0:
        wanted = {"aws-embedded-metrics", "aws-lambda-powertools", "aws_lambda_powertools"}
        out["versions"] = {
            p["name"]: p["version"] for p in json.loads(versions.stdout) if p["name"] in wanted
        }
    for label, module in LIBRARIES.items():
        times = []
        for _ in range(runs):
            result = subprocess.run(
                [str(python), "-c", probe, module],
                capture_output=True,
                text=True,
                env=env,
                cwd=PROJECT_ROOT,
                check=False,
            )
            if result.returncode != 0:
                raise BenchmarkError(f"importing {module} failed:\n{result.stderr[-1500:]}")
            times.append(float(result.stdout.strip().splitlines()[-1]))
        out[label] = {"module": module, "median_ms": statistics.median(times), "min_ms": min(times)}
        progress("telemetry", f"import {module}: {out[label]['median_ms']:.1f} ms")
    return out


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's budgets, met or missed, per surface and clock (CPU time is what the process
    itself spent; wall time on a shared machine also holds the waits for a core)."""
    single = results["in_process"]["single"]
    out: dict[str, Any] = {}
    for clock in ("cpu", "wall"):
        for config in BUDGETED:
            if config not in single[clock]:
                continue
            value = single[clock][config]["overhead_median_us"]
            name = config.replace("+", "_")
            out[f"{name}_request_overhead_us_{clock}"] = {
                "value": value,
                "budget": BUDGET_REQUEST_US,
                "met": value <= BUDGET_REQUEST_US,
            }
            binned = single[clock].get(f"{config}+bins", {})
            if "bins_median_us" in binned:  # issue 17's field, on its own target
                out[f"{config}_drift_bins_us_{clock}"] = {
                    "value": binned["bins_median_us"],
                    "budget": BUDGET_BINS_US,
                    "met": binned["bins_median_us"] <= BUDGET_BINS_US,
                }
        cold = results["cold_start"][f"{clock}_overhead_median_ms"]
        out[f"cold_start_overhead_ms_{clock}"] = {
            "value": cold,
            "budget": BUDGET_COLD_MS,
            "met": cold <= BUDGET_COLD_MS,
        }
    return out


def plot(results: dict[str, Any], path: Path) -> Path:
    """Per-request time by configuration, and cold start with telemetry on and off."""
    from benchmarks.plots import plt, save_figure  # Agg: files only

    single = results["in_process"]["single"]["cpu"]
    cold = results["cold_start"]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5))
    colors = {
        "off": "#8c8c8c",
        "lambda": "#1b7f5a",
        "lambda+bins": "#7fbf9f",
        "server": "#4a7ebb",
        "server+bins": "#9fbfe0",
        "server+file": "#2b4f7e",
    }
    medians = [single[c]["median_us"] for c in CONFIGS]
    errors = [
        [single[c]["median_us"] - single[c]["q1_us"] for c in CONFIGS],
        [single[c]["q3_us"] - single[c]["median_us"] for c in CONFIGS],
    ]
    left.bar(CONFIGS, medians, yerr=errors, color=[colors[c] for c in CONFIGS], capsize=4)
    for index, config in enumerate(CONFIGS):
        label = f"{medians[index]:.1f}"
        if config != "off":
            label += f"\n({single[config]['overhead_median_us']:+.1f})"
        left.text(index, medians[index], label, ha="center", va="bottom", fontsize=8)
    left.set_ylabel("CPU µs per single-transaction request (in process)")
    left.axhline(
        single["off"]["median_us"] + BUDGET_REQUEST_US, color="#b22222", linestyle="--", linewidth=1
    )
    left.set_title("Per configuration (dashed: off + the 10 µs budget)", fontsize=10)
    left.set_ylim(0, max(medians) * 1.18)  # room for the labels above the bars
    left.tick_params(axis="x", labelsize=8)
    values = [cold["off"]["cpu_median_ms"], cold["on"]["cpu_median_ms"]]
    right.bar(["off", "on"], values, color=[colors["off"], colors["lambda"]])
    for index, value in enumerate(values):
        right.text(index, value, f"{value:.0f}", ha="center", va="bottom", fontsize=9)
    right.set_ylabel("CPU ms, fresh process to first answer (median)")
    right.set_title(f"Cold start ({cold['cpu_overhead_median_ms']:+.1f} ms median paired)")
    _plot_in_situ(middle, results)
    machine = results.get("machine", {})
    fig.suptitle(
        f"{results.get('timestamp', '')}, {machine.get('cpu_count', '?')} CPUs, load average "
        f"{machine.get('load_average_1m', '?')} at start (medians; whiskers: quartiles)",
        fontsize=9,
    )
    return save_figure(fig, path)


def git_commit() -> dict[str, Any]:
    """The measured commit, and whether the working tree differed from it (others may be
    editing unrelated files: the modified paths are listed)."""

    def git(*args: str) -> str:
        result = subprocess.run(
            [shutil.which("git") or "git", *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.rstrip("\n") if result.returncode == 0 else ""

    modified = [line[3:] for line in git("status", "--porcelain", "-uno").splitlines()]
    return {"sha": git("rev-parse", "HEAD"), "modified_paths": modified}


def _plot_in_situ(axes: Any, results: dict[str, Any]) -> None:
    """Stacked per surface: the plumbing, the metrics, the decision log (in-situ steps), and
    the direct arm's warm-loop total beside each for comparison."""
    steps = results.get("in_situ")
    if not steps:
        axes.set_axis_off()
        return
    direct = results["direct_path"]
    plumbing = steps["plumbing"]["overhead_median_us"]
    bars = []
    for surface, metrics_step in (("lambda", "emf"), ("server", "prometheus")):
        metrics = steps[metrics_step]["overhead_median_us"] - plumbing
        decided = steps[f"{metrics_step}+decisions"]["overhead_median_us"]
        decisions = decided - plumbing - metrics
        bins = steps[f"{metrics_step}+decisions+bins"]["overhead_median_us"] - decided
        bars.append((surface, plumbing, metrics, decisions, bins, direct[surface]["median_us"]))
    names = [f"{surface}\nin situ" for surface, *_ in bars]
    bottoms = [0.0] * len(bars)
    for index, (label, color) in enumerate(
        (
            ("plumbing", "#bbbbbb"),
            ("metrics", "#4a7ebb"),
            ("decision log", "#1b7f5a"),
            ("drift bins (issue 17)", "#d9a441"),
        )
    ):
        values = [bar[1 + index] for bar in bars]
        axes.bar(names, values, bottom=bottoms, color=color, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for index, total in enumerate(bottoms):
        axes.text(index, total, f"{total:+.1f}", ha="center", va="bottom", fontsize=9)
    warm = [bar[5] for bar in bars]
    axes.bar([f"{surface}\nwarm loop" for surface, *_ in bars], warm, color="#8c8c8c")
    for index, value in enumerate(warm):
        axes.text(len(bars) + index, value, f"{value:.1f}", ha="center", va="bottom", fontsize=9)
    axes.axhline(BUDGET_REQUEST_US, color="#b22222", linestyle="--", linewidth=1, label="budget")
    axes.set_ylabel("CPU µs added per single-transaction request")
    axes.set_title("Where the overhead goes (paired medians)")
    axes.legend(fontsize=8)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS / "model.onnx")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--library-python", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    return parser


def main(argv: list[str] | None = None, report: Callable[[str], None] = print) -> int:
    """Run the three measurements and write the JSON and PNG."""
    args = build_parser().parse_args(argv)
    model_path = require(args.model, "run make demo (or fraud-train + fraud-convert) first")
    settings = Settings(model_uri=str(model_path))
    model = load_model(settings)
    if not isinstance(model, LoadedModel):
        raise BenchmarkError(f"model not loaded: {model.reason}")
    results: dict[str, Any] = {
        **run_metadata(),
        "model_version": model.version,
        "commit": git_commit(),
    }
    results["in_process"] = in_process(model, settings, args.rounds, args.requests)
    results["direct_path"] = direct_path(model, settings, repeats=15, number=5000)
    results["in_situ"] = in_situ(model, settings, max(args.rounds * 2 // 3, 3), args.requests)
    results["cold_start"] = cold_start(model_path, args.cold_runs)
    results["telemetry_imports"] = telemetry_imports(model_path, args.import_runs)
    results["library_imports"] = library_imports(args.library_python, args.import_runs)
    results["verdicts"] = verdicts(results)
    results["load_average_at_end"] = list(os.getloadavg())
    json_path = write_json(args.out / "telemetry_overhead.json", results)
    png_path = plot(results, args.out / "telemetry_overhead.png")
    buffer = io.StringIO()
    for clock in ("cpu", "wall"):
        single = results["in_process"]["single"][clock]
        for config in CONFIGS:
            extra = "" if config == "off" else f" (+{single[config]['overhead_median_us']:.2f})"
            buffer.write(f"{clock} {config:>7}: {single[config]['median_us']:.1f} µs{extra}\n")
        cold = results["cold_start"][f"{clock}_overhead_median_ms"]
        buffer.write(f"{clock} cold start overhead: {cold:.2f} ms (median paired)\n")
    for config in SURFACES:
        direct = results["direct_path"][config]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in direct["parts"].items())
        buffer.write(f"direct {config}: {direct['median_us']:.2f} µs ({parts})\n")
    steps = results["in_situ"]
    buffer.write(
        "in situ: "
        + ", ".join(f"{step} +{steps[step]['overhead_median_us']:.1f}" for step in STEPS[1:])
        + " µs\n"
    )
    buffer.write(f"wrote {json_path} and {png_path}\n")
    report(buffer.getvalue().rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
