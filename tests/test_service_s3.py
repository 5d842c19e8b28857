"""Loading the model from S3 through boto3, against a moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_s3 import threaded_moto, use_fake_credentials
from service_model import build_model
from starlette.testclient import TestClient

from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.model.errors import ModelLoadError
from service.model.store import cache_path, fetch_model, parse_s3_uri
from service.settings import Settings

BUCKET = "fraudlite-models"

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, with fake credentials (no real AWS is reached)."""
    with pytest.MonkeyPatch.context() as env:
        use_fake_credentials(env)
        with threaded_moto() as url:
            yield url


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_model(tmp_path_factory.mktemp("s3") / "model.onnx").read_bytes()


def _settings(endpoint: str, key: str, cache: Path, **extra: Any) -> Settings:
    return Settings(
        model_uri=f"s3://{BUCKET}/{key}",
        s3_endpoint_url=endpoint,
        model_cache_dir=str(cache),
        **extra,
    )


def test_good_object_is_downloaded_once_and_reused(
    s3: Any, s3_endpoint: str, model_bytes: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s3.put_object(Bucket=BUCKET, Key="good/model.onnx", Body=model_bytes)
    settings = _settings(s3_endpoint, "good/model.onnx", tmp_path)
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    assert model.sha256 == hashlib.sha256(model_bytes).hexdigest()
    target = cache_path(settings.model_uri or "", settings)
    assert target.read_bytes() == model_bytes
    assert target.with_suffix(".etag").read_text().strip('"')
    assert TestClient(create_app(settings, model)).get("/health").status_code == 200

    # A re-initialised container finds the cached file and S3 answers 304: no new download.
    mtime = target.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="fraudlite.model"):
        again = fetch_model(settings)
    assert again.cached and again.data == model_bytes
    assert target.stat().st_mtime_ns == mtime
    assert any("unchanged in S3" in r.getMessage() for r in caplog.records)


def test_a_changed_object_replaces_the_cached_copy(
    s3: Any, s3_endpoint: str, model_bytes: bytes, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="changing.onnx", Body=b"old, not a model")
    settings = _settings(s3_endpoint, "changing.onnx", tmp_path)
    assert isinstance(load_model(settings), ModelLoadFailure)
    s3.put_object(Bucket=BUCKET, Key="changing.onnx", Body=model_bytes)
    fetched = fetch_model(settings)
    assert not fetched.cached and fetched.data == model_bytes
    assert isinstance(load_model(settings), LoadedModel)


def test_pinned_checksum_reuses_the_cache_without_calling_s3(
    s3: Any, s3_endpoint: str, model_bytes: bytes, tmp_path: Path
) -> None:
    sha = hashlib.sha256(model_bytes).hexdigest()
    s3.put_object(Bucket=BUCKET, Key="pinned.onnx", Body=model_bytes)
    settings = _settings(s3_endpoint, "pinned.onnx", tmp_path, model_sha256=sha)
    assert isinstance(load_model(settings), LoadedModel)
    s3.delete_object(Bucket=BUCKET, Key="pinned.onnx")
    # The object is gone: only the verified cached copy can satisfy this load.
    reloaded = load_model(settings)
    assert isinstance(reloaded, LoadedModel) and reloaded.sha256 == sha


def test_missing_object_is_a_503_with_the_reason(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    settings = _settings(s3_endpoint, "missing/model.onnx", tmp_path)
    failure = load_model(settings)
    assert isinstance(failure, ModelLoadFailure)
    assert failure.reason == f"model object s3://{BUCKET}/missing/model.onnx not found in S3"
    response = TestClient(create_app(settings, failure)).get("/health")
    assert response.status_code == 503
    assert response.json()["error"] == "model not loaded: model unavailable"
    assert BUCKET not in response.text and "missing/model.onnx" not in response.text


def test_missing_bucket(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    settings = Settings(
        model_uri="s3://no-such-bucket/m.onnx",
        s3_endpoint_url=s3_endpoint,
        model_cache_dir=str(tmp_path),
    )
    failure = load_model(settings)
    assert isinstance(failure, ModelLoadFailure)
    assert "does not exist" in failure.reason


def test_checksum_mismatch_is_a_503(
    s3: Any, s3_endpoint: str, model_bytes: bytes, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="tampered.onnx", Body=model_bytes + b"\x00")
    expected = hashlib.sha256(model_bytes).hexdigest()
    settings = _settings(s3_endpoint, "tampered.onnx", tmp_path, model_sha256=expected)
    failure = load_model(settings)
    assert isinstance(failure, ModelLoadFailure)
    assert "checksum mismatch" in failure.reason and expected in failure.reason
    response = TestClient(create_app(settings, failure)).post("/predict", json={})
    assert response.status_code == 503
    assert response.json()["error"] == "model not loaded: checksum mismatch"
    assert expected not in response.text and BUCKET not in response.text


def test_corrupt_object_is_a_503(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="corrupt.onnx", Body=b"\x00\x01 definitely not onnx")
    settings = _settings(s3_endpoint, "corrupt.onnx", tmp_path)
    failure = load_model(settings)
    assert isinstance(failure, ModelLoadFailure)
    assert "not a loadable ONNX model" in failure.reason
    assert TestClient(create_app(settings, failure)).get("/model").status_code == 503


def test_unreachable_endpoint_fails_cleanly(tmp_path: Path) -> None:
    settings = Settings(
        model_uri=f"s3://{BUCKET}/m.onnx",
        s3_endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        model_cache_dir=str(tmp_path),
    )
    failure = load_model(settings)
    assert isinstance(failure, ModelLoadFailure)
    assert failure.reason.startswith(f"cannot fetch s3://{BUCKET}/m.onnx")


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket", "s3://bucket/", "s3:///key"])
def test_malformed_s3_uris(uri: str) -> None:
    with pytest.raises(ModelLoadError, match="malformed S3 URI"):
        parse_s3_uri(uri)
