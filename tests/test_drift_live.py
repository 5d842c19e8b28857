"""Live drift: the service's decision log carries reference-bin indices (``drift_bins``), and
fraud-drift on that log gives the same PSI as on the raw transactions, without raw values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_fixtures import profiled_model
from fitted_artifacts import paysim_like_frame, write_paysim_csv
from starlette.testclient import TestClient

from drift.cli import main
from drift.scoring import DriftModel
from service.app import create_app
from service.model import LoadedModel, load_model
from service.monitoring.binning import Binner
from service.monitoring.decisions import DriftBinsLog, live_binner
from service.monitoring.live import LiveCounts
from service.monitoring.records import BinCounter
from service.schema import EXAMPLE_TRANSACTION, MODEL_INPUTS
from service.settings import Settings
from service.telemetry.decision_log import DecisionLog, FileLines
from service.telemetry.setup import Telemetry

#: Entries counted live: the raw inputs, hour of day and the score (not engineered features).
LIVE = [
    "type",
    "amount",
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
    "hour",
    "score",
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return profiled_model(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def loaded(model_path: Path) -> LoadedModel:
    model = load_model(Settings(model_uri=str(model_path)))
    assert isinstance(model, LoadedModel)
    return model


@pytest.fixture(scope="module")
def traffic() -> pd.DataFrame:
    """Transactions to send: generated with another seed, amounts x4 in the second half."""
    frame = paysim_like_frame(1500, 42)
    frame.loc[750:, "amount"] = frame.loc[750:, "amount"] * 4
    return frame


def send(client: TestClient, frame: pd.DataFrame) -> None:
    """POST the rows as single transactions and as batches, as clients would."""
    rows = frame[list(MODEL_INPUTS)].astype({"type": str}).to_dict("records")
    for row in rows[:40]:
        assert client.post("/predict", json=row).status_code == 200
    for start in range(40, len(rows), 230):
        body = {"transactions": rows[start : start + 230]}
        assert client.post("/predict", json=body).status_code == 200


def serve_and_log(loaded: LoadedModel, log: Path, frame: pd.DataFrame, raw: bool) -> None:
    writer = FileLines(str(log))
    decisions = DecisionLog(writer, raw_fields=MODEL_INPUTS if raw else ())
    settings = Settings(model_uri=loaded.source, max_batch=1000)
    app = create_app(settings, loaded, Telemetry(decisions=decisions))
    with TestClient(app) as client:
        send(client, frame)
    writer.close()


def drift_json(model: Path, data: Path, out: Path) -> dict:
    main(["--model", str(model), "--data", str(data), "--json", str(out)])
    return json.loads(out.read_text())


def test_decision_log_records_carry_bins_and_no_raw_values(
    loaded: LoadedModel, traffic: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.jsonl"
    serve_and_log(loaded, log, traffic.iloc[:60], raw=False)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 60
    binner = live_binner(loaded)
    assert binner is not None and binner.names() == LIVE
    sizes = [e.n_bins for e in binner.entries]
    for record in records:
        bins = record["drift_bins"]
        assert len(bins) == len(LIVE) and all(0 <= b < n for b, n in zip(bins, sizes, strict=True))
        assert not {"amount", "step", "oldbalanceOrg", "type"} & set(record)
    # The type bin is the type's index in the reference categories.
    categories = binner.entries[0].categories
    sent = traffic.iloc[:60]["type"].astype(str).tolist()
    assert [categories[r["drift_bins"][0]] for r in records] == sent


def test_decision_log_gives_the_same_psi_as_the_raw_transactions(
    model_path: Path, loaded: LoadedModel, traffic: pd.DataFrame, tmp_path: Path
) -> None:
    raw = drift_json(model_path, write_paysim_csv(tmp_path / "raw.csv", traffic), tmp_path / "a")
    log = tmp_path / "decisions.jsonl"
    serve_and_log(loaded, log, traffic, raw=False)
    live = drift_json(model_path, log, tmp_path / "b")
    assert live["rows"] == raw["rows"] == len(traffic)
    assert list(live["psi"]) == LIVE  # engineered features are not counted live
    for name in LIVE:
        assert live["counts"][name] == raw["counts"][name], name
        assert live["psi"][name] == raw["psi"][name], name
    assert "amount" in live["drifted"] and live["drifted"] == [
        n for n in raw["drifted"] if n in LIVE
    ]


def test_opted_in_raw_fields_give_every_feature(
    model_path: Path, loaded: LoadedModel, traffic: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "decisions-raw.jsonl"
    serve_and_log(loaded, log, traffic.iloc[:500], raw=True)
    raw = drift_json(
        model_path, write_paysim_csv(tmp_path / "r.csv", traffic.iloc[:500]), tmp_path / "a"
    )
    # Raw values in a record are preferred to its bins: every feature is compared.
    assert all("drift_bins" in json.loads(x) for x in log.read_text().splitlines())
    logged = drift_json(model_path, log, tmp_path / "b")
    assert len(logged["psi"]) == 11
    assert logged["psi"] == raw["psi"]


def test_cloudwatch_envelopes_and_counts_documents_count_the_same(
    model_path: Path, loaded: LoadedModel, traffic: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.jsonl"
    serve_and_log(loaded, log, traffic.iloc[:300], raw=False)
    lines = log.read_text().splitlines()
    binner = live_binner(loaded)
    assert binner is not None
    direct = BinCounter(binner, loaded.version)
    direct.add_text(log.read_text())
    # As Firehose delivers a subscription to S3: envelopes concatenated without separators.
    envelopes = "".join(
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "logGroup": "/aws/lambda/x",
                "logEvents": [{"id": str(i), "timestamp": 0, "message": m} for i, m in chunk],
            }
        )
        for chunk in (list(enumerate(lines))[:100], list(enumerate(lines))[100:])
    )
    wrapped = BinCounter(binner, loaded.version)
    assert wrapped.add_text(envelopes) == 300
    assert np.array_equal(wrapped.counts, direct.counts) and wrapped.rows == 300
    # An in-memory LiveCounts on the same rows gives the same counts as the log.
    counts = LiveCounts(
        DriftModel.open(str(model_path)).profile, loaded.version, loaded.metadata.feature_names
    )
    columns = DriftModel.open(str(model_path)).columns(traffic.iloc[:300])
    probabilities, _ = loaded.score(columns)
    counts.observe(columns, probabilities)
    document = counts.drain()
    assert document["rows"] == 300 and counts.rows == 0
    from_doc = BinCounter(binner, loaded.version)
    assert from_doc.add(document)
    assert np.array_equal(from_doc.counts, direct.counts)
    # Records of another model are not counted.
    other = BinCounter(binner, "another-version")
    assert other.add_text(log.read_text()) == 0 and other.other_models == 300


def test_models_without_a_profile_log_without_bins(tmp_path: Path) -> None:
    from service_model import build_model

    path = build_model(tmp_path / "plain.onnx")
    model = load_model(Settings(model_uri=str(path)))
    assert isinstance(model, LoadedModel) and live_binner(model) is None
    decisions = DecisionLog(lambda text: None)
    telemetry = Telemetry(decisions=decisions)
    create_app(Settings(model_uri=str(path)), model, telemetry)
    assert telemetry.decisions is decisions and not isinstance(decisions, DriftBinsLog)


def test_drift_bins_off_logs_a_profiled_models_decisions_without_bins(model_path: Path) -> None:
    """FRAUD_DRIFT_BINS=off: the same decision lines without ``drift_bins``; on (the default)
    adds them."""
    assert Settings.from_env({}).drift_bins is True
    body = {**EXAMPLE_TRANSACTION, "transaction_id": "t-1"}
    records = {}
    for switch in ("on", "off"):
        env = {"FRAUD_MODEL_URI": str(model_path), "FRAUD_DRIFT_BINS": switch}
        settings = Settings.from_env(env)
        assert settings.drift_bins is (switch == "on")
        written: list[str] = []
        telemetry = Telemetry(decisions=DecisionLog(written.append))
        client = TestClient(create_app(settings, load_model(settings), telemetry))
        assert client.post("/predict", json=body).status_code == 200
        (line,) = written
        records[switch] = json.loads(line)
    assert isinstance(records["on"].pop("drift_bins"), list) and "drift_bins" not in records["off"]
    for record in records.values():
        del record["timestamp"], record["request_id"]
    assert records["on"] == records["off"]


def test_binner_bins_agree_with_searchsorted(loaded: LoadedModel) -> None:
    binner = live_binner(loaded)
    assert isinstance(binner, Binner)
    amount = binner.entries[1]
    values = np.array([0, amount.edges[0], amount.edges[0] + 0.01, 1e12], dtype=np.float32)
    matrix = np.zeros((4, len(binner.entries)), dtype=np.float32)
    matrix[:, 1] = values
    expected = np.searchsorted(amount.edges_array(), values, side="left")
    assert binner.bins(matrix)[:, 1].tolist() == expected.tolist() == [0, 0, 1, amount.n_bins - 1]


@pytest.mark.parametrize("n", [1, 3, 16, 17, 200])
def test_python_and_numpy_binning_agree_on_edges(loaded: LoadedModel, n: int) -> None:
    binner = live_binner(loaded)
    assert binner is not None
    frame = paysim_like_frame(400, 9).iloc[:n].reset_index(drop=True)
    # Put values exactly on cut points and just above them (the boundary cases).
    amount_edges = binner.entries[1].edges_array()
    frame.loc[: n // 2, "amount"] = amount_edges[np.arange(n // 2 + 1) % amount_edges.size]
    frame.loc[n // 2 + 1 :, "amount"] = np.nextafter(
        amount_edges[np.arange(n - n // 2 - 1) % amount_edges.size], np.float32(np.inf)
    )
    columns = DriftModel.open(loaded.source).columns(frame)
    probabilities, _ = loaded.score(columns)
    expected = binner.bins(binner.values(columns, probabilities)).tolist()
    assert binner.bin_rows(columns, probabilities) == expected
    assert len(expected) == n


def test_single_row_lines_carry_the_same_bins_as_batches(loaded: LoadedModel) -> None:
    """The single-row fast path of DriftBinsLog writes what the general path writes."""
    from service.telemetry.decision_log import DecisionBatch

    binner = live_binner(loaded)
    assert binner is not None
    plain = DecisionLog(lambda text: None, clock=lambda: 1_800_000_000.0)
    log = DriftBinsLog(plain, binner, loaded.version)

    def batch(columns: dict[str, np.ndarray]) -> DecisionBatch:
        probabilities, labels = loaded.score(columns)
        return DecisionBatch(loaded.version, loaded.threshold, probabilities, labels, columns)

    frame = paysim_like_frame(40, 7)
    for row in frame[list(MODEL_INPUTS)].astype({"type": str}).to_dict("records"):
        columns = {
            name: np.array([value], dtype=object if name == "type" else np.float32)
            for name, value in row.items()
        }
        general = batch(columns)
        general.extra["drift_bins"] = binner.bin_rows(columns, general.probabilities)
        assert log.render(batch(columns), "r", "/predict") == plain.render_rows(
            general, "r", "/predict"
        )
    columns["type"] = np.array(["NOT_A_TYPE"], dtype=object)  # unbinnable: logged without bins
    (line,) = log.render(batch(columns), "r", "/predict").splitlines()
    assert "drift_bins" not in json.loads(line)
