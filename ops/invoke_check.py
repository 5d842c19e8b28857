"""``fraud-invoke-check URL``: the Lambda image answers API Gateway (HTTP API 2.0) events.

CI builds the image and starts it with ``docker run -p 127.0.0.1:9000:8080``: the AWS Lambda
base image then runs its own Runtime Interface Emulator, whose invoke endpoint is
``http://127.0.0.1:9000/2015-03-31/functions/function/invocations``. This command posts payload
2.0 events there, as API Gateway would, and checks the handler's answers: ``GET /health`` is 200
with a model version, ``POST /predict`` with the fraud-like transaction is flagged, and ``POST
/v2/models/fraudlite/infer`` (KServe V2, with the inputs ``GET /v2/models/fraudlite`` lists)
labels it 1. ``make image-test`` does all three steps.

URL may be the endpoint itself or the emulator's base URL. Exit 0 when all pass, 1 otherwise
(or when the emulator never answers within ``--wait`` seconds), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from benchmarks.events import http_api_v2_event
from ops.http_client import HttpCheckError, call
from ops.smoke import FRAUD_LIKE, V2_MODEL

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def invoke_url(url: str) -> str:
    """The emulator's invoke endpoint for ``url`` (a base URL or the endpoint itself)."""
    parsed = urlparse(url)
    if parsed.scheme != "http" or not parsed.netloc:
        raise ValueError(f"URL must be http://host:port of the emulator, got {url!r}")
    return url if parsed.path.endswith(INVOKE_PATH) else url.rstrip("/") + INVOKE_PATH


def route_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A payload 2.0 event for one of template.yaml's explicit routes."""
    event = http_api_v2_event(body if body is not None else {}, path)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["requestContext"]["http"]["method"] = method
    if body is None:
        event.pop("body")
        event["headers"].pop("content-type")
    return event


def v2_infer_body(names: Sequence[str] | None = None) -> dict[str, Any]:
    """The fraud-like transaction as a KServe V2 infer request with the inputs ``names`` (the
    model's, from its V2 metadata; default: every input of the full feature set)."""
    if names is None:
        names = [n for n in FRAUD_LIKE if n != "transaction_id"]
    return {
        "inputs": [
            {
                "name": n,
                "shape": [1],
                "datatype": "BYTES" if n == "type" else "FP32",
                "data": [FRAUD_LIKE[n]],
            }
            for n in names
        ]
    }


def input_names(metadata: Any) -> list[str] | None:
    """The input names of a V2 model metadata body, when they are all smoke-row fields."""
    inputs = metadata.get("inputs") if isinstance(metadata, dict) else None
    if not isinstance(inputs, list):
        return None
    names = [i.get("name") for i in inputs if isinstance(i, dict)]
    return names if names and all(n in FRAUD_LIKE for n in names) else None


def checks() -> list[tuple[str, dict[str, Any], Any]]:
    """(name, event, test of the decoded body) for each invocation; the V2 infer event is built
    from the answer of the metadata event before it (see :func:`run_checks`)."""
    return [
        (
            "GET /health",
            route_event("GET", "/health"),
            lambda b: b.get("status") == "ok" and bool(b.get("model_version")),
        ),
        (
            "POST /predict fraud-like",
            route_event("POST", "/predict", FRAUD_LIKE),
            lambda b: b.get("is_fraud") is True,
        ),
        (
            f"GET /v2/models/{V2_MODEL}",
            route_event("GET", f"/v2/models/{V2_MODEL}"),
            lambda b: input_names(b) is not None,
        ),
    ]


def _infer_check(names: Sequence[str] | None) -> tuple[str, dict[str, Any], Any]:
    return (
        f"POST /v2/models/{V2_MODEL}/infer",
        route_event("POST", f"/v2/models/{V2_MODEL}/infer", v2_infer_body(names)),
        lambda b: any(
            o.get("name") == "label" and o.get("data") == [1] for o in b.get("outputs", [])
        ),
    )


def wait_until_up(url: str, wait: float) -> None:
    """Retry the first invocation until the emulator accepts connections or ``wait`` runs out."""
    deadline = time.monotonic() + wait
    while True:
        try:
            call("POST", url, route_event("GET", "/health"), timeout=60)
            return
        except HttpCheckError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_checks(url: str, wait: float = 30.0) -> list[tuple[str, bool, str]]:
    """Invoke each event; (name, ok, detail) per check."""
    endpoint = invoke_url(url)
    wait_until_up(endpoint, wait)
    results = []
    names: list[str] | None = None
    pending = checks()
    while pending:
        name, event, good = pending.pop(0)
        answer = call("POST", endpoint, event, timeout=60)
        reply = answer.body if isinstance(answer.body, dict) else {}
        status = reply.get("statusCode")
        try:
            body = json.loads(reply.get("body") or "null")
        except json.JSONDecodeError:
            body = None
        ok = answer.status == 200 and status == 200 and isinstance(body, dict) and good(body)
        detail = f"invoke HTTP {answer.status}, statusCode {status}"
        results.append((name, ok, detail if ok else f"{detail}: {answer.excerpt()}"))
        if name == f"GET /v2/models/{V2_MODEL}":
            names = input_names(body) if ok else None
            pending.append(_infer_check(names))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Send the events; exit 0 when every answer is right, 1 otherwise, 2 for usage errors."""
    p = argparse.ArgumentParser(
        prog="fraud-invoke-check",
        description="Post API Gateway HTTP API 2.0 events to a Lambda invoke endpoint (the RIE "
        "in the Lambda base image) and check the answers.",
    )
    p.add_argument("url", help="e.g. http://127.0.0.1:9000 (docker run -p 127.0.0.1:9000:8080)")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the emulator")
    args = p.parse_args(argv)
    try:
        results = run_checks(args.url, args.wait)
    except ValueError as exc:
        p.exit(2, f"fraud-invoke-check: error: {exc}\n")
    except HttpCheckError as exc:
        print(f"FAIL  emulator: {exc}")
        return 1
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
