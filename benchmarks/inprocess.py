"""One row in process: the app's whole request path against ``session.run`` alone (issue 20).

``python -m benchmarks.inprocess [--artifacts DIR] [--requests N] [--rounds R]`` loads the model
as fraud-serve does (Settings, load_model, build_telemetry "server", create_app, request logging
on, written to /dev/null), then times, interleaved round by round, per call:

- ``lambda_handler``: the same request as an API Gateway v2 event through the Lambda entry's
  handler (service/lambda_app.py: its fast path, EMF metrics and decision records; what the
  Lambda runtime calls on a warm invoke, without the runtime and emulator around it);
- ``lambda_mangum``: the same event through Mangum and the Starlette app around the same runtime
  (the path the fast one replaced, and still the path of every other route);
- ``app``: one POST /predict as an ASGI call, from a hand-built scope and body to the response
  bytes (no network, no server): middleware, validation, scoring, encoding, telemetry
  (Prometheus and decision records, as fraud-serve runs by default);
- ``app_quiet``: the same with metrics and the decision log off (the request line stays);
- ``score``: the scoring core alone (LoadedModel.score on the row's columns);
- ``session_run``: onnxruntime's ``session.run`` alone on the same feeds.

It prints and saves the medians, ``app / session_run`` (issue 20 target: at most 2x) and the other
arms over ``session_run``, and a
cProfile of N requests with the time grouped by layer and the top functions. Writes
inprocess.json under --out. No timing is asserted anywhere: the figures are for reading.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import json
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    DEFAULT_ARTIFACTS,
    DEFAULT_RESULTS,
    BenchmarkError,
    progress,
    ratio,
    require,
    run_metadata,
    write_json,
)
from benchmarks.events import LambdaContext, http_api_v2_event
from service import schema
from service.app import create_app
from service.lambda_app import LambdaHandler
from service.model import LoadedModel, load_model
from service.runtime import build_runtime
from service.settings import Settings
from service.telemetry.logs import configure_logging
from service.telemetry.setup import build_telemetry

#: Layers of the request path, recognised from a profiled function's file or name (first match).
LAYERS: tuple[tuple[str, str], ...] = (
    ("onnxruntime_pybind11_state", "session.run (onnxruntime)"),
    ("onnxruntime", "onnxruntime python wrapper"),
    ("benchmarks/inprocess", "benchmark harness (scope, receive, send; not the app)"),
    ("prometheus_client", "telemetry (prometheus metrics)"),
    ("TextIOWrapper", "log line I/O (write, flush)"),
    ("service/telemetry", "telemetry (request log, metrics, decision log)"),
    ("service/monitoring", "telemetry (drift bins)"),
    ("service/model", "scoring core (service/model)"),
    ("service/api", "route + validation + answer (service/api)"),
    ("service/", "other service modules"),
    ("msgspec", "msgspec (decode/encode)"),
    ("numpy", "numpy"),
    ("starlette/middleware", "starlette middleware"),
    ("starlette", "starlette (routing, request, response)"),
    ("anyio", "anyio"),
    ("asyncio", "asyncio"),
    ("logging", "logging"),
    ("json", "json"),
)


def scope(body: bytes) -> dict[str, Any]:
    """The ASGI HTTP scope of one POST /predict with a JSON body (as uvicorn would build it)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def asgi_call(app: Any, body: bytes) -> tuple[int, bytes]:
    """One request through the app: status and the response body bytes."""
    sent: list[dict[str, Any]] = []
    request = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(body), receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def row_columns(model: LoadedModel, raw: dict[str, Any]) -> dict[str, np.ndarray]:
    """The row as the model's input columns (float32, or object for strings)."""
    return {
        spec.name: np.array([raw[spec.name]], dtype=object if spec.type == "string" else np.float32)
        for spec in model.metadata.inputs
    }


def per_call_us(loop: asyncio.AbstractEventLoop, work: Callable[[], Any], n: int) -> list[float]:
    """Microseconds per call of ``work`` (a coroutine factory when async), ``n`` calls."""
    out = []
    if asyncio.iscoroutinefunction(work):

        async def many() -> None:
            for _ in range(n):
                started = time.perf_counter_ns()
                await work()
                out.append((time.perf_counter_ns() - started) / 1000)

        loop.run_until_complete(many())
    else:
        for _ in range(n):
            started = time.perf_counter_ns()
            work()
            out.append((time.perf_counter_ns() - started) / 1000)
    return out


def layer_of(filename: str, name: str) -> str:
    """The layer a profiled function belongs to."""
    where = f"{filename} {name}"
    return next((layer for key, layer in LAYERS if key in where), "other (stdlib, builtins)")


