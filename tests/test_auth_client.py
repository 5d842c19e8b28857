"""Client authentication (client/auth.py) in every mode (issue 13).

IAM: signatures from botocore's signer are checked against AWS's published SigV4 test vector
(get-vanilla) and, for a POST with a body, against an independent implementation of the
algorithm written here from AWS's specification. JWT and API keys: the headers arrive, and a
real app with FRAUD_API_KEYS_SHA256 accepts the client's key and refuses it without one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.credentials import Credentials
from live_server import serve
from service_model import EXAMPLE_TRANSACTION, build_model

from client.api import ApiRejected, FraudApiClient
from client.auth import ApiAuth, AuthConfigError, sigv4_headers
from service.app import create_app
from service.auth import key_digest
from service.model import LoadedModel, load_model
from service.settings import Settings

# AWS's SigV4 test suite credentials and time (aws-sig-v4-test-suite, "get-vanilla").
EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = dt.datetime(2015, 8, 30, 12, 36, 0)
GET_VANILLA_SIGNATURE = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN)


def test_botocore_signer_reproduces_the_aws_test_vector(frozen_time: None) -> None:
    headers = sigv4_headers(
        "GET", "https://example.amazonaws.com/", b"", None, EXAMPLE, "us-east-1", "service"
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={GET_VANILLA_SIGNATURE}"
    )


def _independent_sigv4(
    method: str, url: str, headers: dict[str, str], body: bytes, secret: str, region: str
) -> str:
    """SigV4 from AWS's specification, without botocore: the signature for these headers."""
    parts = urlsplit(url)
    names = sorted(h.lower() for h in headers)
    canonical_headers = "".join(f"{n}:{headers_ci(headers, n).strip()}\n" for n in names)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            canonical_headers,
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    stamp = headers_ci(headers, "x-amz-date")
    scope = f"{stamp[:8]}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (stamp[:8], region, "execute-api", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def headers_ci(headers: dict[str, str], name: str) -> str:
    return next(v for k, v in headers.items() if k.lower() == name)


def test_client_post_signature_matches_an_independent_implementation() -> None:
    """The request as the server receives it verifies, with the body's own hash."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "probability_fraud": 0.5,
                "is_fraud": False,
                "threshold": 0.5,
                "model_version": "v",
            },
        )

    auth = ApiAuth(mode="iam", region="eu-west-1", credentials=EXAMPLE)
    base = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    with FraudApiClient(base, auth=auth, transport=httpx.MockTransport(answer)) as client:
        client.predict(EXAMPLE_TRANSACTION)
    (request,) = seen
    authorization = request.headers["authorization"]
    assert (
        authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/execute-api/aws4_request" in authorization
    )
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert signed_names == ["content-type", "host", "x-amz-date"]
    signed = {name: request.headers[name] for name in signed_names}
    expected = _independent_sigv4(
        "POST", str(request.url), signed, request.content, EXAMPLE.secret_key, "eu-west-1"
    )
    assert authorization.endswith(f"Signature={expected}")
    # A changed body no longer verifies: the signature covers it.
    tampered = _independent_sigv4(
        "POST", str(request.url), signed, request.content + b" ", EXAMPLE.secret_key, "eu-west-1"
    )
    assert not authorization.endswith(f"Signature={tampered}")


def test_session_token_is_sent_with_temporary_credentials() -> None:
    temporary = Credentials("ASIAEXAMPLE", "secret", token="session-token-1")
    auth = ApiAuth(mode="iam", region="us-east-1", credentials=temporary)
    headers = auth.headers("GET", "https://x.execute-api.us-east-1.amazonaws.com/model")
    assert headers["X-Amz-Security-Token"] == "session-token-1"


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (ApiAuth(mode="jwt", secret="eyJ.test.token"), "authorization", "Bearer eyJ.test.token"),
        (ApiAuth(mode="apikey", secret="k-123"), "x-api-key", "k-123"),
    ],
)
def test_bearer_and_key_headers(auth: ApiAuth, header: str, value: str) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok", "model_version": "abc"})

    with FraudApiClient("http://api", auth=auth, transport=httpx.MockTransport(answer)) as c:
        c.health()
    assert seen[0].headers[header] == value


def test_no_auth_adds_nothing() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    with FraudApiClient("http://api", transport=httpx.MockTransport(answer)) as client:
        client.health()
    assert "authorization" not in seen[0].headers and "x-api-key" not in seen[0].headers


def test_settings_from_the_environment_never_echo_secrets() -> None:
    assert ApiAuth.from_env({}).mode == "none"
    jwt = ApiAuth.from_env({"FRAUD_API_AUTH": "JWT", "FRAUD_API_TOKEN": "tok-secret"})
    assert jwt.mode == "jwt" and "tok-secret" not in repr(jwt)
    key = ApiAuth.from_env({"FRAUD_API_AUTH": "apikey", "FRAUD_API_KEY": "key-secret"})
    assert key.headers("GET", "http://x/model") == {"X-API-Key": "key-secret"}
    iam = ApiAuth.from_env({"FRAUD_API_AUTH": "iam", "AWS_REGION": "eu-central-1"})
    assert iam.region == "eu-central-1"
    with pytest.raises(AuthConfigError, match="FRAUD_API_TOKEN"):
        ApiAuth.from_env({"FRAUD_API_AUTH": "jwt"})
    with pytest.raises(AuthConfigError, match="FRAUD_API_AUTH"):
        ApiAuth.from_env({"FRAUD_API_AUTH": "kerberos", "FRAUD_API_KEY": "key-secret"})


def test_the_client_passes_a_real_api_key_check(tmp_path: Any) -> None:
    path = build_model(tmp_path / "model.onnx")
    settings = Settings(model_uri=str(path), api_keys_sha256=(key_digest("client-key-1"),))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    with serve(create_app(settings, model)) as port:
        url = f"http://127.0.0.1:{port}"
        with FraudApiClient(url, auth=ApiAuth(mode="apikey", secret="client-key-1")) as client:
            assert client.model_card().version == model.version
            assert 0 <= client.predict(EXAMPLE_TRANSACTION).prediction.probability <= 1
        with FraudApiClient(url) as anonymous, pytest.raises(ApiRejected) as refused:
            anonymous.model_card()
        assert refused.value.status == 401


def test_demo_script_authenticates_and_never_prints_the_key(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = build_model(tmp_path / "model.onnx")
    settings = Settings(model_uri=str(path), api_keys_sha256=(key_digest("demo-key-77"),))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    script = [sys.executable, str(root / "scripts" / "demo_request.py"), "--timeout", "10"]
    with serve(create_app(settings, model)) as port:
        url = f"http://127.0.0.1:{port}"
        ok = subprocess.run(
            [*script, "--url", url, "--auth", "apikey", "--api-key", "demo-key-77"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        refused = subprocess.run(
            [*script, "--url", url, "--timeout", "1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert ok.returncode == 0, ok.stderr
    assert "-> 200" in ok.stdout and "demo-key-77" not in ok.stdout + ok.stderr
    # /health is open, so the script gets that far; /predict without the key is a 401.
    assert refused.returncode == 1 and "-> 401" in refused.stdout
    bad = subprocess.run(
        [*script, "--url", "file:///etc/passwd"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and "http:// or https://" in bad.stderr
