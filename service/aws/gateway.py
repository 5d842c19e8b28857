"""API Gateway events and answers without Mangum, for the Lambda fast path of POST /predict.

Reads the same fields of an HTTP API (payload 2.0 or 1.0) or REST API event that Mangum 0.22's
``HTTPGateway`` and ``APIGateway`` handlers read, and builds the answer dict they build for a
JSON response, so a client cannot tell which path answered (tests compare both on real event
payloads). Anything else (an ALB or Lambda@Edge event, a malformed event) is not recognised here
and goes to Mangum.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """The parts of an API Gateway event the fast path reads."""

    version: str  # "2.0" (HTTP API payload 2.0), "1.0" (HTTP API payload 1.0) or "rest"
    method: str
    path: str  # after the base path is stripped and the path unquoted, as Mangum does
    headers: dict[str, str]  # lower-case names
    event: dict[str, Any]

    def body(self) -> bytes:
        """The body bytes (base64-decoded when the event says so). Raises ValueError for a
        body that claims base64 but is not (API Gateway never sends one)."""
        raw = self.event.get("body") or b""
        if self.event.get("isBase64Encoded", False):
            try:
                return base64.b64decode(raw, validate=False)
            except (binascii.Error, TypeError) as exc:
                raise ValueError("body is not valid base64") from exc
        return raw.encode() if isinstance(raw, str) else bytes(raw)


def parse_event(event: Any, base_path: str) -> GatewayRequest | None:
    """The request of an API Gateway HTTP event; None for any other event (Mangum's job)."""
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict) or "elb" in context:
        return None
    try:
        if "version" in event:
            if event["version"] == "2.0":
                http = context["http"]
                method, path = http["method"], http["path"]
                headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
                if event.get("cookies"):
                    headers["cookie"] = "; ".join(event["cookies"])
                version = "2.0"
            else:
                method, path = event["httpMethod"], event["path"]
                headers, version = _v1_headers(event), "1.0"
        elif "resource" in event:
            method, path = event["httpMethod"], event["path"]
            headers, version = _v1_headers(event), "rest"
        else:
            return None
    except (KeyError, TypeError, AttributeError):
        return None  # let Mangum say what it makes of it
    if not isinstance(method, str) or not isinstance(path, str):
        return None
    return GatewayRequest(version, method, _strip_base_path(path, base_path), headers, event)


def _v1_headers(event: dict[str, Any]) -> dict[str, str]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if event.get("multiValueHeaders"):
        headers.update(
            {
                k.lower(): ", ".join(v) if isinstance(v, list) else ""
                for k, v in event["multiValueHeaders"].items()
            }
        )
    return headers


def _strip_base_path(path: str, base_path: str) -> str:
    if not path:
        return "/"
    if base_path and base_path != "/":
        if not base_path.startswith("/"):
            base_path = f"/{base_path}"
        if path.startswith(base_path):
            path = path[len(base_path) :]
    return unquote(path)


def gateway_response(
    request: GatewayRequest, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> dict[str, Any]:
    """The Lambda result for a JSON answer, as Mangum builds it for ``request``'s event kind
    (the headers are single-valued, none is Set-Cookie, and the body is UTF-8 JSON)."""
    flat = {key.decode().lower(): value.decode() for key, value in headers}
    text = body.decode()
    if request.version == "2.0":
        return {"statusCode": status, "body": text, "headers": flat, "isBase64Encoded": False}
    return {
        "statusCode": status,
        "headers": flat,
        "multiValueHeaders": {},
        "body": text,
        "isBase64Encoded": False,
    }
