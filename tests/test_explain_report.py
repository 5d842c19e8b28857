"""Training report's global explanation view: both methods, merged type entry, the PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fitted_artifacts import fit_pipeline, paysim_like_frame
from xgboost import DMatrix

from service.schema import LABEL_FIELDS
from train.explain_report import (
    global_contributions,
    merge_type_columns,
    merged_names,
    render_section,
)
from train.features import FEATURE_SETS


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_summary_and_plot(tmp_path, feature_set):
    pipeline = fit_pipeline(
        paysim_like_frame(8000, seed=1), feature_set=feature_set, n_estimators=25
    )
    rows = paysim_like_frame(3000, seed=2).drop(columns=list(LABEL_FIELDS))
    stream = io.StringIO()
    png = tmp_path / "contributions.png"
    summary = global_contributions(pipeline, rows, png, max_rows=2000, stream=stream)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2,000 test rows" in stream.getvalue()
    assert summary["rows"] == 2000 and summary["plot"] == "contributions.png"
    names = [f["name"] for f in summary["features"]]
    expected = [n for n in FEATURE_SETS[feature_set] if not n.startswith("type_")] + ["type"]
    assert sorted(names) == sorted(expected)
    shap = [f["shap"] for f in summary["features"]]
    assert shap == sorted(shap, reverse=True) and shap[0] > 0
    # Both methods explain the same margins, so they share the bias (the expected value).
    assert summary["bias"]["approx"] == pytest.approx(summary["bias"]["shap"], abs=1e-4)
    lines = "\n".join(render_section(summary))
    assert "| `type` |" in lines and "(contributions.png)" in lines


def test_type_columns_are_summed_per_row_before_the_absolute_value():
    names = ["amount", "type_CASH_IN", "type_TRANSFER", "hour"]
    contributions = np.array([[1.0, 0.5, -2.0, 0.25, 9.0], [-1.0, -0.5, 0.0, 0.0, 9.0]])
    assert merged_names(names) == ["amount", "type", "hour"]
    merged = merge_type_columns(contributions, names)
    assert merged.tolist() == [[1.0, -1.5, 0.25], [-1.0, -0.5, 0.0]]


def test_mean_absolute_values_match_xgboost_on_the_rows(tmp_path):
    pipeline = fit_pipeline(paysim_like_frame(6000, seed=3), n_estimators=15)
    rows = paysim_like_frame(500, seed=4).drop(columns=list(LABEL_FIELDS))
    summary = global_contributions(pipeline, rows, tmp_path / "c.png", stream=io.StringIO())
    x = pipeline.named_steps["features"].transform(rows)
    exact = pipeline.named_steps["model"].get_booster().predict(DMatrix(x), pred_contribs=True)
    column = list(FEATURE_SETS["full"]).index("amount")
    amount = next(f for f in summary["features"] if f["name"] == "amount")
    assert amount["shap"] == pytest.approx(np.abs(exact[:, column]).mean(), rel=1e-6)
