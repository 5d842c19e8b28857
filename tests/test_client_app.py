"""The Streamlit client (client/app.py) driven by AppTest against a live local service.

The fixture starts the real service (``python -m service``, uvicorn on 127.0.0.1, a free port)
with a small model from tests/service_model.py; the page reaches it over HTTP only, and every
number the page shows is compared with the API's own answer to the same request.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_model import build_model, example_rows
from streamlit.testing.v1 import AppTest

from client import batch
from client.api import Contribution, Explanation, FraudApiClient, Prediction, SingleResult
from client.presets import FRAUD, LEGITIMATE, TRANSACTION_FIELDS, transaction_from_values

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "client" / "app.py"
REAL_SAMPLE = ROOT.parent / "shared/data/paysim_real_sample.csv.gz"
#: A small limit, so that a small upload already goes out in several chunks.
SERVICE_MAX_BATCH = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_service(model: Path, log: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """Run the service in its own process and wait until it answers GET /health."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "service", "--model", str(model)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    environ = {**os.environ, "FRAUD_LOG_LEVEL": "WARNING", **env}
    environ.pop("FRAUD_MODEL_URI", None)
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{log.read_text()[-2000:]}")
        try:
            httpx.get(f"{url}/health", timeout=1.0)  # any HTTP answer: it is listening
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"service did not start in 30 s:\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("client_service")
    model = build_model(directory / "model.onnx", threshold=0.5)
    process, url = _start_service(
        model, directory / "service.log", FRAUD_MAX_BATCH=str(SERVICE_MAX_BATCH)
    )
    assert httpx.get(f"{url}/health").status_code == 200
    yield url
    _stop(process)


