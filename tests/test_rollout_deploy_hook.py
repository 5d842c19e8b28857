"""The CodeDeploy pre-traffic hook against the real Lambda handler: a good model passes; a model
that does not reproduce its golden transactions, the wrong file, or one that does not load fails.

The checks run in-process (``invoke`` calls the handler). ``handler`` itself is run with boto3
pointed (AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL_CODEDEPLOY) at a local HTTP endpoint on
127.0.0.1 that answers Lambda's Invoke API with the same handler and records CodeDeploy's
PutLifecycleEventHookExecutionStatus, so the real AWS requests are built and sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import onnx
import pytest
from lambda_events import FakeLambdaContext
from service_model import build_model

from convert.golden import golden_set
from service import schema
from service.aws.deploy_hook import check_version, handler, http_event
from service.lambda_app import build_handler
from service.rollout.golden import GOLDEN_KEY, GoldenSet
from service.settings import SettingsError
from service.settings.companions import HookSettings

HOOK_EVENT = {"DeploymentId": "d-ABC123", "LifecycleEventHookExecutionId": "hook-execution-1"}


def with_golden(path: Path, golden: GoldenSet) -> Path:
    """A test model (threshold 0.5) carrying ``golden`` in its metadata."""
    return build_model(path, threshold=0.5, metadata={GOLDEN_KEY: golden.to_json()})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hook")
    plain = build_model(root / "plain.onnx", threshold=0.5)  # no golden transactions
    golden = golden_set(onnx.load(str(plain)), schema.MODEL_INPUTS, 0.5)
    other = build_model(root / "other.onnx", inputs=schema.PREAUTH_INPUTS, threshold=0.5)
    # The same rows with another graph's outputs: a model that does not reproduce its golden set.
    wrong = GoldenSet(
        golden.transactions,
        golden_set(onnx.load(str(other)), schema.PREAUTH_INPUTS, 0.5).probabilities,
        0.5,
    )
    assert wrong.probabilities != golden.probabilities
    return {
        "good": with_golden(root / "good.onnx", golden),
        "wrong": with_golden(root / "wrong.onnx", wrong),
        "plain": plain,
    }


def lambda_invoke(environ: dict[str, str]) -> Any:
    app = build_handler(
        {"FRAUD_METRICS": "off", "FRAUD_DECISION_LOG": "off", **environ}, setup_logging=False
    )
    return lambda event: app(event, FakeLambdaContext())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_good_model_passes(models: dict[str, Path]) -> None:
    invoke = lambda_invoke({"FRAUD_MODEL_URI": str(models["good"])})
    result = check_version(invoke, HookSettings(target="fn:7", expected_sha256=sha(models["good"])))
    assert result.passed, result.problems
    assert result.checks == [
        "health 200",
        "sha256 matches ModelSha256",
        "20 golden transactions reproduced",
    ]
    assert result.as_json()["status"] == "Succeeded"


def test_a_model_that_does_not_reproduce_its_golden_outputs_fails(models: dict[str, Path]) -> None:
    invoke = lambda_invoke({"FRAUD_MODEL_URI": str(models["wrong"])})
    result = check_version(invoke, HookSettings(target="fn:8"))
    assert not result.passed
    assert any("probability" in p and "expected" in p for p in result.problems)


def test_a_threshold_override_is_checked_at_the_served_threshold(models: dict[str, Path]) -> None:
    # FRAUD_THRESHOLD changes decisions, not probabilities: the golden check still passes.
    invoke = lambda_invoke({"FRAUD_MODEL_URI": str(models["good"]), "FRAUD_THRESHOLD": "0.01"})
    assert check_version(invoke, HookSettings(target="fn:9")).passed


def test_the_wrong_file_fails_on_its_sha256(models: dict[str, Path]) -> None:
    invoke = lambda_invoke({"FRAUD_MODEL_URI": str(models["good"])})
    result = check_version(invoke, HookSettings(target="fn:10", expected_sha256="0" * 64))
    assert not result.passed and "ModelSha256" in result.problems[0]


def test_a_model_that_does_not_load_fails(models: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = check_version(lambda_invoke({"FRAUD_MODEL_URI": str(broken)}), HookSettings("fn:1"))
    assert not result.passed and result.problems[0].startswith("GET /health answered 503")
    pinned = lambda_invoke({"FRAUD_MODEL_URI": str(models["good"]), "FRAUD_MODEL_SHA256": "1" * 64})
    assert "checksum mismatch" in check_version(pinned, HookSettings("fn:2")).problems[0]


def test_a_model_without_golden_transactions_fails(models: dict[str, Path]) -> None:
    result = check_version(
        lambda_invoke({"FRAUD_MODEL_URI": str(models["plain"])}), HookSettings("f")
    )
    assert not result.passed and "no golden transactions" in result.problems[0]


def test_an_invoke_that_raises_is_reported_not_raised() -> None:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        raise TimeoutError("read timed out")

    result = check_version(invoke, HookSettings("fn:3"))
    assert result.problems == ["check failed: TimeoutError: read timed out"]


def test_golden_check_with_an_ab_split_compares_the_primarys_rows(models: dict[str, Path]) -> None:
    invoke = lambda_invoke(
        {
            "FRAUD_MODEL_URI": str(models["good"]),
            "FRAUD_AB_MODEL_URI": str(models["plain"]),
            "FRAUD_AB_SHARE": "0.5",
        }
    )
    result = check_version(invoke, HookSettings("fn:4"))
    assert result.passed, result.problems
    compared = int(result.checks[-1].split()[0])
    assert 0 < compared < 20  # the other arm's golden rows are not the primary's to check


def test_hook_settings() -> None:
    assert HookSettings.from_env({"FRAUD_HOOK_TARGET": "arn:fn:3"}).expected_sha256 is None
    with pytest.raises(SettingsError, match="FRAUD_HOOK_TARGET"):
        HookSettings.from_env({})
    with pytest.raises(SettingsError, match="FRAUD_HOOK_EXPECTED_SHA256"):
        HookSettings.from_env({"FRAUD_HOOK_TARGET": "x", "FRAUD_HOOK_EXPECTED_SHA256": "abc"})
    event = http_event("GET", "/model/golden", query="sha256=ab")
    assert event["rawQueryString"] == "sha256=ab" and event["version"] == "2.0"


# --- the Lambda handler with boto3 against a local endpoint ---------------------------------------


class FakeAws(BaseHTTPRequestHandler):
    """Lambda Invoke (POST /2015-03-31/functions/NAME/invocations) answered by the service's
    handler; CodeDeploy's JSON API (X-Amz-Target) recorded."""

    invoke: ClassVar[Any] = None
    invoked: ClassVar[list[str]] = []
    reports: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target", "")
        if self.path.startswith("/2015-03-31/functions/"):
            name = unquote(self.path.split("/")[3])
            type(self).invoked.append(name)
            asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs the app on one
            answer = json.dumps(type(self).invoke(json.loads(body))).encode()
        elif target == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus":
            type(self).reports.append(json.loads(body))
            answer = json.dumps({"lifecycleEventHookExecutionId": "hook-execution-1"}).encode()
        else:
            self.send_response(400)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeAws]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name, value in {
        "AWS_ENDPOINT_URL_LAMBDA": url,
        "AWS_ENDPOINT_URL_CODEDEPLOY": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    FakeAws.invoked, FakeAws.reports = [], []
    try:
        yield FakeAws
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.mark.parametrize(("model", "status"), [("good", "Succeeded"), ("wrong", "Failed")])
def test_handler_invokes_the_version_and_reports_to_codedeploy(
    models: dict[str, Path],
    fake_aws: type[FakeAws],
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    status: str,
) -> None:
    fake_aws.invoke = lambda_invoke({"FRAUD_MODEL_URI": str(models[model])})
    version_arn = "arn:aws:lambda:us-east-1:123456789012:function:fraudlite-scoring:12"
    monkeypatch.setenv("FRAUD_HOOK_TARGET", version_arn)
    monkeypatch.setenv("FRAUD_HOOK_EXPECTED_SHA256", sha(models[model]))
    result = handler(HOOK_EVENT, FakeLambdaContext())
    assert result["status"] == status
    assert set(fake_aws.invoked) == {version_arn}  # only the version being deployed
    assert len(fake_aws.invoked) == 3  # health, golden, predict
    assert fake_aws.reports == [
        {
            "deploymentId": "d-ABC123",
            "lifecycleEventHookExecutionId": "hook-execution-1",
            "status": status,
        }
    ]


def test_handler_reports_failed_when_misconfigured(
    fake_aws: type[FakeAws], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUD_HOOK_TARGET", raising=False)
    result = handler(HOOK_EVENT, FakeLambdaContext())
    assert result["status"] == "Failed" and "FRAUD_HOOK_TARGET" in result["problems"][0]
    assert fake_aws.invoked == [] and fake_aws.reports[0]["status"] == "Failed"
