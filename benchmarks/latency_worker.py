"""One in-process scoring method, timed in its own interpreter (run by benchmarks.latency).

``python -m benchmarks.latency_worker METHOD --artifacts DIR --data FILE --seconds S`` prints one
line (MARKER then JSON). Each method runs in a fresh process because xgboost's OpenMP threads keep
spinning after a call and would slow whatever runs next in the same process; each worker also
imports only what its method needs (the ONNX worker never loads xgboost, sklearn or pandas).

Methods, single row and 1000-row batch:
- ``fraudlite_onnx``: the ONNX session with the service's session options; raw fields in,
  probability out. A single row's arrays are built from the transaction dict in each call.
  For a model with explanations also ``single_explain``/``batch_1000_explain``: the same call with
  ``explain`` fed true, fetching contributions and features, plus the API's top-5 entries
  (``service.api.explain.explanation_entries``), i.e. what ``"explain": true`` adds to a request.
- ``xgboost_inplace``: ``Booster.inplace_predict`` on features prepared beforehand (the tree
  evaluation alone, no feature engineering).
- ``joblib_pipeline``: the joblib'd pipeline's ``predict_proba``; a single row is a one-row
  DataFrame built from the transaction dict in each call, as the baseline does per request.

xgboost gets ``--threads`` threads (default 1, the ONNX session's budget): with more, its OpenMP
threads fight over the cores with anything else running and single-row times explode on a busy
machine. ``--threads 0`` keeps the pipeline's saved ``n_jobs``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.payloads import load_transactions

MARKER = "LATENCY "
METHODS = ("fraudlite_onnx", "xgboost_inplace", "joblib_pipeline")
BATCH = 1000

Scorer = Callable[[int], np.ndarray]


def onnx_scorers(artifacts: Path, rows: list[dict[str, Any]]) -> tuple[Scorer, Scorer, dict]:
    import onnxruntime as ort

    from service.model import session_options
    from service.settings import Settings

    settings = Settings()
    session = ort.InferenceSession(
        str(artifacts / "model.onnx"),
        sess_options=session_options(settings),
        providers=["CPUExecutionProvider"],
    )
    strings = {i.name for i in session.get_inputs() if i.type == "tensor(string)"}
    names = [i.name for i in session.get_inputs()]

    def feeds(batch: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        return {
            name: np.array(
                [row[name] for row in batch], dtype=object if name in strings else np.float32
            )
            for name in names
        }

    full = feeds(rows[:BATCH])

    def single(i: int) -> np.ndarray:
        return session.run(["probability"], feeds([rows[i % len(rows)]]))[0]

    def batch(_: int) -> np.ndarray:
        return session.run(["probability"], full)[0]

    info = {"intra_op_threads": settings.ort_intra_op_threads, "execution": "sequential"}
    return single, batch, info


def onnx_explain_scorers(
    artifacts: Path, rows: list[dict[str, Any]]
) -> tuple[Scorer, Scorer] | None:
    """Single-row and batch scorers with explanations; None for a model without them."""
    import onnxruntime as ort

    from service.api.explain import explanation_entries
    from service.model import session_options
    from service.model.explanation import ExplanationSpec
    from service.settings import Settings

    session = ort.InferenceSession(
        str(artifacts / "model.onnx"),
        sess_options=session_options(Settings()),
        providers=["CPUExecutionProvider"],
    )
    props = session.get_modelmeta().custom_metadata_map
    names = tuple(json.loads(props.get("feature_names", "[]")))
    spec = ExplanationSpec.from_session(session, props, names)
    if spec is None:
        return None
    strings = {i.name for i in session.get_inputs() if i.type == "tensor(string)"}
    inputs = [i.name for i in session.get_inputs()]

    def explained(batch: list[dict[str, Any]]) -> np.ndarray:
        columns = {
            name: np.array(
                [row[name] for row in batch], dtype=object if name in strings else np.float32
            )
            for name in inputs
        }
        probabilities, contributions, features = spec.run(session, columns)
        explanation_entries(spec, contributions, features, columns.get("type"), 5)
        return probabilities

    return (lambda i: explained([rows[i % len(rows)]])), (lambda _: explained(rows[:BATCH]))


def xgboost_scorers(
    artifacts: Path, rows: list[dict[str, Any]], threads: int
) -> tuple[Scorer, Scorer, dict]:
    import joblib
    import pandas as pd
    import xgboost as xgb

    pipeline = joblib.load(artifacts / "pipeline.joblib")
    features = pipeline.named_steps["features"].transform(pd.DataFrame(rows[:BATCH]))
    features = np.ascontiguousarray(features, dtype=np.float32)
    booster = xgb.Booster(model_file=str(artifacts / "xgb_model.json"))
    booster.set_param({"nthread": threads})

    def single(i: int) -> np.ndarray:
        j = i % len(features)
        return booster.inplace_predict(features[j : j + 1])

    def batch(_: int) -> np.ndarray:
        return booster.inplace_predict(features)

    return single, batch, {"nthread": threads}


def pipeline_scorers(
    artifacts: Path, rows: list[dict[str, Any]], threads: int
) -> tuple[Scorer, Scorer, dict]:
    import joblib
    import pandas as pd

    pipeline = joblib.load(artifacts / "pipeline.joblib")
    saved_threads = pipeline.named_steps["model"].n_jobs
    if threads > 0:
        pipeline.named_steps["model"].set_params(n_jobs=threads)
    frame = pd.DataFrame(rows[:BATCH])

    def single(i: int) -> np.ndarray:
        return pipeline.predict_proba(pd.DataFrame([rows[i % len(rows)]]))[:, 1]

    def batch(_: int) -> np.ndarray:
        return pipeline.predict_proba(frame)[:, 1]

    return (
        single,
        batch,
        {"n_jobs": pipeline.named_steps["model"].n_jobs, "saved_n_jobs": saved_threads},
    )


def time_calls(score: Scorer, seconds: float, min_calls: int, warmup: int) -> list[int]:
    """Nanoseconds per call, for ``seconds`` and at least ``min_calls`` calls, after a warm-up."""
    for i in range(warmup):
        score(i)
    durations: list[int] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while len(durations) < min_calls or time.perf_counter() < deadline:
        started = time.perf_counter_ns()
        score(i)
        durations.append(time.perf_counter_ns() - started)
        i += 1
    return durations


def figures(durations: list[int], rows_per_call: int) -> dict[str, float]:
    """p50/p99/mean in microseconds and rows per second from per-call nanoseconds."""
    us = np.asarray(durations, dtype=np.float64) / 1000
    return {
        "calls": len(durations),
        "rows_per_call": rows_per_call,
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "mean_us": float(us.mean()),
        "rows_per_s": rows_per_call / (us.mean() / 1e6),
    }


def run(method: str, artifacts: Path, data: Path, seconds: float, threads: int) -> dict:
    """Time one method on single rows then on a 1000-row batch."""
    rows = load_transactions(data)
    if method == "fraudlite_onnx":
        single, batch, info = onnx_scorers(artifacts, rows)
    elif method == "xgboost_inplace":
        single, batch, info = xgboost_scorers(artifacts, rows, max(threads, 1))
    else:
        single, batch, info = pipeline_scorers(artifacts, rows, threads)
    batch_rows = min(BATCH, len(rows))
    probabilities = np.asarray(batch(0), dtype=np.float64)
    result = {
        "method": method,
        "settings": info,
        "single": figures(time_calls(single, seconds, 50, 20), 1),
        f"batch_{BATCH}": figures(time_calls(batch, seconds, 5, 2), batch_rows),
        "batch_mean_probability": float(probabilities.mean()),
    }
    explained = onnx_explain_scorers(artifacts, rows) if method == "fraudlite_onnx" else None
    if explained is not None:
        result["single_explain"] = figures(time_calls(explained[0], seconds, 50, 20), 1)
        result[f"batch_{BATCH}_explain"] = figures(
            time_calls(explained[1], seconds, 5, 2), batch_rows
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Time METHOD and print its figures as one marked JSON line."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency_worker")
    p.add_argument("method", choices=METHODS)
    p.add_argument("--artifacts", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="JSON list of raw transactions")
    p.add_argument("--seconds", type=float, default=5.0, help="timing budget per batch size")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="xgboost threads of the booster and the pipeline (0: the pipeline's saved n_jobs)",
    )
    args = p.parse_args(argv)
    result = run(args.method, args.artifacts, args.data, args.seconds, args.threads)
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
