"""The whole path: fraud-train -> fraud-convert -> fraud-parity -> the service, both feature sets.

Unlike the per-part tests (which build small models in their own ways), this runs the real
commands' code on one small generated data set and checks that what the service answers equals
what the tuned XGBoost pipeline says, for the full and the pre-authorization model.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from convert.cli import main as convert_main
from convert.parity_cli import main as parity_main
from service.app import create_app
from service.model import LoadedModel, load_model
from service.schema import POST_TRANSACTION_FIELDS
from service.settings import Settings
from train import synthetic
from train.cli import main as train_main


@pytest.fixture(scope="module", params=["full", "preauth"])
def artifacts(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"e2e-{request.param}")
    args = ["--data", "synthetic:30000", "--n-iter", "1", "--cv", "2", "--seed", "11"]
    assert train_main([*args, "--features", request.param, "--out", str(out)]) == 0
    assert convert_main([str(out)]) == 0
    return out


def test_parity_cli_passes_on_fresh_rows(artifacts: Path) -> None:
    report = artifacts / "parity.json"
    code = parity_main(
        [
            "--model", str(artifacts / "model.onnx"),
            "--pipeline", str(artifacts / "pipeline.joblib"),
            "--data", "synthetic:20000", "--seed", "12", "--json", str(report),
        ]
    )  # fmt: skip
    result = json.loads(report.read_text())
    assert code == 0 and result["passed"] is True
    assert result["rows"] == 20_000 and result["label_flips"] == 0
    assert result["max_abs_diff"] <= 1e-6


def test_service_answers_what_the_pipeline_says(artifacts: Path) -> None:
    metrics = json.loads((artifacts / "metrics.json").read_text())
    model = load_model(Settings(model_uri=str(artifacts / "model.onnx")))
    assert isinstance(model, LoadedModel), model
    client = TestClient(create_app(Settings(model_uri=str(artifacts / "model.onnx")), model))

    frame = synthetic.generate(3000, seed=13)
    frauds = frame[frame["isFraud"] == 1].head(5)
    sample = frame.sample(45, random_state=1)
    rows = pd.concat([frauds, sample])
    X = rows.drop(columns=["isFraud", "isFlaggedFraud"])
    expected = joblib.load(artifacts / "pipeline.joblib").predict_proba(X)[:, 1]

    needed = model.input_names
    body = {
        "transactions": [
            {k: (str(v) if k == "type" else float(v)) for k, v in row.items() if k in needed}
            for row in X.to_dict("records")
        ]
    }
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    got = np.array([p["probability_fraud"] for p in answer.json()["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    flags = [p["is_fraud"] for p in answer.json()["predictions"]]
    assert flags == [bool(p >= np.float32(metrics["threshold"])) for p in got]
    assert any(flags[:5]), "the model should flag some of the generated frauds"


def test_model_card_names_the_feature_set_and_its_inputs(artifacts: Path) -> None:
    settings = Settings(model_uri=str(artifacts / "model.onnx"))
    client = TestClient(create_app(settings, load_model(settings)))
    card = client.get("/model").json()
    metrics = json.loads((artifacts / "metrics.json").read_text())
    assert card["feature_set"] == metrics["feature_set"]
    # The model's inputs, as the card lists them and as the OpenAPI document requires them
    # (issue 13: these checks used to compare a string with dicts and search text that always
    # held the names, so they could not fail).
    inputs = {spec["name"] for spec in card["inputs"]}
    assert inputs == {spec["name"] for spec in card["input_schema"]["inputs"]}
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    required = set(schemas["TransactionRequest"]["required"])
    assert required == inputs
    if metrics["feature_set"] == "preauth":
        # A pre-authorization model neither needs nor lists the post-transaction balances...
        assert not inputs & set(POST_TRANSACTION_FIELDS)
        body = {"type": "TRANSFER", "step": 1, "amount": 181.0, "oldbalanceOrg": 181.0,
                "oldbalanceDest": 0.0}  # fmt: skip
        assert client.post("/predict", json=body).status_code == 200
        # ...and a field it needs is still required, with a clear 422 naming it.
        missing = client.post("/predict", json={k: v for k, v in body.items() if k != "amount"})
        assert missing.status_code == 422
        assert {"field": "amount", "problem": "required field is missing"} in missing.json()[
            "details"
        ]
    else:
        assert set(POST_TRANSACTION_FIELDS) <= inputs
