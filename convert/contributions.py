"""Per-feature contributions (Saabas path attribution) as an ONNX TreeEnsembleRegressor.

XGBoost's ``predict(..., pred_contribs=True, approx_contribs=True)`` depends only on the leaf
each tree reaches: walking from the root, every step adds ``mean(child) - mean(node)`` to the
split feature, where ``mean`` is the cover-weighted mean of the leaf values below a node
(``FillNodeMeanValues``: ``(mean(left) * cover(left) + mean(right) * cover(right)) / cover``),
and the root's mean goes to the bias. So each leaf carries a fixed vector, and a
TreeEnsembleRegressor with one target per feature plus the bias sums those vectors over trees.

Arithmetic follows XGBoost's (src/predictor/treeshap.cc and interpretability/shap.cc) in float32,
step by step: node means, the per-tree path sums, then the trees added in order into a zeroed row
and the base margin added to the bias last. onnxruntime sums the leaf vectors in tree order too
(one intra-op thread) and adds ``base_values`` after the trees, so the base margin goes there,
not into tree 0 (the classifier's folding in convert/trees.py does not concern this output).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from xgboost import XGBClassifier

from convert.errors import UnsupportedModelError
from convert.graph import ML_DOMAIN, GraphBuilder
from convert.trees import base_margin

#: Graph output: float32 [N, n_features + 1], log-odds; last column the bias.
CONTRIBUTIONS: Final = "contributions"
#: Name of the last contribution column.
BIAS: Final = "bias"
#: Optional bool scalar input switching the contributions on (an overridable initializer,
#: default false, so ``session.get_inputs()`` still lists only the raw fields).
EXPLAIN_INPUT: Final = "explain"

F32 = np.float32


@dataclass(frozen=True)
class Tree:
    """One booster tree in XGBoost's own node numbering (arrays indexed by node id)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    split: np.ndarray  # float32 split threshold; the leaf value at leaves
    default_left: np.ndarray
    cover: np.ndarray  # float32 sum of hessians

    def is_leaf(self, node: int) -> bool:
        return bool(self.left[node] == -1)


