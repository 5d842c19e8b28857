"""The decision log: one record per scored transaction, no raw values unless asked, errors at start.

Records are read from what the Lambda handler writes to stdout (as CloudWatch would receive
them), or from the JSON-lines file FRAUD_DECISION_LOG names.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lambda_events import FakeLambdaContext, http_api_event
from service_model import EXAMPLE_TRANSACTION, build_model, example_rows
from starlette.testclient import TestClient

from service import schema
from service.app import create_app
from service.lambda_app import build_handler
from service.model import load_model
from service.settings import Settings, SettingsError
from service.telemetry.decision_log import DecisionBatch, DecisionLog, open_decision_log
from service.telemetry.setup import Telemetry

ROOT = Path(__file__).resolve().parents[1]
# Values that must never reach any output unless FRAUD_DECISION_LOG_FIELDS names them.
AMOUNT = 12345.67
NAME_ORIG = "C9988776655"
NAME_DEST = "M1122334455"
PRIVATE_TX = {
    **EXAMPLE_TRANSACTION,
    "transaction_id": "tx-private",
    "amount": AMOUNT,
    "oldbalanceOrg": AMOUNT,
    "nameOrig": NAME_ORIG,
    "nameDest": NAME_DEST,
}
DISTINCTIVE = ("12345.67", "12345.669", NAME_ORIG, NAME_DEST)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("decisions") / "model.onnx")


@pytest.fixture
def json_logging() -> Iterator[None]:
    """The entry point's own JSON logging (to the captured stdout), removed afterwards."""
    yield
    logger = logging.getLogger("fraudlite")
    for handler in [h for h in logger.handlers if getattr(h, "_fraudlite_handler", False)]:
        logger.removeHandler(handler)
    logger.propagate = True


