"""Service configuration: the only place environment variables are read.

Everything else receives a :class:`Settings` instance explicitly (tests build their own), so no
module reads ``os.environ`` behind the caller's back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from service import schema

DEFAULT_MAX_BATCH: Final = 1000
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
# /tmp is Lambda's only writable directory; a cached model is verified (sha256 when pinned, its
# content-derived version always) before it is used, so another writer cannot slip one in.
DEFAULT_CACHE_DIR: Final = "/tmp/fraudlite-model"  # noqa: S108

EXECUTION_MODES: Final = ("sequential", "parallel")
GRAPH_OPTIMIZATIONS: Final = ("disable", "basic", "extended", "all")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use; names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


# --- telemetry (issue 15): FRAUD_METRICS*, FRAUD_DECISION_LOG* ---
DEFAULT_METRICS_NAMESPACE: Final = "fraudlite"
#: Raw fields the decision log may carry when named: the model inputs (account names are not
#: kept by the service, so they cannot be logged).
DECISION_LOG_FIELDS: Final = schema.MODEL_INPUTS
_NAMESPACE = re.compile(r"^[A-Za-z0-9._#:/-]{1,255}$")
_ON_OFF: Final = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


def _telemetry_settings(environ: Mapping[str, str]) -> dict[str, object]:
    def text(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    def switch(name: str) -> bool:  # on unless set to off
        value = (text(name) or "on").lower()
        if value not in _ON_OFF:
            raise SettingsError(name, "expected on or off")
        return _ON_OFF[value]

    fields = text("FRAUD_DECISION_LOG_FIELDS") or ""
    return {
        "metrics": switch("FRAUD_METRICS"),
        "metrics_namespace": text("FRAUD_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
        "decision_log": text("FRAUD_DECISION_LOG") or "stdout",
        "decision_log_fields": tuple(f.strip() for f in fields.split(",") if f.strip()),
        "drift_bins": switch("FRAUD_DRIFT_BINS"),
    }


def _check_telemetry(s: Settings) -> None:
    if not _NAMESPACE.match(s.metrics_namespace) or s.metrics_namespace.startswith("AWS/"):
        raise SettingsError(
            "FRAUD_METRICS_NAMESPACE",
            "expected 1-255 characters of A-Z a-z 0-9 . _ # : / - (not starting with AWS/)",
        )
    if not s.decision_log:
        raise SettingsError("FRAUD_DECISION_LOG", "expected stdout, off or a file path")
    unknown = [name[:40] for name in s.decision_log_fields if name not in DECISION_LOG_FIELDS]
    if unknown:
        raise SettingsError(
            "FRAUD_DECISION_LOG_FIELDS",
            f"unknown field(s) {', '.join(unknown[:5])}; allowed: {', '.join(DECISION_LOG_FIELDS)}",
        )


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of the scoring service.

    ``model_uri`` is a local path or ``s3://bucket/key``; ``threshold`` overrides the model's
    trained threshold when set. ORT fields default to one thread, sequential execution and full
    graph optimisation: the best fit for single-row latency on a small Lambda.
    """

    model_uri: str | None = None
    model_sha256: str | None = None
    threshold: float | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "INFO"
    ort_intra_op_threads: int = 1
    ort_inter_op_threads: int = 1
    ort_execution_mode: str = "sequential"
    ort_graph_optimization: str = "all"
    # --- telemetry (issue 15): metrics and the decision log (service/telemetry/) ---
    #: FRAUD_METRICS: EMF records on Lambda, GET /metrics under fraud-serve; off: none.
    metrics: bool = True
    #: FRAUD_METRICS_NAMESPACE: the CloudWatch namespace of the EMF metrics.
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    #: FRAUD_DECISION_LOG: "stdout", "off" or a JSON-lines file path.
    decision_log: str = "stdout"
    #: FRAUD_DECISION_LOG_FIELDS: raw fields to log with each decision (personal data: opt-in).
    decision_log_fields: tuple[str, ...] = ()
    #: FRAUD_DRIFT_BINS: reference-bin indices in each decision line when the model carries a
    #: drift profile (issue 17's live drift; off saves their cost per request, measured by
    #: benchmarks/telemetry_overhead.py, and leaves fraud-drift no live traffic to compare).
    drift_bins: bool = True
    s3_endpoint_url: str | None = None
    model_cache_dir: str = DEFAULT_CACHE_DIR
    api_base_path: str = "/"
    # --- model rollout (issue 16): a shadow model and an A/B arm beside the primary ---
    #: Scored on every transaction beside the primary; never changes an answer (docs/rollout.md).
    shadow_model_uri: str | None = None
    shadow_model_sha256: str | None = None
    #: Decides the share ``ab_share`` of transactions, chosen by a hash of transaction_id.
    ab_model_uri: str | None = None
    ab_model_sha256: str | None = None
    ab_share: float | None = None
    # --- hardening (issue 13): API keys for fraud-serve, model details on /model ---
    #: sha256 hex digests of accepted X-API-Key values; empty: no key needed (service/auth.py).
    api_keys_sha256: tuple[str, ...] = ()
    #: GET /model also shows the file's sha256, its source and the export library versions.
    expose_model_details: bool = False

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``FRAUD_*`` variables in ``environ``; unset means default.

        Raises :class:`SettingsError` naming the first variable with an unusable value.
        """

        def text(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        def integer(name: str, default: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(name, f"expected an integer, got {raw!r}") from None

        threshold_raw = text("FRAUD_THRESHOLD")
        threshold = None
        if threshold_raw is not None:
            try:
                threshold = float(threshold_raw)
            except ValueError:
                raise SettingsError(
                    "FRAUD_THRESHOLD", f"expected a number, got {threshold_raw!r}"
                ) from None
        sha = text("FRAUD_MODEL_SHA256")
        return cls(
            model_uri=text("FRAUD_MODEL_URI"),
            model_sha256=sha.lower() if sha else None,
            threshold=threshold,
            max_batch=integer("FRAUD_MAX_BATCH", DEFAULT_MAX_BATCH),
            max_body_bytes=integer("FRAUD_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            log_level=(text("FRAUD_LOG_LEVEL") or "INFO").upper(),
            ort_intra_op_threads=integer("FRAUD_ORT_INTRA_OP_THREADS", 1),
            ort_inter_op_threads=integer("FRAUD_ORT_INTER_OP_THREADS", 1),
            ort_execution_mode=(text("FRAUD_ORT_EXECUTION_MODE") or "sequential").lower(),
            ort_graph_optimization=(text("FRAUD_ORT_GRAPH_OPTIMIZATION") or "all").lower(),
            **_telemetry_settings(environ),  # --- telemetry (issue 15) ---
            s3_endpoint_url=text("FRAUD_S3_ENDPOINT_URL"),
            model_cache_dir=text("FRAUD_MODEL_CACHE_DIR") or DEFAULT_CACHE_DIR,
            api_base_path=text("FRAUD_API_BASE_PATH") or "/",
            **_rollout_fields(environ),  # model rollout (issue 16)
            # --- hardening (issue 13) ---
            api_keys_sha256=_key_hashes(text("FRAUD_API_KEYS_SHA256")),
            expose_model_details=_flag("FRAUD_EXPOSE_MODEL_DETAILS", text),
        )


# --- hardening (issue 13): parsing and checking the FRAUD_* values it adds ---
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(name: str, text: Callable[[str], str | None]) -> bool:
    raw = (text(name) or "0").lower()
    if raw not in _TRUE + _FALSE:
        raise SettingsError(name, "expected 1 or 0 (true/false)")
    return raw in _TRUE


def _key_hashes(raw: str | None) -> tuple[str, ...]:
    """Comma-separated sha256 hex digests; their values are never echoed (they are secrets' kin)."""
    if raw is None:
        return ()
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def parse_key_digests(raw: str, variable: str = "FRAUD_API_KEYS_SHA256") -> tuple[str, ...]:
    """Checked digests from comma-separated text (an env variable or the SSM parameter)."""
    digests = _key_hashes(raw)
    _check_digests(digests, variable)
    return digests


def _check_digests(digests: tuple[str, ...], variable: str) -> None:
    for index, digest in enumerate(digests):
        if not _SHA256.match(digest):
            # The position, not the value: the value may be a key pasted in by mistake.
            raise SettingsError(
                variable,
                f"entry {index + 1} is not a sha256 hex digest (64 lowercase hex digits; "
                "put sha256(key), not the key, in this variable)",
            )


def _check_endpoint(url: str | None, variable: str = "FRAUD_S3_ENDPOINT_URL") -> None:
    """An endpoint must be an http(s) URL with a host; boto3 would raise at client creation."""
    if url is None:
        return
    parsed = urlsplit(url)
    try:
        parsed.port  # noqa: B018  (property access validates the port)
    except ValueError:
        raise SettingsError(variable, "has an invalid port") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(variable, "expected an http:// or https:// URL with a host")


def _check_hardening(s: Settings) -> None:
    _check_endpoint(s.s3_endpoint_url)
    _check_digests(s.api_keys_sha256, "FRAUD_API_KEYS_SHA256")


# --- model rollout (issue 16): shadow and A/B settings, and the deployment hook's own ---
def _rollout_fields(environ: Mapping[str, str]) -> dict[str, object]:
    """The rollout fields of :class:`Settings` from ``FRAUD_SHADOW_*`` and ``FRAUD_AB_*``."""

    def text(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    share_raw = text("FRAUD_AB_SHARE")
    share = None
    if share_raw is not None:
        try:
            share = float(share_raw)
        except ValueError:
            raise SettingsError("FRAUD_AB_SHARE", f"expected a number, got {share_raw!r}") from None

    def sha(name: str) -> str | None:
        value = text(name)
        return value.lower() if value else None

    return {
        "shadow_model_uri": text("FRAUD_SHADOW_MODEL_URI"),
        "shadow_model_sha256": sha("FRAUD_SHADOW_MODEL_SHA256"),
        "ab_model_uri": text("FRAUD_AB_MODEL_URI"),
        "ab_model_sha256": sha("FRAUD_AB_MODEL_SHA256"),
        "ab_share": share,
    }


def _check_rollout(s: Settings) -> None:
    for name, value in (
        ("FRAUD_SHADOW_MODEL_SHA256", s.shadow_model_sha256),
        ("FRAUD_AB_MODEL_SHA256", s.ab_model_sha256),
    ):
        if value is not None and not _SHA256.match(value):
            raise SettingsError(name, "expected 64 lowercase hex digits")
    if s.ab_share is not None and not (math.isfinite(s.ab_share) and 0 <= s.ab_share <= 1):
        raise SettingsError("FRAUD_AB_SHARE", f"must be between 0 and 1, got {s.ab_share}")
    if s.ab_model_uri is not None and s.ab_share is None:
        raise SettingsError("FRAUD_AB_SHARE", "required with FRAUD_AB_MODEL_URI (0 to 1)")
    if s.ab_model_uri is None and s.ab_share is not None:
        raise SettingsError("FRAUD_AB_SHARE", "set without FRAUD_AB_MODEL_URI")


def _check(s: Settings) -> None:
    """Reject unusable values at construction, named by their environment variable."""
    if s.model_sha256 is not None and not _SHA256.match(s.model_sha256):
        raise SettingsError("FRAUD_MODEL_SHA256", "expected 64 lowercase hex digits")
    if s.threshold is not None and not (math.isfinite(s.threshold) and 0 <= s.threshold <= 1):
        raise SettingsError("FRAUD_THRESHOLD", f"must be between 0 and 1, got {s.threshold}")
    if s.max_batch < 1:
        raise SettingsError("FRAUD_MAX_BATCH", f"must be at least 1, got {s.max_batch}")
    if s.max_body_bytes < 1:
        raise SettingsError("FRAUD_MAX_BODY_BYTES", f"must be at least 1, got {s.max_body_bytes}")
    if s.log_level not in LOG_LEVELS:
        raise SettingsError("FRAUD_LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    # 0 lets onnxruntime pick the thread count itself (its documented default).
    if s.ort_intra_op_threads < 0:
        raise SettingsError("FRAUD_ORT_INTRA_OP_THREADS", "must be 0 (automatic) or more")
    if s.ort_inter_op_threads < 0:
        raise SettingsError("FRAUD_ORT_INTER_OP_THREADS", "must be 0 (automatic) or more")
    if s.ort_execution_mode not in EXECUTION_MODES:
        raise SettingsError("FRAUD_ORT_EXECUTION_MODE", f"must be one of {EXECUTION_MODES}")
    if s.ort_graph_optimization not in GRAPH_OPTIMIZATIONS:
        raise SettingsError("FRAUD_ORT_GRAPH_OPTIMIZATION", f"must be one of {GRAPH_OPTIMIZATIONS}")
    _check_telemetry(s)  # --- telemetry (issue 15) ---
    if not s.api_base_path.startswith("/"):
        raise SettingsError("FRAUD_API_BASE_PATH", "must start with '/' (e.g. /prod)")
    _check_rollout(s)
    _check_hardening(s)
