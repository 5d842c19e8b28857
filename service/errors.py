"""Typed errors: each HTTP error carries its status, message and field-level details.

Route code raises these; one exception handler in :mod:`service.app` turns them into the JSON
body ``{"error": "...", "details": [{"field": "...", "problem": "..."}]}``.

Field names, problems and messages can carry client-chosen text (an unknown key, a path, a model
name), so every one is cut here, centrally, and the number of details is capped: no request can
make an error answer or a log line grow with its own size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

#: Longest field name kept in a detail (and so in the request log's ``error_fields``).
MAX_FIELD_CHARS: Final = 64
#: Longest problem sentence kept in a detail.
MAX_PROBLEM_CHARS: Final = 300
#: Longest error message kept.
MAX_MESSAGE_CHARS: Final = 1024
#: Most details one error answer carries.
MAX_DETAILS: Final = 50
_ELLIPSIS: Final = "..."


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


@dataclass(frozen=True)
class Detail:
    """One problem with one field; ``field`` is a path such as ``transactions[3].amount``.

    Both are cut to :data:`MAX_FIELD_CHARS` and :data:`MAX_PROBLEM_CHARS`: a field name may be
    any key a client sent.
    """

    field: str
    problem: str

    def __post_init__(self) -> None:
        # Frozen dataclass: the cut copies are stored through object.__setattr__.
        object.__setattr__(self, "field", bounded(str(self.field), MAX_FIELD_CHARS))
        object.__setattr__(self, "problem", bounded(str(self.problem), MAX_PROBLEM_CHARS))

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
        self.message = bounded(message or self.default_message, MAX_MESSAGE_CHARS)
        self.details = tuple(details[:MAX_DETAILS])
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
