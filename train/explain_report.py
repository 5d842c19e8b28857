"""Global view of the explanations for the training report.

The served model explains each score with XGBoost's approximate (Saabas) path contributions,
compiled into model.onnx. This module compares them, over the test rows, with exact TreeSHAP
(``pred_contribs=True``): mean absolute contribution per feature for both methods, the one-hot
type columns merged into one ``type`` entry (a row's type contribution is the sum of its type
columns', as the service reports it). Both are in log-odds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import DMatrix

#: Default figure name, written next to metrics.json.
PLOT_FILE = "contributions.png"
#: Rows beyond this are sampled (exact TreeSHAP costs O(trees x leaves x depth^2) per row).
MAX_ROWS = 20_000

METHODS = {
    "approx": "Saabas path attribution (approx_contribs; what model.onnx serves)",
    "shap": "exact TreeSHAP (pred_contribs)",
}


def merged_names(feature_names: list[str]) -> list[str]:
    """Feature names with the ``type_*`` one-hot columns replaced by one ``type`` entry."""
    names: list[str] = []
    for name in feature_names:
        merged = "type" if name.startswith("type_") else name
        if merged not in names:
            names.append(merged)
    return names


def merge_type_columns(contributions: np.ndarray, feature_names: list[str]) -> np.ndarray:
    """[N, F(+bias)] -> [N, len(merged_names)]: type columns summed per row, bias dropped."""
    names = merged_names(feature_names)
    out = np.zeros((contributions.shape[0], len(names)), dtype=np.float64)
    for j, name in enumerate(feature_names):
        target = names.index("type" if name.startswith("type_") else name)
        out[:, target] += contributions[:, j]
    return out


def _finite(x: np.ndarray) -> np.ndarray:
    # A DMatrix refuses infinities; every split is a finite float32, so +-inf and the largest
    # finite float32 of the same sign take the same path (see convert/contributions.py).
    info = np.finfo(np.float32)
    return np.clip(x, info.min, info.max) if np.isinf(x).any() else x


def global_contributions(
    pipeline: Pipeline,
    X: pd.DataFrame,
    out_png: Path,
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Mean |contribution| per feature by both methods over ``X`` (raw rows); save the PNG.

    Returns the dictionary to store as ``metrics["explanations"]``: rows used, the methods,
    per merged feature ``{"name", "approx", "shap"}`` (sorted by the TreeSHAP value), and each
    method's bias (the same for every row).
    """
    stream = stream or sys.stderr
    if len(X) > max_rows:
        X = X.iloc[np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))]
    features = pipeline.named_steps["features"]
    names = [str(n) for n in features.get_feature_names_out()]
    x = _finite(features.transform(X))
    booster = pipeline.named_steps["model"].get_booster()
    print(f"[explain] contributions on {len(X):,} test rows (approx, exact)", file=stream)
    matrix = DMatrix(x)
    values = {
        "approx": booster.predict(matrix, pred_contribs=True, approx_contribs=True),
        "shap": booster.predict(matrix, pred_contribs=True),
    }
    means = {k: np.abs(merge_type_columns(v, names)).mean(axis=0) for k, v in values.items()}
    order = np.argsort(-means["shap"], kind="stable")
    merged = merged_names(names)
    result = {
        "rows": len(X),
        "units": "log-odds",
        "methods": METHODS,
        "features": [
            {
                "name": merged[i],
                "approx": float(means["approx"][i]),
                "shap": float(means["shap"][i]),
            }
            for i in order
        ],
        "bias": {k: float(v[:, -1].mean()) if len(v) else 0.0 for k, v in values.items()},
        "plot": Path(out_png).name,
    }
    plot_global(Path(out_png), result)
    return result


def plot_global(path: Path, summary: dict[str, Any]) -> None:
    """Horizontal bars, the two methods side by side per feature, largest at the top."""
    import matplotlib

    matplotlib.use("Agg")  # headless: servers and CI have no display
    import matplotlib.pyplot as plt

    rows = summary["features"]
    y = np.arange(len(rows))[::-1]
    height = 0.38
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(rows) + 1.6), dpi=110)
    ax.barh(
        y + height / 2,
        [r["approx"] for r in rows],
        height,
        color="#c0392b",
        label="Saabas / approx_contribs (served)",
    )
    ax.barh(
        y - height / 2, [r["shap"] for r in rows], height, color="#1f4e79", label="exact TreeSHAP"
    )
    ax.set_yticks(y, [r["name"] for r in rows])
    ax.set_xlabel("mean |contribution| (log-odds)")
    ax.set_title(f"fraudlite: global feature contributions, {summary['rows']:,} test rows")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render_section(summary: dict[str, Any]) -> list[str]:
    """report.md lines for ``metrics["explanations"]``."""
    lines = [
        "## Feature contributions",
        "",
        f"Mean absolute contribution (log-odds) over {summary['rows']:,} test rows: the "
        "per-feature path attribution served by model.onnx (XGBoost's approx_contribs) beside "
        "exact TreeSHAP. One-hot type columns are merged into `type`.",
        "",
        "| feature | served (approx) | exact TreeSHAP |",
        "|---|---|---|",
        *(f"| `{r['name']}` | {r['approx']:.4f} | {r['shap']:.4f} |" for r in summary["features"]),
        "",
        f"![feature contributions]({summary['plot']})",
        "",
    ]
    return lines
