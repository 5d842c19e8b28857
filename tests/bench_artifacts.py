"""A tiny trained and converted model shared by the benchmark tests (trained once per session)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROWS = 50_000  # enough frauds for SMOTE's neighbours in 2 folds; trains in seconds with 1 candidate


def trained_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipeline.joblib, xgb_model.json and model.onnx of a 1-candidate search on generated data."""
    out = tmp_path_factory.getbasetemp() / "bench_artifacts"
    if (out / "model.onnx").exists():
        return out
    train = [sys.executable, "-m", "train", "--data", f"synthetic:{ROWS}", "--n-iter", "1"]
    train += ["--cv", "2", "--seed", "3", "--out", str(out)]
    subprocess.run(train, check=True, capture_output=True, text=True)
    subprocess.run(
        [sys.executable, "-m", "convert", str(out)], check=True, capture_output=True, text=True
    )
    return out
