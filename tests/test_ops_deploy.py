"""The deploy workflow's commands run for real here: fraud-model-pin (S3 on a moto server),
fraud-deploy-template (against AWS's own parse of template.yaml), fraud-load-check (Locust
against a live uvicorn) and fraud-invoke-check (the Lambda bundle under AWS's RIE)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_tools import aws_tools_dir, load_template, translate
from live_server import serve
from moto_s3 import aws_env, moto_server
from service_model import build_model

from ops import deploy_template, load_check, model_pin
from service.app import create_app
from service.model import load_model
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraudlite:0123456789abcdef"
SHA = "ab" * 32


# --- fraud-model-pin ---------------------------------------------------------------------------


def test_the_committed_pin_file_reads(tmp_path: Path) -> None:
    pin = model_pin.read_pin(ROOT / "deploy" / "model.json")
    assert set(pin) == set(model_pin.FIELDS)


def test_set_get_and_sam_params_round_trip(tmp_path: Path, capsys) -> None:
    pin_file = tmp_path / "model.json"
    pin_file.write_text(json.dumps(dict.fromkeys(model_pin.FIELDS)))
    assert model_pin.main(["--file", str(pin_file), "sam-params", "--bucket", "b"]) == 1
    assert "no model pinned" in capsys.readouterr().err
    publish = tmp_path / "publish.json"
    record = {"model_version": "abc123", "uri": "s3://b/models/abc123/model.onnx"}
    record |= {"bucket": "b", "key": "models/abc123/model.onnx", "sha256": SHA, "created": "now"}
    publish.write_text(json.dumps(record))
    assert model_pin.main(["--file", str(pin_file), "set", "--from", str(publish)]) == 0
    assert "bucket" not in json.loads(pin_file.read_text())  # the bucket is per account
    capsys.readouterr()
    assert model_pin.main(["--file", str(pin_file), "get", "model_version"]) == 0
    assert capsys.readouterr().out.strip() == "abc123"
    assert model_pin.main(["--file", str(pin_file), "sam-params", "--bucket", "my-b"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"ModelBucket=my-b ModelKey=models/abc123/model.onnx ModelSha256={SHA}"
    )


@pytest.mark.parametrize(
    "record, problem",
    [
        ({"model_version": "v", "key": "k"}, "lacks ['sha256']"),
        ({"model_version": "v", "key": "k", "sha256": "XYZ"}, "64 lowercase hex"),
        ({"model_version": "v", "key": "models/*/m.onnx", "sha256": SHA}, "* or ?"),
    ],
)
def test_set_refuses_bad_publish_records(tmp_path: Path, record, problem, capsys) -> None:
    publish = tmp_path / "publish.json"
    publish.write_text(json.dumps(record))
    pin_file = tmp_path / "model.json"
    assert model_pin.main(["--file", str(pin_file), "set", "--from", str(publish)]) == 2
    assert problem in capsys.readouterr().err
    assert not pin_file.exists()


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_fetch_downloads_the_pinned_model_and_checks_its_sha256(
    moto_s3: str, tmp_path: Path, monkeypatch
) -> None:
    import boto3

    for name, value in aws_env(moto_s3).items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models")
    body = b"model bytes"
    s3.put_object(Bucket="models", Key="m/v1/model.onnx", Body=body)
    pin = {"model_version": "v1", "key": "m/v1/model.onnx", "created": None}
    good = {**pin, "sha256": hashlib.sha256(body).hexdigest()}
    target = model_pin.fetch(good, "models", tmp_path / "current")
    assert target is not None and target.read_bytes() == body
    with pytest.raises(model_pin.PinError, match="sha256"):
        model_pin.fetch({**pin, "sha256": SHA}, "models", tmp_path / "other")
    assert not (tmp_path / "other").exists()
    assert model_pin.fetch(dict.fromkeys(model_pin.FIELDS), "models", tmp_path / "none") is None


# --- fraud-deploy-template ---------------------------------------------------------------------


def test_deploy_template_sets_the_image_and_changes_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "deploy.json"
    argv = ["--image-uri", IMAGE, "--template", str(ROOT / "template.yaml"), "--out", str(out)]
    assert deploy_template.main(argv) == 0
    written = json.loads(out.read_text())
    expected = load_template(ROOT / "template.yaml")  # AWS's own parser of the short forms
    functions = [
        name
        for name, r in expected["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function" and r["Properties"].get("PackageType")
    ]
    assert functions
    for name in functions:
        assert written["Resources"][name]["Properties"].pop("ImageUri") == IMAGE
        assert "Metadata" not in written["Resources"][name]
        expected["Resources"][name].pop("Metadata", None)
    assert written == expected


def test_deploy_template_translates_with_the_image() -> None:
    template = deploy_template.with_image(
        deploy_template.load_template(ROOT / "template.yaml"), IMAGE
    )
    cfn = translate(template)
    images = [
        r["Properties"]["Code"]["ImageUri"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "ImageUri" in r["Properties"].get("Code", {})
    ]
    assert images and set(images) == {IMAGE}


def test_the_sam_cli_validates_the_deploy_template(tmp_path: Path) -> None:
    sam = aws_tools_dir() / "bin" / "sam"
    if not sam.exists():
        reason = "aws-sam-cli not installed: run .ci/install-aws-tools (make aws-tools)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; make test installs it")
        pytest.skip(reason)
    out = tmp_path / "deploy.json"
    assert deploy_template.main(["--image-uri", IMAGE, "--out", str(out)]) == 0
    done = subprocess.run(
        [str(sam), "validate", "--template-file", str(out), "--region", "us-east-1", "--lint"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "uri",
    [
        "fraudlite:latest",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraudlite",
        "docker.io/library/python:3.12",
    ],
)
def test_deploy_template_refuses_an_image_that_is_not_a_tagged_ecr_image(
    uri: str, tmp_path: Path
) -> None:
    assert deploy_template.main(["--image-uri", uri, "--out", str(tmp_path / "t.json")]) == 2
    assert not (tmp_path / "t.json").exists()


# --- fraud-load-check --------------------------------------------------------------------------


def test_judge_applies_both_limits() -> None:
    figures = load_check.LoadFigures(
        requests=1000, failures=5, p50_ms=10, p99_ms=200, requests_per_s=50
    )
    assert load_check.judge(figures, max_error_rate=0.01, max_p99_ms=250).passed
    assert not load_check.judge(figures, max_error_rate=0.001, max_p99_ms=250).passed
    assert not load_check.judge(figures, max_error_rate=0.01, max_p99_ms=150).passed
    none = load_check.LoadFigures(0, 0, 0, 0, 0)
    assert not load_check.judge(none, 1.0, 1e9).passed


def _run_load(url: str, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "load.json"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("fraud-load-check")),
            url,
            "--users",
            "2",
            "--duration",
            "5",
            "--json",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: the locustfile must still find ops/
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert out.exists(), done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text())


def test_load_check_against_a_live_server(tmp_path: Path) -> None:
    model = build_model(tmp_path / "model.onnx")
    settings = Settings(model_uri=str(model))
    with serve(create_app(settings, load_model(settings))) as port:
        code, figures = _run_load(f"http://127.0.0.1:{port}", tmp_path, "--max-p99-ms", "60000")
    assert code == 0, figures
    assert figures["passed"] and figures["requests"] > 10 and figures["failures"] == 0


def test_load_check_fails_on_errors(tmp_path: Path) -> None:
    settings = Settings(model_uri=str(tmp_path / "missing.onnx"))  # every score is a 503
    with serve(create_app(settings, load_model(settings))) as port:
        code, figures = _run_load(f"http://127.0.0.1:{port}", tmp_path)
    assert code == 1
    assert not figures["passed"] and figures["error_rate"] == 1.0
