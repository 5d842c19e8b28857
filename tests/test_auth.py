"""API keys (FRAUD_API_KEYS_SHA256) for fraud-serve and any app built with them (issue 13).

No key, a wrong key, a right key; /health open; every other route, V2 included, protected; the
401 in the service's JSON error form; keys never in the log; a real uvicorn server too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from live_server import serve
from service_model import EXAMPLE_TRANSACTION, build_model
from starlette.testclient import TestClient

from service import schema
from service.app import create_app
from service.auth import API_KEY_HEADER, key_accepted, key_digest
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings, SettingsError

KEY = "fl_test_9c1d2e3f4a5b6c7d8e9f"
OTHER_KEY = "fl_test_second_key_0001"
ROUTES = [
    ("POST", "/predict", EXAMPLE_TRANSACTION),
    ("GET", "/model", None),
    ("GET", "/", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/v2", None),
    ("GET", "/v2/health/live", None),
    ("GET", "/v2/health/ready", None),
    ("GET", "/v2/models/fraudlite", None),
    ("GET", "/v2/models/fraudlite/ready", None),
    ("POST", "/v2/models/fraudlite/infer", {"inputs": []}),
    ("GET", "/no/such/route", None),
]


@pytest.fixture(scope="module")
def model_and_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedModel, Settings]:
    path = build_model(tmp_path_factory.mktemp("auth") / "model.onnx")
    settings = Settings(
        model_uri=str(path), api_keys_sha256=(key_digest(OTHER_KEY), key_digest(KEY))
    )
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    return model, settings


@pytest.fixture(scope="module")
def client(model_and_settings: tuple[LoadedModel, Settings]) -> TestClient:
    model, settings = model_and_settings
    return TestClient(create_app(settings, model))


def test_digest_is_sha256_hex_of_the_key() -> None:
    assert key_digest(KEY) == hashlib.sha256(KEY.encode()).hexdigest()
    assert key_accepted(KEY.encode(), (key_digest(KEY),))
    assert not key_accepted(b"", (key_digest(""),))  # an empty header is never a key
    assert not key_accepted(KEY.encode() + b"x", (key_digest(KEY),))
    assert not key_accepted(b"a" * 10_000, (key_digest("a" * 10_000),))  # refused unhashed


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_without_a_key_every_route_but_health_is_401(
    client: TestClient, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 401, response.text
    assert response.json() == {
        "error": "authentication required: send a valid X-API-Key header",
        "details": [{"field": "X-API-Key", "problem": "missing"}],
    }
    assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert response.headers["x-request-id"]  # logged like any request


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_wrong_key_is_401_and_a_right_key_passes(
    client: TestClient, method: str, path: str, body: object
) -> None:
    wrong = client.request(method, path, json=body, headers={API_KEY_HEADER: KEY[:-1]})
    assert wrong.status_code == 401
    assert wrong.json()["details"] == [{"field": "X-API-Key", "problem": "not an accepted key"}]
    right = client.request(method, path, json=body, headers={API_KEY_HEADER: KEY})
    assert right.status_code != 401, right.text
    other = client.request(method, path, json=body, headers={"x-api-key": OTHER_KEY})
    assert other.status_code == right.status_code  # every listed key works; header is case-free


def test_health_is_open_and_scores_need_the_key(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    answer = client.post("/predict", json=EXAMPLE_TRANSACTION, headers={API_KEY_HEADER: KEY})
    assert answer.status_code == 200 and 0 <= answer.json()["probability_fraud"] <= 1
    infer = {
        "inputs": [
            {
                "name": name,
                "shape": [1],
                "datatype": "BYTES" if name == "type" else "FP32",
                "data": [EXAMPLE_TRANSACTION[name]],
            }
            for name in schema.MODEL_INPUTS
        ]
    }
    v2 = client.post("/v2/models/fraudlite/infer", json=infer, headers={API_KEY_HEADER: KEY})
    assert v2.status_code == 200, v2.text


def test_health_stays_open_when_the_model_is_missing() -> None:
    settings = Settings(api_keys_sha256=(key_digest(KEY),))
    app = TestClient(create_app(settings, ModelLoadFailure(reason="x")))
    assert app.get("/health").status_code == 503  # not 401: probes see the real state
    assert app.get("/model").status_code == 401


def test_keys_are_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        client.get("/model", headers={API_KEY_HEADER: KEY})
        client.get("/model", headers={API_KEY_HEADER: "wrong-key-value-123"})
    lines = [r for r in caplog.records if r.name == "fraudlite.request"]
    assert [getattr(r, "fields", {})["status"] for r in lines] == [200, 401]
    text = "\n".join(json.dumps(getattr(r, "fields", {})) + r.getMessage() for r in caplog.records)
    assert KEY not in text and "wrong-key-value-123" not in text and key_digest(KEY) not in text


def test_no_keys_configured_means_open(model_and_settings: tuple[LoadedModel, Settings]) -> None:
    model, settings = model_and_settings
    open_app = TestClient(create_app(Settings(model_uri=settings.model_uri), model))
    assert open_app.get("/model").status_code == 200


def test_settings_parse_and_refuse_plain_keys() -> None:
    digest = key_digest(KEY)
    parsed = Settings.from_env({"FRAUD_API_KEYS_SHA256": f" {digest.upper()} , {'b' * 64},"})
    assert parsed.api_keys_sha256 == (digest, "b" * 64)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FRAUD_API_KEYS_SHA256": f"{digest},{KEY}"})
    assert caught.value.variable == "FRAUD_API_KEYS_SHA256"
    assert KEY not in str(caught.value)  # a key pasted by mistake is not echoed
    assert "entry 2" in str(caught.value)


def test_a_real_server_enforces_the_key(model_and_settings: tuple[LoadedModel, Settings]) -> None:
    model, settings = model_and_settings
    with serve(create_app(settings, model)) as port:
        base = f"http://127.0.0.1:{port}"

        def status(path: str, headers: dict[str, str]) -> int:
            request = urllib.request.Request(base + path, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return answer.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert status("/health", {}) == 200
        assert status("/model", {}) == 401
        assert status("/model", {"X-API-Key": "nope"}) == 401
        assert status("/model", {"X-API-Key": KEY}) == 200
        assert status("/v2/models/fraudlite", {}) == 401
        assert status("/v2/models/fraudlite", {"X-API-Key": KEY}) == 200


def test_fraud_serve_enforces_keys_from_the_environment(
    model_and_settings: tuple[LoadedModel, Settings],
) -> None:
    """The real command: FRAUD_API_KEYS_SHA256 in its environment, uvicorn on 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FRAUD_MODEL_URI": str(model_and_settings[1].model_uri),
        "FRAUD_API_KEYS_SHA256": key_digest(KEY),
        "FRAUD_METRICS": "off",
    }
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def status(path: str, headers: dict[str, str]) -> int:
        request = urllib.request.Request(base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert status("/health", {}) == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert status("/model", {}) == 401
        assert status("/model", {"X-API-Key": KEY}) == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "1 API key(s) accepted" in err and KEY not in err
