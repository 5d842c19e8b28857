"""Typed errors of the scoring API client, each carrying the HTTP status and the API's reason.

An error answer is turned into the matching class by :func:`error_from`, keeping the API's own
reason and its per-field ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ProblemDetail:
    """One entry of the API's ``details`` list: which field, and what is wrong with it."""

    field: str
    problem: str


class ApiError(Exception):
    """The API gave no usable answer. ``status`` is the HTTP status (None if none was received)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        details: Sequence[ProblemDetail] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.details = tuple(details)

    def describe(self) -> str:
        """A one-paragraph human-readable message, naming each offending field."""
        head = f"HTTP {self.status}: {self.reason}" if self.status is not None else self.reason
        if not self.details:
            return head
        return head + "\n" + "\n".join(f"- `{d.field}`: {d.problem}" for d in self.details)


class ApiUnreachable(ApiError):
    """No HTTP answer at all: connection refused, DNS failure, timeout."""


class ApiRejected(ApiError):
    """A 4xx answer: the request was wrong; ``details`` names the fields."""


class ApiServerError(ApiError):
    """A 5xx answer, e.g. 503 while the model is not loaded."""


class ApiBadResponse(ApiError):
    """A 2xx answer whose body is not what the API documents."""


def error_from(response: httpx.Response) -> ApiError:
    """Turn an error answer into the matching typed error, keeping the API's reason."""
    status = response.status_code
    reason = response.reason_phrase or "error"
    details: list[ProblemDetail] = []
    try:
        body = response.json()
    except ValueError:
        body = None
        text = response.text.strip()
        if text:
            reason = text[:300]
    if isinstance(body, Mapping):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, str) and error:
            reason = error
        for item in body.get("details") or ():
            if isinstance(item, Mapping):
                details.append(
                    ProblemDetail(str(item.get("field", "")), str(item.get("problem", "")))
                )
    kind = ApiRejected if 400 <= status < 500 else ApiServerError
    return kind(reason, status=status, details=details)
