"""The feature transformer: hand-computed rows, float32 arithmetic, estimator conventions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from service.schema import TRANSACTION_TYPES
from train.features import FEATURE_SETS, RATIO_UNDEFINED, PaySimFeatures


def raw(**overrides: list) -> pd.DataFrame:
    base = {
        "step": [1, 30, 743],
        "type": ["TRANSFER", "CASH_IN", "PAYMENT"],
        "amount": [181.0, 10.0, 9839.64],
        "oldbalanceOrg": [181.0, 0.0, 170136.0],
        "newbalanceOrig": [0.0, 10.0, 160296.36],
        "oldbalanceDest": [0.0, 5.0, 0.0],
        "newbalanceDest": [0.0, 0.0, 0.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    t = PaySimFeatures().fit(frame)
    return pd.DataFrame(t.transform(frame), columns=t.get_feature_names_out())


def test_hand_computed_rows() -> None:
    f = features(raw())
    # A TRANSFER that empties the account: ratio 1, no origin error, destination error = amount.
    assert f.loc[0, "amt_ratio_orig"] == 1.0
    assert f.loc[0, "errorBalanceOrig"] == 0.0
    assert f.loc[0, "errorBalanceDest"] == 181.0
    assert f.loc[0, "hour"] == 1.0
    assert f.loc[0, "type_TRANSFER"] == 1.0
    assert f.loc[0, ["type_CASH_IN", "type_CASH_OUT", "type_DEBIT", "type_PAYMENT"]].sum() == 0
    # Zero origin balance: the ratio takes its documented sentinel instead of inf/nan.
    assert f.loc[1, "amt_ratio_orig"] == RATIO_UNDEFINED
    assert f.loc[1, "errorBalanceOrig"] == 20.0  # 10 + 10 - 0
    assert f.loc[1, "errorBalanceDest"] == 15.0  # 5 + 10 - 0
    assert f.loc[1, "hour"] == 6.0  # 30 mod 24
    assert f.loc[2, "hour"] == 743 % 24
    assert f.loc[1, "type_CASH_IN"] == 1.0


def test_float32_order_of_operations() -> None:
    f = features(raw()).to_numpy()
    amount, old, new = np.float32(9839.64), np.float32(170136.0), np.float32(160296.36)
    assert f.dtype == np.float32
    assert f[2, list(FEATURE_SETS["full"]).index("errorBalanceOrig")] == (new + amount) - old
    assert f[2, list(FEATURE_SETS["full"]).index("amt_ratio_orig")] == amount / old


def test_output_names_and_shape() -> None:
    t = PaySimFeatures().fit(raw())
    assert list(t.get_feature_names_out()) == list(FEATURE_SETS["full"])
    assert t.transform(raw()).shape == (3, len(FEATURE_SETS["full"]))
    assert t.n_features_in_ == 7


def test_categorical_type_column_gives_same_features() -> None:
    plain = raw()
    categorical = raw()
    categorical["type"] = pd.Categorical(categorical["type"], categories=TRANSACTION_TYPES)
    np.testing.assert_array_equal(features(plain), features(categorical))


def test_unknown_type_value_is_named() -> None:
    t = PaySimFeatures().fit(raw())
    with pytest.raises(ValueError, match="WIRE"):
        t.transform(raw(type=["TRANSFER", "WIRE", "PAYMENT"]))


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="oldbalanceDest"):
        PaySimFeatures().fit(raw().drop(columns=["oldbalanceDest"]))


def test_estimator_conventions() -> None:
    t = PaySimFeatures(feature_set="full")
    assert t.get_params() == {"feature_set": "full"}
    assert clone(t).get_params() == t.get_params()
    assert t.fit(raw()) is t
    with pytest.raises(ValueError, match="feature_set"):
        PaySimFeatures(feature_set="nope").fit(raw())
    with pytest.raises(TypeError, match="DataFrame"):
        PaySimFeatures().fit(raw().to_numpy())


def test_preauth_features_use_no_post_transaction_field() -> None:
    frame = raw().drop(columns=["newbalanceOrig", "newbalanceDest"])
    t = PaySimFeatures(feature_set="preauth").fit(frame)
    f = pd.DataFrame(t.transform(frame), columns=t.get_feature_names_out())
    assert list(f.columns) == list(FEATURE_SETS["preauth"])
    assert not {"newbalanceOrig", "newbalanceDest", "errorBalanceOrig"} & set(f.columns)
    # Row 0 empties a 181.0 account into an empty destination; row 1 has no origin balance.
    assert f.loc[0, "emptiesOrig"] == 1.0 and f.loc[1, "emptiesOrig"] == 0.0
    assert f.loc[2, "emptiesOrig"] == 0.0
    assert f.loc[0, "balanceGapOrig"] == 0.0
    assert f.loc[2, "balanceGapOrig"] == np.float32(170136.0) - np.float32(9839.64)
    assert list(f["destZeroBefore"]) == [1.0, 0.0, 1.0]
    assert f.loc[1, "amt_ratio_orig"] == RATIO_UNDEFINED


def test_full_features_need_the_post_transaction_balances() -> None:
    with pytest.raises(ValueError, match="newbalanceDest"):
        PaySimFeatures().fit(raw().drop(columns=["newbalanceDest"]))
