"""Train/validation/test splits: by time (step) as fraud models are judged, or stratified random."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SplitKind = Literal["step", "random"]


class SplitError(ValueError):
    """A split that leaves a part without fraud rows, or without rows at all."""


@dataclass(frozen=True)
class Split:
    """Row positions of each part; ``describe`` gives the rows and fraud counts per part."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    kind: SplitKind
    step_cutoffs: tuple[int, int] | None = None

    def describe(self, y: pd.Series) -> dict[str, object]:
        labels = np.asarray(y)
        parts = {"train": self.train, "validation": self.validation, "test": self.test}
        out: dict[str, object] = {
            name: {"rows": int(idx.size), "fraud": int(labels[idx].sum())}
            for name, idx in parts.items()
        }
        out["kind"] = self.kind
        if self.step_cutoffs is not None:
            out["validation_from_step"], out["test_from_step"] = self.step_cutoffs
        return out


def _step_cutoff(steps: np.ndarray, fraction: float) -> int:
    """The smallest step such that rows at or after it are about ``fraction`` of ``steps``."""
    ordered = np.sort(steps)
    return int(ordered[int(np.floor(ordered.size * (1.0 - fraction)))])


def split_rows(
    frame: pd.DataFrame,
    kind: SplitKind = "step",
    test_size: float = 0.2,
    validation_size: float = 0.2,
    seed: int = 0,
) -> Split:
    """Split rows into train, validation (for the threshold) and test parts.

    With ``kind="step"`` the test part holds the latest steps (``test_size`` of the rows) and the
    validation part the latest steps before them, holding ``validation_size`` of the earlier
    frauds: legitimate volume falls in PaySim's later steps while frauds keep their pace, so a
    cut by rows would leave the threshold to be chosen on a handful of frauds. No model or
    threshold ever sees the future it is judged on. A step is never cut in two.
    """
    y = frame["isFraud"].to_numpy()
    positions = np.arange(len(frame))
    if kind == "step":
        steps = frame["step"].to_numpy()
        test_from = _step_cutoff(steps, test_size)
        before = steps < test_from
        early_fraud_steps = steps[before & (y == 1)]
        val_from = (
            _step_cutoff(early_fraud_steps, validation_size)
            if early_fraud_steps.size
            else test_from
        )
        parts = (positions[steps < val_from], positions[before & (steps >= val_from)])
        split = Split(*parts, positions[~before], kind, (val_from, test_from))
    elif kind == "random":
        rest, test = train_test_split(positions, test_size=test_size, stratify=y, random_state=seed)
        train, val = train_test_split(
            rest, test_size=validation_size, stratify=y[rest], random_state=seed
        )
        split = Split(np.sort(train), np.sort(val), np.sort(test), kind)
    else:
        raise SplitError(f"unknown split kind {kind!r}; use 'step' or 'random'")
    for name in ("train", "validation", "test"):
        idx = getattr(split, name)
        if idx.size == 0 or y[idx].sum() == 0:
            raise SplitError(
                f"the {kind} split leaves the {name} part with {idx.size} rows and "
                f"{int(y[idx].sum()) if idx.size else 0} frauds; use more data or another split"
            )
    return split
