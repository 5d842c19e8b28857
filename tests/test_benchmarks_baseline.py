"""The reproduced baseline app, and the request bodies the benchmarks send to each side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from bench_artifacts import trained_artifacts
from fastapi.testclient import TestClient

from benchmarks.baseline.app import create_app, raw_row
from benchmarks.cold_start import EXAMPLE, one_cold_start
from benchmarks.payloads import legacy_fields, single_body
from service.schema import TRANSACTION_TYPES


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_artifacts(tmp_path_factory)


@pytest.fixture(scope="module")
def pipeline(artifacts: Path) -> Any:
    return joblib.load(artifacts / "pipeline.joblib")


@pytest.fixture(scope="module")
def client(pipeline: Any) -> TestClient:
    return TestClient(create_app(pipeline))


def raw(kind: str, amount: float = 5000.0) -> dict[str, Any]:
    return {
        "step": 7,
        "type": kind,
        "amount": amount,
        "oldbalanceOrg": amount,
        "newbalanceOrig": 0.0,
        "oldbalanceDest": 100.0,
        "newbalanceDest": 100.0 + amount,
    }


@pytest.mark.parametrize("kind", TRANSACTION_TYPES)
def test_legacy_body_maps_back_to_the_raw_transaction(kind: str) -> None:
    body = legacy_fields(raw(kind))
    assert len(body) == 11
    assert sum(body[k] for k in body if k.startswith("type_")) == (0 if kind == "CASH_IN" else 1)
    assert raw_row(body) == raw(kind)


def test_baseline_scores_with_the_pipeline_on_the_raw_columns(
    client: TestClient, pipeline: Any
) -> None:
    for kind in TRANSACTION_TYPES:
        answer = client.post("/predict", json=legacy_fields(raw(kind)))
        assert answer.status_code == 200
        frame = pd.DataFrame([raw(kind)])
        assert answer.json() == {
            "is_fraud": bool(pipeline.predict(frame)[0]),
            "probability_fraud": float(pipeline.predict_proba(frame)[0][1]),
        }


def test_baseline_refuses_bad_bodies_with_422_naming_the_field(client: TestClient) -> None:
    body = legacy_fields(raw("TRANSFER"))
    missing = {k: v for k, v in body.items() if k != "amount"}
    answer = client.post("/predict", json=missing)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "amount"]
    bad = client.post(
        "/predict", content=b'{"step": 1,', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422


def test_both_lambda_entry_modules_answer_a_v2_event_with_the_same_score(
    artifacts: Path,
) -> None:
    ours = one_cold_start("fraudlite", {"FRAUD_MODEL_URI": str(artifacts / "model.onnx")})
    theirs = one_cold_start("baseline", {"MODEL_PATH": str(artifacts / "pipeline.joblib")})
    assert ours["status"] == theirs["status"] == 200
    assert ours["probability_fraud"] == pytest.approx(theirs["probability_fraud"], abs=1e-5)
    assert ours["wall_s"] > ours["import_s"] > 0
    assert single_body(EXAMPLE, "fraudlite") == EXAMPLE
