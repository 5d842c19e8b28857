"""fraud-publish against a moto S3 server on 127.0.0.1: publish, list, idempotent re-publish,
refused overwrite, and the service loading a published version with its sha256."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_s3 import threaded_moto, use_fake_credentials
from service_model import build_model

from rollout.manifest import ArtifactsError, read_release
from rollout.publish_cli import main
from rollout.s3store import normalise_prefix
from service.model import LoadedModel, load_model
from service.settings import Settings

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

BUCKET = "fraudlite-releases"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free 127.0.0.1 port; boto3 reaches it via AWS_ENDPOINT_URL_S3."""
    with pytest.MonkeyPatch.context() as env:
        use_fake_credentials(env)
        with threaded_moto() as url:
            env.setenv("AWS_ENDPOINT_URL_S3", url)
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            yield url


def artifacts(directory: Path, threshold: float = 0.5, **model: Any) -> Path:
    """An artifacts dir as fraud-train + fraud-convert leave it: model, metrics, report."""
    build_model(directory / "model.onnx", threshold=threshold, **model)
    metrics = {"data": {"source": "synthetic:1000", "sha256": "ab" * 32}, "test": {"pr_auc": 0.9}}
    (directory / "metrics.json").write_text(json.dumps(metrics))
    (directory / "report.md").write_text("# report\n")
    return directory


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def objects(prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_publish_uploads_model_side_files_and_manifest(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path)
    model = (source / "model.onnx").read_bytes()
    version = read_release(source).version
    status, out, _ = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "p1", "--json")
    assert status == 0
    answer = json.loads(out)
    key = f"p1/{version}/model.onnx"
    assert answer == {
        "model_version": version,
        "uri": f"s3://{BUCKET}/{key}",
        "bucket": BUCKET,
        "key": key,
        "sha256": hashlib.sha256(model).hexdigest(),
        "created": True,
    }
    stored = objects("p1/")
    assert set(stored) == {
        f"p1/{version}/{name}"
        for name in ("model.onnx", "metrics.json", "report.md", "manifest.json")
    }
    assert stored[key] == model
    manifest = json.loads(stored[f"p1/{version}/manifest.json"])
    assert manifest["model_version"] == version
    assert manifest["sha256"] == answer["sha256"]
    assert manifest["training_data"] == {"source": "synthetic:1000", "sha256": "ab" * 32}
    assert manifest["feature_set"] == "full"
    assert manifest["created"]  # the model's own created_at
    assert manifest["files"]["report.md"] == hashlib.sha256(b"# report\n").hexdigest()


def test_human_output_names_the_deploy_values(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path, threshold=0.41)
    release = read_release(source)
    status, out, _ = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "human/")
    assert status == 0
    key = f"human/{release.version}/model.onnx"
    assert f"ModelBucket={BUCKET} ModelKey={key} ModelSha256={release.sha256}" in out
    assert f"version: {release.version}" in out


def test_republishing_the_same_bytes_is_a_no_op(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path)
    assert run(capsys, str(source), "--bucket", BUCKET, "--prefix", "same", "--json")[0] == 0
    before = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="same/")["Contents"]
    status, out, _ = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "same", "--json")
    assert status == 0 and json.loads(out)["created"] is False
    after = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="same/")["Contents"]
    # Nothing rewritten: same keys, same ETags, same modification times.
    assert [(o["Key"], o["ETag"], o["LastModified"]) for o in after] == [
        (o["Key"], o["ETag"], o["LastModified"]) for o in before
    ]


def test_different_bytes_under_a_published_version_are_refused(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path)
    release = read_release(source)
    key = f"clash/{release.version}/model.onnx"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"other bytes under the same version")
    status, out, err = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "clash")
    assert status == 1 and out == ""
    assert "never overwritten" in err and release.sha256 in err
    assert (
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        == b"other bytes under the same version"
    )
    assert f"clash/{release.version}/manifest.json" not in objects("clash/")


def test_an_interrupted_publish_is_completed(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path)
    release = read_release(source)
    # The model made it, the manifest did not (e.g. the publisher was killed).
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=f"cut/{release.version}/model.onnx", Body=release.model
    )
    status, out, _ = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "cut", "--json")
    assert status == 0 and json.loads(out)["created"] is False
    assert f"cut/{release.version}/manifest.json" in objects("cut/")


def test_list_shows_every_version_with_its_metrics(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = artifacts(tmp_path / "a", threshold=0.3, metadata={"metrics": '{"pr_auc": 0.91}'})
    second = artifacts(tmp_path / "b", threshold=0.6, metadata={"metrics": '{"pr_auc": 0.95}'})
    for source in (first, second):
        assert run(capsys, str(source), "--bucket", BUCKET, "--prefix", "listed/")[0] == 0
    status, out, _ = run(capsys, "--list", "--bucket", BUCKET, "--prefix", "listed", "--json")
    assert status == 0
    listed = json.loads(out)
    versions = {read_release(first).version, read_release(second).version}
    assert {m["model_version"] for m in listed} == versions
    assert {m["metrics"]["pr_auc"] for m in listed} == {0.91, 0.95}
    assert all(m["key"] == f"listed/{m['model_version']}/model.onnx" for m in listed)
    status, table, _ = run(capsys, "--list", "--bucket", BUCKET, "--prefix", "listed")
    assert status == 0 and "0.9100" in table and "0.9500" in table
    for version in versions:
        assert version in table
    assert run(capsys, "--list", "--bucket", BUCKET, "--prefix", "empty")[1].strip() == (
        "no published versions"
    )


def test_missing_bucket_is_a_clean_failure(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, str(artifacts(tmp_path)), "--bucket", "no-such-bucket-x")
    assert status == 1 and "no-such-bucket-x" in err and "Traceback" not in err


def test_unpublishable_artifacts_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ArtifactsError, match="not found"):
        read_release(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ArtifactsError, match="not a loadable ONNX model"):
        read_release(tmp_path)
    build_model(tmp_path / "model.onnx", metadata={"model_version": None})
    with pytest.raises(ArtifactsError, match="model_version"):
        read_release(tmp_path)
    with pytest.raises(SystemExit):
        main(["--bucket", BUCKET])  # neither ARTIFACTS nor --list


@pytest.mark.parametrize(
    ("given", "expected"), [("", ""), ("models", "models/"), ("/a/b/", "a/b/"), ("m/", "m/")]
)
def test_prefix_normalisation(given: str, expected: str) -> None:
    assert normalise_prefix(given) == expected


def test_service_loads_a_published_version_with_its_sha(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = artifacts(tmp_path / "art", threshold=0.45)
    status, out, _ = run(capsys, str(source), "--bucket", BUCKET, "--prefix", "served", "--json")
    assert status == 0
    published = json.loads(out)
    settings = Settings(
        model_uri=published["uri"],
        model_sha256=published["sha256"],
        s3_endpoint_url=endpoint,
        model_cache_dir=str(tmp_path / "cache"),
    )
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    assert model.version == published["model_version"] and model.sha256 == published["sha256"]
    wrong = Settings(
        **{**settings.__dict__, "model_sha256": "0" * 64, "model_cache_dir": str(tmp_path / "c2")}
    )
    assert not isinstance(load_model(wrong), LoadedModel)


def test_the_module_runs_as_a_command(endpoint: str, tmp_path: Path) -> None:
    source = artifacts(tmp_path)
    command = [sys.executable, "-m", "rollout.publish_cli", str(source), "--bucket", BUCKET]
    done = subprocess.run(
        [*command, "--prefix", "cli", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "AWS_ENDPOINT_URL_S3": endpoint},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["key"].startswith("cli/")
