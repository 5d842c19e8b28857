"""Crafted transactions where an exported graph is most likely to disagree with the pipeline.

Every type; zero, tiny, huge and non-finite balances; an amount equal to the balance; values at
float32 rounding edges (float64 inputs that round, 2**24, subnormals, -0.0); and, given the
model, rows that put each tree feature exactly on each split threshold and one ulp either side.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import product

import numpy as np
import pandas as pd
from xgboost import XGBClassifier

from service.schema import NUMERIC_FIELDS, TRANSACTION_TYPES
from train.features import FEATURE_SETS

F32 = np.float32
MAX32 = float(np.finfo(np.float32).max)
TINY32 = float(np.finfo(np.float32).smallest_subnormal)

Row = dict[str, float | str]


def _row(kind: str, **values: float) -> Row:
    row: Row = {"type": kind, **dict.fromkeys(NUMERIC_FIELDS, 0.0)}
    row.update(values)
    return row


def _scenarios(kind: str) -> list[Row]:
    """Hand-written edge cases for one transaction type."""
    big, edge = 1e12, 16777217.0  # 2**24 + 1 is not a float32: rounds when cast
    return [
        _row(kind),
        _row(kind, step=1, amount=100.0, oldbalanceOrg=100.0),  # empties the account
        _row(kind, step=1, amount=100.0, oldbalanceOrg=100.0, newbalanceDest=100.0),
        _row(kind, step=743, amount=0.1, oldbalanceOrg=0.3, newbalanceOrig=0.2),  # inexact f32
        _row(
            kind, step=24, amount=big, oldbalanceOrg=big, oldbalanceDest=big, newbalanceDest=2 * big
        ),
        _row(kind, step=23, amount=MAX32, newbalanceDest=0.0),  # largest float32
        _row(kind, step=744, amount=1e30, oldbalanceOrg=1e30, newbalanceOrig=1e30),
        _row(kind, step=5, amount=edge, oldbalanceOrg=edge - 1, newbalanceOrig=0.5),
        _row(kind, step=5, amount=0.5, oldbalanceOrg=16777216.0, newbalanceOrig=16777216.0),
        _row(kind, step=0.5, amount=TINY32, oldbalanceOrg=TINY32, newbalanceDest=TINY32),
        _row(kind, step=-1, amount=-0.0, oldbalanceOrg=-0.0, oldbalanceDest=-5.0),
        _row(kind, step=12, amount=1e-3, oldbalanceOrg=1e-40, newbalanceOrig=3.3333333),
        _row(kind, step=float("nan"), amount=10.0, oldbalanceOrg=float("nan")),
        _row(kind, step=2, amount=float("inf"), oldbalanceOrg=5.0, newbalanceDest=float("-inf")),
    ]


def _on_raw(name: str) -> Callable[[Row, float], Row | None]:
    def craft(base: Row, value: float) -> Row:
        return {**base, name: value}

    return craft


def _through_amount(negate: bool = False, **zeros: float) -> Callable[[Row, float], Row | None]:
    # With the other operands fixed (0 or 1) the derived feature equals +-amount exactly.
    def craft(base: Row, value: float) -> Row:
        return {**base, **zeros, "amount": -value if negate else value}

    return craft


def _hour(base: Row, value: float) -> Row | None:
    return {**base, "step": value} if 0.0 <= value < 24.0 else None


#: How to build a raw row whose feature takes an exact float32 value (features not listed,
#: e.g. one-hot columns, are covered by the per-type scenarios).
CRAFTERS: dict[str, Callable[[Row, float], Row | None]] = {
    **{name: _on_raw(name) for name in NUMERIC_FIELDS},
    "amt_ratio_orig": _through_amount(oldbalanceOrg=1.0),
    "errorBalanceOrig": _through_amount(newbalanceOrig=0.0, oldbalanceOrg=0.0),
    "errorBalanceDest": _through_amount(oldbalanceDest=0.0, newbalanceDest=0.0),
    "hour": _hour,
    "balanceGapOrig": _through_amount(oldbalanceOrg=0.0, negate=True),
}


def split_values(model: XGBClassifier) -> dict[int, np.ndarray]:
    """Every distinct float32 split threshold of the booster, per feature index."""
    trees = json.loads(model.get_booster().save_raw("json"))["learner"]["gradient_booster"]
    found: dict[int, set[float]] = {}
    for tree in trees["model"]["trees"]:
        for feature, cond, left in zip(
            tree["split_indices"], tree["split_conditions"], tree["left_children"], strict=True
        ):
            if left != -1:
                found.setdefault(int(feature), set()).add(float(F32(cond)))
    return {f: np.array(sorted(v), dtype=F32) for f, v in found.items()}


def split_rows(model: XGBClassifier, feature_set: str = "full") -> list[Row]:
    """Rows whose features sit on each split threshold, and one float32 ulp below and above."""
    names = FEATURE_SETS[feature_set]
    bases = [_row(t, step=7, amount=900.0, oldbalanceOrg=900.0) for t in TRANSACTION_TYPES]
    rows: list[Row] = []
    for index, values in sorted(split_values(model).items()):
        craft = CRAFTERS.get(names[index])
        if craft is None:
            continue
        for value, base in zip(values, np.resize(np.arange(len(bases)), len(values)), strict=True):
            for exact in (
                value,
                np.nextafter(value, F32(-np.inf)),
                np.nextafter(value, F32(np.inf)),
            ):
                row = craft(bases[base], float(exact))
                if row is not None:
                    rows.append(row)
    return rows


def edge_frame(model: XGBClassifier | None = None, feature_set: str = "full") -> pd.DataFrame:
    """All crafted rows as a raw DataFrame (float32 numerics, type as a Categorical)."""
    rows = [r for kind in TRANSACTION_TYPES for r in _scenarios(kind)]
    # Every type against a spread of magnitudes, so every one-hot path meets big and small values.
    for kind, magnitude in product(TRANSACTION_TYPES, (0.0, 1.0, 1e3, 1e6, 1e9)):
        rows.append(_row(kind, step=magnitude % 744, amount=magnitude, oldbalanceOrg=magnitude / 3))
    if model is not None:
        rows.extend(split_rows(model, feature_set))
    frame = pd.DataFrame(rows)
    with np.errstate(over="ignore"):  # float64 inputs beyond float32 range become inf, on purpose
        for name in NUMERIC_FIELDS:
            frame[name] = frame[name].astype(np.float64).astype(np.float32)
    frame["type"] = pd.Categorical(frame["type"], categories=list(TRANSACTION_TYPES))
    return frame
