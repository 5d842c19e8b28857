"""The drift job's handler under AWS's Lambda Runtime Interface Emulator, from the image's bundle
(requirements/service.lock + service/), with S3 and Secrets Manager on a moto server."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_tools import ROOT, Bundle, cache_root, emulator, pip_env, pip_target_command

# The moto server, the bucket and the drifted decision log come from the job's tests; the
# bundle, the emulator binary and the image's Python from the bundle tests' fixtures.
from test_drift_job import (  # noqa: F401
    BUCKET,
    MODELS,
    aws,
    loaded,
    model_path,
    put_day,
    s3,
    shifted,
)
from test_lambda_bundle import bundle, lambda_python, rie, task  # noqa: F401

pytestmark = pytest.mark.slow


def boto3_pin() -> str:
    """boto3's pin in the service extra (the image gets boto3 from its base, at its version)."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [p for p in extra["optional-dependencies"]["service"] if p.startswith("boto3==")]
    return pin


@pytest.fixture(scope="module")
def base_boto3(request: pytest.FixtureRequest) -> Path:
    """boto3 for the bundle's Python, as the Lambda base image's /var/runtime ships it (the lock
    leaves it out for that reason); cached like the bundle."""
    built: Bundle = request.getfixturevalue("bundle")
    pin = boto3_pin()
    final = cache_root() / "lambda-base-boto3" / f"{pin}-cp{built.python_version}"
    if not (final / "complete").exists():
        work = final.with_name(final.name + ".build")
        shutil.rmtree(work, ignore_errors=True)
        command = pip_target_command(work, built.python_version, [pin])
        subprocess.run(command, check=True, env=pip_env())
        (work / "complete").write_text(pin)
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    return final


def test_scheduled_handler_under_the_emulator(
    request: pytest.FixtureRequest,
    aws: str,  # noqa: F811
    s3: Any,  # noqa: F811
    shifted,  # noqa: F811
    base_boto3: Path,
    tmp_path: Path,
) -> None:
    fixture = request.getfixturevalue
    rie_path, python = fixture("rie"), fixture("lambda_python")[0]
    built, task_dir = fixture("bundle"), fixture("task")
    # The handler compares the day before today (UTC, as the scheduled run does).
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    put_day(s3, "rie/decisions/", yesterday, shifted[1])
    env = {
        "FRAUD_MODEL_URI": f"s3://{MODELS}/v1/model.onnx",
        "FRAUD_DRIFT_SOURCE": f"s3://{BUCKET}/rie/decisions/",
        "FRAUD_DRIFT_REPORT_URI": f"s3://{BUCKET}/rie-reports/",
        "FRAUD_DRIFT_MIN_ROWS": "500",
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{task_dir}:{built.task}:{built.runtime}:{base_boto3}",
    }
    log = tmp_path / "rie.log"
    handler = "service.aws.drift_job.handler"
    with emulator(rie_path, python, built, task_dir, env, log, handler=handler) as emu:
        # EventBridge Scheduler's payload is the target's Input; the job ignores it.
        summary = emu.invoke({"source": "fraudlite.drift-schedule"})
        output = emu.output()
    assert summary.get("status") == "drifted", (summary, output[-3000:])
    assert summary["rows"] == 1200 and "amount" in summary["drifted"]
    assert summary["retrain"] == "not configured"
    assert summary["report"].startswith(f"s3://{BUCKET}/rie-reports/")
    # The EMF records reached the function's output (CloudWatch Logs on AWS).
    emf = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    assert {r.get("Feature") for r in emf if "Feature" in r} == set(summary["psi"])
    assert any("DriftMaxPSI" in r for r in emf)
