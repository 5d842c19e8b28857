"""A small JSON-over-HTTP client on the standard library, for the smoke and invoke checks.

No third-party HTTP library: the checks run in CI right after `pip install`, and on any machine
with Python, against a local server or an API Gateway URL alike.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Bytes of a response body kept for error messages (bodies are not echoed in full).
EXCERPT = 300


class HttpCheckError(Exception):
    """The server could not be reached or did not answer JSON."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status and parsed JSON body (None when the body is not JSON)."""

    status: int
    body: Any
    text: str

    def excerpt(self) -> str:
        return self.text[:EXCERPT]


def call(
    method: str,
    url: str,
    payload: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    """``method url`` with an optional JSON ``payload``; 4xx/5xx are answers, not exceptions."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        # Only http(s) URLs reach here: the commands check the scheme of what they are given.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HttpCheckError(f"{method} {url}: {reason}") from exc
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = None
    return Answer(status, body, text)
