"""batch/fast_trees.py: the trees on onnxruntime's one-output path are used for a fraud-train model,
give bit-identical probabilities, and are refused (the model used as loaded) for any other shape or
when the check rows disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from bench_artifacts import trained_artifacts
from onnx import helper

import batch.fast_trees as fast_trees
from batch.fast_trees import check_rows, fast_model, rewrite
from service.model import open_model
from service.model.store import FetchedModel
from service.settings import Settings


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_artifacts(tmp_path_factory) / "model.onnx"


@pytest.fixture(scope="module")
def fetched(model_path: Path) -> FetchedModel:
    data = model_path.read_bytes()
    return FetchedModel(data, str(model_path), "0" * 64)


def opened(fetched: FetchedModel) -> tuple[Any, Settings]:
    settings = Settings(model_uri=fetched.source)
    return open_model(fetched, settings), settings


def test_a_fraud_train_model_is_rewritten_and_scores_the_same_bits(fetched: FetchedModel) -> None:
    data = rewrite(fetched.data)
    assert data is not None
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert "TreeEnsembleClassifier" not in ops
    assert {"TreeEnsembleRegressor", "LinearClassifier"} <= set(ops)
    model, settings = opened(fetched)
    fast = fast_model(model, fetched, settings)
    assert fast.session is not model.session  # the fast path was taken
    rows = check_rows(model, n=50_000, seed=3)
    (p, labels), (q, fast_labels) = model.score(rows), fast.score(rows)
    assert np.array_equal(p.view(np.uint32), q.view(np.uint32))
    assert np.array_equal(labels, fast_labels)
    # The check rows reach both ends of the probability range, not only the easy middle.
    assert p.min() < 1e-3 and p.max() > 0.9


def test_other_shapes_are_not_rewritten(fetched: FetchedModel) -> None:
    graph_model = onnx.load_from_string(fetched.data)
    trees = next(n for n in graph_model.graph.node if n.op_type == "TreeEnsembleClassifier")
    for attribute in trees.attribute:
        if attribute.name == "post_transform":
            attribute.CopyFrom(helper.make_attribute("post_transform", "NONE"))
    assert rewrite(graph_model.SerializeToString()) is None
    trees.attribute.append(helper.make_attribute("base_values", [0.5]))
    assert rewrite(graph_model.SerializeToString()) is None


def test_a_rewrite_that_disagrees_is_not_used(
    fetched: FetchedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = fast_trees.rewrite

    def shifted(data: bytes) -> bytes | None:
        rewritten = original(data)
        assert rewritten is not None
        graph_model = onnx.load_from_string(rewritten)
        logistic = next(n for n in graph_model.graph.node if n.op_type == "LinearClassifier")
        for attribute in logistic.attribute:
            if attribute.name == "intercepts":
                attribute.CopyFrom(helper.make_attribute("intercepts", [1e-3]))
        return bytes(graph_model.SerializeToString())

    monkeypatch.setattr(fast_trees, "rewrite", shifted)
    model, settings = opened(fetched)
    assert fast_model(model, fetched, settings) is model


def test_without_onnx_the_model_is_used_as_loaded(
    fetched: FetchedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_onnx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    model, settings = opened(fetched)
    assert rewrite(fetched.data) is None
    assert fast_model(model, fetched, settings) is model
