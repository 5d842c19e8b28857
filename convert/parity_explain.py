"""Parity of the explanation outputs: ``contributions`` vs XGBoost, ``features`` vs the pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import DMatrix, XGBClassifier

from convert.contributions import BIAS, F32, booster_trees
from convert.errors import UnsupportedModelError


def xgboost_contributions(model: XGBClassifier, features: np.ndarray) -> np.ndarray:
    """XGBoost's own approximate (Saabas) contributions for a float32 feature matrix.

    ``pred_contribs`` needs a DMatrix, which refuses infinite values (``inplace_predict``, used
    by ``predict_proba``, takes them). They are replaced by the largest finite float32 of the
    same sign: every split threshold is a finite float32, so ``inf < split`` and
    ``max < split`` agree (and ``-inf < split``, ``-max < split`` too unless ``split == -max``,
    which is checked), and every row takes the path it takes in the graph.
    """
    x = np.asarray(features, dtype=F32)
    if np.isinf(x).any():
        lowest = F32(np.finfo(F32).min)
        if any((tree.split[tree.left != -1] == lowest).any() for tree in booster_trees(model)):
            raise UnsupportedModelError("a split at -FLT_MAX: infinite features are ambiguous")
        x = np.clip(x, lowest, F32(np.finfo(F32).max))
    return model.get_booster().predict(DMatrix(x), pred_contribs=True, approx_contribs=True)


def abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in float64; NaN on one side only is infinitely wrong, NaN on both sides agrees."""
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    diff[np.isnan(a) != np.isnan(b)] = np.inf
    diff[np.isnan(a) & np.isnan(b)] = 0.0
    return diff


class ExplainCheck:
    """Running comparison of the ``contributions`` and ``features`` outputs, batch by batch."""

    def __init__(self, pipeline: Pipeline, n: int, keep: int) -> None:
        self.keep = keep
        self.features_step = pipeline.named_steps["features"]
        self.model = pipeline.named_steps["model"]
        self.columns = [*self.features_step.get_feature_names_out(), BIAS]
        self.row_max = np.zeros(n, dtype=np.float64)
        self.row_col = np.zeros(n, dtype=np.int64)
        self.total = 0.0
        self.mismatches = 0
        self.kept: dict[int, tuple[float, float]] = {}

    def add(
        self, lo: int, batch: pd.DataFrame, contributions: np.ndarray, onnx_x: np.ndarray
    ) -> None:
        x = self.features_step.transform(batch)
        same = (onnx_x == x) | (np.isnan(onnx_x) & np.isnan(x))
        self.mismatches += int(np.count_nonzero(~same.all(axis=1)))
        expected = xgboost_contributions(self.model, x)
        diff = abs_diff(contributions, expected)
        self.total += float(diff.sum())
        cols = diff.argmax(axis=1) if len(diff) else np.zeros(0, dtype=np.int64)
        rows = np.arange(len(diff))
        self.row_max[lo : lo + len(diff)] = diff[rows, cols]
        self.row_col[lo : lo + len(diff)] = cols
        for i in np.argsort(-diff[rows, cols], kind="stable")[: self.keep]:
            self.kept[lo + int(i)] = (float(expected[i, cols[i]]), float(contributions[i, cols[i]]))

    def worst(self, count: int) -> list[dict[str, Any]]:
        order = np.argsort(-self.row_max, kind="stable")[:count]
        return [
            {
                "row": int(i),
                "column": self.columns[int(self.row_col[i])],
                "xgboost": self.kept[int(i)][0],
                "onnx": self.kept[int(i)][1],
                "abs_diff": float(self.row_max[i]),
            }
            for i in order
            if int(i) in self.kept
        ]
