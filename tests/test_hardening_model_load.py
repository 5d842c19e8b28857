"""Issue 13: no model-load fault crashes init or leaks internal detail.

Each fault runs through the real Lambda entry module (``service.lambda_handler``, which does its
work at import) in a fresh interpreter, as a cold start would, and a few through ``fraud-serve``.
S3 faults are injected against a moto server on 127.0.0.1 (tests/fault_s3.py): a download cut
midway, access denied, a missing object, an object replaced by truncated bytes, a wrong sha256.
Every answer must be a 503 saying only the kind of fault and the request id: no bucket, key,
local path or hash; the detail must be in the log instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_s3 import FAKE_AWS_ENV, fault_proxy
from lambda_events import http_api_event
from moto_s3 import threaded_moto
from service_model import EXAMPLE_TRANSACTION, broken_models, build_model

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "fraudlite-hardening-models"

_FRESH = r"""
import json, sys
if sys.argv[1] == "no-boto3":
    sys.modules["boto3"] = None  # import boto3 now raises ImportError, as without the package
import service.lambda_handler as entry
class Context:
    aws_request_id = "cold-1"
event = json.loads(sys.stdin.read())
print("RESPONSE " + json.dumps(entry.handler(event, Context())))
"""


@pytest.fixture(scope="module")
def endpoints() -> Iterator[tuple[str, str]]:
    """(moto endpoint, fault proxy endpoint) with the test bucket and objects in place."""
    with threaded_moto() as moto, fault_proxy(moto) as proxy:
        yield moto, proxy


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_model(tmp_path_factory.mktemp("hardening") / "model.onnx").read_bytes()


@pytest.fixture(scope="module")
def s3(endpoints: tuple[str, str], model_bytes: bytes) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=endpoints[0],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    for key in ("good/model.onnx", "cut/model.onnx", "deny/model.onnx"):
        client.put_object(Bucket=BUCKET, Key=key, Body=model_bytes)
    # The object replaced by a truncated copy of itself (a broken upload).
    client.put_object(Bucket=BUCKET, Key="truncated/model.onnx", Body=model_bytes[:300])
    return client


def cold_start(
    env: dict[str, str], event: dict[str, Any] | None = None, mode: str = "normal"
) -> tuple[dict[str, Any], str]:
    """Import the Lambda entry in a fresh interpreter with ``env``, invoke it once.

    Returns (the handler's response, everything the process printed: its JSON log lines).
    """
    full_env = {"PATH": os.environ.get("PATH", ""), **FAKE_AWS_ENV, **env}
    result = subprocess.run(
        [sys.executable, "-c", _FRESH, mode],
        input=json.dumps(event or http_api_event("POST", "/predict", EXAMPLE_TRANSACTION)),
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    # The init must not fail: an exception at import is the crash loop this issue is about.
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("RESPONSE ")]
    return json.loads(line.removeprefix("RESPONSE ")), result.stdout + result.stderr


def assert_public_503(response: dict[str, Any], kind: str, secrets: list[str]) -> dict[str, Any]:
    """A 503 whose body says the kind of fault and the request id, and none of ``secrets``."""
    assert response["statusCode"] == 503, response
    body = json.loads(response["body"])
    assert body["error"] == f"model not loaded: {kind}", body
    assert body["details"] == [{"field": "model", "problem": kind}]
    assert body["request_id"] and body["request_id"] == response["headers"]["x-request-id"]
    assert response["headers"]["retry-after"] == "60"
    for secret in secrets:
        assert secret not in response["body"], (secret, response["body"])
    for word in ("s3://", "/tmp", "IAM", "sha256", "role", "bucket"):
        assert word not in response["body"], (word, response["body"])
    return body


def s3_env(endpoint: str, key: str, cache: Path, **extra: str) -> dict[str, str]:
    return {
        "FRAUD_MODEL_URI": f"s3://{BUCKET}/{key}",
        "FRAUD_S3_ENDPOINT_URL": endpoint,
        "FRAUD_MODEL_CACHE_DIR": str(cache),
        **extra,
    }


# --- the Lambda entry, fresh interpreter per fault ---------------------------------------------


def test_bad_s3_endpoint_is_a_configuration_503_not_an_init_crash(tmp_path: Path) -> None:
    env = s3_env("not-a-url", "good/model.onnx", tmp_path)
    response, logs = cold_start(env)
    assert_public_503(response, "configuration error: FRAUD_S3_ENDPOINT_URL", [BUCKET])
    assert "FRAUD_S3_ENDPOINT_URL" in logs and "invalid configuration" in logs


def test_unreachable_endpoint(tmp_path: Path) -> None:
    response, logs = cold_start(s3_env("http://127.0.0.1:9", "good/model.onnx", tmp_path))
    assert_public_503(response, "model unavailable", [BUCKET, "good/model.onnx", str(tmp_path)])
    assert f"s3://{BUCKET}/good/model.onnx" in logs  # the detail is logged for the operator


def test_missing_boto3(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    env = s3_env(endpoints[0], "good/model.onnx", tmp_path)
    response, logs = cold_start(env, mode="no-boto3")
    assert_public_503(response, "model unavailable", [BUCKET, "boto3"])
    assert "boto3 is not installed" in logs


def test_access_denied(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    response, logs = cold_start(s3_env(endpoints[1], "deny/model.onnx", tmp_path))
    assert_public_503(response, "model unavailable", [BUCKET, "deny/model.onnx", "denied"])
    assert "access denied" in logs and "IAM role" in logs


def test_missing_object(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    response, logs = cold_start(s3_env(endpoints[0], "absent/model.onnx", tmp_path))
    assert_public_503(response, "model unavailable", [BUCKET, "absent/model.onnx"])
    assert "not found in S3" in logs


def test_download_stopped_midway_leaves_nothing_in_the_cache(
    endpoints: tuple[str, str], s3: Any, tmp_path: Path
) -> None:
    response, logs = cold_start(s3_env(endpoints[1], "cut/model.onnx", tmp_path))
    assert_public_503(response, "model unavailable", [BUCKET, "cut/model.onnx", str(tmp_path)])
    assert "cannot download" in logs or "cannot fetch" in logs
    assert list(tmp_path.iterdir()) == []  # no partial file, no ETag that could vouch for one


def test_object_replaced_by_truncated_bytes(
    endpoints: tuple[str, str], s3: Any, tmp_path: Path, model_bytes: bytes
) -> None:
    response, _ = cold_start(s3_env(endpoints[0], "truncated/model.onnx", tmp_path / "a"))
    assert_public_503(response, "incompatible model", [BUCKET, "truncated/model.onnx"])
    # With the checksum pinned (template.yaml's ModelSha256), the same bytes are a mismatch.
    expected = hashlib.sha256(model_bytes).hexdigest()
    env = s3_env(endpoints[0], "truncated/model.onnx", tmp_path / "b", FRAUD_MODEL_SHA256=expected)
    response, logs = cold_start(env)
    actual = hashlib.sha256(model_bytes[:300]).hexdigest()
    assert_public_503(response, "checksum mismatch", [BUCKET, expected, actual])
    assert expected in logs and actual in logs


def test_wrong_sha256(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    env = s3_env(endpoints[0], "good/model.onnx", tmp_path, FRAUD_MODEL_SHA256="0" * 64)
    response, _ = cold_start(env)
    assert_public_503(response, "checksum mismatch", [BUCKET, "0" * 64])


def test_unwritable_cache_directory(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    # A regular file where the directory should be: mkdir and writes fail even as root.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    response, logs = cold_start(s3_env(endpoints[0], "good/model.onnx", blocker / "cache"))
    assert_public_503(response, "model unavailable", [BUCKET, str(blocker)])
    assert str(blocker) in logs


def test_the_good_object_still_loads(endpoints: tuple[str, str], s3: Any, tmp_path: Path) -> None:
    """The control case: the same fixture with nothing wrong answers 200 (from S3 through the
    proxy, so the proxy itself is not what makes the other tests fail)."""
    response, _ = cold_start(s3_env(endpoints[1], "good/model.onnx", tmp_path))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["probability_fraud"] >= 0


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return broken_models(tmp_path_factory.mktemp("broken"))


@pytest.mark.parametrize(
    "case", ["corrupt", "label_disagrees", "schema_mismatch", "forged_version", "wrong_format"]
)
def test_model_faults_are_incompatible_model_503s(
    broken: dict[str, tuple[Path, str]], case: str
) -> None:
    """Bytes that are not ONNX, a failed warm-up, metadata that does not match the graph, a
    forged version: each is refused at init with its reason in the log."""
    path, needle = broken[case]
    response, logs = cold_start({"FRAUD_MODEL_URI": str(path)})
    assert_public_503(response, "incompatible model", [str(path.parent), needle])
    assert needle in logs


def test_settings_error_names_the_variable_not_its_value() -> None:
    response, logs = cold_start({"FRAUD_MAX_BATCH": "lots-of-rows"})
    assert_public_503(response, "configuration error: FRAUD_MAX_BATCH", ["lots-of-rows"])
    assert "lots-of-rows" in logs


def test_health_and_v2_also_answer_the_kind_only(tmp_path: Path) -> None:
    env = {"FRAUD_MODEL_URI": str(tmp_path / "nowhere.onnx")}
    response, _ = cold_start(env, http_api_event("GET", "/health"))
    assert_public_503(response, "model unavailable", [str(tmp_path)])
    # The Open Inference Protocol's error form is {"error": ...}; the id is in X-Request-ID.
    response, _ = cold_start(env, http_api_event("GET", "/v2/models/fraudlite"))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"] == "model not loaded: model unavailable"
    assert str(tmp_path) not in response["body"] and response["headers"]["x-request-id"]


# --- fraud-serve -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port)],
        env={"PATH": os.environ.get("PATH", ""), **FAKE_AWS_ENV, "FRAUD_METRICS": "off", **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_fraud_serve_configuration_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    process = _serve({"FRAUD_S3_ENDPOINT_URL": "not-a-url"}, _free_port())
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "fraud-serve: invalid configuration: FRAUD_S3_ENDPOINT_URL: expected an http:// or "
        "https:// URL with a host"
    ]


def test_fraud_serve_model_fault_is_one_line_then_503s(
    endpoints: tuple[str, str], s3: Any, tmp_path: Path
) -> None:
    port = _free_port()
    process = _serve(s3_env(endpoints[1], "cut/model.onnx", tmp_path), port)
    try:
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                time.sleep(0.2)
        assert status == 503
        assert json.loads(body)["error"] == "model not loaded: model unavailable"
        assert BUCKET not in body and "cut/model.onnx" not in body
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    # One line about the fault (besides the server line saying which HTTP parser and loop run).
    lines = [
        ln
        for ln in err.splitlines()
        if ln.startswith("fraud-serve:") and not ln.startswith("fraud-serve: uvicorn with")
    ]
    assert len(lines) == 1 and lines[0].startswith(
        "fraud-serve: model not loaded (model unavailable), answering 503: cannot"
    ), err
