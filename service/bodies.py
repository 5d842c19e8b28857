"""Request-body rules every surface applies the same way: a JSON content type in UTF-8 and a
size limit, checked on the declared length before reading and on the bytes read.

Framework-free: the Starlette routes (:mod:`service.httpio`), the ASGI fast path and the Lambda
fast path of POST /predict all call these.
"""

from __future__ import annotations

from typing import Final

from service.errors import BadRequest, Detail, PayloadTooLarge, UnsupportedMediaType

JSON_TYPE: Final = "application/json"


def check_json_content_type(raw: str | None) -> None:
    """Accept ``application/json`` (or ``*/*+json``), UTF-8 only; else 415."""
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


def too_large(max_bytes: int) -> PayloadTooLarge:
    """The 413 of a body over ``max_bytes`` (FRAUD_MAX_BODY_BYTES)."""
    return PayloadTooLarge(
        f"request body exceeds {max_bytes} bytes",
        [Detail("body", f"larger than the limit of {max_bytes} bytes (FRAUD_MAX_BODY_BYTES)")],
    )


def check_declared_length(declared: str | None, max_bytes: int) -> None:
    """400 for a Content-Length that is not an integer, 413 for one over ``max_bytes``: the
    body is refused before a byte of it is read."""
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(
            "invalid Content-Length header", [Detail("Content-Length", "not an integer")]
        ) from None
    if length > max_bytes:
        raise too_large(max_bytes)
