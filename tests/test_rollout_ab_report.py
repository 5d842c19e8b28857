"""fraud-ab-report: per-arm flag rates, and with labels precision and recall (Wilson CIs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rollout.ab_report import ReportError, compare, main, read_decisions, read_labels, wilson


def line(arm: str, tx: str | None, flag: bool, version: str = "") -> str:
    record = {"event": "decision", "arm": arm, "model_version": version or f"v-{arm}"}
    if tx is not None:
        record["transaction_id"] = tx
    record["is_fraud"] = flag
    record["probability_fraud"] = 0.9 if flag else 0.1
    return json.dumps(record)


def write_log(path: Path) -> Path:
    """Arm A: 10 decisions, 2 flagged (tx a0, a1); arm B: 5 decisions, 3 flagged (b0-b2); plus
    noise a reader must skip: plain text, a request line without an arm, a CloudWatch prefix."""
    lines = ["START RequestId: 1", json.dumps({"event": "request", "status": 200})]
    lines += [line("A", f"a{i}", i < 2) for i in range(10)]
    lines += ["2026-11-29T07:00:00Z\t" + line("B", f"b{i}", i < 3) for i in range(5)]
    lines += ["{not json", "[1, 2]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wilson_interval_matches_known_values() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(0, 10)  # type: ignore[misc]
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)  # type: ignore[misc]
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson(81, 263)  # type: ignore[misc]  # Wilson (1927) / Newcombe (1998) example
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-3)


def test_counts_and_flag_rates_per_arm(tmp_path: Path) -> None:
    with write_log(tmp_path / "log.jsonl").open() as stream:
        report = compare(read_decisions(stream))
    assert report["decisions"] == 15
    a, b = report["arms"]
    assert (a["arm"], a["decisions"], a["flagged"], a["transactions"]) == ("A", 10, 2, 10)
    assert (b["arm"], b["decisions"], b["flagged"], b["model_versions"]) == ("B", 5, 3, ["v-B"])
    assert a["flag_rate"] == 0.2 and b["flag_rate"] == 0.6
    assert a["share"] == pytest.approx(10 / 15)
    assert tuple(a["flag_rate_ci95"]) == wilson(2, 10)


def test_precision_and_recall_with_labels(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    labels = tmp_path / "labels.csv"
    # A: a0 TP, a1 FP, a2 FN, a3..a9 TN; B: b0, b1 TP, b2 FP, b3 FN, b4 unlabelled.
    rows = ["transaction_id,isFraud,step", "a0,1,1", "a1,0,1", "a2,1,1"]
    rows += [f"a{i},0,1" for i in range(3, 10)] + ["b0,1,2", "b1,1,2", "b2,0,2", "b3,1,2"]
    labels.write_text("\n".join(rows) + "\n")
    with log.open() as stream, labels.open() as label_stream:
        report = compare(read_decisions(stream), read_labels(label_stream))
    a, b = report["arms"]
    assert (a["tp"], a["fp"], a["fn"], a["tn"], a["labelled"]) == (1, 1, 1, 7, 10)
    assert a["precision"] == 0.5 and a["recall"] == 0.5
    assert tuple(a["precision_ci95"]) == wilson(1, 2)
    assert (b["tp"], b["fp"], b["fn"], b["labelled"]) == (2, 1, 1, 4)
    assert b["precision"] == pytest.approx(2 / 3) and b["recall"] == pytest.approx(2 / 3)
    assert report["labels"] == 14


def test_the_last_decision_of_a_transaction_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([line("A", "t1", False), line("A", "t1", True)]))
    labels = tmp_path / "labels.csv"
    labels.write_text("transaction_id,isFraud\nt1,1\n")
    assert main([str(log), "--labels", str(labels), "--json"]) == 0
    (arm,) = json.loads(capsys.readouterr().out)["arms"]
    assert (arm["decisions"], arm["transactions"], arm["tp"], arm["fn"]) == (2, 1, 1, 0)


def test_batch_records_with_a_decisions_list_are_read() -> None:
    record = {
        "event": "decision",
        "model_version": "outer",
        "decisions": [
            {"arm": "A", "transaction_id": 1, "is_fraud": True},
            {"arm": "B", "is_fraud": False},
        ],
    }
    decisions = list(read_decisions([json.dumps(record)]))
    assert [(d.arm, d.transaction_id, d.is_fraud, d.model_version) for d in decisions] == [
        ("A", "1", True, "outer"),
        ("B", None, False, "outer"),
    ]


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "log.jsonl")
    assert main([str(log)]) == 0
    text = capsys.readouterr().out
    assert "| A | v-A | 10 | 66.7% | 2 | 20.00% (" in text
    assert "15 A/B decisions" in text
    assert main([str(log), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [arm["flagged"] for arm in report["arms"]] == [2, 3]
    assert all(math.isfinite(x) for arm in report["arms"] for x in arm["flag_rate_ci95"])


def test_unusable_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text('{"event": "request"}\n')
    assert main([str(empty)]) == 2
    assert "no A/B decisions" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.log")]) == 2
    bad = tmp_path / "labels.csv"
    bad.write_text("id,label\n1,0\n")
    with pytest.raises(ReportError, match="transaction_id and isFraud"):
        read_labels(bad.open())
    bad.write_text("transaction_id,isFraud\nx,maybe\n")
    assert main([str(write_log(tmp_path / "l.jsonl")), "--labels", str(bad)]) == 2
    assert "isFraud must be 0 or 1" in capsys.readouterr().err


def test_reads_the_decision_log_the_service_writes(tmp_path: Path) -> None:
    from service_model import build_model
    from starlette.testclient import TestClient

    from service import schema
    from service.app import create_app
    from service.model import LoadedModel, load_model
    from service.rollout.arms import ARM_B, arm_of
    from service.rollout.models import load_rollout
    from service.settings import Settings
    from service.telemetry.decision_log import DecisionLog
    from service.telemetry.setup import Telemetry

    primary_path = build_model(tmp_path / "a.onnx", threshold=0.5)
    b_path = build_model(tmp_path / "b.onnx", inputs=schema.PREAUTH_INPUTS, threshold=0.2)
    settings = Settings(model_uri=str(primary_path), ab_model_uri=str(b_path), ab_share=0.5)
    primary = load_model(settings)
    rollout = load_rollout(settings, primary)
    assert isinstance(primary, LoadedModel) and rollout is not None and rollout.ab_model
    lines: list[str] = []
    app = create_app(settings, primary, Telemetry(decisions=DecisionLog(lines.append)), rollout)
    ids = [f"tx-{i}" for i in range(40)]
    batch = {"transactions": [{**schema.EXAMPLE_TRANSACTION, "transaction_id": tx} for tx in ids]}
    assert TestClient(app).post("/predict", json=batch).status_code == 200
    log = tmp_path / "decisions.jsonl"
    log.write_text("".join(lines))
    with log.open() as stream:
        report = compare(read_decisions(stream))
    arms = {arm["arm"]: arm for arm in report["arms"]}
    in_b = sum(arm_of(tx, 0.5) == ARM_B for tx in ids)
    assert arms["B"]["decisions"] == in_b and arms["A"]["decisions"] == 40 - in_b
    assert arms["A"]["model_versions"] == [primary.version]
    assert arms["B"]["model_versions"] == [rollout.ab_model.version]
