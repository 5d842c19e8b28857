"""A small fitted and converted model shared by the benchmark tests (built once per session).

Built with fitted_artifacts (30 trees on generated data, no search): a full fraud-train run takes
minutes on a busy machine, and the benchmarks only need artifacts of the same kinds and layout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fitted_artifacts import make_artifacts

from convert.export import export_model

ROWS = 20_000


def trained_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipeline.joblib, metrics.json, xgb_model.json and model.onnx, as fraud-train and
    fraud-convert lay them out."""
    out = tmp_path_factory.getbasetemp() / "bench_artifacts"
    if (out / "model.onnx").exists():
        return out
    out, pipeline = make_artifacts(out, rows=ROWS, seed=3)
    pipeline.named_steps["model"].get_booster().save_model(str(out / "xgb_model.json"))
    export_model(out)
    return out
