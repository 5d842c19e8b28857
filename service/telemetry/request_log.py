"""Structured logs: one JSON line per request, and the last-resort handler for genuine bugs.

The same middleware hands each answered request to the app's telemetry (issue 15): one metrics
observation (:mod:`service.telemetry.metrics`) and the decision records the scoring routes
attached (:mod:`service.telemetry.decision_log`), both written after the answer.

The request line carries ids, route, status, batch size, scoring time and model version, never
transaction values: a 422 lists the offending field *names* only. The request id comes from API
Gateway (``requestContext.requestId``) on Lambda, else from an ``X-Request-ID`` header, else it is
generated; it is echoed in the ``X-Request-ID`` response header.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import numpy as np
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import InternalError
from service.telemetry.decision_log import DecisionBatch
from service.telemetry.metrics import NO_MODEL, Observation, route_name
from service.telemetry.setup import Telemetry

REQUEST_LOGGER = "fraudlite.request"
_STATE_KEY = "fraudlite_log"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:=/+-]{1,128}$")
_HANDLER_MARK = "_fraudlite_handler"


@dataclass
class RequestLog:
    """Per-request fields routes fill in; the middleware writes them out."""

    request_id: str
    lambda_request_id: str | None = None
    batch_size: int | None = None
    scoring_us: int | None = None
    error_fields: list[str] = field(default_factory=list)
    # --- telemetry (issue 15): filled by scoring routes, written after the response ---
    #: set by the middleware when the app records metrics or decisions (else routes skip it)
    telemetry_on: bool = False
    #: transactions scored as fraud (set with batch_size by the scoring routes)
    flagged: int | None = None
    #: the request's decisions, for the decision log (service/telemetry/decision_log.py)
    decisions: DecisionBatch | None = None
    #: extension metrics: name -> (value summed over the request, CloudWatch unit)
    metrics: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add_metric(self, name: str, value: float, unit: str = "Count") -> None:
        """Add ``value`` to an extension metric of this request (service/telemetry/metrics.py)."""
        previous = self.metrics.get(name)
        self.metrics[name] = ((previous[0] if previous else 0) + value, unit)


def request_log(request: Request) -> RequestLog:
    """This request's log record (created by the middleware; a fresh one if it is absent)."""
    state = request.scope.setdefault("state", {})
    if _STATE_KEY not in state:
        state[_STATE_KEY] = RequestLog(request_id=uuid.uuid4().hex)
    return state[_STATE_KEY]


def record_decisions(
    request: Request,
    *,
    model_version: str,
    threshold: float,
    probabilities: np.ndarray,
    labels: np.ndarray,
    columns: Mapping[str, np.ndarray],
    transaction_ids: Sequence[str | int | None] | None = None,
    contributions: list[dict[str, Any]] | None = None,
) -> DecisionBatch | None:
    """Note a scoring call's outcome for telemetry: the flagged count (metrics) and the decisions
    (decision log), both written by the middleware after the answer. Every scoring route calls
    this once; the returned batch may still be extended (``batch.extra``, ``batch.fields``).
    None when the app records neither (no work is done then)."""
    log = request_log(request)
    if not log.telemetry_on:
        return None
    log.flagged = int(np.count_nonzero(labels))
    log.decisions = DecisionBatch(
        model_version=model_version,
        threshold=threshold,
        probabilities=probabilities,
        labels=labels,
        columns=columns,
        transaction_ids=transaction_ids,
        contributions=contributions,
    )
    return log.decisions


class JsonFormatter(logging.Formatter):
    """Render records as one JSON object per line; ``record.fields`` is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send the service's ``fraudlite.*`` logs as JSON lines to ``stream`` (stdout by default).

    Called by the entry points only (Lambda handler, CLI), so tests keep pytest's capture.
    Propagation stops here so Lambda's root handler does not print every line twice.
    """
    logger = logging.getLogger("fraudlite")
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    # Mangum logs its own line per invocation; ours already covers it.
    logging.getLogger("mangum").setLevel(max(logging.WARNING, logger.level))


