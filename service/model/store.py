"""Fetch the model file: a local path, or ``s3://bucket/key`` downloaded once per container.

S3 downloads land in ``settings.model_cache_dir`` (``/tmp`` on Lambda) via a temporary file and an
atomic rename, with the object's ETag kept next to it. A re-initialised container finds the file and
asks S3 for it with ``If-None-Match``: a 304 means the cached copy is current and nothing is
downloaded again. boto3 is imported only here and only for ``s3://`` URIs, so a local model never
pays its import time.

Every way fetching can fail (no boto3, a bad or unreachable endpoint, denied access, a missing
object, a download cut short, a cache directory that cannot be read or written) ends as a
:class:`ModelLoadError` of kind ``model unavailable`` (or ``checksum mismatch``), never as another
exception: the service must come up and answer 503 rather than fail its init.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.model.errors import FaultKind, ModelLoadError
from service.settings import Settings

log = logging.getLogger("fraudlite.model")

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FetchedModel:
    """Model bytes with where they came from and their sha256 (hex)."""

    data: bytes
    source: str
    sha256: str
    cached: bool = False


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); raises ModelLoadError if malformed."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ModelLoadError(
            f"malformed S3 URI {uri!r}: expected s3://bucket/key", FaultKind.CONFIGURATION_ERROR
        )
    return bucket, key


def fetch_model(settings: Settings) -> FetchedModel:
    """Return the model's bytes, verified against ``settings.model_sha256`` when it is set."""
    uri = settings.model_uri
    if not uri:
        raise ModelLoadError(
            "FRAUD_MODEL_URI is not set (a local path or s3://bucket/key)",
            FaultKind.CONFIGURATION_ERROR,
        )
    if uri.startswith("s3://"):
        data, cached = _fetch_s3(uri, settings)
    else:
        data, cached = _read_local(uri.removeprefix("file://")), False
    digest = hashlib.sha256(data).hexdigest()
    if settings.model_sha256 is not None and digest != settings.model_sha256:
        raise ModelLoadError(
            f"checksum mismatch for {uri}: expected sha256 {settings.model_sha256}, got {digest}",
            FaultKind.CHECKSUM_MISMATCH,
        )
    return FetchedModel(data=data, source=uri, sha256=digest, cached=cached)


def _read_local(path_text: str) -> bytes:
    path = Path(path_text)
    unavailable = FaultKind.MODEL_UNAVAILABLE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"model file {path} not found", unavailable) from None
    except IsADirectoryError:
        raise ModelLoadError(
            f"model path {path} is a directory, expected an .onnx file", unavailable
        ) from None
    except OSError as exc:
        raise ModelLoadError(
            f"cannot read model file {path}: {exc.strerror or exc}", unavailable
        ) from None


def cache_path(uri: str, settings: Settings) -> Path:
    """Where an S3 model is cached: one file per URI, named by the URI's hash."""
    name = hashlib.sha256(uri.encode()).hexdigest()[:24]
    return Path(settings.model_cache_dir) / f"{name}.onnx"


def _fetch_s3(uri: str, settings: Settings) -> tuple[bytes, bool]:
    bucket, key = parse_s3_uri(uri)
    target = cache_path(uri, settings)
    etag_file = target.with_suffix(".etag")
    unavailable = FaultKind.MODEL_UNAVAILABLE
    try:
        cached_etag = _cached_etag(target, etag_file)
        # With a pinned checksum, a matching cached file is the exact object wanted: no S3 call.
        if cached_etag is not None and settings.model_sha256 is not None:
            data = target.read_bytes()
            if hashlib.sha256(data).hexdigest() == settings.model_sha256:
                return data, True
    except OSError as exc:
        raise ModelLoadError(
            f"cannot read the model cache {target}: {exc.strerror or exc} "
            "(FRAUD_MODEL_CACHE_DIR must be a readable, writable directory)",
            unavailable,
        ) from None

    try:
        import boto3  # only S3 models pay for boto3's import
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise ModelLoadError(
            f"cannot fetch {uri}: boto3 is not installed ({exc}); pip install boto3", unavailable
        ) from None

    # Bounded waits: Lambda's init phase is short, and a hung fetch must end as a clear 503.
    config = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
    try:
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
    except (BotoCoreError, ValueError) as exc:  # e.g. "Invalid endpoint", no region
        raise ModelLoadError(f"cannot create an S3 client for {uri}: {exc}", unavailable) from None
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if cached_etag is not None:
        request["IfNoneMatch"] = cached_etag
    try:
        response = client.get_object(**request)
    except ClientError as exc:
        if cached_etag is not None and _status(exc) == 304:
            log.info("model %s unchanged in S3; reusing %s", uri, target)
            try:
                return target.read_bytes(), True
            except OSError as read_exc:
                raise ModelLoadError(
                    f"cannot read the model cache {target}: {read_exc}", unavailable
                ) from None
        raise ModelLoadError(_describe_client_error(uri, exc), unavailable) from None
    except (BotoCoreError, ValueError) as exc:
        raise ModelLoadError(f"cannot fetch {uri}: {exc}", unavailable) from None

    try:
        data = _store(response["Body"], target, response.get("ContentLength"))
        etag = response.get("ETag")
        if etag:
            etag_file.write_text(etag)
    except (BotoCoreError, OSError, IncompleteDownload) as exc:
        raise ModelLoadError(f"cannot download {uri} to {target}: {exc}", unavailable) from None
    log.info("downloaded model %s (%d bytes) to %s", uri, len(data), target)
    return data, False


class IncompleteDownload(Exception):
    """The body ended before the length S3 announced (a download cut short)."""


def _cached_etag(target: Path, etag_file: Path) -> str | None:
    if target.is_file() and etag_file.is_file():
        return etag_file.read_text().strip() or None
    return None


def _store(body: Any, target: Path, expected_length: int | None = None) -> bytes:
    """Stream an S3 body to ``target`` atomically; a partial download is never left behind.

    botocore checks the length itself on most paths; checking it again here means a body that
    ends early can never be renamed into the cache, whatever raised or did not.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    chunks: list[bytes] = []
    import tempfile  # S3 downloads only: its imports (random, shutil, bz2, lzma) cost a cold start

    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".onnx")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                out.write(chunk)
                chunks.append(chunk)
        received = sum(len(chunk) for chunk in chunks)
        if expected_length is not None and received != expected_length:
            raise IncompleteDownload(f"received {received} of {expected_length} bytes")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # A stale ETag must never vouch for a new file: it is rewritten after the rename.
    target.with_suffix(".etag").unlink(missing_ok=True)
    return b"".join(chunks)


def _status(exc: Any) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _describe_client_error(uri: str, exc: Any) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = _status(exc)
    if code in ("NoSuchKey", "404") or (status == 404 and code != "NoSuchBucket"):
        return f"model object {uri} not found in S3"
    if code == "NoSuchBucket":
        return f"bucket of {uri} does not exist"
    if code in ("AccessDenied", "403") or status == 403:
        return f"access denied reading {uri} (check the function's IAM role)"
    return f"cannot fetch {uri}: S3 error {code or status}: {error.get('Message', exc)}"
