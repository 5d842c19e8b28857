"""Feature engineering from raw PaySim columns, as a scikit-learn transformer.

Every feature is computed in float32 with an order of operations that the ONNX graph built by
convert/ reproduces exactly (the same IEEE float32 operations, one at a time), so the exported
model sees bit-identical features. Feature names and order are defined here and nowhere else.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from service.schema import MODEL_INPUTS, NUMERIC_FIELDS, PREAUTH_INPUTS, TRANSACTION_TYPES

#: Value of amt_ratio_orig when the origin balance is zero (the ratio is undefined there).
RATIO_UNDEFINED: Final = np.float32(-1.0)

#: Feature names per feature set, in the column order the model is trained on.
FEATURE_SETS: Final[dict[str, tuple[str, ...]]] = {
    "full": (
        *NUMERIC_FIELDS,
        *(f"type_{t}" for t in TRANSACTION_TYPES),
        "amt_ratio_orig",
        "errorBalanceOrig",
        "errorBalanceDest",
        "hour",
    ),
    # Only what is known before the transaction executes: no post-transaction balance, and
    # nothing derived from one. See docs/preauth.md for what each feature adds.
    "preauth": (
        "step",
        "amount",
        "oldbalanceOrg",
        "oldbalanceDest",
        *(f"type_{t}" for t in TRANSACTION_TYPES),
        "amt_ratio_orig",
        "balanceGapOrig",
        "emptiesOrig",
        "destZeroBefore",
        "hour",
    ),
}

#: Raw inputs each feature set needs (the ONNX model's inputs, in order).
FEATURE_SET_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "full": MODEL_INPUTS,
    "preauth": PREAUTH_INPUTS,
}


def type_codes(types: Any) -> np.ndarray:
    """Map transaction type strings to their index in TRANSACTION_TYPES; unknown values raise."""
    if isinstance(types, pd.Series) and isinstance(types.dtype, pd.CategoricalDtype):
        lookup = np.array(
            [
                TRANSACTION_TYPES.index(c) if c in TRANSACTION_TYPES else -1
                for c in types.cat.categories
            ],
            dtype=np.int8,
        )
        codes = np.where(types.cat.codes.to_numpy() < 0, -1, lookup[types.cat.codes.to_numpy()])
    else:
        values = np.asarray(types, dtype=object)
        codes = np.full(values.shape[0], -1, dtype=np.int8)
        for index, name in enumerate(TRANSACTION_TYPES):
            codes[values == name] = index
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        sample = np.asarray(types, dtype=object)[bad[:5]].tolist()
        raise ValueError(
            f"unknown transaction type value(s) {sample} in {bad.size} row(s); "
            f"allowed: {', '.join(TRANSACTION_TYPES)}"
        )
    return codes.astype(np.int8, copy=False)


def _ratio(c: dict[str, np.ndarray]) -> np.ndarray:
    ratio = np.full(c["amount"].shape[0], RATIO_UNDEFINED, dtype=np.float32)
    np.divide(c["amount"], c["oldbalanceOrg"], out=ratio, where=c["oldbalanceOrg"] > 0)
    return ratio


#: float32 computation of each engineered feature from float32 raw columns. Each line is one
#: IEEE operation after another, in the order the ONNX graph (convert/features_graph.py) uses.
ENGINEERED: Final[dict[str, Any]] = {
    "amt_ratio_orig": _ratio,
    "errorBalanceOrig": lambda c: (c["newbalanceOrig"] + c["amount"]) - c["oldbalanceOrg"],
    "errorBalanceDest": lambda c: (c["oldbalanceDest"] + c["amount"]) - c["newbalanceDest"],
    "hour": lambda c: np.fmod(c["step"], np.float32(24)),
    "balanceGapOrig": lambda c: c["oldbalanceOrg"] - c["amount"],
    "emptiesOrig": lambda c: (
        (c["oldbalanceOrg"] > 0) & (c["amount"] >= c["oldbalanceOrg"])
    ).astype(np.float32),
    "destZeroBefore": lambda c: (c["oldbalanceDest"] == 0).astype(np.float32),
}


def compute_features(
    columns: dict[str, np.ndarray], codes: np.ndarray, names: tuple[str, ...]
) -> np.ndarray:
    """The float32 feature matrix [N, len(names)] from float32 raw columns and type codes."""
    out = np.empty((codes.shape[0], len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        if name.startswith("type_"):
            out[:, j] = codes == TRANSACTION_TYPES.index(name.removeprefix("type_"))
        elif name in ENGINEERED:
            out[:, j] = ENGINEERED[name](columns)
        else:
            out[:, j] = columns[name]
    return out


class PaySimFeatures(TransformerMixin, BaseEstimator):
    """Turn raw PaySim columns into the model's float32 features.

    Parameters
    ----------
    feature_set : str, default="full"
        Which feature set to compute; see ``FEATURE_SETS``.
    """

    def __init__(self, feature_set: str = "full") -> None:
        self.feature_set = feature_set

    def fit(self, X: pd.DataFrame, y: Any = None) -> PaySimFeatures:
        """Check the columns; the transformer learns nothing from the data."""
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(
                f"feature_set must be one of {sorted(FEATURE_SETS)}, got {self.feature_set!r}"
            )
        self._check_columns(X)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.feature_names_out_ = np.asarray(FEATURE_SETS[self.feature_set], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the feature matrix, float32 of shape [n_rows, n_features]."""
        check_is_fitted(self, "feature_names_out_")
        self._check_columns(X)
        inputs = FEATURE_SET_INPUTS[self.feature_set]
        columns = {name: np.asarray(X[name], dtype=np.float32) for name in inputs if name != "type"}
        return compute_features(columns, type_codes(X["type"]), FEATURE_SETS[self.feature_set])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output features, in column order."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def _check_columns(self, X: Any) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"PaySimFeatures expects a pandas DataFrame, got {type(X).__name__}")
        missing = [c for c in FEATURE_SET_INPUTS[self.feature_set] if c not in X.columns]
        if missing:
            raise ValueError(f"missing column(s) for feature set {self.feature_set!r}: {missing}")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
