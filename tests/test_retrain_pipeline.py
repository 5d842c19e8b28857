"""The retrain and deploy workflows' steps, run locally through the same make targets, against
S3 on a moto server: data from S3, train, convert, parity, the gate (without and then with a
production model), publish, pin, fetch, and `make deploy` up to the `sam deploy` command line
(a stand-in records it: there is no AWS account here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto_s3 import aws_env, moto_server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MAKE = shutil.which("make")
AWS = shutil.which("aws")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(MAKE is None, reason="make is not installed"),
    pytest.mark.skipif(AWS is None, reason="the AWS CLI (awscli) is not installed"),
]

FAKE_SAM = """import json, sys
from pathlib import Path
Path(sys.argv[1]).write_text(json.dumps(sys.argv[2:]))
"""


def test_retrain_and_deploy_steps_run_locally(tmp_path: Path) -> None:
    work = tmp_path
    pin = work / "model.json"
    pin.write_text(json.dumps(dict.fromkeys(["model_version", "key", "sha256", "created"])))
    data = work / "source.csv.gz"
    made = subprocess.run(
        [str(BIN / "fraud-data"), "synthetic:40000", "--seed", "3", "-o", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    variables = {
        "BIN": str(BIN),
        "TRAINING_DATA_URI": "s3://acme-data/training/paysim.csv.gz",
        "RETRAIN_DATA": str(work / "data" / "paysim.csv.gz"),
        "RETRAIN_ARGS": "--n-iter 1 --cv 2 --n-jobs 1",
        "CANDIDATE": str(work / "candidate"),
        "CURRENT": str(work / "current"),
        "MODEL_BUCKET": "acme-models",
        "PIN_FILE": str(pin),
        "TARGET_RECALL": "0.5",
        "OUT": str(work / "out"),
    }

    def make(*targets: str, **extra: str) -> subprocess.CompletedProcess[str]:
        args = [f"{k}={v}" for k, v in {**variables, **extra}.items()]
        done = subprocess.run(
            [MAKE, "-o", ".venv/.installed", *targets, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (
            f"make {targets}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done

    with moto_server() as url:
        env = {**os.environ, **aws_env(url)}
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="acme-data")
        s3.create_bucket(Bucket="acme-models")
        s3.upload_file(str(data), "acme-data", "training/paysim.csv.gz")

        make("retrain-data")
        assert (work / "data" / "paysim.csv.gz").read_bytes() == data.read_bytes()

        make("retrain")
        candidate = work / "candidate"
        for name in ("model.onnx", "parity.json", "report.md", "pr_curve.png", "metrics.json"):
            assert (candidate / name).exists(), name
        assert json.loads((candidate / "parity.json").read_text())["label_flips"] == 0

        assert "no model pinned yet" in make("current-model").stdout
        make("retrain-gate")
        first = json.loads((candidate / "gate.json").read_text())
        assert first["passed"] and first["current"] is None

        make("publish")
        published = json.loads((candidate / "publish.json").read_text())
        key = published["key"]
        assert s3.head_object(Bucket="acme-models", Key=key)["ContentLength"] > 0

        make("pin-model")
        pinned = json.loads(pin.read_text())
        assert pinned["model_version"] == published["model_version"]
        assert pinned["sha256"] == published["sha256"] and pinned["key"] == key

        # The next retraining: the pinned model is fetched (sha256-checked) and compared.
        make("current-model")
        current = work / "current" / "model.onnx"
        assert current.read_bytes() == (candidate / "model.onnx").read_bytes()
        make("retrain-gate")
        second = json.loads((candidate / "gate.json").read_text())
        assert second["passed"] and second["current"]["model_version"] == pinned["model_version"]
        assert second["pr_auc_change"] == 0.0
        assert (candidate / "gate.md").read_text().startswith("### Retrain gate: PASSED")

        # make deploy: the template for the pushed image and the pinned model's parameters.
        fake = work / "fake_sam.py"
        fake.write_text(FAKE_SAM)
        recorded = work / "sam_args.json"
        image_repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudlite-scoring"
        make(
            "deploy",
            SAM=f"{sys.executable} {fake} {recorded}",
            ECR_REPOSITORY_URI=image_repo,
            IMAGE_TAG="0123abcd",
            STACK="fraudlite-staging",
            CFN_EXECUTION_ROLE_ARN="arn:aws:iam::123456789012:role/cfn-exec",
            DEPLOY_PARAMS="MemorySize=2048",
        )
    argv = json.loads(recorded.read_text())
    assert argv[0] == "deploy"
    template = Path(argv[argv.index("--template-file") + 1])
    functions = [
        r
        for r in json.loads(template.read_text())["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function" and r["Properties"].get("PackageType")
    ]
    assert functions and all(
        f["Properties"]["ImageUri"] == f"{image_repo}:0123abcd" for f in functions
    )
    assert argv[argv.index("--stack-name") + 1] == "fraudlite-staging"
    assert argv[argv.index("--role-arn") + 1] == "arn:aws:iam::123456789012:role/cfn-exec"
    overrides = argv[argv.index("--parameter-overrides") + 1 :]
    assert overrides == [
        "ModelBucket=acme-models",
        f"ModelKey={key}",
        f"ModelSha256={pinned['sha256']}",
        "MemorySize=2048",
    ]
