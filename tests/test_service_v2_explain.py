"""The V2 ``contributions`` output on a real converted model (convert.export, explain on/off).

References are the same model's raw outputs from onnxruntime (``explain`` fed true) and the
service's own POST /predict, so these tests check the protocol mapping: metadata, selection,
shape [N, F+1] flattened row-major, and that asking for contributions leaves the scores as they
are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fitted_artifacts import make_artifacts
from service_model import columns_of, example_rows
from starlette.testclient import TestClient

from convert.export import export_model
from service import schema
from service.app import create_app
from service.model import LoadedModel, load_model
from service.settings import Settings

INFER = "/v2/models/fraudlite/infer"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out, _ = make_artifacts(
        tmp_path_factory.mktemp("v2explain"), rows=4_000, seed=5, n_estimators=12, max_depth=4
    )
    return {
        "explained": export_model(out, explain=True),
        "plain": export_model(out, out / "plain.onnx", explain=False),
    }


def serve(path: Path) -> tuple[LoadedModel, TestClient]:
    settings = Settings(model_uri=str(path))
    model = load_model(settings)
    assert isinstance(model, LoadedModel), model
    return model, TestClient(create_app(settings, model))


def request(rows: list[dict[str, Any]], outputs: list[str] | None = None) -> dict[str, Any]:
    inputs = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": "BYTES" if name == "type" else "FP32",
            "data": [row[name] for row in rows],
        }
        for name in schema.MODEL_INPUTS
    ]
    body: dict[str, Any] = {"inputs": inputs}
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {output["name"]: output for output in body["outputs"]}


def test_metadata_lists_contributions_only_for_explained_models(
    models: dict[str, Path],
) -> None:
    model, client = serve(models["explained"])
    width = len(model.metadata.feature_names) + 1
    outputs = client.get("/v2/models/fraudlite").json()["outputs"]
    assert outputs[-1] == {"name": "contributions", "datatype": "FP32", "shape": [-1, width]}
    _, plain = serve(models["plain"])
    names = [o["name"] for o in plain.get("/v2/models/fraudlite").json()["outputs"]]
    assert names == ["probability", "label"]
    refused = plain.post(INFER, json=request(example_rows(2), ["contributions"]))
    assert refused.status_code == 400
    assert "unknown output 'contributions'" in refused.json()["error"]


def test_contributions_are_the_models_own_and_scores_are_unchanged(
    models: dict[str, Path],
) -> None:
    model, client = serve(models["explained"])
    rows = example_rows(30, seed=17)
    answer = client.post(INFER, json=request(rows, ["probability", "contributions", "label"]))
    assert answer.status_code == 200, answer.text
    outputs = by_name(answer.json())
    assert [o["name"] for o in answer.json()["outputs"]] == [
        "probability",
        "contributions",
        "label",
    ]
    width = len(model.metadata.feature_names) + 1
    contributions = outputs["contributions"]
    assert contributions["datatype"] == "FP32" and contributions["shape"] == [30, width]
    got = np.array(contributions["data"], dtype=np.float32).reshape(30, width)
    session = ort.InferenceSession(str(models["explained"]), providers=["CPUExecutionProvider"])
    feeds = {**columns_of(rows, schema.MODEL_INPUTS), "explain": np.array(True)}
    (reference,) = session.run(["contributions"], feeds)
    np.testing.assert_array_equal(got, reference)
    # Asking for contributions does not change the scores: they equal /predict's.
    predictions = client.post("/predict", json={"transactions": rows}).json()["predictions"]
    assert outputs["probability"]["data"] == [p["probability_fraud"] for p in predictions]
    assert outputs["label"]["data"] == [int(p["is_fraud"]) for p in predictions]
    # Each row's contributions and bias add up to its log-odds.
    probability = np.array(outputs["probability"]["data"])
    assert np.allclose(
        1 / (1 + np.exp(-got.astype(np.float64).sum(axis=1))), probability, atol=1e-5
    )


def test_contributions_are_only_computed_on_request(models: dict[str, Path]) -> None:
    _, client = serve(models["explained"])
    body = client.post(INFER, json=request(example_rows(3, seed=18))).json()
    assert [o["name"] for o in body["outputs"]] == ["probability", "label"]
