"""The Open Inference Protocol (KServe V2) routes through Starlette's TestClient.

Payloads follow the protocol's published examples (kserve/open-inference-protocol,
specification/protocol/inference_rest.md): ``{"id": "42", "inputs": [{"name", "shape",
"datatype", "data"}], "outputs": [{"name"}]}``, with fraudlite's tensors. Scores are compared with
POST /predict on the same transactions in the same batch.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambda_events import FakeLambdaContext, http_api_event
from service_model import PREAUTH_INPUTS, build_model, example_rows
from starlette.testclient import TestClient

from service import schema
from service.app import create_app
from service.lambda_app import build_handler
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings
from service.v2.routes import SERVER_VERSION

INFER = "/v2/models/fraudlite/infer"
Mutation = Callable[[dict[str, Any]], None]
MAX_BATCH = 20


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("v2") / "model.onnx", threshold=0.5)


@pytest.fixture(scope="module")
def settings(model_path: Path) -> Settings:
    return Settings(model_uri=str(model_path), max_batch=MAX_BATCH, max_body_bytes=30_000)


@pytest.fixture(scope="module")
def model(settings: Settings) -> LoadedModel:
    loaded = load_model(settings)
    assert isinstance(loaded, LoadedModel)
    return loaded


@pytest.fixture(scope="module")
def client(settings: Settings, model: LoadedModel) -> TestClient:
    return TestClient(create_app(settings, model))


@pytest.fixture(scope="module")
def no_model(settings: Settings) -> TestClient:
    failure = ModelLoadFailure(reason="model object s3://b/k not found in S3")
    return TestClient(create_app(settings, failure))


def tensors(rows: list[dict[str, Any]], inputs: tuple[str, ...] = schema.MODEL_INPUTS) -> list:
    """The rows as the protocol's input tensors: type BYTES, the numeric fields FP32, shape [N]."""
    return [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": "BYTES" if schema.INPUT_TYPES[name] == "string" else "FP32",
            "data": [row[name] for row in rows],
        }
        for name in inputs
    ]


def request(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "42", "inputs": tensors(rows), **extra}


def outputs_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {output["name"]: output for output in body["outputs"]}