def profile(loop: asyncio.AbstractEventLoop, call: Callable[[], Any], n: int) -> dict[str, Any]:
    """cProfile of ``n`` requests: own time per layer (share and µs per request), top functions."""
    profiler = cProfile.Profile()

    async def many() -> None:
        for _ in range(n):
            await call()

    profiler.enable()
    loop.run_until_complete(many())
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_layer: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_layer[layer_of(filename, name)] += own
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        rows.append((own, cumulative, calls, f"{short}:{line}({name})"))
    total = sum(by_layer.values())
    rows.sort(reverse=True)
    return {
        "requests": n,
        "note": "cProfile inflates Python-level calls; read the shares, not the absolute µs",
        "total_us_per_request": total / n * 1e6,
        "layers": {
            layer: {"share": own / total, "us_per_request": own / n * 1e6}
            for layer, own in sorted(by_layer.items(), key=lambda item: -item[1])
        },
        "top_functions": [
            {
                "function": where,
                "own_us_per_request": own / n * 1e6,
                "cumulative_us_per_request": cumulative / n * 1e6,
                "calls_per_request": calls / n,
            }
            for own, cumulative, calls, where in rows[:25]
        ],
    }


def run(artifacts: Path, out: Path, requests: int, rounds: int) -> dict[str, Any]:
    """Measure the three arms interleaved, profile the app; write inprocess.json."""
    model_path = require(artifacts / "model.onnx", "run fraud-convert on the artifacts first")
    settings = Settings(model_uri=str(model_path))
    loaded = load_model(settings)
    if not isinstance(loaded, LoadedModel):
        raise BenchmarkError(f"model not loaded: {loaded.reason}")
    model = loaded
    raw = dict(schema.EXAMPLE_TRANSACTION)
    body = json.dumps(raw).encode()
    columns = row_columns(model, raw)
    feeds = {name: columns[name] for name in model.input_names}
    outputs = [schema.OUTPUT_PROBABILITY]
    loop = asyncio.new_event_loop()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        # Request logging on, as fraud-serve runs it; its lines go to /dev/null here.
        configure_logging(settings.log_level)
        app = create_app(settings, model, build_telemetry(settings, "server"))
        status, answer = loop.run_until_complete(asgi_call(app, body))
        if status != 200:
            raise BenchmarkError(f"POST /predict answered {status}: {answer[:300]!r}")
        quiet_settings = dataclasses.replace(settings, metrics=False, decision_log="off")
        quiet = create_app(quiet_settings, model, build_telemetry(quiet_settings, "server"))
        # The Lambda entry's handler: EMF metrics on stdout instead of Prometheus counters.
        handler = LambdaHandler(build_runtime(settings, model, build_telemetry(settings, "lambda")))
        event, context = http_api_v2_event(raw), LambdaContext()
        for answered in (handler(event, context), handler.mangum(event, context)):
            if answered["statusCode"] != 200:
                raise BenchmarkError("the Lambda handler did not answer 200")
        arms: dict[str, Callable[[], Any]] = {
            "lambda_handler": lambda: handler(event, context),
            "lambda_mangum": lambda: handler.mangum(event, context),
            "app": lambda: asgi_call(app, body),
            "app_quiet": lambda: asgi_call(quiet, body),
            "score": lambda: model.score(columns),
            "session_run": lambda: model.session.run(outputs, feeds),
        }
        samples: dict[str, list[float]] = {arm: [] for arm in arms}
        for index in range(rounds):
            for arm, work in arms.items():
                if arm in ("app", "app_quiet"):
                    target = app if arm == "app" else quiet

                    async def one(target: Any = target) -> Any:
                        return await asgi_call(target, body)

                    samples[arm] += per_call_us(loop, one, requests)
                else:
                    samples[arm] += per_call_us(loop, work, requests)
            progress("inprocess", f"round {index + 1}/{rounds}")

        async def one_request() -> Any:
            return await asgi_call(app, body)

        profiled = profile(loop, one_request, requests)
    loop.close()
    medians = {arm: statistics.median(values) for arm, values in samples.items()}
    report = {
        **run_metadata(),
        "row": raw,
        "answer": json.loads(answer),
        "requests_per_round": requests,
        "rounds": rounds,
        "median_us": medians,
        "p99_us": {arm: float(np.percentile(v, 99)) for arm, v in samples.items()},
        # Issue 20: the app's request path as a multiple of session.run alone (target <= 2).
        "app_over_session_run": ratio(medians["app"], medians["session_run"]),
        "over_session_run": {arm: ratio(medians[arm], medians["session_run"]) for arm in medians},
        "app_over_score": ratio(medians["app"], medians["score"]),
        "lambda_handler_over_app": ratio(medians["lambda_handler"], medians["app"]),
        "profile": profiled,
    }
    write_json(out / "inprocess.json", report)
    return report


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.inprocess``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.inprocess", description=__doc__)
    p.add_argument("--requests", type=int, default=2000, help="calls per arm per round")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the in-process benchmark; exit 2 when it cannot run."""
    args = build_parser().parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        print("error: --requests and --rounds must be at least 1", file=sys.stderr)
        return 2
    try:
        report = run(args.artifacts, args.out, args.requests, args.rounds)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for arm, us in report["median_us"].items():
        over = report["over_session_run"][arm]
        print(f"{arm:>14}: {us:8.1f} µs median per call ({over:.1f}x session.run)")
    print(f"app / session.run: {report['app_over_session_run']:.1f}x (issue 20 target: at most 2x)")
    print("where the app's time goes (cProfile own time by layer):")
    for layer, figures in report["profile"]["layers"].items():
        print(f"  {figures['share']:6.1%}  {layer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
