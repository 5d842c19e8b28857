"""fraud-score --engine ray on a local Ray instance (2 CPUs, started here): the same output and
rejects files as the local engine, from local files (generated, and the real PaySim sample where
present) and from S3 (a moto server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from batch_files import BROKEN, REAL_SAMPLE, dirty_rows, text_frame, typed, write_csv
from bench_artifacts import trained_artifacts
from moto_s3 import threaded_moto, use_fake_credentials

import batch.reader as reader
from batch.cli import main

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

NUMERIC = ("step", "amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
BUCKET = "fraudlite-batch-ray"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """Fake credentials set before Ray starts, so its workers inherit them; a moto S3 server."""
    # MonkeyPatch sets os.environ itself (Ray's workers inherit it) and restores it afterwards.
    with pytest.MonkeyPatch.context() as env:
        use_fake_credentials(env)
        with threaded_moto() as url:
            yield url


@pytest.fixture(scope="module")
def local_ray(s3_endpoint: str) -> Iterator[None]:
    """One local Ray instance with 2 CPUs for the module; fraud-score uses it (is_initialized)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_artifacts(tmp_path_factory) / "model.onnx"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dirty CSV and a Parquet file of 6 row groups (read as 6 parts by the Ray engine)."""
    folder = tmp_path_factory.mktemp("ray_inputs")
    write_csv(dirty_rows(700, seed=11), folder / "a.csv")
    pq.write_table(
        typed(text_frame(3000, seed=12), NUMERIC), folder / "b.parquet", row_group_size=500
    )
    if REAL_SAMPLE.exists():  # the real rows too, where present (one Ray job covers both)
        (folder / "c.csv.gz").symlink_to(REAL_SAMPLE)
    return folder


def run(*args: str) -> int:
    return main([*args, "--quiet"])


def tables(output: Path) -> tuple[Any, Any]:
    return pq.read_table(output), pq.read_table(beside_rejects(output))


def beside_rejects(output: Path) -> Path:
    return output.with_name(output.name.replace(".parquet", ".rejects.parquet"))


def test_ray_engine_writes_what_the_local_engine_writes(
    local_ray: None, model_path: Path, inputs: Path, tmp_path: Path
) -> None:
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    common = ["--model", str(model_path), "--keep", "isFraud", "--workers", "2"]
    assert run(str(inputs), *common, "-o", str(local)) == 0
    assert run(str(inputs), *common, "-o", str(remote), "--engine", "ray") == 0
    (local_out, local_rejects), (ray_out, ray_rejects) = tables(local), tables(remote)
    real = 132_707 if REAL_SAMPLE.exists() else 0
    assert ray_out.num_rows == 700 + 3000 - len(BROKEN) + real
    assert ray_out.equals(local_out)  # same rows, same order, same values and types
    assert ray_rejects.equals(local_rejects)
    assert [r["row"] for r in ray_rejects.to_pylist()] == [b[0] for b in BROKEN]
    assert [r["reason"] for r in ray_rejects.to_pylist()] == [b[3] for b in BROKEN]


def test_files_read_in_small_parts_by_both_actors_give_the_same_files(
    local_ray: None,
    model_path: Path,
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The driver cuts the parts: the CSV into ranges of 4 KiB, each Parquet row group into runs
    # of 300 rows, so a file's parts are read by both actors and renumbered by the driver.
    monkeypatch.setattr(reader, "CSV_PART_BYTES", 4096)
    monkeypatch.setattr(reader, "PARQUET_BATCH_ROWS", 100)
    monkeypatch.setattr(reader, "PARQUET_PART_BATCHES", 3)
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    files = str(inputs / "[ab].*")
    assert run(files, "--model", str(model_path), "-o", str(local)) == 0
    assert run(files, "--model", str(model_path), "-o", str(remote), "--engine", "ray") == 0
    (local_out, local_rejects), (ray_out, ray_rejects) = tables(local), tables(remote)
    assert ray_out.num_rows == 700 + 3000 - len(BROKEN)
    assert ray_out.equals(local_out)
    assert ray_rejects.equals(local_rejects)


def test_ray_engine_reads_and_writes_s3(
    local_ray: None, s3_endpoint: str, model_path: Path, inputs: Path, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for name in ("a.csv", "b.parquet"):
        s3.upload_file(str(inputs / name), BUCKET, f"raw/2026-11/{name}")
    s3.upload_file(str(model_path), BUCKET, "models/model.onnx")
    common = [
        "--model",
        f"s3://{BUCKET}/models/model.onnx",
        "--s3-endpoint-url",
        s3_endpoint,
        "--workers",
        "2",
    ]
    out = f"s3://{BUCKET}/scores/2026-11.parquet"
    assert run(f"s3://{BUCKET}/raw/2026-11/", *common, "-o", out, "--engine", "ray") == 0
    s3.download_file(BUCKET, "scores/2026-11.parquet", str(tmp_path / "ray.parquet"))
    s3.download_file(
        BUCKET, "scores/2026-11.rejects.parquet", str(tmp_path / "ray.rejects.parquet")
    )
    assert s3.get_object(Bucket=BUCKET, Key="scores/2026-11.summary.json")["ContentLength"] > 0
    # The same job from local files with the local engine: the same rows, told apart by file.
    local = tmp_path / "local.parquet"
    assert run(str(inputs / "[ab].*"), "--model", str(model_path), "-o", str(local)) == 0
    (ray_out, ray_rejects), (local_out, local_rejects) = (
        tables(tmp_path / "ray.parquet"),
        tables(local),
    )
    assert ray_out.drop_columns(["file"]).equals(local_out.drop_columns(["file"]))
    assert set(ray_out.column("file").to_pylist()) == {
        f"s3://{BUCKET}/raw/2026-11/a.csv",
        f"s3://{BUCKET}/raw/2026-11/b.parquet",
    }
    assert ray_rejects.drop_columns(["file"]).equals(local_rejects.drop_columns(["file"]))


def test_a_broken_file_fails_the_ray_job_with_the_local_message(
    local_ray: None, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Past the header block read when planning: the Ray task reading the file finds it.
    source = write_csv(text_frame(3000, seed=13), tmp_path / "broken.csv")
    with source.open("a") as handle:
        handle.write("1,2,3\n")  # a line with too few fields: unreadable, not a bad value
    out = tmp_path / "s.parquet"
    assert run(str(source), "--model", str(model_path), "-o", str(out), "--engine", "ray") == 2
    err = capsys.readouterr().err
    assert "broken.csv: not a readable CSV file" in err
    assert not out.exists()
