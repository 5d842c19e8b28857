"""API Gateway HTTP API Lambda authorizer for ``AuthMode=APIKEY`` (template.yaml).

Handler ``service.aws.authorizer.handler`` (the scoring image, another command). API Gateway
calls it as a REQUEST authorizer, payload format 2.0 with simple responses, the identity source
being the ``x-api-key`` header, and caches each answer by that header's value for
``AuthorizerCacheSeconds``. It answers ``{"isAuthorized": true}`` when the sha256 of the key is
one of the accepted digests, compared in constant time.

The digests (comma-separated sha256 hex, never the keys) live in one SSM Parameter Store
SecureString (FRAUD_API_KEYS_PARAMETER); the function's role may read exactly that parameter.
They are fetched with boto3 (imported lazily) and kept for FRAUD_API_KEYS_CACHE_SECONDS, so a
rotated key takes effect within that time plus API Gateway's own cache. If SSM cannot be read,
the last digests read are kept; with none, every request is refused (fail closed). Keys and
digests are never logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.auth import key_accepted
from service.settings import SettingsError, parse_key_digests
from service.settings.companions import AuthorizerSettings

log = logging.getLogger("fraudlite.authorizer")

#: The header API Gateway passes (HTTP API lowercases header names in payload 2.0).
HEADER = "x-api-key"


def ssm_reader(endpoint_url: str | None = None) -> Callable[[str], str]:
    """A function returning the decrypted value of an SSM parameter (boto3 imported here)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "ssm",
        endpoint_url=endpoint_url,
        config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2}),
    )

    def read(name: str) -> str:
        return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]

    return read


@dataclass
class KeyDigests:
    """Accepted key digests, read from SSM and kept ``cache_seconds``."""

    settings: AuthorizerSettings
    read: Callable[[str], str]
    clock: Callable[[], float] = time.monotonic
    digests: tuple[str, ...] = ()
    fetched_at: float | None = field(default=None)

    def current(self) -> tuple[str, ...]:
        now = self.clock()
        fresh = self.fetched_at is not None and now - self.fetched_at < self.settings.cache_seconds
        if fresh:
            return self.digests
        try:
            self.digests = parse_key_digests(self.read(self.settings.parameter_name))
            self.fetched_at = now
        except Exception as exc:  # SSM down, denied, or a malformed value: keep what we had
            # The parameter's name and the error class only: never its value.
            log.error(
                "cannot read the API key digests from %s: %s (%s)",
                self.settings.parameter_name,
                type(exc).__name__,
                "keeping the last ones read" if self.digests else "refusing every request",
            )
        return self.digests


def authorize(event: Mapping[str, Any], keys: KeyDigests) -> dict[str, bool]:
    """The simple response for one authorizer event (payload format 2.0)."""
    headers = event.get("headers") or {}
    presented = headers.get(HEADER) if isinstance(headers, Mapping) else None
    accepted = isinstance(presented, str) and key_accepted(
        presented.encode("utf-8"), keys.current()
    )
    return {"isAuthorized": accepted}


_KEYS: KeyDigests | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, bool]:
    """Lambda entry point. The digests' store is built on the first call and kept warm."""
    global _KEYS
    if _KEYS is None:
        try:
            settings = AuthorizerSettings.from_env(os.environ)
        except SettingsError as exc:  # misconfigured: refuse everything, say why in the log
            log.error("invalid configuration: %s", exc)
            return {"isAuthorized": False}
        _KEYS = KeyDigests(settings, ssm_reader(settings.ssm_endpoint_url))
    return authorize(event, _KEYS)
