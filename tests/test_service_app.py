"""Every endpoint and every error class of the app, through Starlette's TestClient."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from service_model import (
    EXAMPLE_TRANSACTION,
    PREAUTH_INPUTS,
    build_model,
    direct_scores,
    example_rows,
)
from starlette.testclient import TestClient

from service import schema
from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings

TX = dict(EXAMPLE_TRANSACTION)
LEGACY = {
    **{k: v for k, v in TX.items() if k != "type"},
    "type_CASH_OUT": 0,
    "type_DEBIT": 0,
    "type_PAYMENT": 0,
    "type_TRANSFER": 1,
    "amt_ratio_orig": 1.0,
}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("app") / "model.onnx", threshold=0.5)


@pytest.fixture(scope="module")
def settings(model_path: Path) -> Settings:
    return Settings(model_uri=str(model_path), max_batch=50, max_body_bytes=20_000)


@pytest.fixture(scope="module")
def model(settings: Settings) -> LoadedModel:
    loaded = load_model(settings)
    assert isinstance(loaded, LoadedModel)
    return loaded


@pytest.fixture(scope="module")
def client(settings: Settings, model: LoadedModel) -> TestClient:
    return TestClient(create_app(settings, model))


def error_fields(response: Any) -> dict[str, str]:
    body = response.json()
    # Server faults (5xx) also carry the request id, to find their logged detail (issue 13).
    assert set(body) == (
        {"error", "details", "request_id"} if response.status_code >= 500 else {"error", "details"}
    )
    assert isinstance(body["error"], str) and body["error"]
    return {d["field"]: d["problem"] for d in body["details"]}


# --- POST /predict -----------------------------------------------------------------------------


def test_single_prediction_matches_onnxruntime(
    client: TestClient, model: LoadedModel, model_path: Path
) -> None:
    response = client.post("/predict", json={**TX, "transaction_id": "tx-1", "nameOrig": "C9"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {
        "transaction_id",
        "probability_fraud",
        "is_fraud",
        "threshold",
        "model_version",
    }
    probability, label = direct_scores(model_path, [TX])
    assert body["transaction_id"] == "tx-1"
    assert body["probability_fraud"] == float(probability[0])
    assert body["is_fraud"] is bool(label[0])
    assert body["threshold"] == 0.5
    assert body["model_version"] == model.version
    # A JSON number, not a string.
    assert re.search(r'"probability_fraud":\d', response.text)


def test_batch_predictions_in_request_order_match_onnxruntime(
    client: TestClient, model_path: Path
) -> None:
    rows = example_rows(50, seed=11)
    items = [{**row, "transaction_id": f"t{i}"} for i, row in enumerate(rows)]
    response = client.post("/predict", json={"transactions": items})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"predictions", "threshold", "model_version"}
    probability, label = direct_scores(model_path, rows)
    assert [p["transaction_id"] for p in body["predictions"]] == [f"t{i}" for i in range(50)]
    assert [p["probability_fraud"] for p in body["predictions"]] == probability.tolist()
    assert [p["is_fraud"] for p in body["predictions"]] == [bool(x) for x in label]
    assert 0 < sum(label) < 50


def test_transaction_id_is_only_echoed_when_sent(client: TestClient) -> None:
    assert "transaction_id" not in client.post("/predict", json=TX).json()
    batch = client.post("/predict", json={"transactions": [TX, {**TX, "transaction_id": 7}]})
    assert [p.get("transaction_id") for p in batch.json()["predictions"]] == [None, 7]


def test_legacy_body_answers_like_the_raw_body(client: TestClient) -> None:
    legacy = client.post("/predict", json=LEGACY)
    current = client.post("/predict", json=TX)
    assert legacy.status_code == 200
    assert legacy.json() == current.json()
    assert {"is_fraud", "probability_fraud"} <= set(legacy.json())
    cash_in = client.post("/predict", json={**LEGACY, "type_TRANSFER": 0}).json()
    assert cash_in == client.post("/predict", json={**TX, "type": "CASH_IN"}).json()


def test_threshold_override(settings: Settings, model_path: Path) -> None:
    probability = float(direct_scores(model_path, [TX])[0][0])
    above = dataclasses.replace(settings, threshold=min(probability + 0.01, 1.0))
    app_model = load_model(above)
    assert isinstance(app_model, LoadedModel)
    body = TestClient(create_app(above, app_model)).post("/predict", json=TX).json()
    assert body["threshold"] == above.threshold
    assert body["is_fraud"] is False
    assert body["probability_fraud"] == probability


def test_preauth_model_needs_only_its_inputs(tmp_path: Path) -> None:
    path = build_model(tmp_path / "preauth.onnx", inputs=PREAUTH_INPUTS, feature_set="preauth")
    settings = Settings(model_uri=str(path))
    preauth = load_model(settings)
    assert isinstance(preauth, LoadedModel)
    client = TestClient(create_app(settings, preauth))
    body = {k: v for k, v in TX.items() if k not in schema.POST_TRANSACTION_FIELDS}
    ok = client.post("/predict", json={**body, "nameDest": "C1"})
    assert ok.status_code == 200
    assert ok.json()["probability_fraud"] == float(
        direct_scores(path, [{**body, "nameDest": "C1"}])[0][0]
    )
    missing = client.post("/predict", json=body)
    assert missing.status_code == 422
    assert error_fields(missing) == {"nameDest": "required field is missing"}


# --- GET endpoints -----------------------------------------------------------------------------


def test_health(client: TestClient, model: LoadedModel) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": model.version}


def test_model_metadata(client: TestClient, model: LoadedModel) -> None:
    body = client.get("/model").json()
    assert body["model_version"] == model.version
    assert body["input_schema"] == schema.input_schema()
    assert body["threshold"] == 0.5 and body["threshold_source"] == "model"
    assert body["metrics"] == {"pr_auc": 0.9, "roc_auc": 0.99, "rows": 1000}
    assert body["created_at"] == "2024-01-01T00:00:00Z"
    assert body["max_batch"] == 50


def test_openapi_describes_every_route_with_examples(client: TestClient, model_path: Path) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    own = {path for path in document["paths"] if not path.startswith("/v2")}  # V2: test_service_v2
    assert own == {"/predict", "/health", "/model", "/openapi.json", "/docs"}
    predict = document["paths"]["/predict"]["post"]
    examples = predict["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"single", "batch", "legacy"}
    assert set(predict["responses"]) == {"200", "400", "413", "415", "422", "503"}
    answers = predict["responses"]["200"]["content"]["application/json"]["examples"]
    # Examples are the model's real answers.
    single = client.post("/predict", json=examples["single"]["value"]).json()
    assert answers["single"]["value"] == single
    transaction = document["components"]["schemas"]["Transaction"]
    assert transaction["required"] == list(schema.MODEL_INPUTS)
    assert transaction["additionalProperties"] is False
    assert (
        document["components"]["schemas"]["BatchRequest"]["properties"]["transactions"]["maxItems"]
        == 50
    )


def test_docs_page_is_self_contained_html(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for needle in ("/predict", "/health", "/model", "LegacyTransaction", "probability_fraud"):
        assert needle in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page), "no external resources"
    assert "<script" not in page


def test_index_lists_endpoints(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["service"] == "fraudlite"
    assert "POST /predict" in body["endpoints"]


# --- client mistakes ---------------------------------------------------------------------------


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/predict", content=b'{"type": ', headers=_json_headers())
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_wrong_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/predict", content=json.dumps(TX).encode(), headers=headers)
    assert response.status_code == 415
    assert "Content-Type" in error_fields(response)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/predict", content=json.dumps(TX), headers={"content-type": content_type}
    )
    assert response.status_code == 200


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {"transactions": [{**TX, "nameOrig": "C" * 200}] * 100}
    raw = json.dumps(big).encode()
    assert len(raw) > 20_000
    response = client.post("/predict", content=raw, headers=_json_headers())
    assert response.status_code == 413
    assert "20000" in error_fields(response)["body"]


def test_validation_errors_are_422_with_fields(client: TestClient) -> None:
    body = {"transactions": [TX, {**TX, "amount": -3, "type": "WIRE"}, {**TX, "extra": 1}]}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert set(error_fields(response)) == {
        "transactions[1].amount",
        "transactions[1].type",
        "transactions[2].extra",
    }


def test_nan_and_booleans_are_422(client: TestClient) -> None:
    raw = json.dumps({**TX, "amount": float("nan"), "step": True}).encode()
    response = client.post("/predict", content=raw, headers=_json_headers())
    assert response.status_code == 422
    fields = error_fields(response)
    assert "finite" in fields["amount"] and "boolean" in fields["step"]


def test_batch_over_the_limit_is_422(client: TestClient) -> None:
    response = client.post("/predict", json={"transactions": [TX] * 51})
    assert response.status_code == 422
    assert "at most 50" in error_fields(response)["transactions"]


def test_unknown_route_is_json_404(client: TestClient) -> None:
    for path in ("/nope", "/predict/"):
        response = client.get(path)
        assert response.status_code == 404
        assert error_fields(response) == {"path": "no such route; see GET /docs"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "GET" in error_fields(response)["method"]
    assert client.delete("/health").status_code == 405


# --- no model, genuine bugs --------------------------------------------------------------------


def test_without_a_model_every_model_route_is_503_with_the_kind(settings: Settings) -> None:
    failure = ModelLoadFailure(reason="model object s3://b/k not found in S3")
    client = TestClient(create_app(settings, failure))
    for method, path in (("POST", "/predict"), ("GET", "/health"), ("GET", "/model")):
        response = client.request(method, path, json=TX)
        assert response.status_code == 503, path
        # The kind of fault and the request id; the bucket and key stay in the log (issue 13).
        assert response.json()["error"] == "model not loaded: model unavailable"
        assert "s3://" not in response.text and "not found" not in response.text
        assert error_fields(response) == {"model": "model unavailable"}
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert response.headers["retry-after"] == "60"
    # Documentation still works, so the operator can see what the service expects.
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/").json()["model_version"] is None


def test_a_genuine_bug_is_a_logged_json_500(
    settings: Settings, model: LoadedModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A model whose session does not match its metadata: session.run fails on the feeds.
    other = load_model(
        Settings(model_uri=str(build_model(tmp_path / "p.onnx", inputs=PREAUTH_INPUTS)))
    )
    assert isinstance(other, LoadedModel)
    broken = dataclasses.replace(model, session=other.session)
    client = TestClient(create_app(settings, broken))
    with caplog.at_level(logging.INFO, logger="fraudlite.request"):
        response = client.post("/predict", json=TX)
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error: the failure was logged",
        "details": [],
        "request_id": response.headers["x-request-id"],
    }
    errors = [r for r in caplog.records if r.exc_info]
    assert len(errors) == 1
    lines = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event")]
    assert [line["status"] for line in lines] == [500]


# --- logs --------------------------------------------------------------------------------------


def test_one_log_line_per_request_without_transaction_values(
    client: TestClient, model: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    secret_amount = 987654.3125
    with caplog.at_level(logging.INFO, logger="fraudlite.request"):
        ok = client.post(
            "/predict",
            json={"transactions": [{**TX, "amount": secret_amount, "transaction_id": "SECRET-ID"}]},
            headers={"x-request-id": "req-123"},
        )
        bad = client.post("/predict", json={**TX, "amount": -secret_amount})
        client.get("/nope")
    assert ok.headers["x-request-id"] == "req-123"
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    lines = [r.fields for r in caplog.records if r.name == "fraudlite.request"]
    assert len(lines) == 3
    first, second, third = lines
    assert first["request_id"] == "req-123"
    assert first["route"] == "/predict" and first["method"] == "POST"
    assert first["status"] == 200 and first["batch_size"] == 1
    assert isinstance(first["scoring_us"], int) and first["scoring_us"] >= 0
    assert first["model_version"] == model.version
    assert second["status"] == 422 and second["error_fields"] == ["amount"]
    assert second["scoring_us"] is None
    assert third["status"] == 404 and third["route"] is None
    text = json.dumps(lines) + " ".join(r.getMessage() for r in caplog.records)
    assert "987654" not in text and "SECRET-ID" not in text


def _json_headers() -> dict[str, str]:
    return {"content-type": "application/json"}


def test_scores_use_float32_inputs(client: TestClient, model_path: Path) -> None:
    # 0.1 is not a float32; the service scores float32(0.1), exactly as ORT would.
    row = {**TX, "amount": 0.1, "oldbalanceOrg": 16777217.0}
    body = client.post("/predict", json=row).json()
    assert body["probability_fraud"] == float(direct_scores(model_path, [row])[0][0])
    assert np.float32(16777217.0) == np.float32(16777216.0)
