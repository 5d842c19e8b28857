"""The model's trees on onnxruntime's one-output path for batch scoring: same bits, less CPU.

fraud-train exports a binary XGBoost model as a ``TreeEnsembleClassifier`` with two class labels.
onnxruntime (1.32) evaluates a two-label ensemble on its general multi-class path: a vector of two
scores per row and a loop over each leaf's weights, about 2.8 µs of CPU per row for 200 trees. The
same trees as a one-target ``TreeEnsembleRegressor`` take the one-output path (a float per row,
the leaf's weight added directly), about 1.85 µs per row; a ``LinearClassifier`` with coefficient
1 and intercept 0 then turns that margin into the two probabilities with ``post_transform
LOGISTIC``.

Why the probabilities are the same bits, not merely close: both paths add the leaves' weights in
float32 in tree order, row by row, from 0 (the margin), and both end in onnxruntime's
``write_scores`` binary case, ``ComputeLogistic(margin)``; ``margin * 1 + 0`` is the margin
exactly. This holds only for the shape checked in :func:`rewrite` (one classifier, labels
``[0, 1]``, every weight on class 0 and some negative, no base values, ``LOGISTIC``); any other
model is scored as it is. And it is not taken on trust: :func:`fast_model` scores a few thousand
generated rows, spread over the whole probability range, with both sessions and keeps the
rewritten one only when every probability and label is bit for bit the same; otherwise, or when
the ``onnx`` package is not installed, the model is used as loaded. The service never uses this:
``/predict`` scores the model file as it is (tests compare fraud-score's answers with its).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Final

import numpy as np
import onnxruntime as ort

from service.model import LoadedModel
from service.model.loading import session_options
from service.model.store import FetchedModel
from service.settings import Settings

log = logging.getLogger(__name__)

ML_DOMAIN: Final = "ai.onnx.ml"
#: Generated rows scored by both sessions before the rewritten one is used.
CHECK_ROWS: Final = 20_000
_TREE_ATTRIBUTES: Final = (
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
)
#: Classifier attributes the rewrite carries over or checks; any other one means "not this shape".
_KNOWN: Final = {
    *_TREE_ATTRIBUTES,
    "nodes_hitrates",
    "class_ids",
    "class_nodeids",
    "class_treeids",
    "class_weights",
    "classlabels_int64s",
    "post_transform",
}


def rewrite(model_bytes: bytes) -> bytes | None:
    """The model with its TreeEnsembleClassifier replaced by a one-target TreeEnsembleRegressor
    and a LinearClassifier (coefficient 1, intercept 0, LOGISTIC), or None when the graph is not
    the binary, class-0, base-value-free shape for which both give the same bits."""
    try:
        import onnx
        from onnx import helper
    except ImportError:  # the batch extra does not need it; without it the model runs as is
        return None
    graph_model = onnx.load_from_string(model_bytes)
    graph = graph_model.graph
    found = [
        i
        for i, node in enumerate(graph.node)
        if node.op_type == "TreeEnsembleClassifier" and node.domain == ML_DOMAIN
    ]
    if len(found) != 1:
        return None
    index = found[0]
    node = graph.node[index]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attributes) - _KNOWN or len(node.output) != 2:
        return None
    weights = list(attributes.get("class_weights", []))
    if (
        list(attributes.get("classlabels_int64s", [])) != [0, 1]
        or attributes.get("post_transform") != b"LOGISTIC"
        or set(attributes.get("class_ids", [])) != {0}
        or not any(w < 0 for w in weights)  # all positive: onnxruntime skips the logistic
    ):
        return None
    trees = helper.make_node(
        "TreeEnsembleRegressor",
        list(node.input),
        [f"{node.name}/fast_margin"],
        domain=ML_DOMAIN,
        name=f"{node.name}/fast_trees",
        n_targets=1,
        target_ids=[0] * len(weights),
        target_nodeids=list(attributes["class_nodeids"]),
        target_treeids=list(attributes["class_treeids"]),
        target_weights=weights,
        **{name: list(attributes[name]) for name in _TREE_ATTRIBUTES if name in attributes},
    )
    logistic = helper.make_node(
        "LinearClassifier",
        list(trees.output),
        list(node.output),  # the classifier's label and probabilities, for the nodes after it
        domain=ML_DOMAIN,
        name=f"{node.name}/fast_logistic",
        coefficients=[1.0],
        intercepts=[0.0],
        classlabels_ints=[0, 1],
        post_transform="LOGISTIC",
    )
    nodes = list(graph.node)
    nodes[index : index + 1] = [trees, logistic]
    del graph.node[:]
    graph.node.extend(nodes)
    return bytes(graph_model.SerializeToString())


def fast_model(model: LoadedModel, fetched: FetchedModel, settings: Settings) -> LoadedModel:
    """``model`` scoring through the rewritten graph when it gives the same bits on the check
    rows, else ``model`` itself. Never raises: a rewrite that fails is a model used as loaded."""
    try:
        data = rewrite(fetched.data)
        if data is None:
            return model
        session = ort.InferenceSession(
            data, sess_options=session_options(settings), providers=["CPUExecutionProvider"]
        )
        fast = dataclasses.replace(model, session=session)
        rows = check_rows(model)
        expected, labels = model.score(rows)
        got, got_labels = fast.score(rows)
        if not (
            np.array_equal(expected.view(np.uint32), got.view(np.uint32))
            and np.array_equal(labels, got_labels)
        ):
            log.warning("fast trees differ from the model's own on the check rows: not used")
            return model
        return fast
    except Exception as exc:  # any surprise: score with the model as loaded
        log.warning("fast trees not used: %s: %s", type(exc).__name__, exc)
        return model


def check_rows(model: LoadedModel, n: int = CHECK_ROWS, seed: int = 19) -> dict[str, np.ndarray]:
    """Generated transactions over the whole probability range: half random, half shaped like
    PaySim frauds (the origin emptied by a TRANSFER or CASH_OUT), zeros and large values."""
    rng = np.random.default_rng(seed)
    half = n // 2
    amount = np.exp(rng.uniform(0, np.log(2e7), n)).round(2)
    amount[: n // 50] = 0.0
    old_org = np.where(np.arange(n) < half, np.exp(rng.uniform(0, np.log(5e7), n)).round(2), amount)
    old_org[rng.random(n) < 0.2] = 0.0
    new_org = np.where(np.arange(n) < half, np.maximum(old_org - amount, 0.0), 0.0)
    old_dest = np.where(rng.random(n) < 0.4, 0.0, np.exp(rng.uniform(0, np.log(5e7), n)).round(2))
    new_dest = np.where(rng.random(n) < 0.5, old_dest + amount, old_dest)
    numbers = {
        "step": rng.integers(0, 744, n).astype(np.float64),
        "amount": amount,
        "oldbalanceOrg": old_org,
        "newbalanceOrig": new_org,
        "oldbalanceDest": old_dest,
        "newbalanceDest": new_dest,
    }
    types = np.array(model.metadata.type_values, dtype=object)
    fraud_types = np.array(
        [t for t in ("TRANSFER", "CASH_OUT") if t in model.metadata.type_values] or types,
        dtype=object,
    )
    rows: dict[str, np.ndarray] = {}
    for spec in model.metadata.inputs:
        if spec.name == "type":
            rows[spec.name] = np.concatenate(
                [
                    types[rng.integers(0, len(types), half)],
                    fraud_types[rng.integers(0, len(fraud_types), n - half)],
                ]
            )
        elif spec.type == "string":
            rows[spec.name] = np.array([f"C{v}" for v in rng.integers(1, 10**9, n)], dtype=object)
        else:
            values = numbers.get(spec.name)
            if values is None:
                values = np.exp(rng.uniform(0, np.log(1e7), n)).round(2)
            rows[spec.name] = values.astype(np.float32)
    return rows
