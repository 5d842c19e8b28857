"""Feature engineering of train/features.py as ONNX operators, bit for bit.

Each feature of ``train.features.FEATURE_SETS`` has a definition here that adds the nodes
computing it as a float32 tensor of shape ``[N]``, using the same IEEE float32 operations in the
same order as ``train.features`` (one op per numpy op, so every rounding step is identical).
A new feature set only needs definitions for its new feature names (and its raw inputs in
``FEATURE_SET_INPUTS``); a string input such as ``nameDest`` is declared the same way as ``type``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

from convert.graph import ELEM_TYPES, ML_DOMAIN, GraphBuilder
from service.schema import INPUT_TYPES, NUMERIC_FIELDS, TRANSACTION_TYPES
from train.features import FEATURE_SET_INPUTS, FEATURE_SETS, RATIO_UNDEFINED

#: Name of the [N, n_features] float32 tensor inside the exported graph; later stages
#: (e.g. per-feature contributions) can consume it by this name.
FEATURES_TENSOR = "features"

#: Type code the LabelEncoder gives a ``type`` value outside TRANSACTION_TYPES: such a row gets
#: an all-zero one-hot. The graph cannot reject it, so the service validates ``type`` first.
UNKNOWN_TYPE_CODE = -1

FeatureDef = Callable[["FeatureGraph"], str]


class FeatureGraph:
    """Raw inputs of one feature set, declared on a GraphBuilder, plus shared intermediates."""

    def __init__(self, builder: GraphBuilder, feature_set: str) -> None:
        self.b = builder
        self.allowed = FEATURE_SET_INPUTS[feature_set]
        for name in self.allowed:  # declare up front so the graph inputs keep the contract order
            self.raw(name)

    def raw(self, name: str) -> str:
        """The raw input ``name`` (1-D, [N]) with its type from service.schema.INPUT_TYPES."""
        if name not in self.allowed:
            raise ValueError(f"feature uses input {name!r} outside {self.allowed}")
        return self.b.input(name, ELEM_TYPES[INPUT_TYPES[name]])

    def type_code(self) -> str:
        """int64 [N]: index of ``type`` in TRANSACTION_TYPES, computed once and shared."""
        if "type_code" not in self.b.cache:
            self.b.cache["type_code"] = self.b.op(
                "LabelEncoder",
                [self.raw("type")],
                domain=ML_DOMAIN,
                keys_strings=list(TRANSACTION_TYPES),
                values_int64s=list(range(len(TRANSACTION_TYPES))),
                default_int64=UNKNOWN_TYPE_CODE,
            )
        return self.b.cache["type_code"]


def _raw(name: str) -> FeatureDef:
    return lambda g: g.raw(name)


def _one_hot(index: int) -> FeatureDef:
    def build(g: FeatureGraph) -> str:
        hit = g.b.op("Equal", [g.type_code(), g.b.const("type_index", index, np.int64)])
        return g.b.op("Cast", [hit], to=TensorProto.FLOAT)

    return build


def _amt_ratio_orig(g: FeatureGraph) -> str:
    # np.divide(amount, old, out=full(-1), where=old > 0): NaN and <= 0 balances give -1.
    old, amount = g.raw("oldbalanceOrg"), g.raw("amount")
    positive = g.b.op("Greater", [old, g.b.const("zero", 0.0, np.float32)])
    ratio = g.b.op("Div", [amount, old])
    return g.b.op("Where", [positive, ratio, g.b.const("undefined", RATIO_UNDEFINED, np.float32)])


def _error_balance_orig(g: FeatureGraph) -> str:
    # (newbalanceOrig + amount) - oldbalanceOrg, in this order.
    total = g.b.op("Add", [g.raw("newbalanceOrig"), g.raw("amount")])
    return g.b.op("Sub", [total, g.raw("oldbalanceOrg")])


def _error_balance_dest(g: FeatureGraph) -> str:
    # (oldbalanceDest + amount) - newbalanceDest, in this order.
    total = g.b.op("Add", [g.raw("oldbalanceDest"), g.raw("amount")])
    return g.b.op("Sub", [total, g.raw("newbalanceDest")])


def _hour(g: FeatureGraph) -> str:
    # np.fmod(step, 24): C fmod semantics (sign of the dividend), exact in float32.
    return g.b.op("Mod", [g.raw("step"), g.b.const("day", 24.0, np.float32)], fmod=1)


#: How to compute each known feature name as a float32 [N] tensor.
FEATURE_DEFS: dict[str, FeatureDef] = {
    **{name: _raw(name) for name in NUMERIC_FIELDS},
    **{f"type_{t}": _one_hot(i) for i, t in enumerate(TRANSACTION_TYPES)},
    "amt_ratio_orig": _amt_ratio_orig,
    "errorBalanceOrig": _error_balance_orig,
    "errorBalanceDest": _error_balance_dest,
    "hour": _hour,
}


def build_features(builder: GraphBuilder, feature_set: str) -> str:
    """Add the raw inputs and feature nodes of ``feature_set``; return the [N, F] tensor name.

    Columns are in ``FEATURE_SETS[feature_set]`` order: the 1-D columns are concatenated along
    axis 0, reshaped to [F, N] and transposed (three nodes whatever F is).
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[feature_set]
    undefined = [n for n in names if n not in FEATURE_DEFS]
    if undefined:
        raise ValueError(f"no ONNX definition for feature(s) {undefined}")
    graph = FeatureGraph(builder, feature_set)
    columns = [FEATURE_DEFS[name](graph) for name in names]
    flat = builder.op("Concat", columns, axis=0)
    shape = builder.const("feature_shape", [len(names), -1], np.int64)
    by_feature = builder.op("Reshape", [flat, shape])
    return builder.op("Transpose", [by_feature], outputs=[FEATURES_TENSOR], perm=[1, 0])


def build_feature_model(feature_set: str) -> onnx.ModelProto:
    """The feature part alone (raw inputs -> ``features`` [N, F]), for tests and inspection."""
    builder = GraphBuilder(f"fraudlite_{feature_set}_features")
    features = build_features(builder, feature_set)
    builder.outputs.append(
        helper.make_tensor_value_info(
            features, TensorProto.FLOAT, ["N", len(FEATURE_SETS[feature_set])]
        )
    )
    return builder.model("fraudlite.convert", "features")
