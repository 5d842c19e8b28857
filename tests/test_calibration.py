"""Probabilities corrected to the served population, and the calibration measures (issue 21)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from xgboost import DMatrix, XGBClassifier

from train.calibration import (
    apply_shift,
    balancing_weight,
    base_score,
    calibration_summary,
    plot_reliability,
    prior_shift,
    smote_factor,
)
from train.out_of_fold import correct, prepare

LEGIT_WEIGHT = 10.0


@pytest.mark.parametrize(("ratio", "frauds"), [(0.1, 40), (0.25, 7), (0.2, 100)])
def test_smote_factor_is_what_smote_does(ratio: float, frauds: int) -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(frauds, int), np.zeros(1000, int)]
    X = rng.normal(size=(y.size, 3))
    _, resampled = SMOTE(sampling_strategy=ratio, k_neighbors=3, random_state=0).fit_resample(X, y)
    assert smote_factor(y, ratio) == pytest.approx(resampled.sum() / frauds)
    assert smote_factor(y, None) == 1.0


def test_prior_shift_adds_the_three_odds_factors() -> None:
    y = np.r_[np.ones(50, int), np.zeros(1000, int)]  # SMOTE 0.1 doubles the frauds
    assert prior_shift(y, 0.1, None, 1.0) == pytest.approx(np.log(2))
    assert prior_shift(y, 0.1, 3.0, 24.3) == pytest.approx(np.log(2 * 3 * 24.3))
    # Weights chosen by balancing_weight leave nothing to shift.
    assert prior_shift(y, 0.1, balancing_weight(y, 0.1, 24.3), 24.3) == pytest.approx(0.0)


def test_apply_shift_moves_every_margin_and_keeps_the_ranking(tmp_path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=3000) > 1.8).astype(int)
    model = XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(X, y)
    before = model.get_booster().predict(DMatrix(X), output_margin=True)
    proba_before = model.predict_proba(X)[:, 1]
    apply_shift(model, 2.5)
    after = model.get_booster().predict(DMatrix(X), output_margin=True)
    np.testing.assert_allclose(after - before, -2.5, atol=1e-5)
    proba = model.predict_proba(X)[:, 1]
    assert np.array_equal(np.argsort(proba, kind="stable"), np.argsort(after, kind="stable"))
    assert proba.mean() < proba_before.mean()
    # The shift is part of the model: it survives joblib/pickle and xgb_model.json.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X)[:, 1], proba)
    model.get_booster().save_model(str(tmp_path / "m.json"))
    saved = json.loads((tmp_path / "m.json").read_text())
    stored = saved["learner"]["learner_model_param"]["base_score"]
    assert float(json.loads(stored)[0]) == pytest.approx(base_score(model), rel=1e-6)


def test_calibration_summary_on_hand_made_scores() -> None:
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    s = calibration_summary(y, p)
    assert s["mean_predicted"] == pytest.approx(0.5)
    assert s["observed_rate"] == pytest.approx(0.75)
    assert s["brier"] == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)
    # Bin [0.1, 0.2): predicted 0.1, observed 0.5; bin [0.9, 1]: 0.9 vs 1.0; half the weight each.
    assert s["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    # The legitimate row counted twice: observed rate 3/5, its bin 1/3 fraud.
    w = calibration_summary(y, p, np.array([2.0, 1, 1, 1]))
    assert w["observed_rate"] == pytest.approx(3 / 5) and w["weighted"]
    assert w["ece"] == pytest.approx(0.6 * abs(0.1 - 1 / 3) + 0.4 * 0.1)


def test_reliability_plot_is_a_png(tmp_path) -> None:
    y = np.r_[np.zeros(500), np.ones(20)]
    p = np.r_[np.full(500, 0.01), np.full(20, 0.6)]
    bins = plot_reliability(tmp_path / "r.png", y, p, None, "test")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [round(b["observed"], 3) for b in bins] == [0.0, 1.0]


@pytest.fixture(scope="module")
def biased_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping classes (a logistic truth, about 1.5% fraud) sampled as the real PaySim sample
    was: every fraud kept, one legitimate row in ``LEGIT_WEIGHT``. Returns train and test parts.

    Generated PaySim rows would not do: their frauds are separable, so a model's mean
    probability is the fraud rate whatever prior it learnt; a prior only shows where the
    classes overlap, as they do in real payments.
    """
    rng = np.random.default_rng(21)
    X = rng.normal(size=(400_000, 3)).astype(np.float32)
    y = (rng.random(X.shape[0]) < 1 / (1 + np.exp(-(-5.5 + 1.5 * X[:, 0] + X[:, 1])))).astype(int)
    keep = (y == 1) | (rng.random(y.size) < 1 / LEGIT_WEIGHT)
    X, y = X[keep], y[keep]
    half = y.size // 2
    return X[:half], y[:half], X[half:], y[half:]


def _mean_probability(biased_sample, correction: str, legit_weight: float) -> tuple[float, float]:
    """Weighted mean probability on the held-out part, and its weighted observed fraud rate."""
    X, y, X_test, y_test = biased_sample
    template = ImbPipeline(
        [
            ("smote", SMOTE(sampling_strategy=0.3, random_state=0)),
            ("model", XGBClassifier(n_estimators=60, max_depth=3, n_jobs=1, random_state=0)),
        ]
    )
    pipeline = prepare(clone(template), y, correction, legit_weight).fit(X, y)
    correct(pipeline, y, legit_weight)
    weights = np.where(y_test == 1, 1.0, LEGIT_WEIGHT)  # the population the sample came from
    proba = pipeline.predict_proba(X_test)[:, 1]
    return float(np.average(proba, weights=weights)), float(np.average(y_test, weights=weights))


@pytest.mark.parametrize("correction", ["prior", "weights"])
def test_legit_weight_moves_the_mean_probability_to_the_weighted_observed_rate(
    biased_sample, correction: str
) -> None:
    uncorrected, rate = _mean_probability(biased_sample, "prior", 1.0)
    corrected, _ = _mean_probability(biased_sample, correction, LEGIT_WEIGHT)
    # Without W the model learns the sample's odds, several times the population's.
    assert uncorrected > 3 * rate
    assert abs(corrected - rate) < abs(uncorrected - rate)
    assert 0.8 * rate < corrected < 1.25 * rate, (corrected, rate)