def invoke(handler: Any, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    return handler(http_api_event(method, path, body, **kw), FakeLambdaContext())


def decisions_in(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "decision":
                records.append(record)
    return records


def handler_for(model_path: Path, **env: str) -> Any:
    return build_handler({"FRAUD_MODEL_URI": str(model_path), **env}, setup_logging=False)


def test_one_record_per_scored_transaction(model_path: Path, capsys) -> None:
    handler = handler_for(model_path)
    capsys.readouterr()
    single = json.loads(invoke(handler, "POST", "/predict", PRIVATE_TX)["body"])
    (record,) = decisions_in(capsys.readouterr().out)
    assert record["transaction_id"] == "tx-private"
    assert record["probability"] == single["probability_fraud"]
    assert record["is_fraud"] is single["is_fraud"]
    assert record["threshold"] == single["threshold"]
    assert record["model_version"] == single["model_version"]
    assert record["route"] == "/predict"
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"]
    # The request id is API Gateway's (the one in the request log and X-Request-ID).
    assert record["request_id"] == http_api_event("GET", "/")["requestContext"]["requestId"]

    rows = [{**row, "transaction_id": f"b-{i}"} for i, row in enumerate(example_rows(6, seed=4))]
    rows[2].pop("transaction_id")
    answer = json.loads(invoke(handler, "POST", "/predict", {"transactions": rows})["body"])
    records = decisions_in(capsys.readouterr().out)
    assert len(records) == 6
    assert [r.get("transaction_id") for r in records] == [r.get("transaction_id") for r in rows]
    assert "transaction_id" not in records[2]
    assert [r["probability"] for r in records] == [
        p["probability_fraud"] for p in answer["predictions"]
    ]
    assert [r["is_fraud"] for r in records] == [p["is_fraud"] for p in answer["predictions"]]


def test_no_record_for_requests_that_score_nothing(model_path: Path, capsys) -> None:
    handler = handler_for(model_path)
    capsys.readouterr()
    assert invoke(handler, "POST", "/predict", {**PRIVATE_TX, "amount": -1})["statusCode"] == 422
    assert invoke(handler, "GET", "/health")["statusCode"] == 200
    assert decisions_in(capsys.readouterr().out) == []


def test_v2_inference_records_its_decisions(model_path: Path, capsys) -> None:
    handler = handler_for(model_path)
    capsys.readouterr()
    rows = example_rows(3, seed=8)
    inputs = [
        {
            "name": name,
            "datatype": "BYTES" if name == "type" else "FP32",
            "shape": [3],
            "data": [row[name] for row in rows],
        }
        for name in schema.MODEL_INPUTS
    ]
    answer = invoke(handler, "POST", "/v2/models/fraudlite/infer", {"inputs": inputs})
    assert answer["statusCode"] == 200, answer
    outputs = {o["name"]: o["data"] for o in json.loads(answer["body"])["outputs"]}
    records = decisions_in(capsys.readouterr().out)
    assert [r["probability"] for r in records] == outputs["probability"]
    assert {r["route"] for r in records} == {"/v2/models/{model}/infer"}


def test_explained_decisions_keep_names_and_contributions_not_values(tmp_path: Path) -> None:
    lines: list[str] = []
    batch = DecisionBatch(
        model_version="v1",
        threshold=0.5,
        probabilities=np.array([0.9], dtype=np.float32),
        labels=np.array([True]),
        columns={"amount": np.array([AMOUNT], dtype=np.float32)},
        transaction_ids=["t"],
        contributions=[
            {
                "features": [{"name": "amount", "value": AMOUNT, "contribution": 1.25}],
                "other": 0.1,
                "bias": -2.0,
            }
        ],
    )
    DecisionLog(lines.append).record(batch, "req-1", "/predict")
    (record,) = decisions_in(lines[0])
    assert record["contributions"] == [{"name": "amount", "contribution": 1.25}]
    assert not any(d in lines[0] for d in DISTINCTIVE)


def test_distinctive_values_never_appear_in_any_output_by_default(
    model_path: Path, capsys, json_logging: None
) -> None:
    handler = build_handler({"FRAUD_MODEL_URI": str(model_path)})  # with the JSON logging
    for body, status in (
        (PRIVATE_TX, 200),
        ({"transactions": [PRIVATE_TX, PRIVATE_TX]}, 200),
        ({**PRIVATE_TX, "step": -1}, 422),  # a 422 names the field, not the values
    ):
        assert invoke(handler, "POST", "/predict", body)["statusCode"] == status
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert len(decisions_in(captured.out)) == 3  # the records were there, without the values
    events = {json.loads(line).get("event") for line in output.splitlines() if line.startswith("{")}
    assert {"metrics", "request"} <= events
    for value in DISTINCTIVE:
        assert value not in output


def test_raw_fields_are_logged_only_when_named(model_path: Path, capsys) -> None:
    handler = handler_for(model_path, FRAUD_DECISION_LOG_FIELDS="amount,type")
    capsys.readouterr()
    invoke(handler, "POST", "/predict", PRIVATE_TX)
    out = capsys.readouterr().out
    (record,) = decisions_in(out)
    assert record["amount"] == AMOUNT  # the float32 value, written as the client sent it
    assert record["type"] == PRIVATE_TX["type"]
    assert "oldbalanceOrg" not in record
    assert NAME_ORIG not in out and NAME_DEST not in out


def test_file_destination_appends_json_lines(model_path: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "decisions.jsonl"
    settings = Settings(model_uri=str(model_path), decision_log=str(path))
    telemetry = Telemetry(decisions=open_decision_log(settings.decision_log))
    client = TestClient(create_app(settings, load_model(settings), telemetry))
    client.post("/predict", json=PRIVATE_TX)
    client.post("/predict", json={"transactions": [PRIVATE_TX] * 3})
    records = decisions_in(path.read_text())
    assert len(records) == 4
    assert len({r["request_id"] for r in records}) == 2
    assert decisions_in(capsys.readouterr().out) == []


def test_a_failing_decision_log_never_fails_a_request(model_path: Path, caplog) -> None:
    def broken(text: str) -> None:
        raise OSError(28, "No space left on device")

    settings = Settings(model_uri=str(model_path))
    telemetry = Telemetry(decisions=DecisionLog(broken))
    client = TestClient(create_app(settings, load_model(settings), telemetry))
    with caplog.at_level(logging.ERROR, logger="fraudlite.request"):
        answer = client.post("/predict", json=PRIVATE_TX)
    assert answer.status_code == 200
    assert any(r.getMessage() == "telemetry failed" for r in caplog.records)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {"FRAUD_DECISION_LOG": "/proc/fraudlite-no-such-dir/decisions.jsonl"},
            "FRAUD_DECISION_LOG",
        ),
        ({"FRAUD_DECISION_LOG": "/"}, "FRAUD_DECISION_LOG"),
        ({"FRAUD_DECISION_LOG_FIELDS": "amount,nameOrig"}, "FRAUD_DECISION_LOG_FIELDS"),
        ({"FRAUD_METRICS_NAMESPACE": "AWS/Lambda"}, "FRAUD_METRICS_NAMESPACE"),
        ({"FRAUD_METRICS": "maybe"}, "FRAUD_METRICS"),
        ({"FRAUD_DRIFT_BINS": "sometimes"}, "FRAUD_DRIFT_BINS"),
    ],
)
def test_bad_telemetry_settings_are_a_503_naming_the_variable_on_lambda(
    model_path: Path, env: dict[str, str], variable: str
) -> None:
    handler = handler_for(model_path, **env)
    for method, path, body in (("POST", "/predict", PRIVATE_TX), ("GET", "/health", None)):
        answer = invoke(handler, method, path, body)
        assert answer["statusCode"] == 503
        assert variable in answer["body"]
        assert "/proc" not in answer["body"]  # a path is internal detail


