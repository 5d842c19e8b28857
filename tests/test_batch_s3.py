"""fraud-score from S3 to S3 with the local engine, against a moto server on 127.0.0.1: an
object, a prefix, a glob, the model on S3, outputs and rejects on S3, and nothing to read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from batch_files import BROKEN, dirty_rows, text_frame, write_csv
from bench_artifacts import trained_artifacts
from moto_s3 import threaded_moto, use_fake_credentials

from batch.cli import main

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

BUCKET = "fraudlite-batch"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, with fake credentials (no real AWS is reached)."""
    with pytest.MonkeyPatch.context() as env:
        use_fake_credentials(env)
        with threaded_moto() as url:
            yield url


@pytest.fixture(scope="module")
def s3(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    folder = tmp_path_factory.mktemp("s3_inputs")
    write_csv(dirty_rows(250, seed=21), folder / "day1.csv")
    write_csv(text_frame(150, seed=22), folder / "day2.csv")
    for name in ("day1.csv", "day2.csv"):
        client.upload_file(str(folder / name), BUCKET, f"raw/2026-11/{name}")
    client.put_object(Bucket=BUCKET, Key="raw/2026-11/_SUCCESS", Body=b"")
    model = trained_artifacts(tmp_path_factory) / "model.onnx"
    client.upload_file(str(model), BUCKET, "models/model.onnx")
    return client


def fetch(s3: Any, key: str, tmp_path: Path) -> Path:
    target = tmp_path / key.replace("/", "_")
    s3.download_file(BUCKET, key, str(target))
    return target


def run(endpoint: str, *args: str) -> int:
    model = f"s3://{BUCKET}/models/model.onnx"
    return main([*args, "--model", model, "--s3-endpoint-url", endpoint, "--quiet"])


def test_prefix_to_s3(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    out = f"s3://{BUCKET}/scores/2026-11.parquet"
    assert run(s3_endpoint, f"s3://{BUCKET}/raw/2026-11/", "-o", out, "--workers", "2") == 0
    scored = pq.read_table(fetch(s3, "scores/2026-11.parquet", tmp_path))
    rejects = pq.read_table(fetch(s3, "scores/2026-11.rejects.parquet", tmp_path))
    summary = json.loads(fetch(s3, "scores/2026-11.summary.json", tmp_path).read_text())
    assert scored.num_rows == 400 - len(BROKEN) and rejects.num_rows == len(BROKEN)
    assert summary["rows"] == 400 and summary["files"] == 2  # _SUCCESS is not data
    assert summary["output"] == out
    assert set(scored.column("file").to_pylist()) == {
        f"s3://{BUCKET}/raw/2026-11/day1.csv",
        f"s3://{BUCKET}/raw/2026-11/day2.csv",
    }
    assert rejects.column("reason").to_pylist() == [b[3] for b in BROKEN]


def test_object_and_glob_match_the_local_run(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    out = f"s3://{BUCKET}/scores/day2.csv"
    assert run(s3_endpoint, f"s3://{BUCKET}/raw/2026-11/day2.csv", "-o", out) == 0
    from_s3 = fetch(s3, "scores/day2.csv", tmp_path).read_text()
    local_in = fetch(s3, "raw/2026-11/day2.csv", tmp_path)
    local_out = tmp_path / "local.csv"
    assert run(s3_endpoint, str(local_in), "-o", str(local_out)) == 0
    assert from_s3 == local_out.read_text() and from_s3.count("\n") == 151
    glob_out = f"s3://{BUCKET}/scores/glob.parquet"
    assert run(s3_endpoint, f"s3://{BUCKET}/raw/*/day2.*", "-o", glob_out) == 0
    assert pq.read_table(fetch(s3, "scores/glob.parquet", tmp_path)).num_rows == 150


def test_nothing_to_read_is_a_usage_error(
    s3: Any, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = f"s3://{BUCKET}/scores/none.parquet"
    assert run(s3_endpoint, f"s3://{BUCKET}/raw/1999-01/", "-o", out) == 2
    assert "no input files found" in capsys.readouterr().err
    assert run(s3_endpoint, "s3://no-such-bucket-here/raw/", "-o", out) == 2
    assert "error:" in capsys.readouterr().err