def booster_trees(model: XGBClassifier) -> list[Tree]:
    """The trees of a binary model's booster, read from its JSON dump (exact float32 values)."""
    learner = json.loads(model.get_booster().save_raw("json"))["learner"]
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        raise UnsupportedModelError(f"contributions need a gbtree booster, got {booster['name']}")
    trees = []
    for raw in booster["model"]["trees"]:
        if any(raw["split_type"]) or raw["categories"]:
            raise UnsupportedModelError("categorical splits are not supported")
        if int(raw["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedModelError("vector-leaf trees are not supported")
        trees.append(
            Tree(
                left=np.asarray(raw["left_children"], dtype=np.int64),
                right=np.asarray(raw["right_children"], dtype=np.int64),
                feature=np.asarray(raw["split_indices"], dtype=np.int64),
                split=np.asarray(raw["split_conditions"], dtype=F32),
                default_left=np.asarray(raw["default_left"], dtype=bool),
                cover=np.asarray(raw["sum_hessian"], dtype=F32),
            )
        )
    return trees


def node_means(tree: Tree) -> np.ndarray:
    """XGBoost's FillNodeMeanValues in float32: the cover-weighted mean value below each node."""
    means = np.zeros(len(tree.left), dtype=F32)
    # Children always have larger ids than their parent, so a reverse sweep is a post-order.
    for node in range(len(tree.left) - 1, -1, -1):
        if tree.is_leaf(node):
            means[node] = tree.split[node]
        else:
            left, right = tree.left[node], tree.right[node]
            total = F32(means[left] * tree.cover[left])
            total = F32(total + F32(means[right] * tree.cover[right]))
            means[node] = F32(total / tree.cover[node])
    return means


def leaf_vectors(tree: Tree, n_features: int) -> dict[int, np.ndarray]:
    """Per leaf id, the float32 [n_features + 1] contributions of this tree for rows reaching it."""
    means = node_means(tree)
    vectors: dict[int, np.ndarray] = {}
    # Depth-first over paths, carrying the partial vector (XGBoost adds along the path in order).
    start = np.zeros(n_features + 1, dtype=F32)
    start[n_features] = means[0]
    stack: list[tuple[int, np.ndarray]] = [(0, start)]
    while stack:
        node, acc = stack.pop()
        if tree.is_leaf(node):
            vectors[node] = acc
            continue
        feature = int(tree.feature[node])
        if feature >= n_features:
            raise UnsupportedModelError(f"split on feature {feature} of {n_features}")
        for child in (int(tree.left[node]), int(tree.right[node])):
            step = acc.copy()
            step[feature] = F32(step[feature] + F32(means[child] - means[node]))
            stack.append((child, step))
    return vectors


def ensemble_attributes(model: XGBClassifier, n_features: int) -> dict[str, object]:
    """Attributes of the TreeEnsembleRegressor computing the contributions of ``model``.

    Splits are XGBoost's ``x < split`` (``BRANCH_LT``, true = left) with NaN sent the trained
    default way, on the same float32 thresholds as the classifier. Zero weights are left out
    (adding 0 changes nothing) except the bias, which keeps the graph small.
    """
    nodes: dict[str, list] = {
        k: []
        for k in (
            "treeids",
            "nodeids",
            "featureids",
            "values",
            "modes",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        )
    }
    targets: dict[str, list] = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    for t, tree in enumerate(booster_trees(model)):
        for node in range(len(tree.left)):
            leaf = tree.is_leaf(node)
            nodes["treeids"].append(t)
            nodes["nodeids"].append(node)
            nodes["featureids"].append(0 if leaf else int(tree.feature[node]))
            nodes["values"].append(0.0 if leaf else float(tree.split[node]))
            nodes["modes"].append("LEAF" if leaf else "BRANCH_LT")
            nodes["truenodeids"].append(0 if leaf else int(tree.left[node]))
            nodes["falsenodeids"].append(0 if leaf else int(tree.right[node]))
            nodes["missing_value_tracks_true"].append(int(not leaf and tree.default_left[node]))
        for leaf, vector in sorted(leaf_vectors(tree, n_features).items()):
            # Every leaf keeps its bias entry, so no leaf is left without a target weight.
            for column in [*np.flatnonzero(vector[:n_features]), n_features]:
                targets["treeids"].append(t)
                targets["nodeids"].append(leaf)
                targets["ids"].append(int(column))
                targets["weights"].append(float(vector[column]))
    base = [0.0] * (n_features + 1)
    base[n_features] = float(F32(base_margin(model)))
    return {
        **{f"nodes_{k}": v for k, v in nodes.items()},
        **{f"target_{k}": v for k, v in targets.items()},
        "n_targets": n_features + 1,
        "base_values": base,
        "aggregate_function": "SUM",
        "post_transform": "NONE",
    }


def add_contributions(
    builder: GraphBuilder, features: str, model: XGBClassifier, n_features: int
) -> str:
    """Add the contributions node on the [N, F] ``features`` tensor; return its [N, F+1] output."""
    return builder.op(
        "TreeEnsembleRegressor",
        [features],
        domain=ML_DOMAIN,
        **ensemble_attributes(model, n_features),
    )


def add_gated_contributions(
    builder: GraphBuilder, features: str, model: XGBClassifier, n_features: int
) -> str:
    """Contributions computed only when the ``explain`` input is fed true.

    onnxruntime runs every node of a graph whatever outputs a ``run`` fetches (measured, see
    docs/explanations.md), so an ungated contributions node would cost every request. An ``If``
    runs only the branch its condition picks: ``explain`` true gives the [N, F+1]
    contributions, false (the default) an empty [0, F+1] tensor, for almost nothing.
    """
    builder.initializers.append(numpy_helper.from_array(np.array(False), EXPLAIN_INPUT))
    builder.inputs[EXPLAIN_INPUT] = helper.make_tensor_value_info(
        EXPLAIN_INPUT, TensorProto.BOOL, []
    )
    width = n_features + 1
    # Branch tensors and nodes take fresh names from the outer builder: no shadowing.
    computed = builder.fresh("contributions_computed")
    then_graph = helper.make_graph(
        [
            helper.make_node(
                "TreeEnsembleRegressor",
                [features],
                [computed],
                name=builder.fresh("n_TreeEnsembleRegressor"),
                domain=ML_DOMAIN,
                **ensemble_attributes(model, n_features),
            )
        ],
        builder.fresh("explain_branch"),
        [],
        [helper.make_tensor_value_info(computed, TensorProto.FLOAT, ["N", width])],
    )
    empty = builder.fresh("no_contributions")
    else_graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                [empty],
                name=builder.fresh("n_Constant"),
                value=numpy_helper.from_array(np.zeros((0, width), dtype=F32)),
            )
        ],
        builder.fresh("no_explain_branch"),
        [],
        [helper.make_tensor_value_info(empty, TensorProto.FLOAT, [0, width])],
    )
    return builder.op("If", [EXPLAIN_INPUT], then_branch=then_graph, else_branch=else_graph)


def contribution_columns(feature_names: tuple[str, ...] | list[str]) -> list[str]:
    """Names of the contribution columns: the features in model order, then ``bias``."""
    return [*feature_names, BIAS]
