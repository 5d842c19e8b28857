"""Shared pieces of the drift tests: a generator-trained model carrying its drift profile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fitted_artifacts import make_artifacts, paysim_like_frame

from convert.drift_profile import ReferenceRows
from convert.export import export_model

#: Rows and seed the drift test model is trained (and profiled) on.
TRAIN_ROWS = 20_000
TRAIN_SEED = 0
REAL_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "paysim_real_sample.csv.gz"


def training_frame() -> pd.DataFrame:
    return paysim_like_frame(TRAIN_ROWS, TRAIN_SEED)


def profiled_model(directory: Path, explain: bool = True) -> Path:
    """Train a small model on generated rows and export it with their drift profile."""
    artifacts, _ = make_artifacts(directory, rows=TRAIN_ROWS, seed=TRAIN_SEED)
    rows = ReferenceRows(training_frame(), None, "generated training rows")
    return export_model(artifacts, directory / "model.onnx", explain=explain, reference=rows)
