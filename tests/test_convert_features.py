"""The ONNX feature graph reproduces train.features bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fitted_artifacts import paysim_like_frame

from convert.edge_rows import edge_frame
from convert.features_graph import FEATURE_DEFS, build_feature_model
from convert.parity import make_session, onnx_feed
from service.schema import NUMERIC_FIELDS, TRANSACTION_TYPES
from train.features import FEATURE_SET_INPUTS, FEATURE_SETS, PaySimFeatures


@pytest.fixture(scope="module")
def session():
    return make_session(build_feature_model("full").SerializeToString())


@pytest.fixture(scope="module", params=sorted(FEATURE_SETS))
def feature_set(request):
    return request.param


@pytest.fixture(scope="module")
def set_session(feature_set):
    return make_session(build_feature_model(feature_set).SerializeToString())


def expected_features(frame: pd.DataFrame, feature_set: str) -> np.ndarray:
    return PaySimFeatures(feature_set=feature_set).fit(frame).transform(frame)


def onnx_features(session, frame: pd.DataFrame) -> np.ndarray:
    return session.run(None, onnx_feed(frame, [i.name for i in session.get_inputs()]))[0]


def assert_bitwise_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32 and expected.dtype == np.float32
    assert actual.shape == expected.shape
    # Compare bit patterns: catches -0.0 vs 0.0 and NaN payload-insensitive differences alike.
    same = (actual.view(np.uint32) == expected.view(np.uint32)) | (
        np.isnan(actual) & np.isnan(expected)
    )
    bad = np.argwhere(~same)
    assert bad.size == 0, f"{len(bad)} differing cells, first {bad[:5].tolist()}"


def test_every_feature_of_every_set_has_an_onnx_definition():
    for names in FEATURE_SETS.values():
        assert set(names) <= set(FEATURE_DEFS)


def test_graph_inputs_follow_the_contract_order(set_session, feature_set):
    assert [i.name for i in set_session.get_inputs()] == list(FEATURE_SET_INPUTS[feature_set])
    assert set_session.get_outputs()[0].shape == ["N", len(FEATURE_SETS[feature_set])]


def test_generated_rows_bitwise(set_session, feature_set):
    frame = paysim_like_frame(20_000, seed=3).drop(columns="isFraud")
    assert set(frame["type"]) == set(TRANSACTION_TYPES)
    expected = expected_features(frame, feature_set)
    assert_bitwise_equal(onnx_features(set_session, frame), expected)


def test_edge_rows_bitwise(set_session, feature_set):
    frame = edge_frame()
    values = frame[list(NUMERIC_FIELDS)].to_numpy()
    # The crafted rows really contain the hard cases.
    assert np.isnan(values).any() and np.isinf(values).any()
    assert (values == np.finfo(np.float32).max).any() and (values == 0).any()
    assert (np.signbit(values) & (values == 0)).any()  # -0.0
    expected = expected_features(frame, feature_set)
    assert_bitwise_equal(onnx_features(set_session, frame), expected)


def test_float64_inputs_round_like_the_pipeline(set_session, feature_set):
    # The pipeline casts float64 columns to float32 first; onnx_feed must do the same.
    rng = np.random.default_rng(0)
    frame = paysim_like_frame(500, seed=1).drop(columns="isFraud")
    for name in NUMERIC_FIELDS:
        frame[name] = frame[name].astype(np.float64) + rng.random(len(frame)) / 3
    expected = expected_features(frame, feature_set)
    assert_bitwise_equal(onnx_features(set_session, frame), expected)


def test_hour_uses_fmod_sign_and_ratio_undefined_for_non_positive_balances(session):
    frame = pd.DataFrame(
        {
            "type": ["CASH_IN", "DEBIT", "PAYMENT"],
            "step": np.array([-25.0, 743.0, 24.0], dtype=np.float32),
            "amount": np.array([5.0, 5.0, 5.0], dtype=np.float32),
            "oldbalanceOrg": np.array([0.0, -2.0, 2.0], dtype=np.float32),
            **{n: np.zeros(3, dtype=np.float32) for n in NUMERIC_FIELDS[3:]},
        }
    )
    names = list(FEATURE_SETS["full"])
    got = onnx_features(session, frame)
    assert got[:, names.index("hour")].tolist() == [-1.0, 23.0, 0.0]
    assert got[:, names.index("amt_ratio_orig")].tolist() == [-1.0, -1.0, 2.5]
    assert got[:, names.index("type_DEBIT")].tolist() == [0.0, 1.0, 0.0]


def test_unknown_type_gives_all_zero_one_hot(session):
    # The graph cannot raise; the service must validate `type` (see features_graph docstring).
    frame = edge_frame().head(1).astype({"type": object})
    frame.loc[:, "type"] = "BITCOIN"
    got = onnx_features(session, frame)
    one_hot = [i for i, n in enumerate(FEATURE_SETS["full"]) if n.startswith("type_")]
    assert got[0, one_hot].tolist() == [0.0] * len(TRANSACTION_TYPES)


@pytest.mark.parametrize("rows", [0, 1, 7])
def test_any_batch_size(set_session, feature_set, rows):
    frame = paysim_like_frame(50, seed=2).drop(columns="isFraud").head(rows)
    got = onnx_features(set_session, frame)
    assert got.shape == (rows, len(FEATURE_SETS[feature_set]))
    if rows:
        assert_bitwise_equal(got, expected_features(frame, feature_set))


def test_any_feature_order_uses_the_per_feature_definitions():
    # A reordered set breaks the one-hot run apart: each type column comes from FEATURE_DEFS.
    names = tuple(reversed(FEATURE_SETS["full"]))
    session = make_session(build_feature_model("full", names).SerializeToString())
    frame = edge_frame()
    expected = PaySimFeatures().fit(frame).transform(frame)[:, ::-1].copy()
    assert_bitwise_equal(onnx_features(session, frame), expected)


def test_unknown_feature_names_are_refused():
    with pytest.raises(ValueError, match="no ONNX definition"):
        build_feature_model("full", ("amount", "velocity_24h"))
