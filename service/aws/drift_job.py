"""Scheduled drift job: yesterday's live traffic against the model's training reference.

Handler ``service.aws.drift_job.handler`` (same image as the API, another command), started by
EventBridge Scheduler (daily by default, template.yaml). It:

1. fetches the model (``FRAUD_MODEL_URI``, checked against ``FRAUD_MODEL_SHA256`` when set) and
   reads its reference profile (``drift_profile``);
2. reads the decision log the API wrote, as Firehose delivers it to S3 (``FRAUD_DRIFT_SOURCE``
   = ``s3://bucket/decisions/``, partitions ``year=YYYY/month=MM/day=DD/``, gzip JSON lines),
   for the ``FRAUD_DRIFT_DAYS`` complete UTC days before today, and sums the rows'
   reference-bin indices (``drift_bins``) of this model version: no raw values are read;
3. computes the PSI per live entry (type, raw inputs, hour of day, score) and emits them as
   CloudWatch metrics in Embedded Metric Format on stdout: ``DriftPSI`` per ``Feature`` and
   ``DriftMaxPSI``, ``DriftedFeatures``, ``DriftRows`` without dimensions (the alarm watches
   ``DriftMaxPSI``);
4. writes the report as JSON (``FRAUD_DRIFT_REPORT_URI``, optional);
5. on drift, when ``FRAUD_RETRAIN_SECRET_ID`` and ``FRAUD_RETRAIN_REPOSITORY`` are set, sends a
   GitHub ``repository_dispatch`` (event type ``drift-detected``) that starts the retrain
   workflow, with the token read from Secrets Manager (only this function's role may read it).

Fewer than ``FRAUD_DRIFT_MIN_ROWS`` rows: no verdict (``DriftRows`` only), as PSI on a handful
of rows is noise. The checking logic takes its clients as arguments so tests run it against a
moto server and a local GitHub stand-in; boto3 is imported lazily.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from service.model.errors import ModelLoadError
from service.model.metadata import parse_metadata
from service.model.store import fetch_model
from service.monitoring.binning import Binner
from service.monitoring.records import BinCounter, decode_bytes
from service.monitoring.reference import ProfileError, profile_from_metadata
from service.monitoring.stats import compare
from service.settings import Settings, SettingsError
from service.settings.companions import DriftJobSettings

log = logging.getLogger("fraudlite.drift_job")

#: repository_dispatch event type the retrain workflow listens to (.github/workflows/retrain.yml).
DISPATCH_EVENT: Final = "drift-detected"
#: Metric names: the contract with template.yaml's alarm. Keep them exactly.
DRIFT_PSI: Final = "DriftPSI"
DRIFT_MAX_PSI: Final = "DriftMaxPSI"
DRIFTED_FEATURES: Final = "DriftedFeatures"
DRIFT_ROWS: Final = "DriftRows"
FEATURE_DIMENSION: Final = "Feature"
#: Model cache of the job (the API's default cache dir may be another function's).
CACHE_DIR: Final = "/tmp/fraudlite-drift-model"
#: Seconds to wait for GitHub.
DISPATCH_TIMEOUT: Final = 10


class DriftJobError(Exception):
    """The job could not compute drift (model, profile or source unreadable): fails the run."""


@dataclass
class Clients:
    """What the job calls: S3, Secrets Manager and an HTTP POST (tests pass their own)."""

    s3: Any
    secrets: Any
    post: Callable[[str, dict[str, str], bytes], int]


def default_clients() -> Clients:
    """boto3 clients (AWS_ENDPOINT_URL* honoured) and urllib for GitHub."""
    import boto3

    return Clients(boto3.client("s3"), boto3.client("secretsmanager"), http_post)


def http_post(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST ``body``; returns the HTTP status (an error status is returned, not raised)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=DISPATCH_TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def window(today: date, days: int) -> list[date]:
    """The ``days`` complete UTC days before ``today``, oldest first."""
    return [today - timedelta(days=d) for d in range(days, 0, -1)]


def partition_prefix(source: str, day: date) -> tuple[str, str]:
    """Bucket and key prefix of one day's decision-log partition under ``source``."""
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, f"{prefix}year={day:%Y}/month={day:%m}/day={day:%d}/"


def read_partitions(s3: Any, source: str, days: list[date], counter: BinCounter) -> tuple[int, int]:
    """Feed every object of the days' partitions to ``counter``; returns (objects, bytes)."""
    objects = size = 0
    for day in days:
        bucket, prefix = partition_prefix(source, day)
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                counter.add_text(decode_bytes(body))
                objects += 1
                size += len(body)
    return objects, size


def emf_records(
    namespace: str, psi: dict[str, float], drifted: list[str], rows: int, now_ms: int
) -> list[dict[str, Any]]:
    """CloudWatch Embedded Metric Format records: one per feature, one for the totals."""
    records: list[dict[str, Any]] = []
    for name, value in psi.items():
        records.append(
            {
                "_aws": {
                    "Timestamp": now_ms,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [[FEATURE_DIMENSION]],
                            "Metrics": [{"Name": DRIFT_PSI, "Unit": "None"}],
                        }
                    ],
                },
                FEATURE_DIMENSION: name,
                DRIFT_PSI: value,
            }
        )
    totals: dict[str, Any] = {DRIFT_ROWS: rows}
    metrics = [{"Name": DRIFT_ROWS, "Unit": "Count"}]
    if psi:
        totals |= {DRIFT_MAX_PSI: max(psi.values()), DRIFTED_FEATURES: len(drifted)}
        metrics += [
            {"Name": DRIFT_MAX_PSI, "Unit": "None"},
            {"Name": DRIFTED_FEATURES, "Unit": "Count"},
        ]
    records.append(
        {
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [
                    {"Namespace": namespace, "Dimensions": [[]], "Metrics": metrics}
                ],
            },
            **totals,
        }
    )
    return records


