"""HTTP plumbing shared by the Starlette routes: JSON responses and bounded, content-type-checked
bodies (the rules themselves are in :mod:`service.bodies`, shared with the fast paths)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.bodies import JSON_TYPE, check_declared_length, too_large
from service.bodies import check_json_content_type as check_content_type
from service.failures import encode_json

__all__ = ["JSON_TYPE", "check_json_content_type", "json_response", "read_body", "read_json_body"]


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response encoded by msgspec (floats keep their shortest round-trip form)."""
    return Response(
        encode_json(content), status_code=status_code, media_type=JSON_TYPE, headers=headers
    )


def check_json_content_type(request: Request) -> None:
    """Accept ``application/json`` (or ``*/*+json``), UTF-8 only; else 415."""
    check_content_type(request.headers.get("content-type"))


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the body, stopping with 413 as soon as it exceeds ``max_bytes`` (never buffered)."""
    check_declared_length(request.headers.get("content-length"), max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_body(request: Request, max_bytes: int) -> bytes:
    """The raw body of a JSON request, after the content-type and size checks."""
    check_json_content_type(request)
    return await read_body(request, max_bytes)
