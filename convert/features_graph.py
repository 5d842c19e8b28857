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


def _balance_gap_orig(g: FeatureGraph) -> str:
    # oldbalanceOrg - amount.
    return g.b.op("Sub", [g.raw("oldbalanceOrg"), g.raw("amount")])


def _empties_orig(g: FeatureGraph) -> str:
    # ((oldbalanceOrg > 0) & (amount >= oldbalanceOrg)) as 0/1 float32; NaN compares false.
    old, amount = g.raw("oldbalanceOrg"), g.raw("amount")
    funded = g.b.op("Greater", [old, g.b.const("zero", 0.0, np.float32)])
    emptied = g.b.op("GreaterOrEqual", [amount, old])
    return g.b.op("Cast", [g.b.op("And", [funded, emptied])], to=TensorProto.FLOAT)


def _dest_zero_before(g: FeatureGraph) -> str:
    # oldbalanceDest == 0 as 0/1 float32 (-0.0 counts as zero, NaN does not).
    zero = g.b.op("Equal", [g.raw("oldbalanceDest"), g.b.const("zero", 0.0, np.float32)])
    return g.b.op("Cast", [zero], to=TensorProto.FLOAT)


def _hour(g: FeatureGraph) -> str:
    # np.fmod(step, 24): C fmod semantics (sign of the dividend), exact in float32.
    return g.b.op("Mod", [g.raw("step"), g.b.const("day", 24.0, np.float32)], fmod=1)


def _one_hot_block(g: FeatureGraph) -> str:
    # All type columns at once, feature-major and flattened to [5 * N]: 4 nodes instead of 10.
    code = g.b.op("Unsqueeze", [g.type_code(), g.b.const("axis0", [0], np.int64)])
    indices = np.arange(len(TRANSACTION_TYPES), dtype=np.int64).reshape(-1, 1)
    hits = g.b.op("Equal", [code, g.b.const("type_indices", indices, np.int64)])  # [5, N]
    block = g.b.op("Cast", [hits], to=TensorProto.FLOAT)
    return g.b.op("Reshape", [block, g.b.const("flat", [-1], np.int64)])


#: How to compute each known feature name as a float32 [N] tensor.
FEATURE_DEFS: dict[str, FeatureDef] = {
    **{name: _raw(name) for name in NUMERIC_FIELDS},
    **{f"type_{t}": _one_hot(i) for i, t in enumerate(TRANSACTION_TYPES)},
    "amt_ratio_orig": _amt_ratio_orig,
    "errorBalanceOrig": _error_balance_orig,
    "errorBalanceDest": _error_balance_dest,
    "hour": _hour,
    "balanceGapOrig": _balance_gap_orig,
    "emptiesOrig": _empties_orig,
    "destZeroBefore": _dest_zero_before,
}


#: Runs of consecutive features computed together, as one flattened feature-major [k * N]
#: tensor; used when a feature set lists the run in this order, else FEATURE_DEFS apply.
GROUP_DEFS: dict[tuple[str, ...], FeatureDef] = {
    tuple(f"type_{t}" for t in TRANSACTION_TYPES): _one_hot_block,
}


def _pieces(graph: FeatureGraph, names: tuple[str, ...]) -> list[str]:
    """Flattened feature-major pieces covering ``names`` in order."""
    pieces, i = [], 0
    while i < len(names):
        group = next((k for k in GROUP_DEFS if names[i : i + len(k)] == k), None)
        if group is not None:
            pieces.append(GROUP_DEFS[group](graph))
            i += len(group)
        else:
            pieces.append(FEATURE_DEFS[names[i]](graph))
            i += 1
    return pieces


def build_features(
    builder: GraphBuilder, feature_set: str, names: tuple[str, ...] | None = None
) -> str:
    """Add the raw inputs and feature nodes of ``feature_set``; return the [N, F] tensor name.

    Columns are ``names`` (default ``FEATURE_SETS[feature_set]``) in order: the feature-major
    pieces are concatenated along axis 0, reshaped to [F, N] and transposed (three nodes
    whatever F is).
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[feature_set] if names is None else tuple(names)
    undefined = [n for n in names if n not in FEATURE_DEFS]
    if undefined:
        raise ValueError(f"no ONNX definition for feature(s) {undefined}")
    graph = FeatureGraph(builder, feature_set)
    flat = builder.op("Concat", _pieces(graph, names), axis=0)
    shape = builder.const("feature_shape", [len(names), -1], np.int64)
    by_feature = builder.op("Reshape", [flat, shape])
    return builder.op("Transpose", [by_feature], outputs=[FEATURES_TENSOR], perm=[1, 0])


def build_feature_model(feature_set: str, names: tuple[str, ...] | None = None) -> onnx.ModelProto:
    """The feature part alone (raw inputs -> ``features`` [N, F]), for tests and inspection."""
    builder = GraphBuilder(f"fraudlite_{feature_set}_features")
    features = build_features(builder, feature_set, names)
    width = len(FEATURE_SETS[feature_set] if names is None else names)
    builder.outputs.append(helper.make_tensor_value_info(features, TensorProto.FLOAT, ["N", width]))
    return builder.model("fraudlite.convert", "features")
