"""What a shadow model and an A/B split cost: warm latency per request and cold start.

``python -m benchmarks.shadow_cost [--primary M.onnx --second M2.onnx] [--requests N] [--runs R]``

- Warm: the whole app in-process (an ASGI call: parse, validate, score, JSON, request log), one
  transaction per POST /predict, for three configurations of the same primary: alone, with the
  second model as a shadow, and with it as an A/B arm (share 0.5). Rounds interleave the
  configurations so background load hits them alike; p50/p99 are over all rounds. The second
  model's ``session.run`` alone is timed too: the shadow should add about that and no more.
- Cold start: fresh interpreters importing the Lambda entry module and answering one event
  (benchmarks/cold_probe.py), with one model and with a shadow, alternating.

Without --primary/--second, two models are trained and converted first (tests/fitted_artifacts:
30 trees on 20,000 generated rows; the second is the pre-authorization feature set). Writes
benchmarks/results/shadow_cost.json and shadow_cost.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cold_start import describe, one_cold_start
from benchmarks.common import (
    DEFAULT_RESULTS,
    PROJECT_ROOT,
    progress,
    ratio,
    run_metadata,
    summarize,
    write_json,
)
from service import schema
from service.app import create_app
from service.model import LoadedModel, load_model
from service.rollout.models import load_rollout
from service.settings import Settings

CONFIGURATIONS = ("primary only", "with shadow", "A/B 50%")


def build_models(directory: Path) -> tuple[Path, Path]:
    """A full and a pre-authorization model, fitted and converted (tests/fitted_artifacts)."""
    tests = str(PROJECT_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from fitted_artifacts import fit_pipeline, paysim_like_frame, write_artifacts

    from convert.export import export_model

    frame = paysim_like_frame(20_000, seed=3)
    paths = []
    for feature_set in ("full", "preauth"):
        progress("shadow_cost", f"training and converting a {feature_set} model")
        pipeline = fit_pipeline(frame, feature_set=feature_set)
        out = write_artifacts(directory / feature_set, pipeline, 0.5, 20_000, feature_set)
        paths.append(export_model(out))
    return paths[0], paths[1]


def asgi_caller(app: Any) -> Callable[[bytes], tuple[int, float]]:
    """POST /predict ``body`` straight into the ASGI app; (status, seconds) per call."""
    loop = asyncio.new_event_loop()

    def call(body: bytes) -> tuple[int, float]:
        status = 0
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "path": "/predict",
            "raw_path": b"/predict",
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        started = time.perf_counter()
        loop.run_until_complete(app(scope, receive, send))
        return status, time.perf_counter() - started

    return call


def apps(primary: Path, second: Path) -> dict[str, Any]:
    """The three configurations' apps (metrics and decision log off: the same for all)."""
    out = {}
    for name, extra in zip(
        CONFIGURATIONS,
        ({}, {"shadow_model_uri": str(second)}, {"ab_model_uri": str(second), "ab_share": 0.5}),
        strict=True,
    ):
        settings = Settings(model_uri=str(primary), **extra)
        model = load_model(settings)
        if not isinstance(model, LoadedModel):
            raise SystemExit(f"shadow_cost: {model.reason}")
        out[name] = create_app(settings, model, None, load_rollout(settings, model))
    return out


