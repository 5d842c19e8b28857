"""The XGBoost trees as an ONNX TreeEnsembleClassifier, through onnxmltools.

XGBoost sends a row left when ``x < split`` (float32) and sends NaN the model's default way;
onnxmltools emits ``BRANCH_LT`` nodes with ``nodes_missing_value_tracks_true`` and onnxruntime
compares the float32 feature with the float32 threshold the same way. tests/test_convert_trees.py
checks this on values equal to and one ulp around every split threshold.
"""

from __future__ import annotations

import copy
import json
from typing import Final

import numpy as np
import onnx
import onnxmltools
from onnxmltools.convert.common.data_types import FloatTensorType
from xgboost import XGBClassifier

from convert import ONNX_OPSET
from convert.errors import UnsupportedModelError

#: Input and probability output names of the converted tree graph.
TREE_INPUT: Final = "features"
TREE_PROBABILITIES: Final = "probabilities"


def base_margin(model: XGBClassifier) -> float:
    """XGBoost's starting margin: logit of the saved base_score, in float32 like XGBoost.

    xgboost 3 saves ``base_score`` as a probability (a JSON list such as ``"[6.96E-1]"``) and
    starts every prediction at ``-log(1/base_score - 1)``.
    """
    config = json.loads(model.get_booster().save_config())
    raw = config["learner"]["learner_model_param"]["base_score"]
    values = json.loads(raw) if raw.strip().startswith("[") else [float(raw)]
    if len(values) != 1:
        raise UnsupportedModelError(f"expected one base_score for a binary model, got {raw}")
    score = np.float32(values[0])
    return float(-np.log(np.float32(1.0) / score - np.float32(1.0)))


def fold_base_margin(node: onnx.NodeProto, margin: float) -> None:
    """Add the base margin to the leaves of tree 0 instead of using ``base_values``.

    XGBoost sums in float32 starting from the base margin: ``((base + leaf0) + leaf1) + ...``.
    onnxruntime adds ``base_values`` after the trees, which rounds differently; with the base
    folded into tree 0 (``float32(base + leaf0)``), a row summed in tree order (one thread, as
    the service runs) gets XGBoost's exact margin. Measured: max |diff| 7.7e-7 -> 0.9e-7.
    """
    attrs = {a.name: a for a in node.attribute}
    weights = np.array(attrs["class_weights"].floats, dtype=np.float32)
    first = np.array(attrs["class_treeids"].ints) == 0
    weights[first] = np.float32(margin) + weights[first]
    attrs["class_weights"].floats[:] = weights.tolist()
    kept = [a for a in node.attribute if a.name != "base_values"]
    del node.attribute[:]
    node.attribute.extend(kept)


def _unnamed_copy(model: XGBClassifier) -> XGBClassifier:
    """A copy whose booster has no feature names: onnxmltools reads splits as ``f<index>``.

    The caller's model is left untouched (its booster may carry names if fitted on a frame).
    """
    clone = copy.copy(model)
    booster = model.get_booster().copy()
    booster.feature_names = None
    booster.feature_types = None
    clone._Booster = booster
    return clone


def convert_trees(model: XGBClassifier, n_features: int) -> onnx.ModelProto:
    """Convert a fitted binary XGBClassifier: ``features`` [N, F] -> ``probabilities`` [N, 2].

    ZipMap does not exist on this path (onnxmltools' XGBoost converter outputs a plain tensor).
    The base margin comes from :func:`base_margin` (not the converter's special cases) and is
    folded into tree 0 (:func:`fold_base_margin`).
    """
    objective = model.get_xgb_params().get("objective")
    if objective != "binary:logistic":
        raise UnsupportedModelError(f"only objective binary:logistic is supported, got {objective}")
    if list(model.classes_) != [0, 1]:
        raise UnsupportedModelError(f"expected classes [0, 1], got {list(model.classes_)}")
    onnx_model = onnxmltools.convert_xgboost(
        _unnamed_copy(model),
        initial_types=[(TREE_INPUT, FloatTensorType([None, n_features]))],
        target_opset=ONNX_OPSET,
    )
    ensembles = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(ensembles) != 1:
        raise UnsupportedModelError(f"expected one TreeEnsembleClassifier, got {len(ensembles)}")
    node = ensembles[0]
    attrs = {a.name: a for a in node.attribute}
    modes = {m.decode() for m in attrs["nodes_modes"].strings}
    if modes - {"BRANCH_LT", "LEAF"}:
        raise UnsupportedModelError(f"unexpected tree node modes {sorted(modes)}")
    if attrs["post_transform"].s != b"LOGISTIC":
        raise UnsupportedModelError(f"unexpected post_transform {attrs['post_transform'].s!r}")
    fold_base_margin(node, base_margin(model))
    outputs = [o.name for o in onnx_model.graph.output]
    if outputs[-1] != TREE_PROBABILITIES or onnx_model.graph.output[-1].type.tensor_type is None:
        raise UnsupportedModelError(f"unexpected tree outputs {outputs}")
    return onnx_model
