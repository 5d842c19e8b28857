"""Settings of the deployment's companion Lambda functions: the APIKEY authorizer
(service/aws/authorizer.py), the CodeDeploy pre-traffic hook (service/aws/deploy_hook.py) and the
drift job (service/aws/drift_job.py).

Part of the one place ``FRAUD_*`` variables are read (this package), in a module of their own so
that the scoring function's cold start does not build three dataclasses it never uses (issue 20).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from service.settings import (
    _SHA256,
    DEFAULT_METRICS_NAMESPACE,
    SettingsError,
    _check_endpoint,
)


@dataclass(frozen=True)
class AuthorizerSettings:
    """Configuration of the APIKEY Lambda authorizer (service/aws/authorizer.py)."""

    #: SSM parameter (SecureString) holding the comma-separated sha256 digests of accepted keys.
    parameter_name: str
    #: How long the digests read from SSM are reused before reading them again.
    cache_seconds: int = 300
    #: SSM endpoint override (tests against moto).
    ssm_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthorizerSettings:
        """From FRAUD_API_KEYS_PARAMETER, FRAUD_API_KEYS_CACHE_SECONDS, FRAUD_SSM_ENDPOINT_URL."""
        name = environ.get("FRAUD_API_KEYS_PARAMETER", "").strip()
        if not name:
            raise SettingsError("FRAUD_API_KEYS_PARAMETER", "must name the SSM parameter")
        raw_seconds = environ.get("FRAUD_API_KEYS_CACHE_SECONDS", "").strip() or "300"
        try:
            seconds = int(raw_seconds)
        except ValueError:
            raise SettingsError("FRAUD_API_KEYS_CACHE_SECONDS", "expected an integer") from None
        if not 0 <= seconds <= 3600:
            raise SettingsError("FRAUD_API_KEYS_CACHE_SECONDS", "must be between 0 and 3600")
        endpoint = environ.get("FRAUD_SSM_ENDPOINT_URL", "").strip() or None
        if endpoint is not None:
            _check_endpoint(endpoint, "FRAUD_SSM_ENDPOINT_URL")
        return cls(parameter_name=name, cache_seconds=seconds, ssm_endpoint_url=endpoint)


@dataclass(frozen=True)
class HookSettings:
    """The CodeDeploy pre-traffic hook's configuration (service/aws/deploy_hook.py).

    ``target`` is the function version being deployed (template.yaml passes
    ``ScoringFunction.Version``); ``expected_sha256`` the ModelSha256 it must serve (None: only the
    golden transactions are checked).
    """

    target: str
    expected_sha256: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HookSettings:
        target = environ.get("FRAUD_HOOK_TARGET", "").strip()
        if not target:
            raise SettingsError("FRAUD_HOOK_TARGET", "the function version to check is not set")
        sha = environ.get("FRAUD_HOOK_EXPECTED_SHA256", "").strip().lower() or None
        if sha is not None and not _SHA256.match(sha):
            raise SettingsError("FRAUD_HOOK_EXPECTED_SHA256", "expected 64 lowercase hex digits")
        return cls(target=target, expected_sha256=sha)


# --- drift monitoring (issue 17): the scheduled drift job's own settings ---
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class DriftJobSettings:
    """The drift job's configuration (service/aws/drift_job.py); docs/drift.md lists them.

    ``source``: the S3 prefix the decision log reaches (Firehose); objects modified in the last
    ``days`` days are read. ``retrain_secret_id`` and ``retrain_repository`` both set: a drift
    sends a GitHub ``repository_dispatch`` (event type ``drift-detected``) with the token in
    that Secrets Manager secret.
    """

    model_uri: str
    source: str
    model_sha256: str | None = None
    days: int = 1
    watch: float = 0.1
    drift: float = 0.25
    min_rows: int = 1000
    report_uri: str | None = None
    namespace: str = DEFAULT_METRICS_NAMESPACE
    retrain_secret_id: str | None = None
    retrain_repository: str | None = None
    github_api_url: str = "https://api.github.com"

    def __post_init__(self) -> None:
        for name, value in (
            ("FRAUD_DRIFT_SOURCE", self.source),
            ("FRAUD_DRIFT_REPORT_URI", self.report_uri),
        ):
            if value is not None and not _S3_PREFIX.match(value):
                raise SettingsError(name, "expected s3://bucket/prefix")
        if self.model_sha256 is not None and not _SHA256.match(self.model_sha256):
            raise SettingsError("FRAUD_MODEL_SHA256", "expected 64 lowercase hex digits")
        if not 1 <= self.days <= 31:
            raise SettingsError("FRAUD_DRIFT_DAYS", "must be 1 to 31")
        if not (
            math.isfinite(self.watch) and math.isfinite(self.drift) and 0 < self.watch <= self.drift
        ):
            raise SettingsError("FRAUD_DRIFT_THRESHOLD", "need 0 < FRAUD_DRIFT_WATCH <= it")
        if self.min_rows < 1:
            raise SettingsError("FRAUD_DRIFT_MIN_ROWS", "must be at least 1")
        if (self.retrain_secret_id is None) != (self.retrain_repository is None):
            raise SettingsError(
                "FRAUD_RETRAIN_REPOSITORY", "set with FRAUD_RETRAIN_SECRET_ID, or neither"
            )
        if self.retrain_repository is not None and not _REPOSITORY.match(self.retrain_repository):
            raise SettingsError("FRAUD_RETRAIN_REPOSITORY", "expected owner/name")
        if not self.github_api_url.startswith(("https://", "http://127.0.0.1")):
            raise SettingsError("FRAUD_GITHUB_API_URL", "expected an https:// URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DriftJobSettings:
        def text(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        def number(name: str, default: float, kind: type) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                raise SettingsError(name, f"expected a number, got {raw[:40]!r}") from None

        model_uri, source = text("FRAUD_MODEL_URI"), text("FRAUD_DRIFT_SOURCE")
        if model_uri is None:
            raise SettingsError("FRAUD_MODEL_URI", "the model whose profile to compare with")
        if source is None:
            raise SettingsError("FRAUD_DRIFT_SOURCE", "the decision log's s3:// prefix")
        return cls(
            model_uri=model_uri,
            source=source,
            model_sha256=(text("FRAUD_MODEL_SHA256") or "").lower() or None,
            days=int(number("FRAUD_DRIFT_DAYS", 1, int)),
            watch=float(number("FRAUD_DRIFT_WATCH", 0.1, float)),
            drift=float(number("FRAUD_DRIFT_THRESHOLD", 0.25, float)),
            min_rows=int(number("FRAUD_DRIFT_MIN_ROWS", 1000, int)),
            report_uri=text("FRAUD_DRIFT_REPORT_URI"),
            namespace=text("FRAUD_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
            retrain_secret_id=text("FRAUD_RETRAIN_SECRET_ID"),
            retrain_repository=text("FRAUD_RETRAIN_REPOSITORY"),
            github_api_url=text("FRAUD_GITHUB_API_URL") or "https://api.github.com",
        )
