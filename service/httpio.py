"""HTTP plumbing shared by routes: JSON responses and bounded, content-type-checked bodies."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from service.errors import BadRequest, Detail, PayloadTooLarge, UnsupportedMediaType

JSON_TYPE = "application/json"
_encoder = msgspec.json.Encoder()


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response encoded by msgspec (floats keep their shortest round-trip form)."""
    return Response(
        _encoder.encode(content), status_code=status_code, media_type=JSON_TYPE, headers=headers
    )


def check_json_content_type(request: Request) -> None:
    """Accept ``application/json`` (or ``*/*+json``), UTF-8 only; else 415."""
    raw = request.headers.get("content-type")
    if raw is None:
        raise UnsupportedMediaType(
            "missing Content-Type: send the body as application/json",
            [Detail("Content-Type", "missing; expected application/json")],
        )
    media, *params = (part.strip() for part in raw.split(";"))
    media = media.lower()
    if media != JSON_TYPE and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaType(
            f"unsupported content type {media!r}: send application/json",
            [Detail("Content-Type", f"{media!r} is not application/json")],
        )
    for param in params:
        key, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"unsupported charset {charset!r}: JSON bodies must be UTF-8",
                [Detail("Content-Type", f"charset {charset!r} is not utf-8")],
            )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the body, stopping with 413 as soon as it exceeds ``max_bytes`` (never buffered)."""
    too_large = PayloadTooLarge(
        f"request body exceeds {max_bytes} bytes",
        [Detail("body", f"larger than the limit of {max_bytes} bytes (FRAUD_MAX_BODY_BYTES)")],
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise BadRequest(
                "invalid Content-Length header", [Detail("Content-Length", "not an integer")]
            ) from None
        if length > max_bytes:
            raise too_large
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_body(request: Request, max_bytes: int) -> bytes:
    """The raw body of a JSON request, after the content-type and size checks."""
    check_json_content_type(request)
    return await read_body(request, max_bytes)
