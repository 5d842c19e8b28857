"""Published model versions in S3: ``s3://BUCKET/PREFIX<version>/{model.onnx, manifest.json, ...}``.

A version is immutable. Publishing writes the side files, then the model with a conditional put
(``If-None-Match: *``, so two publishers racing cannot both write), then the manifest last: a
version without a manifest is an interrupted publish, which publishing the same bytes completes.
Publishing different bytes under an existing version is refused. The client is any boto3 S3 client;
boto3 honours ``AWS_ENDPOINT_URL_S3`` (tests point it at a moto server on 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rollout.manifest import MANIFEST_FILE, MODEL_FILE, Release

#: Object metadata key (x-amz-meta-sha256) holding the sha256 of an uploaded file.
SHA_METADATA = "sha256"


class PublishError(RuntimeError):
    """Publishing failed or was refused; the message names the object and the reason."""


@dataclass(frozen=True)
class Published:
    """Where a version lives and what to deploy (template.yaml ModelBucket/ModelKey/ModelSha256)."""

    bucket: str
    key: str
    sha256: str
    model_version: str
    created: bool  # False: these exact bytes were already published (no-op)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def as_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "uri": self.uri,
            "bucket": self.bucket,
            "key": self.key,
            "sha256": self.sha256,
            "created": self.created,
        }


def normalise_prefix(prefix: str) -> str:
    """``models`` -> ``models/``; empty stays empty; no leading slash."""
    prefix = prefix.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def version_key(prefix: str, version: str, name: str = MODEL_FILE) -> str:
    return f"{normalise_prefix(prefix)}{version}/{name}"


def publish(client: Any, bucket: str, prefix: str, release: Release) -> Published:
    """Upload ``release`` under its version; idempotent for the same bytes, refuses others."""
    model_key = version_key(prefix, release.version)
    existing = _existing_sha(client, bucket, model_key)
    if existing is not None and existing != release.sha256:
        raise PublishError(
            f"s3://{bucket}/{model_key} already holds model version {release.version} with "
            f"sha256 {existing}, not {release.sha256}: a published version is never overwritten"
        )
    manifest_key = version_key(prefix, release.version, MANIFEST_FILE)
    if existing is not None and _exists(client, bucket, manifest_key):
        return Published(bucket, model_key, release.sha256, release.version, created=False)
    for name, data in release.side_files.items():
        _put(client, bucket, version_key(prefix, release.version, name), data, "")
    if existing is None:
        _put(client, bucket, model_key, release.model, "application/octet-stream", new_only=True)
    manifest = json.dumps(release.manifest, indent=2, sort_keys=True).encode()
    _put(client, bucket, manifest_key, manifest, "application/json")
    return Published(bucket, model_key, release.sha256, release.version, created=existing is None)


def list_versions(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """The manifests of every published version under ``prefix``, oldest ``created`` first."""
    prefix = normalise_prefix(prefix)
    manifests = []
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                key = f"{common['Prefix']}{MANIFEST_FILE}"
                body = _get(client, bucket, key)
                if body is None:
                    continue  # an interrupted publish: no manifest, not a version yet
                try:
                    manifest = json.loads(body)
                except ValueError:
                    raise PublishError(f"s3://{bucket}/{key} is not valid JSON") from None
                manifest["key"] = f"{common['Prefix']}{MODEL_FILE}"
                manifests.append(manifest)
    except PublishError:
        raise
    except Exception as exc:
        raise PublishError(_describe(exc, f"s3://{bucket}/{prefix}")) from None
    return sorted(manifests, key=lambda m: (str(m.get("created", "")), m.get("model_version", "")))


def _existing_sha(client: Any, bucket: str, key: str) -> str | None:
    """The sha256 of the object at ``key`` (metadata, else hashed), or None when absent."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _status(exc) == 404:
            return None
        raise PublishError(_describe(exc, f"s3://{bucket}/{key}")) from None
    recorded = head.get("Metadata", {}).get(SHA_METADATA)
    if recorded:
        return recorded
    # Uploaded by something else: hash what is actually there.
    body = _get(client, bucket, key)
    return None if body is None else hashlib.sha256(body).hexdigest()


def _exists(client: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _status(exc) == 404:
            return False
        raise PublishError(_describe(exc, f"s3://{bucket}/{key}")) from None
    return True


def _get(client: Any, bucket: str, key: str) -> bytes | None:
    from botocore.exceptions import ClientError

    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _status(exc) == 404 or _code(exc) == "NoSuchKey":
            return None
        raise PublishError(_describe(exc, f"s3://{bucket}/{key}")) from None


def _put(
    client: Any, bucket: str, key: str, data: bytes, content_type: str, new_only: bool = False
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": data,
        "Metadata": {SHA_METADATA: hashlib.sha256(data).hexdigest()},
    }
    if content_type:
        request["ContentType"] = content_type
    if new_only:
        request["IfNoneMatch"] = "*"  # S3 conditional write: never replace a published model
    try:
        client.put_object(**request)
    except ClientError as exc:
        if new_only and _status(exc) in (409, 412):
            raise PublishError(
                f"s3://{bucket}/{key} was written by someone else while publishing; run again"
            ) from None
        raise PublishError(_describe(exc, f"s3://{bucket}/{key}")) from None
    except BotoCoreError as exc:
        raise PublishError(f"cannot write s3://{bucket}/{key}: {exc}") from None


def _status(exc: Any) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception, where: str) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            return f"{where}: the bucket does not exist"
        if code in ("AccessDenied", "403"):
            return f"{where}: access denied"
        return f"{where}: {code or 'error'}: {response.get('Error', {}).get('Message', '')}".strip()
    return f"{where}: {exc}"
