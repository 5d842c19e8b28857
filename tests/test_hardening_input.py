"""Issue 13: client-chosen text is bounded wherever it is echoed or logged; values never logged.

Hostile bodies (one unknown field named by 100,000 characters, 500 unknown keys, long V2 names
and paths) must give small answers and small log lines; transaction values and ids must never
reach the log, whatever the status.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from service_model import EXAMPLE_TRANSACTION, build_model
from starlette.testclient import TestClient

from service.app import create_app
from service.errors import MAX_DETAILS, MAX_FIELD_CHARS, MAX_MESSAGE_CHARS, Detail, ServiceError
from service.model import LoadedModel, load_model
from service.settings import Settings

LONG = "k" * 100_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    path = build_model(tmp_path_factory.mktemp("hostile") / "model.onnx")
    settings = Settings(model_uri=str(path))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    return TestClient(create_app(settings, model))


def request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The request log lines as they would be written (JSON), one per request."""
    from service.telemetry.logs import JsonFormatter

    formatter = JsonFormatter()
    return [formatter.format(r) for r in caplog.records if r.name == "fraudlite.request"]


def test_detail_and_error_cut_client_text_centrally() -> None:
    detail = Detail(LONG, LONG)
    assert len(detail.field) == MAX_FIELD_CHARS and detail.field.endswith("...")
    assert len(detail.problem) <= 300
    error = ServiceError(LONG, [Detail(str(i), "x") for i in range(5000)])
    assert len(error.message) == MAX_MESSAGE_CHARS
    assert len(error.details) == MAX_DETAILS
    assert Detail("amount", "must not be negative").field == "amount"  # short text unchanged


def test_one_unknown_field_of_100000_characters(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fraudlite.request"):
        response = client.post("/predict", json={**EXAMPLE_TRANSACTION, LONG: 1})
    assert response.status_code == 422
    assert len(response.content) < 2_000, len(response.content)  # was 200 KB
    (detail,) = response.json()["details"]
    assert detail["field"] == LONG[: MAX_FIELD_CHARS - 3] + "..."
    assert detail["problem"] == "unknown field"
    (line,) = request_lines(caplog)
    assert len(line) < 1_000, len(line)  # was 100 KB
    assert json.loads(line)["error_fields"] == [detail["field"]]


def test_500_unknown_keys(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    body = {**EXAMPLE_TRANSACTION, **{f"{'x' * 200}{i}": i for i in range(500)}}
    with caplog.at_level(logging.INFO, logger="fraudlite.request"):
        response = client.post("/predict", json=body)
    assert response.status_code == 422
    details = response.json()["details"]
    assert len(details) <= MAX_DETAILS
    assert all(len(d["field"]) <= MAX_FIELD_CHARS for d in details)
    assert len(response.content) < 12_000, len(response.content)
    (line,) = request_lines(caplog)
    fields = json.loads(line)["error_fields"]
    assert 0 < len(fields) <= 20 and all(len(f) <= MAX_FIELD_CHARS for f in fields)
    assert len(line) < 3_000, len(line)


def test_batch_of_hostile_items_is_bounded(client: TestClient) -> None:
    items = [{**EXAMPLE_TRANSACTION, LONG[:5000] + str(i): 1} for i in range(200)]
    response = client.post("/predict", json={"transactions": items})
    assert response.status_code == 422
    assert len(response.content) < 12_000, len(response.content)


def test_v2_long_names_are_bounded(client: TestClient) -> None:
    infer = "/v2/models/fraudlite/infer"
    body = {"inputs": [{"name": LONG, "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    response = client.post(infer, json=body)
    assert response.status_code == 400
    assert len(response.content) < 4_000, len(response.content)
    response = client.post(infer, json={"inputs": [], LONG: 1})
    assert response.status_code == 400 and len(response.content) < 4_000
    response = client.get(f"/v2/models/{'m' * 20_000}")
    assert response.status_code == 404 and len(response.content) < 4_000
    response = client.get(f"/v2/models/fraudlite/versions/{'v' * 20_000}")
    assert response.status_code == 404 and len(response.content) < 4_000


def test_long_unknown_route_is_bounded(client: TestClient) -> None:
    response = client.get("/" + "p" * 50_000)
    assert response.status_code == 404 and len(response.content) < 4_000


def test_no_request_value_is_ever_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    marked = {**EXAMPLE_TRANSACTION, "transaction_id": "tx-SECRET-7", "amount": 7654321.5}
    wrong = {**marked, "oldbalanceOrg": -98765.25}
    with caplog.at_level(logging.DEBUG):
        assert client.post("/predict", json=marked).status_code == 200
        assert client.post("/predict", json=wrong).status_code == 422
        assert client.post("/predict", json={"transactions": [marked, wrong]}).status_code == 422
    text = "\n".join(request_lines(caplog)) + "\n".join(r.getMessage() for r in caplog.records)
    for value in ("tx-SECRET-7", "7654321.5", "98765.25", "TRANSFER"):
        assert value not in text, value


def test_model_route_hides_details_unless_exposed(tmp_path: Path) -> None:
    path = build_model(tmp_path / "model.onnx")
    model = load_model(Settings(model_uri=str(path)))
    assert isinstance(model, LoadedModel)
    hidden = TestClient(create_app(Settings(model_uri=str(path)), model)).get("/model")
    assert hidden.status_code == 200
    assert not {"sha256", "source", "versions"} & set(hidden.json())
    assert model.sha256 not in hidden.text and str(tmp_path) not in hidden.text
    # The OpenAPI document's /model example is the same description: hidden there too.
    docs = TestClient(create_app(Settings(model_uri=str(path)), model)).get("/openapi.json")
    assert model.sha256 not in docs.text and str(tmp_path) not in docs.text
    settings = Settings(model_uri=str(path), expose_model_details=True)
    shown = TestClient(create_app(settings, model)).get("/model").json()
    assert shown["sha256"] == model.sha256 and shown["source"] == str(path)
    assert shown["versions"] == model.metadata.versions
    assert Settings.from_env({"FRAUD_EXPOSE_MODEL_DETAILS": "1"}).expose_model_details
