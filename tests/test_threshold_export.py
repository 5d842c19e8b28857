"""fraud-train with a policy and --legit-weight -> fraud-convert -> the service (issue 21).

The prior correction lives in the booster's base_score, so the exported graph must still score
exactly as the pipeline (fraud-parity), and /model must show the policy the threshold came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from convert.cli import main as convert_main
from convert.parity_cli import main as parity_main
from service.app import create_app
from service.model import LoadedModel, load_model
from service.settings import Settings
from train.cli import main as train_main


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("policy")
    args = ["--data", "synthetic:40000", "--n-iter", "1", "--cv", "2", "--seed", "4"]
    policy = ["--threshold-policy", "cost:50,1", "--cost-per-amount", "--legit-weight", "5"]
    assert train_main([*args, *policy, "--n-jobs", "1", "--out", str(out)]) == 0
    assert convert_main([str(out)]) == 0
    return out


def test_metrics_and_report_state_the_policy_intervals_and_calibration(artifacts: Path) -> None:
    metrics = json.loads((artifacts / "metrics.json").read_text())
    policy = metrics["threshold_policy"]
    assert policy["policy"] == "cost:50,1" and policy["per_amount"] is True
    assert policy["legit_weight"] == 5.0 and "forward-chaining" in policy["chosen_on"]
    test = metrics["test"]
    low, high = test["intervals"]["recall"]
    assert low <= test["recall"] <= high
    low, high = test["intervals"]["precision"]
    assert low <= test["precision"] <= high
    assert test["calibration"]["weighted"] is True
    assert "expected_cost" in test and "expected_cost" in metrics["out_of_fold"]
    # SMOTE and the declared x5 under-representation are both corrected: ln(5) at least.
    assert metrics["probability"]["log_odds_shift"] > 1.6
    assert (artifacts / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (artifacts / "report.md").read_text()
    for text in ("policy `cost:50,1`", "How the threshold was chosen", "Calibration on the test"):
        assert text in report


def test_corrected_model_keeps_parity(artifacts: Path, tmp_path: Path) -> None:
    report = tmp_path / "parity.json"
    code = parity_main(
        [
            "--model", str(artifacts / "model.onnx"),
            "--pipeline", str(artifacts / "pipeline.joblib"),
            "--data", "synthetic:20000", "--seed", "9", "--json", str(report),
        ]
    )  # fmt: skip
    result = json.loads(report.read_text())
    assert code == 0 and result["passed"] is True and result["label_flips"] == 0


def test_model_endpoint_shows_the_threshold_policy(artifacts: Path) -> None:
    settings = Settings(model_uri=str(artifacts / "model.onnx"))
    model = load_model(settings)
    assert isinstance(model, LoadedModel), model
    body = TestClient(create_app(settings, model)).get("/model").json()
    metrics = json.loads((artifacts / "metrics.json").read_text())
    assert body["threshold_policy"] == metrics["threshold_policy"]
    assert body["model_threshold"] == pytest.approx(metrics["threshold"])
