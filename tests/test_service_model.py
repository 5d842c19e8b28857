"""Model loading: contract checks, refusals with reasons, warm-up, scoring parity with ORT."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
from service_model import (
    PREAUTH_INPUTS,
    broken_models,
    build_model,
    columns_of,
    direct_scores,
    example_rows,
    stamp_version,
)

from service import schema
from service.model import LoadedModel, ModelLoadFailure, load_model, session_options
from service.settings import Settings


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def full_model(model_dir: Path) -> Path:
    return build_model(model_dir / "full.onnx", threshold=0.5)


def _load(path: Path, **overrides: object) -> LoadedModel | ModelLoadFailure:
    return load_model(Settings(model_uri=str(path), **overrides))  # type: ignore[arg-type]


def test_loads_a_contract_model_and_reads_its_metadata(full_model: Path) -> None:
    model = _load(full_model)
    assert isinstance(model, LoadedModel)
    assert model.input_names == schema.MODEL_INPUTS
    assert model.threshold == 0.5
    assert model.threshold_source == "model"
    assert len(model.version) == 16
    info = model.describe()
    assert info["format"] == schema.MODEL_FORMAT
    assert info["input_schema"] == schema.input_schema()
    assert info["metrics"]["pr_auc"] == 0.9
    assert info["created_at"] == "2024-01-01T00:00:00Z"
    # The file's hash, source and library versions only when asked (FRAUD_EXPOSE_MODEL_DETAILS).
    assert not {"sha256", "source", "versions"} & set(info)
    detailed = model.describe(expose_details=True)
    assert len(detailed["sha256"]) == 64 and detailed["source"] == str(full_model)


def test_scores_equal_onnxruntime_direct_output(full_model: Path) -> None:
    model = _load(full_model)
    assert isinstance(model, LoadedModel)
    rows = example_rows(300, seed=3)
    probabilities, labels = model.score(columns_of(rows, model.input_names))
    expected_p, expected_label = direct_scores(full_model, rows)
    assert probabilities.dtype == np.float32
    np.testing.assert_array_equal(probabilities, expected_p)
    np.testing.assert_array_equal(labels.astype(np.int64), expected_label)
    assert 0 < labels.sum() < len(rows), "test rows should include both classes"


def test_threshold_override_changes_labels_not_probabilities(full_model: Path) -> None:
    base = _load(full_model)
    strict = _load(full_model, threshold=0.95)
    assert isinstance(base, LoadedModel) and isinstance(strict, LoadedModel)
    assert strict.threshold == 0.95 and strict.threshold_source == "FRAUD_THRESHOLD"
    assert strict.describe()["model_threshold"] == 0.5
    columns = columns_of(example_rows(200, seed=4), base.input_names)
    p_base, l_base = base.score(columns)
    p_strict, l_strict = strict.score(columns)
    np.testing.assert_array_equal(p_base, p_strict)
    np.testing.assert_array_equal(l_strict, p_strict >= np.float32(0.95))
    assert l_strict.sum() < l_base.sum()


def test_a_model_with_fewer_inputs_is_served_by_its_own_input_list(model_dir: Path) -> None:
    path = build_model(model_dir / "preauth.onnx", inputs=PREAUTH_INPUTS, feature_set="preauth")
    model = _load(path)
    assert isinstance(model, LoadedModel)
    assert model.input_names == PREAUTH_INPUTS
    rows = example_rows(20, seed=5)
    probabilities, _ = model.score(columns_of(rows, PREAUTH_INPUTS))
    np.testing.assert_array_equal(probabilities, direct_scores(path, rows)[0])


def test_extra_outputs_are_allowed_and_reported(model_dir: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    path = build_model(model_dir / "extra.onnx")
    proto = onnx.load(path)
    proto.graph.node.append(helper.make_node("Identity", ["z"], ["contributions"]))
    proto.graph.output.append(
        helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["N"])
    )
    stamp_version(proto)  # the edited graph is a new model with its own verified version
    onnx.save(proto, path)
    model = _load(path)
    assert isinstance(model, LoadedModel)
    assert model.extra_outputs == ("contributions",)


def test_broken_models_are_refused_with_a_reason(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cases = broken_models(model_dir / "broken")
    assert len(cases) >= 8
    for name, (path, needle) in cases.items():
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="fraudlite.model"):
            result = _load(path)
        assert isinstance(result, ModelLoadFailure), name
        assert needle in result.reason, (name, result.reason)
        assert [r.getMessage() for r in caplog.records] == [
            f"model not loaded: {result.kind}: {result.reason}"
        ], name


@pytest.mark.parametrize(
    ("uri", "needle"),
    [(None, "FRAUD_MODEL_URI is not set"), ("/nonexistent/model.onnx", "not found")],
)
def test_missing_model_files(uri: str | None, needle: str) -> None:
    result = load_model(Settings(model_uri=uri))
    assert isinstance(result, ModelLoadFailure)
    assert needle in result.reason


def test_a_directory_is_not_a_model(model_dir: Path) -> None:
    result = _load(model_dir)
    assert isinstance(result, ModelLoadFailure)
    assert "directory" in result.reason


def test_checksum_is_verified_when_given(full_model: Path) -> None:
    import hashlib

    good = hashlib.sha256(full_model.read_bytes()).hexdigest()
    loaded = _load(full_model, model_sha256=good)
    assert isinstance(loaded, LoadedModel) and loaded.sha256 == good
    refused = _load(full_model, model_sha256="0" * 64)
    assert isinstance(refused, ModelLoadFailure)
    assert "checksum mismatch" in refused.reason and good in refused.reason


def test_session_options_follow_settings() -> None:
    import onnxruntime as ort

    default = session_options(Settings())
    assert default.intra_op_num_threads == 1 and default.inter_op_num_threads == 1
    assert default.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert default.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    tuned = session_options(
        dataclasses.replace(
            Settings(),
            ort_intra_op_threads=2,
            ort_execution_mode="parallel",
            ort_graph_optimization="basic",
        )
    )
    assert tuned.intra_op_num_threads == 2
    assert tuned.execution_mode == ort.ExecutionMode.ORT_PARALLEL
    assert tuned.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


def test_batching_changes_a_probability_by_at_most_1e6(full_model: Path) -> None:
    # ORT's vectorised kernels round differently from its scalar tail path, so a row scored
    # alone and inside a batch may differ in the last bits; the service documents this, and it must
    # stay tiny.
    model = _load(full_model)
    assert isinstance(model, LoadedModel)
    rows = example_rows(64, seed=8)
    batched, _ = model.score(columns_of(rows, model.input_names))
    alone = np.array([model.score(columns_of([row], model.input_names))[0][0] for row in rows])
    assert np.abs(batched - alone).max() <= 1e-6