@pytest.fixture(scope="module")
def broken_service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service whose model file is corrupt: it runs, and answers 503 with the reason."""
    directory = tmp_path_factory.mktemp("client_broken_service")
    model = directory / "corrupt.onnx"
    model.write_bytes(b"\x08\x07this is not an ONNX model" * 8)
    process, url = _start_service(model, directory / "service.log")
    yield url
    _stop(process)


def _app(url: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["api_url"] = url
    return at.run()


SINGLE, BATCH, CARD = range(3)  # the page's tabs, in order


def _metric(at: AppTest, tab: int, label: str) -> str:
    values = [m.value for m in at.tabs[tab].metric if m.label == label]
    assert len(values) == 1, f"expected one metric {label!r}, found {values}"
    return values[0]


def _table(at: AppTest, tab: int, column: str) -> Any:
    """The one table of a tab that has ``column`` (st.dataframe keys are not visible here)."""
    tables = [d.value for d in at.tabs[tab].dataframe if column in d.value.columns]
    assert len(tables) == 1, f"expected one table with {column!r}, found {len(tables)}"
    return tables[0]


def _api(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_single_prediction_shows_the_api_probability(service_url: str) -> None:
    at = _app(service_url)
    assert not at.exception
    values = {
        "type": "CASH_OUT",
        "step": 42,
        "amount": 9_876.5,
        "oldbalanceOrg": 20_000.0,
        "newbalanceOrig": 10_123.5,
        "oldbalanceDest": 1_000.0,
        "newbalanceDest": 10_876.5,
    }
    at.selectbox(key="txn_type").set_value(values["type"])
    for name in TRANSACTION_FIELDS[1:]:
        at.number_input(key=f"txn_{name}").set_value(values[name])
    at.button(key="FormSubmitter:transaction-Score transaction").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]

    expected = _api(service_url, transaction_from_values(values))
    shown = at.session_state["single_result"].prediction
    assert shown.probability == expected["probability_fraud"]
    assert (
        _metric(at, SINGLE, "Fraud probability") == f"{expected['probability_fraud'] * 100:.2f} %"
    )
    assert any(repr(expected["probability_fraud"]) in c.value for c in at.caption)
    assert _metric(at, SINGLE, "Threshold") == f"{expected['threshold'] * 100:.2f} %"
    assert any(f"model version `{expected['model_version']}`" in c.value for c in at.caption)
    assert _metric(at, SINGLE, "Round trip").endswith(" ms")


def test_fraud_preset_is_flagged_and_legitimate_preset_is_not(service_url: str) -> None:
    # The presets must really exercise both decisions with this model: ask the API directly.
    assert _api(service_url, transaction_from_values(FRAUD.values))["is_fraud"] is True
    assert _api(service_url, transaction_from_values(LEGITIMATE.values))["is_fraud"] is False

    at = _app(service_url)
    at.button(key=f"preset_{FRAUD.key}").click().run()
    assert not at.exception
    assert at.selectbox(key="txn_type").value == "TRANSFER"
    assert at.session_state["single_result"].prediction.is_fraud is True
    assert any("Flagged as fraud" in e.value for e in at.error)

    at.button(key=f"preset_{LEGITIMATE.key}").click().run()
    assert not at.exception
    assert at.session_state["single_result"].prediction.is_fraud is False
    assert any("Not flagged" in s.value for s in at.success)
    assert not any("Flagged as fraud" in e.value for e in at.error)


def test_a_link_with_a_preset_scores_it_on_load(service_url: str) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["api_url"] = service_url
    at.query_params["preset"] = FRAUD.key
    at.run()
    assert not at.exception
    assert at.session_state["single_result"].prediction.is_fraud is True
    at.button(key=f"preset_{LEGITIMATE.key}").click().run()  # the link applies only once
    assert at.session_state["single_result"].prediction.is_fraud is False


def test_explain_without_support_still_scores_and_says_why(service_url: str) -> None:
    body = {**transaction_from_values(FRAUD.values), "explain": True}
    answer = httpx.post(f"{service_url}/predict", json=body)
    # The test model here has no explanation outputs (tests/service_model.py), so the API refuses.
    assert answer.status_code == 422
    assert "explain" in [d["field"] for d in answer.json()["details"]]
    at = _app(service_url)
    at.checkbox(key="txn_explain").check()
    at.button(key=f"preset_{FRAUD.key}").click().run()
    assert not at.exception
    assert at.session_state["single_result"].prediction.is_fraud is True
    assert at.session_state["single_result"].prediction.explanation is None
    assert any(i.value.startswith("No explanation available") for i in at.info)


def test_contributions_are_drawn_when_the_api_sends_them(service_url: str) -> None:
    # The test model has no contributions output, so the answer is seeded into the session the
    # way page_single stores an API answer; this checks the page's drawing, not the API.
    explanation = Explanation(
        (Contribution("amount", 2.5, 181.0), Contribution("type", -0.5, "TRANSFER")), bias=-1.0
    )
    prediction = Prediction(0.88, True, 0.5, "seeded", explanation=explanation)
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["api_url"] = service_url
    at.session_state["single_result"] = SingleResult(prediction, 1.0)
    at.run()
    assert not at.exception
    assert any("contributions to the log-odds" in m.value for m in at.tabs[SINGLE].markdown)
    assert any("bias (base log-odds) = -1.0000" in c.value for c in at.tabs[SINGLE].caption)
    charts = at.tabs[SINGLE].get("vega_lite_chart")
    assert len(charts) == 2  # the probability bar and the contributions


def test_service_down_is_shown_as_a_message(service_url: str) -> None:
    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    at = _app(down)
    assert not at.exception
    assert any("API not ready" in e.value and "cannot reach" in e.value for e in at.sidebar.error)
    at.button(key=f"preset_{FRAUD.key}").click().run()
    assert not at.exception
    assert any(e.value.startswith("**Scoring failed: the API is unreachable") for e in at.error)
    assert "single_result" not in at.session_state


def test_503_shows_the_api_reason(broken_service_url: str) -> None:
    answer = httpx.post(
        f"{broken_service_url}/predict", json=transaction_from_values(LEGITIMATE.values)
    )
    assert answer.status_code == 503
    reason = answer.json()["error"]
    at = _app(broken_service_url)
    at.button(key=f"preset_{FRAUD.key}").click().run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert any(m.startswith("**Scoring failed.**") and reason in m for m in messages), messages
    assert any("Reading the model card failed" in m and "503" in m for m in messages)


def test_model_card_shows_the_served_metadata(service_url: str) -> None:
    card = httpx.get(f"{service_url}/model").json()
    at = _app(service_url)
    assert not at.exception
    assert _metric(at, CARD, "Model version") == card["model_version"]
    assert _metric(at, CARD, "Threshold") == f"{card['threshold']:.4f}"
    assert _metric(at, CARD, "Max batch") == f"{SERVICE_MAX_BATCH:,}"
    assert _metric(at, CARD, "PR AUC") == f"{card['metrics']['pr_auc']:.4f}"
    inputs = _table(at, CARD, "type")
    assert inputs["name"].tolist() == [i["name"] for i in card["inputs"]]


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    fields = ["step", "type", "amount", "nameOrig", "oldbalanceOrg", "newbalanceOrig"]
    fields += ["nameDest", "oldbalanceDest", "newbalanceDest", "isFraud", "isFlaggedFraud"]
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({"isFraud": 0, "isFlaggedFraud": 0, **row})
    return out.getvalue().encode()


def test_csv_upload_is_scored_with_every_row_accounted_for(service_url: str) -> None:
    rows = example_rows(25, seed=3)
    rows[4] = {**rows[4], "amount": -12.5}  # the API rejects negative amounts
    rows[17] = {**rows[17], "type": "WIRE"}  # and unknown types
    at = _app(service_url)
    at.file_uploader(key="batch_file").upload("sample.csv", _csv_bytes(rows), "text/csv").run()
    assert not at.exception
    at.button(key="batch_score").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]

    assert _metric(at, BATCH, "Rows") == "25"
    assert _metric(at, BATCH, "Scored") == "23"
    assert _metric(at, BATCH, "Rejected") == "2"
    rejected = _table(at, BATCH, "problem")
    assert rejected["row"].tolist() == [5, 18]
    assert rejected["field"].tolist() == ["amount", "type"]
    # The reasons are the API's own words for the same values.
    for index, field in ((4, "amount"), (17, "type")):
        answer = httpx.post(f"{service_url}/predict", json=rows[index]).json()
        problems = {d["field"]: d["problem"] for d in answer["details"]}
        assert rejected["problem"].tolist()[[5, 18].index(index + 1)] == problems[field]

    result = at.session_state["batch_result"]
    assert len(result.scored) == 25
    assert result.outcome.requests >= 3  # 25 rows with a limit of 10, plus resends
    good = [i for i in range(25) if i not in (4, 17)]
    expected = [_api(service_url, transaction_from_values(rows[i])) for i in good]
    shown = result.scored[batch.PROBABILITY_COLUMN]
    # onnxruntime's vectorised kernels may differ from the single-row path in the last float32
    # bits, and the client scored these rows in batches: equal within a few float32 ulps.
    assert [shown[i] for i in good] == pytest.approx(
        [p["probability_fraud"] for p in expected], abs=1e-6
    )
    flagged = sum(p["is_fraud"] for p in expected)
    assert _metric(at, BATCH, "Flagged as fraud") == str(flagged)
    table = _table(at, BATCH, batch.PROBABILITY_COLUMN)
    assert len(table) == 25 and batch.PROBABILITY_COLUMN in table and batch.DECISION_COLUMN in table
    assert at.download_button(key="batch_download").label == "Download scored CSV"


def test_a_file_without_paysim_columns_is_a_message(service_url: str) -> None:
    at = _app(service_url)
    at.file_uploader(key="batch_file").upload("x.csv", b"a,b\n1,2\n", "text/csv").run()
    assert not at.exception
    assert any("lacks the column(s)" in e.value for e in at.error)


@pytest.mark.real_data
def test_real_paysim_rows_are_all_scored(service_url: str) -> None:
    if not REAL_SAMPLE.exists():
        pytest.skip(f"real PaySim sample not found at {REAL_SAMPLE}")
    with gzip.open(REAL_SAMPLE, "rb") as handle:
        head = b"".join(handle.readline() for _ in range(501))  # header + 500 rows
    frame = batch.read_csv(head)
    with FraudApiClient(service_url) as client:
        max_batch = client.model_card().max_batch
        assert max_batch == SERVICE_MAX_BATCH
        outcome = batch.score_transactions(
            client, batch.transactions_from(frame), max_batch=max_batch
        )
    assert outcome.rows == 500
    assert outcome.scored == 500, outcome.rejections[:5]
    assert outcome.requests == 50