def open_reference(settings: DriftJobSettings) -> tuple[str, Binner]:
    """The model's version and the binner of its live entries; raises DriftJobError."""
    try:
        fetched = fetch_model(
            Settings(
                model_uri=settings.model_uri,
                model_sha256=settings.model_sha256,
                model_cache_dir=CACHE_DIR,
            )
        )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(fetched.data, options, providers=["CPUExecutionProvider"])
        props = session.get_modelmeta().custom_metadata_map
        metadata = parse_metadata(props)
        profile = profile_from_metadata(props)
    except ModelLoadError as exc:
        raise DriftJobError(f"model not loaded: {exc.kind}") from exc
    except ProfileError as exc:
        raise DriftJobError(str(exc)) from None
    except Exception as exc:  # ORT's own errors for an unreadable file
        raise DriftJobError(f"model not loadable: {type(exc).__name__}") from None
    if profile is None:
        raise DriftJobError("the model carries no drift_profile: re-export it with fraud-convert")
    binner = Binner.build(profile, metadata.feature_names, with_features=False)
    return metadata.model_version, binner


def dispatch_retrain(settings: DriftJobSettings, clients: Clients, payload: dict[str, Any]) -> str:
    """Send the repository_dispatch; returns ``sent`` or why not (never the token)."""
    assert settings.retrain_secret_id and settings.retrain_repository
    try:
        secret = clients.secrets.get_secret_value(SecretId=settings.retrain_secret_id)
    except Exception as exc:  # botocore ClientError and friends
        return f"failed: secret not readable ({type(exc).__name__})"
    token = str(secret.get("SecretString") or "").strip()
    if token.startswith("{"):  # {"token": "..."} is accepted too
        try:
            token = str(json.loads(token).get("token", "")).strip()
        except ValueError:
            token = ""
    if not token:
        return "failed: the secret holds no token"
    url = f"{settings.github_api_url.rstrip('/')}/repos/{settings.retrain_repository}/dispatches"
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": "2022-11-28",
        "Content-Type": "application/json",
        "User-Agent": "fraudlite-drift-job",
    }
    body = json.dumps({"event_type": DISPATCH_EVENT, "client_payload": payload}).encode()
    try:
        status = clients.post(url, headers, body)
    except OSError as exc:
        return f"failed: GitHub not reachable ({type(exc).__name__})"
    return "sent" if status == 204 else f"failed: GitHub answered HTTP {status}"


def run(
    settings: DriftJobSettings,
    clients: Clients,
    now: datetime | None = None,
    emit: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One drift run; returns its summary (also logged). Raises DriftJobError when it cannot."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    version, binner = open_reference(settings)
    counter = BinCounter(binner, version)
    days = window(now.date(), settings.days)
    try:
        objects, size = read_partitions(clients.s3, settings.source, days, counter)
    except Exception as exc:  # botocore errors: the bucket or prefix is not readable
        raise DriftJobError(f"decision log not readable ({type(exc).__name__})") from None
    summary: dict[str, Any] = {
        "model_version": version,
        "days": [d.isoformat() for d in days],
        "objects": objects,
        "bytes": size,
        "rows": counter.rows,
        "other_model_rows": counter.other_models,
        "psi": {},
        "drifted": [],
        "watch": [],
        "retrain": "not needed",
    }
    now_ms = int(now.timestamp() * 1000)
    if counter.rows < settings.min_rows:
        summary["status"] = "insufficient_data"
        summary["retrain"] = "no verdict"
        for record in emf_records(settings.namespace, {}, [], counter.rows, now_ms):
            emit(json.dumps(record))
        log.info("drift: %s", json.dumps(summary))
        return summary
    flat = binner.split(counter.counts)
    psi = {e.name: round(compare(e, flat[e.name]).psi, 6) for e in binner.entries}
    drifted = [n for n, v in psi.items() if v >= settings.drift]
    summary |= {
        "psi": psi,
        "drifted": drifted,
        "watch": [n for n, v in psi.items() if settings.watch <= v < settings.drift],
        "counts": flat,
        "status": "drifted" if drifted else "stable",
    }
    for record in emf_records(settings.namespace, psi, drifted, counter.rows, now_ms):
        emit(json.dumps(record))
    if settings.report_uri:
        bucket, _, prefix = settings.report_uri.removeprefix("s3://").partition("/")
        key = f"{prefix.rstrip('/') + '/' if prefix else ''}{now.date().isoformat()}.json"
        clients.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(summary, indent=1).encode(),
            ContentType="application/json",
        )
        summary["report"] = f"s3://{bucket}/{key}"
    if drifted and settings.retrain_secret_id:
        payload = {
            "model_version": version,
            "drifted": drifted[:20],
            "max_psi": max(psi.values()),
            "rows": counter.rows,
            "days": summary["days"],
        }
        summary["retrain"] = dispatch_retrain(settings, clients, payload)
    elif drifted:
        summary["retrain"] = "not configured"
    summary.pop("counts", None)
    log.info("drift: %s", json.dumps(summary))
    return summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, then :func:`run`.

    A job that cannot run raises, so the invocation counts as an error (the function's Errors
    alarm) instead of passing silently.
    """
    started = time.perf_counter()
    try:
        settings = DriftJobSettings.from_env(os.environ)
    except SettingsError as exc:
        log.error("drift job misconfigured: %s", exc.variable)
        raise DriftJobError(f"misconfigured: {exc.variable}") from None
    summary = run(settings, default_clients())
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary
