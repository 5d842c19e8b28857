"""The outermost ASGI middleware: request ids, the per-request log line, JSON 500s for bugs, and
the fast path of POST /predict.

Every request gets a :class:`~service.telemetry.request_record.RequestLog` (routes fill it in) and,
once answered, its log line and telemetry (:class:`~service.telemetry.request_record.
RequestLogWriter`). POST /predict, the one route on the hot path, is answered here directly by the
framework-free endpoint (:class:`service.api.predict.PredictEndpoint`), without Starlette's router,
``Request`` object, exception middleware or ``Response`` (issue 20: about a tenth of a request's
time); every other request goes through the Starlette app. Answers are the same either way: the
Starlette route of /predict calls the same endpoint, and the error bodies come from
:mod:`service.failures` on both paths (tests compare them).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette._utils import get_route_path
from starlette.requests import Request

from service.auth import API_KEY_HEADER_RAW, require_key
from service.failures import encode_json, failure_answer, json_answer, json_headers, unhandled_body
from service.telemetry.logs import REQUEST_LOGGER
from service.telemetry.request_record import (
    RequestLog,
    new_request_id,
    request_ids,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from service.api.predict import PredictEndpoint
    from service.runtime import ServiceRuntime

__all__ = ["RequestLogMiddleware", "request_log"]

_STATE_KEY = "fraudlite_log"
#: Status noted when the client went away before its body arrived (nothing is answered).
CLIENT_CLOSED = 499


class ClientDisconnected(Exception):
    """The client closed the connection while its body was being read."""


def request_log(request: Request) -> RequestLog:
    """This request's log record (created by the middleware; a fresh one if it is absent)."""
    state = request.scope.setdefault("state", {})
    if _STATE_KEY not in state:
        state[_STATE_KEY] = RequestLog(request_id=new_request_id())
    return state[_STATE_KEY]


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    raw = _header_raw(headers, name)
    return None if raw is None else raw.decode("latin-1")


class RequestLogMiddleware:
    """Outermost ASGI middleware: request ids, the per-request log line, JSON 500s for bugs;
    POST /predict answered directly (``fast_predict=False`` sends it through Starlette too)."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime, fast_predict: bool = True) -> None:
        self.app = app
        self.writer = runtime.writer
        self.endpoint = runtime.endpoint if fast_predict else None
        self.digests = runtime.state.settings.api_keys_sha256
        self.log = logging.getLogger(REQUEST_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        headers = scope["headers"]
        request_id, lambda_id = request_ids(
            _header(headers, b"x-request-id"), scope.get("aws.event"), scope.get("aws.context")
        )
        record = self.writer.start(request_id, lambda_id)
        scope.setdefault("state", {})[_STATE_KEY] = record
        if (
            self.endpoint is not None
            and scope["method"] == "POST"
            and get_route_path(scope) == "/predict"
        ):
            status = await self._predict(headers, receive, send, record)
            self.writer.write(record, "POST", "/predict", status, started)
            return
        status = 500
        response_started = False
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), request_id_header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A genuine bug (client mistakes are typed errors handled inside the app).
            self._log_bug(request_id)
            if not response_started:
                await _send_json(send_with_id, 500, unhandled_body(request_id))
            status = 500
        finally:
            route = getattr(scope.get("route"), "path", None)
            self.writer.write(record, scope.get("method"), route, status, started)

    async def _predict(
        self, headers: list[tuple[bytes, bytes]], receive: Receive, send: Send, record: RequestLog
    ) -> int:
        """POST /predict without Starlette; returns the status answered."""
        endpoint = self.endpoint
        assert endpoint is not None
        extra: dict[str, str] | None = None
        content: Any
        try:
            if self.digests:
                require_key(_header_raw(headers, API_KEY_HEADER_RAW), self.digests)
            endpoint.admit(_header(headers, b"content-type"), _header(headers, b"content-length"))
            body = await _read_body(receive, endpoint)
            content, status = endpoint.answer(body, record), 200
        except ClientDisconnected:
            return CLIENT_CLOSED
        except Exception as exc:
            status, extra, content = failure_answer(exc, record)
        raw, response_headers = json_answer(content, extra, record.request_id)
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})
        return status

    def _log_bug(self, request_id: str) -> None:
        self.log.exception("unhandled error", extra={"fields": {"request_id": request_id}})


def _header_raw(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


async def _read_body(receive: Receive, endpoint: PredictEndpoint) -> bytes:
    """The whole body, stopping with 413 as soon as it passes the limit (never buffered)."""
    limit = endpoint.max_body_bytes
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        if chunk:
            received += len(chunk)
            if received > limit:
                raise endpoint.too_large()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(send: Send, status: int, content: Any) -> None:
    raw = encode_json(content)
    await send({"type": "http.response.start", "status": status, "headers": json_headers(raw)})
    await send({"type": "http.response.body", "body": raw})
