"""The onnxruntime session configurations compared, and timing one of them (the worker side).

:func:`worker` runs in a fresh process per configuration (see benchmarks/ort_session_options.py),
so this module imports nothing beyond the standard library at import time, and only onnxruntime
and numpy inside the worker.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

#: Default session settings; each configuration overrides some of them.
BASE: dict[str, Any] = {"intra": 1, "inter": 1, "mode": "sequential", "level": "all", "spin": True}
CONFIGS: dict[str, dict[str, Any]] = {
    "intra1_seq_all": {},
    "intra2_seq_all": {"intra": 2},
    "intra0_default_threads": {"intra": 0, "inter": 0},
    "intra2_nospin": {"intra": 2, "spin": False},
    "intra1_parallel_inter1": {"mode": "parallel"},
    "intra1_parallel_inter2": {"mode": "parallel", "inter": 2},
    "intra1_level_disabled": {"level": "disabled"},
    "intra1_level_basic": {"level": "basic"},
    "intra1_level_extended": {"level": "extended"},
    "intra1_preoptimised_disabled": {"preoptimised": True, "level": "disabled"},
    "intra1_preoptimised_all": {"preoptimised": True, "level": "all"},
}

#: One ordinary transaction, as the service would feed it (batch of one).
ROW = {
    "type": "TRANSFER",
    "step": 13.0,
    "amount": 181000.0,
    "oldbalanceOrg": 181000.0,
    "newbalanceOrig": 0.0,
    "oldbalanceDest": 21182.0,
    "newbalanceDest": 0.0,
}


def session_options(ort: Any, cfg: dict[str, Any]) -> Any:
    """``ort.SessionOptions`` for one configuration (``BASE`` merged with its overrides)."""
    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = cfg["intra"]
    options.inter_op_num_threads = cfg["inter"]
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL
        if cfg["mode"] == "parallel"
        else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    options.graph_optimization_level = levels[cfg["level"]]
    if not cfg["spin"]:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def worker(model: str, cfg: dict[str, Any], repeats: int, warmup: int) -> dict[str, Any]:
    """Run in a fresh process: build the session, time ``repeats`` single-row calls."""
    import numpy as np
    import onnxruntime as ort

    if cfg.get("preoptimised"):
        # Save the fully optimised graph once, then time loading and running the saved file.
        saved = Path(tempfile.mkdtemp()) / "optimised.onnx"
        prep = ort.SessionOptions()
        prep.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        prep.optimized_model_filepath = str(saved)
        ort.InferenceSession(model, prep, providers=["CPUExecutionProvider"])
        model = str(saved)
    started = time.perf_counter()
    session = ort.InferenceSession(
        model, session_options(ort, cfg), providers=["CPUExecutionProvider"]
    )
    load_ms = (time.perf_counter() - started) * 1e3
    feed = {
        k: np.array([v], dtype=object if isinstance(v, str) else np.float32) for k, v in ROW.items()
    }
    first = time.perf_counter()
    session.run(None, feed)
    first_ms = (time.perf_counter() - first) * 1e3
    for _ in range(warmup):
        session.run(None, feed)
    times = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        session.run(None, feed)
        times[i] = (time.perf_counter_ns() - t0) / 1e3
    batch = {k: np.repeat(v, 1000) for k, v in feed.items()}
    t0 = time.perf_counter()
    for _ in range(20):
        session.run(None, batch)
    return {
        "load_ms": load_ms,
        "first_run_ms": first_ms,
        "p50_us": float(np.percentile(times, 50)),
        "p90_us": float(np.percentile(times, 90)),
        "p99_us": float(np.percentile(times, 99)),
        "mean_us": float(times.mean()),
        "min_us": float(times.min()),
        "batch1000_ms": (time.perf_counter() - t0) / 20 * 1e3,
    }