def predict(client: TestClient, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.post("/predict", json={"transactions": rows})
    assert response.status_code == 200
    return response.json()["predictions"]


def error_of(response: Any, status: int) -> str:
    """The protocol's error form: exactly {"error": "..."}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


# --- health and metadata -------------------------------------------------------------------------


def test_server_metadata(client: TestClient) -> None:
    response = client.get("/v2")
    assert response.status_code == 200
    assert response.json() == {
        "name": "fraudlite",
        "version": SERVER_VERSION,
        "extensions": ["binary_tensor_data"],
    }
    assert importlib.metadata.version("fraudlite") == SERVER_VERSION


def test_health_live_and_ready(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


@pytest.mark.parametrize("versioned", [False, True])
def test_model_ready(client: TestClient, model: LoadedModel, versioned: bool) -> None:
    path = f"/v2/models/fraudlite/versions/{model.version}" if versioned else "/v2/models/fraudlite"
    response = client.get(f"{path}/ready")
    assert response.status_code == 200
    assert response.json() == {"name": "fraudlite", "ready": True}


@pytest.mark.parametrize("versioned", [False, True])
def test_model_metadata_is_what_the_graph_declares(
    client: TestClient, model: LoadedModel, versioned: bool
) -> None:
    path = f"/v2/models/fraudlite/versions/{model.version}" if versioned else "/v2/models/fraudlite"
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "fraudlite"
    assert body["versions"] == [model.version]
    assert body["platform"] == "onnxruntime_onnx"
    # The graph declares every tensor 1-D with a symbolic batch dimension: [-1] in the protocol.
    assert [i.shape for i in model.session.get_inputs()] == [["N"]] * 7
    assert body["inputs"] == [
        {"name": name, "datatype": "BYTES" if name == "type" else "FP32", "shape": [-1]}
        for name in schema.MODEL_INPUTS
    ]
    assert body["outputs"] == [
        {"name": "probability", "datatype": "FP32", "shape": [-1]},
        {"name": "label", "datatype": "INT64", "shape": [-1]},
    ]


def test_preauth_model_metadata_and_infer_use_its_inputs(tmp_path: Path) -> None:
    path = build_model(tmp_path / "preauth.onnx", inputs=PREAUTH_INPUTS, feature_set="preauth")
    settings = Settings(model_uri=str(path))
    client = TestClient(create_app(settings, load_model(settings)))
    metadata = client.get("/v2/models/fraudlite").json()
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        (name, "BYTES" if schema.INPUT_TYPES[name] == "string" else "FP32")
        for name in PREAUTH_INPUTS
    ]
    rows = example_rows(4, seed=3)
    answer = client.post(INFER, json={"inputs": tensors(rows, PREAUTH_INPUTS)})
    assert answer.status_code == 200
    expected = predict(client, [{k: row[k] for k in PREAUTH_INPUTS} for row in rows])
    assert outputs_of(answer.json())["probability"]["data"] == [
        p["probability_fraud"] for p in expected
    ]
    # A field this model does not take is not one of its inputs.
    full = client.post(INFER, json={"inputs": tensors(rows)})
    assert "unknown input 'newbalanceOrig'" in error_of(full, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/other",
        "/v2/models/other/ready",
        "/v2/models/fraudlite/versions/0000000000000000",
        "/v2/models/fraudlite/versions/0000000000000000/ready",
    ],
)
def test_unknown_model_or_version_is_404(client: TestClient, path: str) -> None:
    message = error_of(client.get(path), 404)
    assert "other" in message or "0000000000000000" in message


# --- inference -----------------------------------------------------------------------------------


def test_infer_matches_predict_and_follows_the_protocol_example(
    client: TestClient, model: LoadedModel
) -> None:
    rows = example_rows(12, seed=5)
    response = client.post(INFER, json=request(rows, outputs=[{"name": "probability"}]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == "42"
    assert body["model_name"] == "fraudlite"
    assert body["model_version"] == model.version
    assert body["parameters"] == {"threshold": 0.5}
    # Only the requested output.
    assert [o["name"] for o in body["outputs"]] == ["probability"]
    probability = body["outputs"][0]
    assert probability["datatype"] == "FP32" and probability["shape"] == [12]
    expected = predict(client, rows)
    assert probability["data"] == [p["probability_fraud"] for p in expected]


def test_edge_values_are_scored_like_predict(client: TestClient) -> None:
    # float32 rounding (0.1), the largest float32, a subnormal, integers, the largest step.
    edges = [0.1, 3.4028234663852886e38, 1e-45, 7, 0, 123456789.123]
    rows = []
    for i, value in enumerate(edges):
        row = dict(example_rows(1, seed=40 + i)[0])
        row.update(amount=value, oldbalanceDest=value, step=[1, 16777216, 0][i % 3])
        rows.append(row)
    body = client.post(INFER, json=request(rows)).json()
    expected = predict(client, rows)
    assert outputs_of(body)["probability"]["data"] == [p["probability_fraud"] for p in expected]


def test_infer_returns_every_output_when_none_is_requested(client: TestClient) -> None:
    rows = example_rows(6, seed=6)
    body = client.post(INFER, json={"inputs": tensors(rows)}).json()
    assert "id" not in body  # echoed only when sent
    assert [o["name"] for o in body["outputs"]] == ["probability", "label"]
    label = outputs_of(body)["label"]
    assert label["datatype"] == "INT64" and label["shape"] == [6]
    expected = predict(client, rows)
    assert label["data"] == [int(p["is_fraud"]) for p in expected]
    assert set(label["data"]) == {0, 1}  # the rows straddle the threshold
    # Requested order is kept.
    swapped = client.post(
        INFER, json=request(rows, outputs=[{"name": "label"}, {"name": "probability"}])
    )
    assert [o["name"] for o in swapped.json()["outputs"]] == ["label", "probability"]


def test_label_follows_the_threshold_in_use(model_path: Path) -> None:
    settings = Settings(model_uri=str(model_path), threshold=0.05)
    client = TestClient(create_app(settings, load_model(settings)))
    rows = example_rows(10, seed=7)
    body = client.post(INFER, json={"inputs": tensors(rows)}).json()
    assert body["parameters"] == {"threshold": 0.05}
    labels = outputs_of(body)["label"]["data"]
    assert labels == [int(p["is_fraud"]) for p in predict(client, rows)]
    assert labels == [int(p >= 0.05) for p in outputs_of(body)["probability"]["data"]]


def test_columns_of_shape_n_by_1_flat_or_nested(client: TestClient) -> None:
    rows = example_rows(5, seed=8)
    plain = client.post(INFER, json=request(rows)).json()["outputs"]
    flat = request(rows)
    nested = request(rows)
    for tensor in flat["inputs"]:
        tensor["shape"] = [5, 1]
    for tensor in nested["inputs"]:
        tensor["shape"] = [5, 1]
        tensor["data"] = [[value] for value in tensor["data"]]
    for body in (flat, nested):
        response = client.post(INFER, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["outputs"] == plain


def test_versioned_infer_answers_for_the_loaded_version(
    client: TestClient, model: LoadedModel
) -> None:
    rows = example_rows(3, seed=9)
    path = f"/v2/models/fraudlite/versions/{model.version}/infer"
    assert (
        client.post(path, json=request(rows)).json()
        == client.post(INFER, json=request(rows)).json()
    )
    other = client.post("/v2/models/fraudlite/versions/v10/infer", json=request(rows))
    assert "'v10'" in error_of(other, 404)
    assert "'other'" in error_of(client.post("/v2/models/other/infer", json=request(rows)), 404)


def test_client_parameters_are_accepted_and_answered_in_json(client: TestClient) -> None:
    # binary_data_output asks for binary outputs, but an output's own binary_data: false wins.
    rows = example_rows(2, seed=10)
    body = request(
        rows,
        parameters={"binary_data_output": True},
        outputs=[{"name": "probability", "parameters": {"binary_data": False}}],
    )
    response = client.post(INFER, json=body)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["shape"] == [2]


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8"]
)
def test_content_type_may_be_absent_or_json(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps(request(example_rows(2))).encode()
    response = client.post(INFER, content=body, headers=headers)
    assert response.status_code == 200, response.text


# --- errors --------------------------------------------------------------------------------------


def _set(name: str, key: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        next(t for t in body["inputs"] if t["name"] == name)[key] = value

    return mutate


def _set_value(name: str, index: int, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        next(t for t in body["inputs"] if t["name"] == name)["data"][index] = value

    return mutate


def _drop(name: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        body["inputs"] = [t for t in body["inputs"] if t["name"] != name]

    return mutate


def _top(key: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        body[key] = value

    return mutate


ERRORS = {
    "FP64 amount": (_set("amount", "datatype", "FP64"), "input 'amount' has datatype 'FP64'"),
    "FP32 type": (_set("type", "datatype", "FP32"), "the model takes BYTES"),
    "mismatched shapes": (
        lambda b: b["inputs"][1].update(shape=[2], data=b["inputs"][1]["data"][:2]),
        "inputs must have the same number of rows",
    ),
    "data count": (_set("step", "shape", [4]), "input 'step' has 3 values; shape [4] needs 4"),
    "rank 2 shape": (_set("amount", "shape", [3, 2]), "has shape [3, 2]"),
    "bad shape": (_set("amount", "shape", [-3]), "non-negative integers"),
    "list for a number": (
        _set("amount", "data", [[1.0], [2.0], [3.0]]),
        "input 'amount' data[0]: expected a number, got a list",
    ),
    "nested mismatch": (
        lambda b: b["inputs"][2].update(shape=[3, 1], data=[[1.0], [2.0, 3.0], [4.0]]),
        "nested data does not match shape [3, 1]",
    ),
    "missing input": (_drop("oldbalanceDest"), "required input 'oldbalanceDest' is missing"),
    "unknown input": (
        lambda b: b["inputs"].append({**b["inputs"][1], "name": "velocity"}),
        "unknown input 'velocity'",
    ),
    "duplicate input": (lambda b: b["inputs"].append(b["inputs"][1]), "given twice"),
    "unknown output": (_top("outputs", [{"name": "score"}]), "unknown output 'score'"),
    "duplicate output": (
        _top("outputs", [{"name": "label"}, {"name": "label"}]),
        "requested twice",
    ),
    "negative amount": (_set_value("amount", 1, -5.0), "data[1]: must not be negative"),
    "too large": (_set_value("oldbalanceOrg", 0, 1e39), "largest float32"),
    "unknown type": (_set_value("type", 2, "WIRE"), "unknown transaction type 'WIRE'"),
    "boolean": (_set_value("amount", 0, True), "expected a number, got a boolean"),
    "string number": (_set_value("amount", 0, "12.5"), "expected a number, got a string"),
    "fractional step": (_set_value("step", 0, 1.5), "whole number of hours"),
    "step too large": (_set_value("step", 0, 2**24 + 1), "at most 16777216"),
    "id not a string": (_top("id", 42), "id must be a string"),
    "unknown field": (_top("input", []), "unknown field 'input'"),
    "no inputs": (_top("inputs", []), "non-empty list"),
    "binary size without a binary section": (
        lambda b: (
            b["inputs"][2].pop("data"),
            b["inputs"][2].update(parameters={"binary_data_size": 12}),
        ),
        "binary_data_size is set but the request has no Inference-Header-Content-Length",
    ),
    "binary size and data": (
        _set("amount", "parameters", {"binary_data_size": 12}),
        "input 'amount' has both 'data' and binary_data_size",
    ),
    "empty input name": (lambda b: b["inputs"][0].update(name=""), "must not be empty"),
    "null parameters": (_top("parameters", None), "parameters must be an object"),
    "shared memory": (
        _set("amount", "parameters", {"shared_memory_region": "r"}),
        "shared memory is not supported",
    ),
    "classification": (
        _top("outputs", [{"name": "probability", "parameters": {"classification": 2}}]),
        "classification extension is not supported",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_requests_are_400_naming_the_problem(client: TestClient, case: str) -> None:
    mutate, expected = ERRORS[case]
    body = copy.deepcopy(request(example_rows(3, seed=11)))
    mutate(body)
    message = error_of(client.post(INFER, json=body), 400)
    assert expected in message


def test_every_offending_value_is_reported(client: TestClient) -> None:
    body = request(example_rows(3, seed=12))
    _set_value("amount", 0, -1.0)(body)
    _set_value("amount", 2, -2.0)(body)
    _set_value("step", 1, 0.5)(body)
    message = error_of(client.post(INFER, json=body), 400)
    for place in ("'amount' data[0]", "'amount' data[2]", "'step' data[1]"):
        assert place in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400(client: TestClient, literal: str) -> None:
    body = request(example_rows(2, seed=13))
    _set_value("newbalanceDest", 1, "__X__")(body)
    raw = json.dumps(body).replace('"__X__"', literal)
    message = error_of(client.post(INFER, content=raw), 400)
    assert "input 'newbalanceDest' data[1]: must be a finite number" in message


@pytest.mark.parametrize("rows", [0, MAX_BATCH + 1])
def test_batch_size_limits_are_400(client: TestClient, rows: int) -> None:
    body = {"inputs": tensors(example_rows(rows, seed=14))}
    assert f"1 to {MAX_BATCH} rows, got {rows}" in error_of(client.post(INFER, json=body), 400)


@pytest.mark.parametrize(
    ("raw", "expected"), [(b"{not json", "malformed JSON"), (b"[1, 2]", "JSON object"), (b"", "")]
)
def test_malformed_bodies_are_400(client: TestClient, raw: bytes, expected: str) -> None:
    assert expected in error_of(client.post(INFER, content=raw), 400)


def test_body_transport_errors_keep_the_protocol_form(client: TestClient) -> None:
    body = json.dumps(request(example_rows(2))).encode()
    wrong_type = client.post(INFER, content=body, headers={"content-type": "text/plain"})
    assert "text/plain" in error_of(wrong_type, 415)
    gzip = client.post(INFER, content=body, headers={"content-encoding": "gzip"})
    assert "gzip" in error_of(gzip, 415)
    # A header length that cuts the JSON header is a malformed request, not a server error.
    binary = client.post(INFER, content=body, headers={"inference-header-content-length": "9"})
    assert "malformed JSON" in error_of(binary, 400)
    large = json.dumps({"inputs": [{"name": "type", "data": ["x" * 40_000]}]})
    assert "30000 bytes" in error_of(client.post(INFER, content=large), 413)


def test_wrong_method_is_405(client: TestClient) -> None:
    response = client.get(INFER)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_without_a_model(no_model: TestClient) -> None:
    # Liveness and server metadata do not need the model.
    assert no_model.get("/v2/health/live").status_code == 200
    assert no_model.get("/v2").status_code == 200
    # Probes answer false with the protocol's 4xx, saying why.
    ready = no_model.get("/v2/health/ready")
    assert ready.status_code == 400
    assert ready.json() == {"ready": False, "error": ready.json()["error"]}
    assert ready.json()["error"] == "model not loaded: model unavailable"  # no bucket or key
    model_ready = no_model.get("/v2/models/fraudlite/ready")
    assert model_ready.status_code == 400 and model_ready.json()["ready"] is False
    # Metadata and inference: 503 with the reason and Retry-After, like /predict.
    for response in (
        no_model.get("/v2/models/fraudlite"),
        no_model.post(INFER, json=request(example_rows(1))),
    ):
        assert error_of(response, 503) == "model not loaded: model unavailable"
        assert response.headers["retry-after"] == "60"
    # An unknown model is still unknown.
    error_of(no_model.get("/v2/models/other/ready"), 404)


def test_request_log_has_batch_size_and_field_names_only(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fraudlite.request")
    rows = example_rows(4, seed=15)
    client.post(INFER, json=request(rows))
    bad = request(rows)
    _set_value("amount", 0, -987654.0)(bad)
    client.post(INFER, json=bad)
    lines = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event")]
    ok, failed = lines[-2], lines[-1]
    assert ok["route"] == "/v2/models/{model}/infer" and ok["status"] == 200
    assert ok["batch_size"] == 4 and ok["scoring_us"] is not None
    assert failed["status"] == 400 and failed["error_fields"] == ["amount"]
    assert "987654" not in json.dumps(failed)


def test_openapi_describes_the_v2_routes(client: TestClient, model: LoadedModel) -> None:
    document = client.get("/openapi.json").json()
    v2 = {path for path in document["paths"] if path.startswith("/v2")}
    assert v2 == {
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        *(
            f"{base}{suffix}"
            for base in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}")
            for suffix in ("", "/ready", "/infer")
        ),
    }
    infer = document["paths"]["/v2/models/{model}/infer"]["post"]
    example = infer["requestBody"]["content"]["application/json"]["example"]
    answer = infer["responses"]["200"]["content"]["application/json"]["example"]
    # The example is the model's real answer to the example request.
    assert client.post(INFER, json=example).json() == answer
    assert answer["model_version"] == model.version


def test_lambda_http_api_event(model_path: Path, model: LoadedModel) -> None:
    """The routes behind API Gateway (HTTP API payload 2.0) through Mangum, as deployed."""
    handler = build_handler({"FRAUD_MODEL_URI": str(model_path)}, setup_logging=False)
    rows = example_rows(3, seed=16)
    event = http_api_event("POST", INFER, request(rows))
    event["pathParameters"] = {"model": "fraudlite"}
    answer = handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"])
    assert body["id"] == "42" and body["model_version"] == model.version
    settings = Settings(model_uri=str(model_path))
    local = TestClient(create_app(settings, load_model(settings)))
    assert body == local.post(INFER, json=request(rows)).json()
    unknown = handler(http_api_event("GET", "/v2/models/other/ready"), FakeLambdaContext())
    assert unknown["statusCode"] == 404 and set(json.loads(unknown["body"])) == {"error"}
