"""The ``contributions`` output: XGBoost's approx contributions inside model.onnx."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from fitted_artifacts import fit_pipeline, paysim_like_frame, write_artifacts
from onnx import helper

from convert.contributions import (
    EXPLAIN_INPUT,
    booster_trees,
    leaf_vectors,
    node_means,
)
from convert.edge_rows import edge_frame
from convert.export import export_model
from convert.parity import check_parity, make_session, onnx_feed
from convert.parity_explain import xgboost_contributions
from train.features import FEATURE_SETS

F32 = np.float32
SCORE = ["probability", "label"]
ALL = [*SCORE, "contributions", "features"]
ON = {EXPLAIN_INPUT: np.array(True)}


@pytest.fixture(scope="module", params=sorted(FEATURE_SETS))
def exported(request, tmp_path_factory):
    """One explained export per feature set; base_score far from 0.5 (heavy class weight)."""
    feature_set = request.param
    pipeline = fit_pipeline(
        paysim_like_frame(20_000, seed=3),
        feature_set=feature_set,
        n_estimators=40,
        max_depth=5,
        scale_pos_weight=25,
    )
    out = write_artifacts(
        tmp_path_factory.mktemp(feature_set), pipeline, 0.5, feature_set=feature_set
    )
    path = export_model(out, explain=True)
    return feature_set, pipeline, make_session(str(path)), path


def run(session, frame, explain=True):
    feed = onnx_feed(frame, [i.name for i in session.get_inputs()])
    return session.run(ALL, {**feed, **ON} if explain else feed)


def expected(pipeline, frame):
    features = pipeline.named_steps["features"].transform(frame)
    return features, xgboost_contributions(pipeline.named_steps["model"], features)


def test_contributions_match_xgboost_approx_on_generated_rows(exported):
    _, pipeline, session, _ = exported
    frame = paysim_like_frame(20_000, seed=12)
    _, _, contributions, features = run(session, frame)
    x, reference = expected(pipeline, frame)
    assert contributions.shape == reference.shape == (len(frame), x.shape[1] + 1)
    assert contributions.dtype == np.float32
    assert np.abs(contributions - reference).max() <= 1e-5
    assert np.array_equal(features, x)  # the values the contributions explain
    # Not a degenerate check: several features matter and rows differ.
    assert (np.abs(contributions[:, :-1]).mean(axis=0) > 1e-3).sum() >= 3


def test_contributions_match_xgboost_approx_on_edge_rows(exported):
    feature_set, pipeline, session, _ = exported
    frame = edge_frame(pipeline.named_steps["model"], feature_set)
    _, _, contributions, features = run(session, frame)
    x, reference = expected(pipeline, frame)
    assert np.isnan(x).any() and np.isinf(x).any()  # missing and infinite features included
    assert np.abs(contributions - reference).max() <= 1e-5
    assert np.array_equal(features, x, equal_nan=True)


def test_parity_report_covers_contributions(exported):
    _, pipeline, session, _ = exported
    report = check_parity(session, pipeline, paysim_like_frame(5000, seed=4), batch_size=1500)
    assert report.passed, report.summary()
    assert report.contributions_checked and report.feature_mismatches == 0
    assert report.contributions_max_abs_diff <= 1e-5
    assert report.contributions_worst[0]["abs_diff"] == report.contributions_max_abs_diff


def test_contributions_and_bias_sum_to_the_margin(exported):
    _, pipeline, session, _ = exported
    frame = paysim_like_frame(5000, seed=21)
    probability, _, contributions, _ = run(session, frame)
    booster = pipeline.named_steps["model"].get_booster()
    margin = booster.inplace_predict(
        pipeline.named_steps["features"].transform(frame), predict_type="margin"
    )
    total = contributions.astype(np.float64).sum(axis=1)
    # Both are float32 sums of the same leaf values in other groupings: rounding only.
    n_trees = booster.num_boosted_rounds()
    bound = n_trees * contributions.shape[1] * np.finfo(F32).eps * np.abs(contributions).max()
    assert np.abs(total - margin).max() <= bound
    assert np.abs(1 / (1 + np.exp(-total)) - probability).max() <= 1e-6
    assert total.std() > 0.5  # the margins differ between rows: not a constant check


def test_bias_is_the_tree_means_plus_the_base_margin(exported):
    _, pipeline, session, _ = exported
    _, _, contributions, _ = run(session, paysim_like_frame(300, seed=1))
    model = pipeline.named_steps["model"]
    config = json.loads(model.get_booster().save_config())
    base_score = json.loads(config["learner"]["learner_model_param"]["base_score"])[0]
    assert base_score < 0.2  # far from 0.5: a forgotten base margin would show
    bias = contributions[:, -1]
    assert (bias == bias[0]).all()  # the same for every row
    roots = sum(float(node_means(tree)[0]) for tree in booster_trees(model))
    assert bias[0] == pytest.approx(roots + np.log(base_score / (1 - base_score)), abs=1e-5)


def test_single_rows_match_the_batch(exported):
    _, _, session, _ = exported
    frame = paysim_like_frame(40, seed=8)
    batch = run(session, frame)[2]
    for i in range(len(frame)):
        single = run(session, frame.iloc[i : i + 1])[2]
        assert single.shape == (1, batch.shape[1])
        assert np.abs(single[0] - batch[i]).max() <= 1e-6


def test_without_explain_the_output_is_empty_and_scores_are_unchanged(exported):
    _, _, session, _ = exported
    frame = paysim_like_frame(500, seed=2)
    off = run(session, frame, explain=False)
    on = run(session, frame, explain=True)
    assert off[2].shape == (0, on[2].shape[1])
    for a, b in zip(off[:2], on[:2], strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(off[3], on[3])


def test_metadata_names_the_columns(exported):
    feature_set, _, session, path = exported
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["contributions_columns"]) == [*FEATURE_SETS[feature_set], "bias"]
    assert json.loads(meta["explanation_outputs"]) == ["contributions", "features"]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    (gate,) = [n for n in model.graph.node if n.op_type == "If"]
    assert gate.input == [EXPLAIN_INPUT]
    then = helper.get_attribute_value(next(a for a in gate.attribute if a.name == "then_branch"))
    assert [n.op_type for n in then.node] == ["TreeEnsembleRegressor"]


def test_each_leaf_vector_telescopes_to_its_leaf_value(exported):
    # Root mean plus the steps along the path = the leaf value (up to float32 rounding).
    _, pipeline, _, _ = exported
    n = pipeline.named_steps["model"].n_features_in_
    for tree in booster_trees(pipeline.named_steps["model"]):
        vectors = leaf_vectors(tree, n)
        leaves = np.flatnonzero(tree.left == -1)
        assert sorted(vectors) == leaves.tolist()
        for leaf in leaves:
            assert vectors[leaf].astype(np.float64).sum() == pytest.approx(
                float(tree.split[leaf]), abs=1e-6
            )
        # Means are cover-weighted: the root mean lies between the extreme leaf values.
        values = tree.split[leaves]
        assert values.min() - 1e-7 <= node_means(tree)[0] <= values.max() + 1e-7


def test_a_model_without_explanations_converts_and_checks_as_before(tmp_path):
    pipeline = fit_pipeline(paysim_like_frame(5000, seed=9), n_estimators=10)
    path = export_model(write_artifacts(tmp_path, pipeline, 0.5), explain=False)
    session = make_session(str(path))
    assert [o.name for o in session.get_outputs()] == SCORE
    assert session.get_overridable_initializers() == []
    meta = session.get_modelmeta().custom_metadata_map
    assert "contributions_columns" not in meta
    report = check_parity(session, pipeline, paysim_like_frame(2000, seed=10))
    assert report.passed and not report.contributions_checked
    assert report.contributions_max_abs_diff is None and report.feature_mismatches is None
    assert "contributions=absent" in report.summary()