def sessions(primary: Path, second: Path, n: int) -> dict[str, Any]:
    """``LoadedModel.score`` of one row: each model alone, and both back to back (what a request
    with a shadow runs: the second session then finds colder caches than in a loop of its own)."""
    models = [load_model(Settings(model_uri=str(path))) for path in (primary, second)]
    assert all(isinstance(m, LoadedModel) for m in models)
    first, other = models  # type: ignore[assignment]
    columns = {
        name: np.array(
            [schema.EXAMPLE_TRANSACTION[name]], dtype=object if name == "type" else np.float32
        )
        for name in schema.MODEL_INPUTS
    }

    def timed(run: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            run()
            out.append(time.perf_counter() - started)
        return out

    return {
        "primary session.run": summarize(timed(lambda: first.score(columns)), 1e6),
        "second session.run": summarize(timed(lambda: other.score(columns)), 1e6),
        "both back to back": summarize(
            timed(lambda: (first.score(columns), other.score(columns))), 1e6
        ),
    }


def warm(primary: Path, second: Path, requests: int, rounds: int) -> dict[str, Any]:
    callers = {name: asgi_caller(app) for name, app in apps(primary, second).items()}
    times: dict[str, list[float]] = {name: [] for name in callers}
    per_round = max(1, requests // rounds)
    for r in range(rounds):
        for name, call in callers.items():
            for i in range(per_round):
                body = json.dumps({**schema.EXAMPLE_TRANSACTION, "transaction_id": f"r{r}-{i}"})
                status, seconds = call(body.encode())
                if status != 200:
                    raise SystemExit(f"shadow_cost: {name} answered {status}")
                times[name].append(seconds)
        progress("shadow_cost", f"warm round {r + 1}/{rounds}")
    result: dict[str, Any] = {name: summarize(values, 1e6) for name, values in times.items()}
    result.update(sessions(primary, second, requests))
    base = result["primary only"]
    for name in CONFIGURATIONS[1:]:
        result[name]["added_p50_us"] = result[name]["p50"] - base["p50"]
        result[name]["added_p99_us"] = result[name]["p99"] - base["p99"]
    return result


def cold(primary: Path, second: Path, runs: int) -> dict[str, Any]:
    envs = {
        "one model": {"FRAUD_MODEL_URI": str(primary), "FRAUD_DECISION_LOG": "off"},
        "with shadow": {
            "FRAUD_MODEL_URI": str(primary),
            "FRAUD_SHADOW_MODEL_URI": str(second),
            "FRAUD_DECISION_LOG": "off",
        },
    }
    for env in envs.values():  # warm the file cache and .pyc files, unrecorded
        one_cold_start("fraudlite", env)
    walls: dict[str, list[float]] = {name: [] for name in envs}
    for run in range(runs):
        for name, env in envs.items():
            walls[name].append(one_cold_start("fraudlite", env)["wall_s"])
        progress("shadow_cost", f"cold start run {run + 1}/{runs}")
    out: dict[str, Any] = {name: describe(values) for name, values in walls.items()}
    out["added_median_s"] = out["with shadow"]["median"] - out["one model"]["median"]
    # What the shadow adds to init directly: loading (fetch, check, warm up) the second model.
    loads = []
    for _ in range(max(runs, 3)):
        started = time.perf_counter()
        load_model(Settings(model_uri=str(second)))
        loads.append(time.perf_counter() - started)
    out["second model load_model in process"] = describe(loads)
    return out


def plot(result: dict[str, Any], path: Path) -> Path:
    from benchmarks.plots import plt, save_figure  # Agg: files only

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = list(CONFIGURATIONS)
    x = np.arange(len(names))
    for offset, stat in ((-0.2, "p50"), (0.2, "p99")):
        left.bar(x + offset, [result["warm"][n][stat] for n in names], 0.4, label=stat)
    for offset, stat in ((-0.2, "p50"), (0.2, "p99")):
        for i, n in enumerate(names):
            value = result["warm"][n][stat]
            left.annotate(
                f"{value:,.0f}", (i + offset, value), ha="center", va="bottom", fontsize=8
            )
    left.set_yscale("log")  # p99 on a shared machine is tens of times p50
    left.set_xticks(x, names)
    left.set_ylabel("µs per request (whole app, in-process; log scale)")
    left.set_title("POST /predict, one transaction")
    left.legend()
    cold_names = ["one model", "with shadow"]
    right.bar(cold_names, [result["cold"][n]["median"] for n in cold_names], color="#1b7f5a")
    right.set_ylabel("s, fresh process to first answer (median)")
    right.set_title("cold start")
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shadow_cost", description=__doc__)
    parser.add_argument("--primary", type=Path, help="primary model.onnx (default: trained here)")
    parser.add_argument("--second", type=Path, help="shadow / A/B model.onnx")
    parser.add_argument("--requests", type=int, default=6000, help="warm requests per config")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    parser.add_argument("--runs", type=int, default=7, help="cold starts per config")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.primary and args.second:
            primary, second = args.primary, args.second
        else:
            primary, second = build_models(Path(tmp))
        result = {
            **run_metadata(),
            "models": {"primary": str(primary.name), "second": str(second.name)},
            "warm": warm(primary, second, args.requests, args.rounds),
            "cold": cold(primary, second, args.runs),
        }
    w = result["warm"]
    shadow_add = w["with shadow"]["added_p50_us"]
    session = w["both back to back"]["p50"] - w["primary session.run"]["p50"]
    result["second_run_in_context_p50_us"] = session
    result["shadow_added_p50_over_second_run_p50"] = ratio(shadow_add, session)
    write_json(args.out / "shadow_cost.json", result)
    plot(result, args.out / "shadow_cost.png")
    for name in CONFIGURATIONS:
        print(f"{name:>20}: p50 {w[name]['p50']:8.1f} µs  p99 {w[name]['p99']:8.1f} µs")
    for name in ("primary session.run", "second session.run", "both back to back"):
        print(f"{name:>20}: p50 {w[name]['p50']:8.1f} µs")
    c = result["cold"]
    print(
        f"cold start median: one model {c['one model']['median']:.3f} s, with shadow "
        f"{c['with shadow']['median']:.3f} s; loading the second model in process: "
        f"{c['second model load_model in process']['median'] * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
