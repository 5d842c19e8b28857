"""Training: splits, threshold choice, the inference pipeline and a small end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from train import synthetic
from train.cli import main as train_main
from train.evaluate import choose_threshold, evaluate
from train.pipeline import build_training_pipeline, inference_pipeline
from train.split import SplitError, split_rows


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic.generate(60_000, seed=7)


def test_step_split_never_trains_on_the_future(frame: pd.DataFrame) -> None:
    split = split_rows(frame, "step")
    steps = frame["step"].to_numpy()
    assert steps[split.train].max() < steps[split.validation].min()
    assert steps[split.validation].max() < steps[split.test].min()
    assert split.train.size + split.validation.size + split.test.size == len(frame)
    assert 0.1 < split.test.size / len(frame) < 0.3


def test_random_split_is_stratified_and_disjoint(frame: pd.DataFrame) -> None:
    split = split_rows(frame, "random", seed=3)
    y = frame["isFraud"].to_numpy()
    parts = [split.train, split.validation, split.test]
    assert len(np.unique(np.concatenate(parts))) == len(frame)
    rates = [y[p].mean() for p in parts]
    assert max(rates) - min(rates) < 0.5 * y.mean()


def test_split_without_frauds_in_a_part_is_refused(frame: pd.DataFrame) -> None:
    test_steps = frame["step"] >= split_rows(frame, "step").step_cutoffs[1]
    no_late_fraud = frame[~(test_steps & (frame["isFraud"] == 1))]
    with pytest.raises(SplitError, match="test part"):
        split_rows(no_late_fraud, "step")


def test_threshold_reaches_target_recall_with_best_precision() -> None:
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.8, 0.9])
    assert choose_threshold(y, p, 0.75) == 0.6  # 3/4 recall, precision 1.0
    assert choose_threshold(y, p, 1.0) == 0.35  # all frauds: precision 4/5
    with pytest.raises(ValueError):
        choose_threshold(y, p, 0.0)


def test_evaluate_confusion_matrix_matches_decisions() -> None:
    y = np.array([0, 1, 1, 0])
    result = evaluate(y, np.array([0.9, 0.8, 0.1, 0.2]), 0.5)
    assert result["confusion_matrix"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    assert result["precision"] == 0.5 and result["recall"] == 0.5


def test_inference_pipeline_scores_exactly_as_the_tuned_model(frame: pd.DataFrame) -> None:
    X, y = frame.drop(columns=["isFraud", "isFlaggedFraud"]), frame["isFraud"]
    fitted = build_training_pipeline(smote_ratio=0.2, seed=1, n_jobs=1)
    fitted.set_params(model__n_estimators=20)
    fitted.fit(X, y)
    exported = inference_pipeline(fitted)
    assert "smote" not in exported.named_steps
    np.testing.assert_array_equal(fitted.predict_proba(X), exported.predict_proba(X))
    # SMOTE did resample in training: the booster saw more positives than the data has.
    assert fitted.named_steps["smote"].sampling_strategy == 0.2


def test_end_to_end_run_writes_every_artifact(tmp_path: Path, capsys) -> None:
    out = tmp_path / "artifacts"
    code = train_main(
        [
            "--data",
            "synthetic:60000",
            "--n-iter",
            "2",
            "--cv",
            "2",
            "--out",
            str(out),
            "--seed",
            "7",
        ]
    )
    assert code == 0
    for name in (
        "pipeline.joblib",
        "xgb_model.json",
        "metrics.json",
        "pr_curve.png",
        "report.md",
        "contributions.png",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("pr_auc", "roc_auc", "precision", "recall", "f1", "at_0_5", "confusion_matrix"):
        assert key in metrics["test"]
    for key in ("threshold", "rows", "data", "params", "versions", "seconds"):
        assert key in metrics
    assert metrics["test"]["pr_auc"] >= 0.9
    assert metrics["rows"]["test"]["fraud"] > 0
    assert (out / "pr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The saved pipeline gives the recorded test figures back: nothing was lost in saving.
    pipeline = joblib.load(out / "pipeline.joblib")
    frame = synthetic.generate(60_000, seed=7)
    split = split_rows(frame, "step")
    test = frame.iloc[split.test]
    proba = pipeline.predict_proba(test.drop(columns=["isFraud", "isFlaggedFraud"]))[:, 1]
    again = evaluate(test["isFraud"].to_numpy(), proba, metrics["threshold"])
    assert again["pr_auc"] == pytest.approx(metrics["test"]["pr_auc"], abs=1e-12)
    assert "search" in capsys.readouterr().err


def test_cli_reports_a_bad_source_without_traceback(tmp_path: Path, capsys) -> None:
    assert train_main(["--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "file not found" in err and "Traceback" not in err


def test_cli_help_documents_every_option(capsys) -> None:
    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--scoring",
        "--n-iter",
        "--cv",
        "--sampler",
        "--smote-ratio",
        "--split",
        "--target-recall",
        "--seed",
        "--feature-set",
        "--data",
        "--out",
    ):
        assert option in text


def test_feature_sets_compared_on_the_same_split(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["--data", "synthetic:40000", "--n-iter", "1", "--cv", "2", "--seed", "5"]
    assert (
        train_main([*args, "--out", str(out), "--features", "preauth", "--compare-features"]) == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["feature_set"] == "preauth"
    assert set(metrics["feature_sets"]) == {"full", "preauth"}
    for summary in metrics["feature_sets"].values():
        assert 0.0 < summary["pr_auc"] <= 1.0
        assert 0.0 <= summary["precision_at_target_recall"] <= 1.0
    # The saved model is the preauth one: it scores without the post-transaction balances.
    pipeline = joblib.load(out / "pipeline.joblib")
    frame = synthetic.generate(200, seed=1).drop(columns=["newbalanceOrig", "newbalanceDest"])
    assert pipeline.predict_proba(frame.drop(columns=["isFraud", "isFlaggedFraud"])).shape == (
        200,
        2,
    )
    assert "Feature sets on the same split" in (out / "report.md").read_text()


def test_small_data_gets_a_smaller_smote_k_or_a_clear_error() -> None:
    from train.pipeline import smote_neighbors

    assert smote_neighbors(300, 3) == 5
    assert smote_neighbors(6, 3) == 3  # 4 frauds per fold: k must stay below 4
    with pytest.raises(ValueError, match="--sampler none"):
        smote_neighbors(2, 3)


def test_twenty_thousand_rows_train_with_smote(tmp_path: Path) -> None:
    args = ["--data", "synthetic:20000", "--n-iter", "1", "--cv", "3", "--out", str(tmp_path)]
    assert train_main(args) == 0


def test_recall_at_precision_and_precision_at_recall_read_the_curve() -> None:
    from train.evaluate import precision_at_recall, recall_at_precision

    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.8, 0.9])
    assert recall_at_precision(y, p, 0.9) == 0.75  # cut at 0.6: 3 of 4 frauds, no false alarm
    assert precision_at_recall(y, p, 1.0) == 0.8  # cut at 0.35: all frauds, one false alarm
    # Weighting legitimate rows x2 makes that false alarm count twice.
    weights = np.where(y == 1, 1.0, 2.0)
    assert precision_at_recall(y, p, 1.0, weights) == pytest.approx(4 / 6)