def test_bad_telemetry_settings_stop_fraud_serve_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env["FRAUD_DECISION_LOG"] = str(tmp_path / "missing-dir" / "decisions.jsonl")
    result = subprocess.run(
        [sys.executable, "-m", "service", "--model", str(tmp_path / "m.onnx")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "FRAUD_DECISION_LOG" in result.stderr
    assert "cannot open the decision log file" in result.stderr


def test_settings_reject_unknown_fields_by_name() -> None:
    with pytest.raises(SettingsError, match=r"FRAUD_DECISION_LOG_FIELDS.*nameDest"):
        Settings.from_env({"FRAUD_DECISION_LOG_FIELDS": "amount, nameDest"})
    assert Settings.from_env(
        {"FRAUD_DECISION_LOG_FIELDS": " amount , type "}
    ).decision_log_fields == (
        "amount",
        "type",
    )


def test_extensions_add_optional_fields_but_cannot_replace_core_ones() -> None:
    lines: list[str] = []
    batch = DecisionBatch(
        model_version="v1",
        threshold=0.5,
        probabilities=np.array([0.2, 0.8], dtype=np.float32),
        labels=np.array([False, True]),
        columns={},
        extra={"arm": ["a", "b"], "shadow_probability": [0.3, None], "probability": [1, 1]},
        fields={"drift_window": "2026-11-29T07", "is_fraud": "x"},
    )
    DecisionLog(lines.append, clock=lambda: 0.0).record(batch, "r", "/predict")
    first, second = decisions_in(lines[0])
    assert (first["arm"], second["arm"]) == ("a", "b")
    assert first["shadow_probability"] == 0.3 and "shadow_probability" not in second
    assert first["drift_window"] == "2026-11-29T07"
    assert first["probability"] == pytest.approx(0.2) and first["is_fraud"] is False
    assert first["timestamp"] == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize("transaction_id", ["tx-1", 'quote"and\\slash', 42, None])
@pytest.mark.parametrize("label", [True, False])
def test_single_transaction_line_is_the_general_line(transaction_id: Any, label: bool) -> None:
    """The pre-encoded single-row line (the request path's) equals the general renderer's,
    byte for byte, whatever the id (escaped, an int, absent) and the label."""
    log = DecisionLog(lambda text: None, clock=lambda: 1_800_000_000.25)

    def batch() -> DecisionBatch:
        return DecisionBatch(
            model_version="v1",
            threshold=2.0192854208289646e-05,
            probabilities=np.array([0.8394294381141663], dtype=np.float32),
            labels=np.array([label]),
            columns={},
            transaction_ids=None if transaction_id is None else [transaction_id],
        )

    for route in ("/predict", "/v2/models/{model}/infer"):
        for request_id in ("r-1", 'ré"q'):
            fast = log.render(batch(), request_id, route)
            assert fast == log.render_rows(batch(), request_id, route)
            (record,) = decisions_in(fast)
            assert record["is_fraud"] is label and record["request_id"] == request_id
            assert record.get("transaction_id") == transaction_id