def find_request_ids(scope: Scope) -> tuple[str, str | None]:
    """(request id, Lambda invocation id or None) for an ASGI scope."""
    context = scope.get("aws.context")
    lambda_id = getattr(context, "aws_request_id", None) if context is not None else None
    event = scope.get("aws.event")
    if isinstance(event, dict):
        gateway_id = (event.get("requestContext") or {}).get("requestId")
        if isinstance(gateway_id, str) and gateway_id:
            return gateway_id, lambda_id
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if _SAFE_ID.match(text):
                return text, lambda_id
    return lambda_id or uuid.uuid4().hex, lambda_id


class RequestLogMiddleware:
    """Outermost ASGI middleware: request ids, the per-request log line, JSON 500s for bugs."""

    def __init__(
        self, app: ASGIApp, model_version: str | None, telemetry: Telemetry | None = None
    ) -> None:
        self.app = app
        self.model_version = model_version
        self.log = logging.getLogger(REQUEST_LOGGER)
        self.telemetry = telemetry or Telemetry()
        self.telemetry_on = self.telemetry.active

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        request_id, lambda_id = find_request_ids(scope)
        record = RequestLog(
            request_id=request_id, lambda_request_id=lambda_id, telemetry_on=self.telemetry_on
        )
        scope.setdefault("state", {})[_STATE_KEY] = record
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A genuine bug (client mistakes are typed errors handled inside the app).
            self.log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if not response_started:
                await _send_internal_error(send_with_id, request_id)
            status = 500
        finally:
            self._write(scope, record, status, started)

    def _write(self, scope: Scope, record: RequestLog, status: int, started: int) -> None:
        route = scope.get("route")
        fields: dict[str, Any] = {
            "event": "request",
            "request_id": record.request_id,
            "method": scope.get("method"),
            "route": getattr(route, "path", None),
            "status": status,
            "batch_size": record.batch_size,
            "scoring_us": record.scoring_us,
            "duration_us": (time.perf_counter_ns() - started) // 1000,
            "model_version": self.model_version,
        }
        if record.lambda_request_id:
            fields["lambda_request_id"] = record.lambda_request_id
        if record.error_fields:
            fields["error_fields"] = record.error_fields[:20]
        if self.telemetry_on:  # its lines go out with the request line's flush
            self._telemetry(scope, record, status, started)
        level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
        self.log.log(level, "request", extra={"fields": fields})
        if self.telemetry_on:
            try:
                self.telemetry.flush()
            except Exception:
                self.log.exception(
                    "telemetry failed", extra={"fields": {"event": "telemetry_error"}}
                )

    def _telemetry(self, scope: Scope, record: RequestLog, status: int, started: int) -> None:
        """Metrics and decision records of the request, after its answer (issue 15).

        A telemetry fault is logged and swallowed: it must never turn an answer into an error.
        """
        try:
            route = route_name(scope)
            decisions = self.telemetry.decisions
            if decisions is not None and record.decisions is not None and status < 400:
                decisions.record(record.decisions, record.request_id, route)
            self.telemetry.metrics.observe(
                Observation(
                    route=route,
                    status=status,
                    latency_ms=((time.perf_counter_ns() - started) // 1000) / 1000,
                    model_version=self.model_version or NO_MODEL,
                    batch_size=record.batch_size,
                    scoring_us=record.scoring_us,
                    flagged=record.flagged,
                    extra=record.metrics,
                )
            )
        except Exception:
            self.log.exception("telemetry failed", extra={"fields": {"event": "telemetry_error"}})


async def _send_internal_error(send: Send, request_id: str) -> None:
    # The request id lets a client point at the logged failure (issue 13: kind + id only).
    error = InternalError("internal error: the failure was logged")
    body = json.dumps({**error.body(), "request_id": request_id}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
