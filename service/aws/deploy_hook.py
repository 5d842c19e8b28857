"""CodeDeploy pre-traffic hook: check the new function version before any traffic shifts to it.

Handler ``service.aws.deploy_hook.handler`` (same image as the API, another command). CodeDeploy
calls it with ``DeploymentId`` and ``LifecycleEventHookExecutionId``; it invokes the version
being deployed (``FRAUD_HOOK_TARGET``, template.yaml passes ``ScoringFunction.Version``) with API
Gateway HTTP API events, exactly as the API would, and:

1. ``GET /health`` must answer 200 (the model loaded; a bad object, a checksum mismatch or an
   incompatible model answer 503 and fail the hook);
2. ``GET /model/golden?sha256=...`` gives the loaded models' versions and golden transactions;
   the primary's file must have ``FRAUD_HOOK_EXPECTED_SHA256`` (ModelSha256) when that is set;
3. ``POST /predict`` with the golden transactions must reproduce the probabilities written at
   convert time (within 1e-5) and the decisions at the served threshold.

It then reports ``Succeeded`` or ``Failed`` to CodeDeploy (its role may do only that and invoke
that version). A failure stops the deployment before any traffic reaches the new version. boto3
is imported lazily; the checking logic takes an ``invoke`` callable so tests run it against the
real app in-process.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from service.rollout.golden import GoldenError, parse_golden
from service.settings import SettingsError
from service.settings.companions import HookSettings

log = logging.getLogger("fraudlite.deploy_hook")

#: Most characters of a function's answer quoted in a problem (answers are the service's own).
QUOTE_LIMIT: Final = 300

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class HookResult:
    """What the hook found; ``passed`` is what it reports to CodeDeploy."""

    target: str
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    model_version: str | None = None

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "Succeeded" if self.passed else "Failed",
            "target": self.target,
            "model_version": self.model_version,
            "checks": self.checks,
            "problems": self.problems,
        }


def http_event(
    method: str, path: str, body: Any = None, request_id: str = "deploy-hook", query: str = ""
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the API sends to the function."""
    encoded = None if body is None else json.dumps(body)
    headers = {"content-type": "application/json"} if encoded is not None else {}
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {**headers, "x-request-id": request_id},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "fraudlite-deploy-hook",
            },
            "requestId": request_id,
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "body": encoded,
        "isBase64Encoded": False,
    }


def _answer(invoke: Invoke, event: dict[str, Any]) -> tuple[int, Any]:
    """(status, decoded JSON body or the raw text) of one invocation."""
    response = invoke(event)
    status = int(response.get("statusCode", 0))
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text[:QUOTE_LIMIT]


def check_version(
    invoke: Invoke, settings: HookSettings, request_id: str = "deploy-hook"
) -> HookResult:
    """Run the three checks against the version ``invoke`` reaches; never raises."""
    result = HookResult(target=settings.target)
    try:
        _check(invoke, settings, request_id, result)
    except Exception as exc:  # the hook must report, whatever happened
        result.problems.append(f"check failed: {type(exc).__name__}: {str(exc)[:QUOTE_LIMIT]}")
    return result


def _check(invoke: Invoke, settings: HookSettings, request_id: str, result: HookResult) -> None:
    status, health = _answer(invoke, http_event("GET", "/health", request_id=request_id))
    if status != 200:
        error = health.get("error") if isinstance(health, dict) else health
        result.problems.append(f"GET /health answered {status}: {str(error)[:QUOTE_LIMIT]}")
        return
    result.checks.append("health 200")

    query = f"sha256={settings.expected_sha256}" if settings.expected_sha256 else ""
    status, models = _answer(
        invoke, http_event("GET", "/model/golden", request_id=request_id, query=query)
    )
    if status != 200 or not isinstance(models, dict):
        result.problems.append(f"GET /model/golden answered {status}")
        return
    primary = models.get("primary") or {}
    result.model_version = primary.get("model_version")
    if settings.expected_sha256 is not None:
        if primary.get("sha256_matches") is not True:
            result.problems.append(
                f"the new version serves model {result.model_version}, whose sha256 is not "
                f"{settings.expected_sha256} (ModelSha256)"
            )
            return
        result.checks.append("sha256 matches ModelSha256")
    if primary.get("golden") is None:
        result.problems.append(
            f"model {result.model_version} carries no golden transactions (export it with "
            "a fraud-convert that writes golden_transactions)"
        )
        return
    try:
        golden = parse_golden(json.dumps(primary["golden"]))
    except GoldenError as exc:
        result.problems.append(f"model {result.model_version}: {exc}")
        return

    status, answer = _answer(
        invoke, http_event("POST", "/predict", golden.request_body(), request_id=request_id)
    )
    if status != 200 or not isinstance(answer, dict):
        detail = answer.get("error") if isinstance(answer, dict) else answer
        result.problems.append(f"POST /predict of the golden rows answered {status}: {detail}")
        return
    predictions = answer.get("predictions") or []
    # With an A/B split some golden ids may go to the other arm: compare the primary's rows.
    mine = [
        (index, item)
        for index, item in enumerate(predictions)
        if item.get("model_version", answer.get("model_version")) == result.model_version
    ]
    if len(predictions) != len(golden.transactions) or not mine:
        result.problems.append(
            f"expected {len(golden.transactions)} golden predictions from model "
            f"{result.model_version}, got {len(predictions)} ({len(mine)} from it)"
        )
        return
    problems = []
    for index, item in mine:
        threshold = item.get("threshold", answer.get("threshold"))
        problems += golden.check([item], threshold, rows=[index])
    result.problems += problems
    if not problems:
        result.checks.append(f"{len(mine)} golden transactions reproduced")


def report(codedeploy: Any, event: Mapping[str, Any], passed: bool) -> None:
    """Tell CodeDeploy the hook's outcome (the one call the hook's role allows besides invoke)."""
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status="Succeeded" if passed else "Failed",
    )


def lambda_invoker(client: Any, target: str) -> Invoke:
    """``invoke`` through the Lambda API (synchronous), decoding the function's answer."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(
            FunctionName=target, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise RuntimeError(f"the function failed ({response['FunctionError']}): {message}")
        return payload

    return invoke


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: check the new version, report to CodeDeploy, return the result."""
    import boto3  # lazily: importing the module (tests, tools) must not need AWS
    from botocore.config import Config

    logging.basicConfig(level=logging.INFO)
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2})
    hook_id = str(event.get("LifecycleEventHookExecutionId", "unknown"))[:64]
    try:
        settings = HookSettings.from_env(os.environ)
    except SettingsError as exc:
        result = HookResult(target="?", problems=[f"invalid configuration: {exc}"])
    else:
        invoke = lambda_invoker(boto3.client("lambda", config=config), settings.target)
        result = check_version(invoke, settings, request_id=f"deploy-hook-{hook_id}")
    log.info("deploy hook: %s", json.dumps(result.as_json()))
    report(boto3.client("codedeploy", config=config), event, result.passed)
    return result.as_json()
