"""Typed errors: each HTTP error carries its status, message and field-level details.

Route code raises these; one exception handler in :mod:`service.app` turns them into the JSON
body ``{"error": "...", "details": [{"field": "...", "problem": "..."}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Detail:
    """One problem with one field; ``field`` is a path such as ``transactions[3].amount``."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class ServiceError(Exception):
    """Base of the errors the service answers with a JSON body (never a traceback)."""

    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "internal error"

    def __init__(
        self,
        message: str | None = None,
        details: list[Detail] | tuple[Detail, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = tuple(details)
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "details": [d.as_dict() for d in self.details]}


class BadRequest(ServiceError):
    status = 400
    default_message = "bad request"


class MalformedJSON(BadRequest):
    default_message = "malformed JSON"


class NotFound(ServiceError):
    status = 404
    default_message = "not found"


class MethodNotAllowed(ServiceError):
    status = 405
    default_message = "method not allowed"


class PayloadTooLarge(ServiceError):
    status = 413
    default_message = "request body too large"


class UnsupportedMediaType(ServiceError):
    status = 415
    default_message = "unsupported content type"


class ValidationFailed(ServiceError):
    status = 422
    default_message = "invalid request"


class ModelUnavailable(ServiceError):
    status = 503
    default_message = "model not loaded"


class InternalError(ServiceError):
    status = 500
    default_message = "internal error"
