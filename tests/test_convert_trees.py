"""The tree part: onnxruntime's TreeEnsemble takes the same path as XGBoost, base score included."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxmltools
import pandas as pd
import pytest
from onnx import TensorProto, helper
from onnxmltools.convert.common.data_types import FloatTensorType
from onnxmltools.convert.xgboost.operator_converters.XGBoost import XGBConverter
from xgboost import DMatrix, XGBClassifier

from convert import ML_OPSET, ONNX_OPSET
from convert.edge_rows import split_values
from convert.parity import make_session
from convert.trees import TREE_INPUT, base_margin, convert_trees

F32 = np.float32
N_FEATURES = 6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = (rng.normal(size=(3000, N_FEATURES)) * [1, 10, 1e3, 1e6, 0.01, 1]).astype(F32)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values: trees learn a default direction
    score = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 2]) / 1e3 + np.nan_to_num(X[:, 3]) / 1e6
    y = (score + rng.normal(size=len(X)) > 1.8).astype(int)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    # No SMOTE, heavy class weight: base_score lands far from 0.5.
    return XGBClassifier(n_estimators=12, max_depth=4, scale_pos_weight=25, n_jobs=1).fit(X, y)


def tree_node(onnx_model: onnx.ModelProto) -> onnx.NodeProto:
    (node,) = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    return node


def attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def split_rows(model: XGBClassifier, base: np.ndarray) -> np.ndarray:
    """Per split value: the value, one ulp below, one ulp above; then NaN, for each feature."""
    rows = []
    for feature, values in split_values(model).items():
        for value in values:
            for x in (value, np.nextafter(value, F32(-np.inf)), np.nextafter(value, F32(np.inf))):
                row = base.copy()
                row[feature] = x
                rows.append(row)
    for feature in split_values(model):
        row = base.copy()
        row[feature] = np.nan
        rows.append(row)
    return np.array(rows, dtype=F32)


def leaf_model(trees: onnx.ModelProto) -> onnx.ModelProto:
    """Same nodes, but output per tree the (converter-numbered) leaf each row reaches."""
    a = attrs(tree_node(trees))
    n_trees = max(a["nodes_treeids"]) + 1
    node = helper.make_node(
        "TreeEnsembleRegressor",
        [TREE_INPUT],
        ["leaves"],
        domain="ai.onnx.ml",
        **{k: v for k, v in a.items() if k.startswith("nodes_")},
        target_treeids=a["class_treeids"],
        target_nodeids=a["class_nodeids"],
        target_ids=a["class_treeids"],
        target_weights=[float(n) for n in a["class_nodeids"]],
        n_targets=n_trees,
        post_transform="NONE",
    )
    graph = helper.make_graph(
        [node],
        "leaves",
        [helper.make_tensor_value_info(TREE_INPUT, TensorProto.FLOAT, [None, N_FEATURES])],
        [helper.make_tensor_value_info("leaves", TensorProto.FLOAT, [None, n_trees])],
    )
    return helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", ONNX_OPSET),
            helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        ],
    )


def test_nodes_use_strict_less_than(model):
    a = attrs(tree_node(convert_trees(model, N_FEATURES)))
    assert set(a["nodes_modes"]) == {b"BRANCH_LT", b"LEAF"}
    assert a["post_transform"] == b"LOGISTIC"


def test_split_thresholds_are_the_boosters_float32_values(model):
    a = attrs(tree_node(convert_trees(model, N_FEATURES)))
    onnx_values = {
        (f, F32(v))
        for f, v, m in zip(a["nodes_featureids"], a["nodes_values"], a["nodes_modes"], strict=True)
        if m == b"BRANCH_LT"
    }
    booster_values = {(f, v) for f, vs in split_values(model).items() for v in vs}
    assert onnx_values == booster_values


def test_every_tree_reaches_the_same_leaf_at_split_values(model, data):
    X, _ = data
    rows = np.vstack([split_rows(model, X[i]) for i in (0, 1, 2)])
    trees = convert_trees(model, N_FEATURES)
    got = make_session(leaf_model(trees).SerializeToString()).run(None, {TREE_INPUT: rows})[0]
    xgb_leaves = model.get_booster().predict(DMatrix(rows), pred_leaf=True).astype(int)
    dumps = [json.loads(d) for d in model.get_booster().get_dump(dump_format="json")]
    remaps = [XGBConverter._remap_nodeid(d) for d in dumps]
    expected = np.array([[remaps[t][leaf] for t, leaf in enumerate(r)] for r in xgb_leaves])
    assert got.shape == expected.shape
    mismatch = np.argwhere(got.astype(int) != expected)
    assert mismatch.size == 0, f"{len(mismatch)} (row, tree) paths differ: {mismatch[:5].tolist()}"
    # XGBoost's semantics, which the graph follows: a value equal to the split goes the way of
    # the values above it; one ulp below goes the other way whenever the row reaches the node.
    n_triples = sum(len(v) for v in split_values(model).values())
    per_base = 3 * n_triples + len(split_values(model))
    for start in range(0, len(rows), per_base):
        block = expected[start : start + 3 * n_triples].reshape(n_triples, 3, -1)
        exact, below, above = block[:, 0], block[:, 1], block[:, 2]
        assert (exact == above).all()
        assert (exact != below).any(axis=1).sum() >= n_triples // 4


def test_base_score_far_from_half_converts_exactly(model, data):
    X, _ = data
    config = json.loads(model.get_booster().save_config())
    base_score = json.loads(config["learner"]["learner_model_param"]["base_score"])[0]
    assert abs(base_score - 0.5) > 0.2
    margin = base_margin(model)
    converted = attrs(tree_node(convert_trees(model, N_FEATURES)))
    assert "base_values" not in converted  # folded into tree 0's leaves
    plain_model = onnxmltools.convert_xgboost(
        model,
        initial_types=[(TREE_INPUT, FloatTensorType([None, N_FEATURES]))],
        target_opset=ONNX_OPSET,
    )
    plain = attrs(tree_node(plain_model))
    first = np.array(plain["class_treeids"]) == 0
    folded = np.array(converted["class_weights"], dtype=F32)
    leaves = np.array(plain["class_weights"], dtype=F32)
    assert (folded[first] == F32(margin) + leaves[first]).all()
    assert (folded[~first] == leaves[~first]).all()
    # The margin XGBoost starts from = its margin minus the leaf values the rows reach.
    booster = model.get_booster()
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    leaves = booster.predict(DMatrix(X[:50]), pred_leaf=True).astype(int)
    leaf_sum = np.array(
        [sum(trees[t]["split_conditions"][leaf] for t, leaf in enumerate(r)) for r in leaves]
    )
    start = booster.predict(DMatrix(X[:50]), output_margin=True) - leaf_sum
    assert np.allclose(start, margin, atol=1e-5)
    session = make_session(convert_trees(model, N_FEATURES).SerializeToString())
    rows = np.vstack([X, split_rows(model, X[0])])
    p_onnx = session.run(None, {TREE_INPUT: rows})[1][:, 1]
    assert np.abs(p_onnx - model.predict_proba(rows)[:, 1]).max() <= 1e-6


def test_named_features_are_cleared_on_a_copy_only(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"col_{i}" for i in range(N_FEATURES)])
    model = XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(frame, y)
    session = make_session(convert_trees(model, N_FEATURES).SerializeToString())
    p_onnx = session.run(None, {TREE_INPUT: X})[1][:, 1]
    assert np.abs(p_onnx - model.predict_proba(frame)[:, 1]).max() <= 1e-6
    assert model.get_booster().feature_names == list(frame.columns)


def test_margin_is_bit_exact_when_trees_are_summed_in_order(model, data):
    # With the base margin folded into tree 0 and one thread (trees summed in order, as the
    # service runs), onnxruntime's raw score equals XGBoost's margin bit for bit; only the
    # sigmoid may then differ, by float32 rounding.
    X, _ = data
    trees = convert_trees(model, N_FEATURES)
    node = tree_node(trees)
    next(a for a in node.attribute if a.name == "post_transform").s = b"NONE"
    rows = np.vstack([X, split_rows(model, X[0])])
    score = make_session(trees.SerializeToString(), threads=1).run(None, {TREE_INPUT: rows})[1]
    margin = model.get_booster().inplace_predict(rows, predict_type="margin")
    assert score.dtype == np.float32 and margin.dtype == np.float32
    assert (score[:, 1] == margin).all()
