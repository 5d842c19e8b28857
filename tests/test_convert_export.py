"""model.onnx: documented inputs/outputs, metadata, threshold head, parity with the pipeline."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import onnx
import pytest
from fitted_artifacts import fit_pipeline, make_artifacts, paysim_like_frame, write_artifacts
from onnx import TensorProto, helper

from convert import ML_OPSET, ONNX_OPSET
from convert.artifacts import load_artifacts
from convert.edge_rows import edge_frame
from convert.errors import ArtifactsError, UnsupportedModelError
from convert.export import add_head, build_graph, build_model, export_model
from convert.graph import GraphBuilder
from convert.parity import check_parity, make_session, onnx_feed
from service.model.identity import verify_version
from service.schema import MODEL_FORMAT, MODEL_INPUTS, TRANSACTION_TYPES, input_schema_json
from train.features import FEATURE_SET_INPUTS, FEATURE_SETS

THRESHOLD = 0.3  # not a float32: exercises the rounding of the baked-in threshold
SCORE = ["probability", "label"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    # No SMOTE and a heavy positive weight: base_score ends far from 0.5.
    out, pipeline = make_artifacts(
        tmp_path_factory.mktemp("art"), rows=20_000, threshold=THRESHOLD, scale_pos_weight=30
    )
    path = export_model(out)
    return path, pipeline, make_session(str(path))


def test_inputs_and_outputs_are_the_documented_ones(exported):
    path, _, session = exported
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
        (name, "tensor(string)" if name == "type" else "tensor(float)", ["N"])
        for name in MODEL_INPUTS
    ]
    n_features = len(FEATURE_SETS["full"])
    assert [(o.name, o.type, o.shape) for o in session.get_outputs()] == [
        ("probability", "tensor(float)", ["N"]),
        ("label", "tensor(int64)", ["N"]),
        # Explanation outputs (default export): [0, F+1] unless ``explain`` is fed true.
        ("contributions", "tensor(float)", ["M", n_features + 1]),
        ("features", "tensor(float)", ["N", n_features]),
    ]
    # The switch is an overridable initializer, not one of the raw inputs the service feeds.
    assert [(i.name, i.type, i.shape) for i in session.get_overridable_initializers()] == [
        ("explain", "tensor(bool)", [])
    ]
    model = onnx.load(path)
    assert {o.domain or "": o.version for o in model.opset_import} == {
        "": ONNX_OPSET,
        "ai.onnx.ml": ML_OPSET,
    }
    ops = {n.op_type for n in model.graph.node}
    assert "ZipMap" not in ops and "TreeEnsembleClassifier" in ops
    onnx.checker.check_model(model, full_check=True)


def test_metadata_round_trip(exported):
    path, _, session = exported
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["format"] == MODEL_FORMAT
    assert meta["input_schema"] == input_schema_json(MODEL_INPUTS)
    assert json.loads(meta["input_schema"])["type_values"] == list(TRANSACTION_TYPES)
    assert meta["feature_set"] == "full"
    assert json.loads(meta["feature_names"]) == list(FEATURE_SETS["full"])
    assert float(meta["threshold"]) == THRESHOLD
    assert json.loads(meta["metrics"]) == {
        "pr_auc": 0.9,
        "roc_auc": 0.99,
        "precision": 0.8,
        "recall": 0.7,
        "f1": 0.75,
        "rows": 20_000,
    }
    versions = json.loads(meta["versions"])
    assert versions["train"] == {"xgboost": "test", "scikit-learn": "test"}
    assert versions["export"]["onnxmltools"] == "1.16.0" and versions["export"]["xgboost"]
    assert datetime.fromisoformat(meta["created_at"]).tzinfo is not None
    # model_version: the hash of the file's bytes without the model_version entry (issue 13).
    bare = onnx.load(path)
    kept = {p.key: p.value for p in bare.metadata_props if p.key != "model_version"}
    del bare.metadata_props[:]
    onnx.helper.set_model_props(bare, kept)
    digest = hashlib.sha256(bare.SerializeToString()).hexdigest()[:16]
    assert meta["model_version"] == digest == verify_version(path.read_bytes())


def test_model_version_is_deterministic_and_tracks_the_threshold(exported, tmp_path):
    _, pipeline, _ = exported
    out = write_artifacts(tmp_path, pipeline, THRESHOLD)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    first = build_model(load_artifacts(out), when)
    again = build_model(load_artifacts(out), when)
    assert first.SerializeToString() == again.SerializeToString()
    write_artifacts(tmp_path, pipeline, 0.31)
    other = build_model(load_artifacts(tmp_path), when)
    version = {p.key: p.value for p in first.metadata_props}["model_version"]
    assert version != {p.key: p.value for p in other.metadata_props}["model_version"]


def test_parity_on_generated_rows_of_every_type(exported):
    _, pipeline, session = exported
    frame = paysim_like_frame(30_000, seed=11)
    assert set(frame["type"]) == set(TRANSACTION_TYPES)
    report = check_parity(session, pipeline, frame, batch_size=7_000)
    assert report.rows == 30_000 and report.passed, report.summary()
    assert report.max_abs_diff <= 1e-6 and report.label_flips == 0
    # The data straddles the threshold, so the label check means something.
    assert 0 < report.worst[0]["p_pipeline"] <= 1
    labels = session.run(["label"], onnx_feed(frame, list(MODEL_INPUTS)))[0]
    assert 0 < labels.sum() < len(labels)


def test_parity_on_crafted_edge_rows(exported):
    _, pipeline, session = exported
    frame = edge_frame(pipeline.named_steps["model"])
    assert set(frame["type"]) == set(TRANSACTION_TYPES) and len(frame) > 200
    report = check_parity(session, pipeline, frame)
    assert report.passed, report.summary()


def test_batch_of_one_and_batch_of_many_agree_with_the_pipeline(exported):
    # onnxruntime sums the trees in another order for one row than for a batch (it splits the
    # trees across threads), so the two may differ by an ulp: both must match the pipeline.
    _, pipeline, session = exported
    frame = paysim_like_frame(64, seed=5)
    expected = pipeline.predict_proba(frame)[:, 1]
    names = list(MODEL_INPUTS)
    prob, label = session.run(SCORE, onnx_feed(frame, names))
    assert prob.shape == label.shape == (64,)
    assert np.abs(prob - expected).max() <= 1e-6
    for i in range(len(frame)):
        p1, l1 = session.run(SCORE, onnx_feed(frame.iloc[i : i + 1], names))
        assert p1.shape == (1,) and l1.shape == (1,) and l1.dtype == np.int64
        assert abs(p1[0] - expected[i]) <= 1e-6
        assert l1[0] == (expected[i] >= THRESHOLD)


@pytest.mark.parametrize("threshold", [0.7, 0.3, 0.5, 0.0, 1.0, 0.99766749])
def test_label_matches_numpy_decision_around_the_threshold(threshold):
    # numpy 2 compares a float32 array with a Python float in float32 (NEP 50), as
    # train.evaluate and the service do; the graph's label must agree on every side of it,
    # including between float32(t) and t when t is not a float32 (0.7, 0.3).
    builder = GraphBuilder("head")
    probabilities = builder.input("probabilities", TensorProto.FLOAT)
    add_head(builder, probabilities, threshold)
    # The head expects [N, 2]; declare it so.
    builder.inputs["probabilities"] = helper.make_tensor_value_info(
        "probabilities", TensorProto.FLOAT, ["N", 2]
    )
    session = make_session(builder.model("test", "0").SerializeToString())
    t32 = np.float32(threshold)
    ps = np.array(
        [t32, np.nextafter(t32, np.float32(0)), np.nextafter(t32, np.float32(1)), 0, 1, 0.5],
        dtype=np.float32,
    )
    prob, label = session.run(None, {"probabilities": np.stack([1 - ps, ps], axis=1)})
    assert prob.tolist() == ps.tolist()
    assert label.tolist() == (ps >= threshold).astype(np.int64).tolist()


def test_label_is_probability_at_or_above_threshold(exported, tmp_path):
    # Put the threshold exactly on an observed probability: that row must be labelled 1.
    _, pipeline, _ = exported
    frame = paysim_like_frame(2000, seed=9)
    probs = pipeline.predict_proba(frame)[:, 1]
    t = float(np.sort(probs)[-20])
    session = make_session(
        build_graph(load_artifacts(write_artifacts(tmp_path, pipeline, t))).SerializeToString()
    )
    prob, label = session.run(SCORE, onnx_feed(frame, list(MODEL_INPUTS)))
    assert (label == (prob >= np.float32(t))).all()
    assert label.sum() == (probs >= t).sum() and 0 < label.sum() < len(label)


@pytest.mark.parametrize("scale_pos_weight", [None, 3.0])
def test_smote_free_model_with_base_score_far_from_half(tmp_path, scale_pos_weight):
    frame = paysim_like_frame(3000, seed=4)
    pipeline = fit_pipeline(frame, n_estimators=15, max_depth=3, scale_pos_weight=scale_pos_weight)
    config = json.loads(pipeline.named_steps["model"].get_booster().save_config())
    assert json.loads(config["learner"]["learner_model_param"]["base_score"])[0] < 0.2
    session = make_session(str(export_model(write_artifacts(tmp_path, pipeline, 0.5))))
    report = check_parity(session, pipeline, paysim_like_frame(5000, seed=8))
    assert report.passed, report.summary()
    assert check_parity(session, pipeline, edge_frame(pipeline.named_steps["model"])).passed


def test_artifact_errors_are_clear(exported, tmp_path):
    _, pipeline, _ = exported
    with pytest.raises(ArtifactsError, match="artifacts directory not found"):
        load_artifacts(tmp_path / "nope")
    with pytest.raises(ArtifactsError, match="pipeline file not found"):
        load_artifacts(tmp_path)
    write_artifacts(tmp_path, pipeline, 1.5)
    with pytest.raises(ArtifactsError, match="threshold must be a number in"):
        load_artifacts(tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    metrics.update(threshold=0.5, feature_names=["amount"])
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ArtifactsError, match="feature_names"):
        load_artifacts(tmp_path)
    import joblib

    joblib.dump(pipeline.named_steps["model"], tmp_path / "pipeline.joblib")
    with pytest.raises(UnsupportedModelError, match="expected sklearn Pipeline"):
        load_artifacts(tmp_path)


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_every_feature_set_exports_with_parity(tmp_path, feature_set):
    frame = paysim_like_frame(20_000, seed=6)
    pipeline = fit_pipeline(frame, feature_set=feature_set, n_estimators=20)
    out = write_artifacts(tmp_path, pipeline, 0.5, feature_set=feature_set)
    session = make_session(str(export_model(out)))
    inputs = [i.name for i in session.get_inputs()]
    assert inputs == list(FEATURE_SET_INPUTS[feature_set])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["feature_set"] == feature_set
    assert meta["input_schema"] == input_schema_json(FEATURE_SET_INPUTS[feature_set])
    report = check_parity(session, pipeline, paysim_like_frame(20_000, seed=7))
    assert report.passed, report.summary()
