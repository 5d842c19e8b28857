"""The APIKEY Lambda authorizer (service/aws/authorizer.py) against SSM on a moto server.

Events are HTTP API REQUEST authorizer events (payload format 2.0) as API Gateway sends them;
the digests live in a SecureString parameter, read through boto3 like on AWS.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_s3 import FAKE_AWS_ENV
from moto_s3 import threaded_moto

from service.auth import key_digest
from service.aws import authorizer
from service.aws.authorizer import KeyDigests, authorize, ssm_reader
from service.settings import SettingsError
from service.settings.companions import AuthorizerSettings

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

PARAMETER = "/fraudlite/api-key-hashes"
KEY = "fl_live_5f4e3d2c1b0a99887766"
SECOND = "fl_live_second_000111222333"


def event(key: str | None) -> dict[str, Any]:
    """An HTTP API REQUEST authorizer event, payload 2.0 (identity source: x-api-key)."""
    headers = {
        "content-type": "application/json",
        "host": "abc.execute-api.us-east-1.amazonaws.com",
    }
    if key is not None:
        headers["x-api-key"] = key
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/POST/predict",
        "identitySource": [key] if key is not None else [],
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/predict"}, "requestId": "r1"},
    }


@pytest.fixture(scope="module")
def ssm_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_AWS_ENV.items():
            env.setenv(name, value)
        with threaded_moto() as endpoint:
            client = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
            value = f"{key_digest(KEY)},{key_digest(SECOND)}"
            client.put_parameter(Name=PARAMETER, Value=value, Type="SecureString")
            client.put_parameter(Name="/fraudlite/bad", Value=KEY, Type="SecureString")
            yield endpoint


def store(endpoint: str, name: str = PARAMETER, **kw: Any) -> KeyDigests:
    settings = AuthorizerSettings(parameter_name=name, ssm_endpoint_url=endpoint)
    return KeyDigests(settings, ssm_reader(endpoint), **kw)


def test_right_wrong_and_missing_keys(ssm_endpoint: str) -> None:
    keys = store(ssm_endpoint)
    assert authorize(event(KEY), keys) == {"isAuthorized": True}
    assert authorize(event(SECOND), keys) == {"isAuthorized": True}
    assert authorize(event(KEY + "x"), keys) == {"isAuthorized": False}
    assert authorize(event(""), keys) == {"isAuthorized": False}
    assert authorize(event(None), keys) == {"isAuthorized": False}
    assert authorize({"headers": None}, keys) == {"isAuthorized": False}


def test_digests_are_cached_then_reread(ssm_endpoint: str) -> None:
    now = [1000.0]
    reads: list[str] = []
    real = ssm_reader(ssm_endpoint)

    def counting(name: str) -> str:
        reads.append(name)
        return real(name)

    settings = AuthorizerSettings(parameter_name=PARAMETER, cache_seconds=300)
    keys = KeyDigests(settings, counting, clock=lambda: now[0])
    for _ in range(5):
        assert authorize(event(KEY), keys)["isAuthorized"]
    assert reads == [PARAMETER]
    now[0] += 301
    assert authorize(event(KEY), keys)["isAuthorized"]
    assert reads == [PARAMETER, PARAMETER]


def test_ssm_failure_keeps_the_last_digests_or_refuses(
    ssm_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    keys = store(ssm_endpoint, clock=lambda: now[0])
    assert authorize(event(KEY), keys)["isAuthorized"]
    keys.read = ssm_reader("http://127.0.0.1:9")  # SSM unreachable from now on
    now[0] += 10_000
    with caplog.at_level(logging.ERROR, logger="fraudlite.authorizer"):
        assert authorize(event(KEY), keys)["isAuthorized"]  # last digests kept
    missing = store(ssm_endpoint, name="/fraudlite/absent")
    with caplog.at_level(logging.ERROR, logger="fraudlite.authorizer"):
        assert not authorize(event(KEY), missing)["isAuthorized"]  # fail closed
    text = caplog.text
    assert "refusing every request" in text and "keeping the last ones read" in text
    assert KEY not in text and key_digest(KEY) not in text


def test_a_plain_key_stored_by_mistake_is_refused_and_not_logged(
    ssm_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = store(ssm_endpoint, name="/fraudlite/bad")
    with caplog.at_level(logging.ERROR, logger="fraudlite.authorizer"):
        assert not authorize(event(KEY), keys)["isAuthorized"]
    assert "SettingsError" in caplog.text and KEY not in caplog.text


def test_settings() -> None:
    with pytest.raises(SettingsError, match="FRAUD_API_KEYS_PARAMETER"):
        AuthorizerSettings.from_env({})
    with pytest.raises(SettingsError, match="FRAUD_API_KEYS_CACHE_SECONDS"):
        AuthorizerSettings.from_env(
            {"FRAUD_API_KEYS_PARAMETER": "/p", "FRAUD_API_KEYS_CACHE_SECONDS": "x"}
        )
    with pytest.raises(SettingsError, match="FRAUD_SSM_ENDPOINT_URL"):
        AuthorizerSettings.from_env(
            {"FRAUD_API_KEYS_PARAMETER": "/p", "FRAUD_SSM_ENDPOINT_URL": "nope"}
        )
    parsed = AuthorizerSettings.from_env(
        {"FRAUD_API_KEYS_PARAMETER": PARAMETER, "FRAUD_API_KEYS_CACHE_SECONDS": "60"}
    )
    assert parsed == AuthorizerSettings(PARAMETER, 60, None)


_HANDLER = r"""
import json, sys
from service.aws.authorizer import handler
for line in sys.stdin:
    print(json.dumps(handler(json.loads(line), None)))
"""


def test_handler_entry_in_a_fresh_interpreter(ssm_endpoint: str) -> None:
    """The Lambda entry as Lambda runs it: env configuration, boto3 to SSM, warm reuse."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        **FAKE_AWS_ENV,
        "FRAUD_API_KEYS_PARAMETER": PARAMETER,
        "FRAUD_SSM_ENDPOINT_URL": ssm_endpoint,
    }
    events = "\n".join(json.dumps(event(k)) for k in (KEY, "wrong", SECOND)) + "\n"
    result = subprocess.run(
        [sys.executable, "-c", _HANDLER],
        input=events,
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
        check=True,
    )
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers == [{"isAuthorized": True}, {"isAuthorized": False}, {"isAuthorized": True}]


def test_handler_without_configuration_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUD_API_KEYS_PARAMETER", raising=False)
    monkeypatch.setattr(authorizer, "_KEYS", None)
    assert authorizer.handler(event(KEY), None) == {"isAuthorized": False}
