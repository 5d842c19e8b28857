"""Exceptions to answers: the one place a typed error, a model error or a bug becomes a status,
headers and a JSON body, for every surface (the Starlette app's exception handlers, the ASGI and
Lambda fast paths of POST /predict).

A 5xx says what kind of fault it is and which request (``request_id``), so a client can report
it; its detail is in the log under the same id (issue 13). A 500's own message may name internals,
so the answer carries a fixed sentence and the log the message.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec

from service.api.explain import not_explainable
from service.errors import InternalError, ServiceError
from service.model.errors import NotExplainable, ScoringError
from service.telemetry.logs import REQUEST_LOGGER
from service.telemetry.request_record import RequestLog

JSON_TYPE: Final = "application/json"
_encode = msgspec.json.Encoder().encode


def as_service_error(exc: Exception) -> ServiceError | None:
    """``exc`` as the HTTP error it amounts to; None for a genuine bug (not a typed error)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, NotExplainable):
        return not_explainable()
    if isinstance(exc, ScoringError):
        return InternalError(f"internal error: {exc}")
    return None


def error_body(exc: ServiceError, record: RequestLog) -> dict[str, Any]:
    """The JSON answer of ``exc``; notes its fields in the request's record (names only) and
    logs a 500's message under the request id."""
    record.error_fields.extend(d.field for d in exc.details)
    if exc.status == 500:
        # A typed internal error is still a bug in the service or the model: keep its reason.
        logging.getLogger(REQUEST_LOGGER).error(
            "internal error: %s", exc.message, extra={"fields": {"request_id": record.request_id}}
        )
    body = exc.body()
    if exc.status >= 500:
        if exc.status == 500:  # a bug's message may name internals: the log has it
            body = {"error": InternalError.default_message, "details": []}
        body["request_id"] = record.request_id
    return body


def unhandled_body(request_id: str) -> dict[str, Any]:
    """The answer to a genuine bug (logged by the caller with its traceback)."""
    error = InternalError("internal error: the failure was logged")
    return {**error.body(), "request_id": request_id}


def failure_answer(
    exc: Exception, record: RequestLog
) -> tuple[int, dict[str, str] | None, dict[str, Any]]:
    """(status, extra headers, JSON body) answering ``exc`` on the fast paths; a genuine bug is
    logged here with its traceback (call this inside the ``except`` block)."""
    error = as_service_error(exc)
    if error is None:
        logging.getLogger(REQUEST_LOGGER).exception(
            "unhandled error", extra={"fields": {"request_id": record.request_id}}
        )
        return 500, None, unhandled_body(record.request_id)
    return error.status, error.headers, error_body(error, record)


def json_answer(
    content: Any, extra: dict[str, str] | None, request_id: str
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body bytes and raw headers of a JSON answer, ``X-Request-ID`` last (where the request
    middleware puts it on every other answer)."""
    body = encode_json(content)
    headers = json_headers(body, extra)
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    return body, headers


def json_headers(body: bytes, extra: dict[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    """Raw response headers as Starlette's ``Response`` writes them for a JSON body: the extra
    ones (lower-cased) first, then content-length and content-type."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()]
    headers.append((b"content-length", str(len(body)).encode("latin-1")))
    headers.append((b"content-type", JSON_TYPE.encode("latin-1")))
    return headers


def encode_json(content: Any) -> bytes:
    """A JSON body encoded by msgspec (floats keep their shortest round-trip form)."""
    return _encode(content)
