"""API keys for ``fraud-serve`` (and any deployment that sets FRAUD_API_KEYS_SHA256).

The settings hold sha256 hex digests of the accepted keys, never the keys. A request must send
one key in ``X-API-Key``; its sha256 is compared with every accepted digest in constant time
(``hmac.compare_digest``, all of them, no early exit). Without a valid key every route except
``GET /health`` answers 401 with the service's JSON error form. Keys are never logged: the
request log records only the status.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Final

from service.errors import Detail, ServiceError
from service.failures import encode_json, json_headers

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_HEADER: Final = "X-API-Key"
#: Routes answered without a key: load balancers and uptime checks probe it.
OPEN_PATHS: Final = frozenset({"/health"})
#: The header's name as ASGI servers and API Gateway events give it (lower case).
API_KEY_HEADER_RAW: Final = API_KEY_HEADER.lower().encode("latin-1")
#: Longer header values are refused without hashing (a key is a short random token).
MAX_KEY_BYTES: Final = 256


class Unauthorized(ServiceError):
    status = 401
    default_message = "authentication required"


def key_digest(key: str | bytes) -> str:
    """The sha256 hex digest to put in FRAUD_API_KEYS_SHA256 for ``key``."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()


def key_accepted(presented: bytes | None, digests: tuple[str, ...]) -> bool:
    """Whether ``presented`` hashes to one of ``digests``; constant time in the key's value."""
    if not presented or len(presented) > MAX_KEY_BYTES:
        return False
    digest = key_digest(presented).encode("ascii")
    matched = False
    for accepted in digests:  # every digest is compared: timing does not say which one matched
        matched |= hmac.compare_digest(digest, accepted.encode("ascii"))
    return matched


def require_key(presented: bytes | None, digests: tuple[str, ...]) -> None:
    """Raise the 401 :class:`Unauthorized` unless ``presented`` is an accepted key."""
    if key_accepted(presented, digests):
        return
    problem = "missing" if presented is None else "not an accepted key"
    raise Unauthorized(
        f"authentication required: send a valid {API_KEY_HEADER} header",
        [Detail(API_KEY_HEADER, problem)],
        headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
    )


def _presented_key(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == API_KEY_HEADER_RAW:
            return value
    return None


class ApiKeyMiddleware:
    """ASGI middleware: 401 for any route but :data:`OPEN_PATHS` without an accepted key."""

    def __init__(self, app: ASGIApp, digests: tuple[str, ...]) -> None:
        self.app = app
        self.digests = digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            require_key(_presented_key(scope), self.digests)
        except Unauthorized as error:
            body = encode_json(error.body())
            headers = json_headers(body, error.headers)
            await send({"type": "http.response.start", "status": error.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
