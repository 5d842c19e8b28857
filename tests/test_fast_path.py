"""POST /predict's fast paths answer exactly as the Starlette route and Mangum do (issue 20).

Two fast paths skip the web stack for the one hot route: the ASGI middleware answers POST /predict
before Starlette's router (server), and the Lambda handler answers API Gateway events for it
without Mangum or Starlette (Lambda). Each is compared here, request by request, with the full
path it replaces: same status, headers and body bytes, the same request log line, for valid and
invalid requests of every kind (422, 400, 413, 415, 401, 503), on HTTP API 2.0, HTTP API 1.0 and
REST API events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lambda_events import FakeLambdaContext, http_api_event, rest_api_event
from service_model import EXAMPLE_TRANSACTION, build_model
from starlette.testclient import TestClient

from service.app import create_app
from service.auth import key_digest
from service.lambda_app import build_handler
from service.model import load_model
from service.settings import Settings

TX = {**EXAMPLE_TRANSACTION, "transaction_id": "tx-7"}
KEY = "k-test-0123456789"
#: The original project's body: one-hot type fields instead of "type".
LEGACY = {
    **{k: v for k, v in TX.items() if k != "type"},
    **dict.fromkeys(("type_CASH_OUT", "type_DEBIT", "type_PAYMENT", "type_TRANSFER"), 0),
}

# (name, body bytes, headers): every outcome /predict has, the error ones included.
CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("single", json.dumps(TX).encode(), {}),
    ("batch", json.dumps({"transactions": [TX, {**TX, "amount": 5.0}]}).encode(), {}),
    ("legacy-one-hot", json.dumps({**LEGACY, "type_TRANSFER": 1}).encode(), {}),
    ("invalid-fields", json.dumps({**TX, "amount": -1, "colour": "red"}).encode(), {}),
    ("nan", b'{"type": "TRANSFER", "amount": NaN}', {}),
    ("malformed", b'{"type": ', {}),
    ("empty", b"", {}),
    ("not-an-object", b"[1, 2]", {}),
    ("wrong-type", json.dumps(TX).encode(), {"content-type": "text/plain"}),
    ("latin1", json.dumps(TX).encode(), {"content-type": "application/json; charset=latin-1"}),
    ("too-large", b'{"amount": ' + b"1" * 3000 + b"}", {}),
    ("explain-unsupported", json.dumps({**TX, "explain": True}).encode(), {}),
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("fast") / "model.onnx")


def _settings(model_path: Path, **overrides: Any) -> Settings:
    return Settings(model_uri=str(model_path), max_body_bytes=2048, **overrides)


def _client(settings: Settings, fast: bool) -> TestClient:
    app = create_app(settings, load_model(settings), fast_predict=fast)
    return TestClient(app, raise_server_exceptions=False)


def _exchange(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[Any, ...]:
    sent = {"content-type": "application/json", "x-request-id": "req-1", **headers}
    response = client.post("/predict", content=body, headers=sent)
    return response.status_code, dict(response.headers), response.content


@pytest.mark.parametrize(("name", "body", "headers"), CASES, ids=[c[0] for c in CASES])
def test_asgi_fast_path_answers_as_the_starlette_route(
    model_path: Path, name: str, body: bytes, headers: dict[str, str]
) -> None:
    settings = _settings(model_path)
    fast = _exchange(_client(settings, True), body, headers)
    full = _exchange(_client(settings, False), body, headers)
    assert fast == full
    assert fast[1]["x-request-id"] == "req-1"
    if name in ("single", "batch", "legacy-one-hot"):
        assert fast[0] == 200
    else:
        assert 400 <= fast[0] < 500, fast


def test_asgi_fast_path_with_api_keys_and_without_a_model(model_path: Path, tmp_path: Path) -> None:
    keyed = _settings(model_path, api_keys_sha256=(key_digest(KEY),))
    for headers in ({}, {"x-api-key": "wrong"}, {"x-api-key": KEY}):
        fast = _exchange(_client(keyed, True), json.dumps(TX).encode(), headers)
        full = _exchange(_client(keyed, False), json.dumps(TX).encode(), headers)
        assert fast == full
        assert fast[0] == (200 if headers.get("x-api-key") == KEY else 401)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    missing = Settings(model_uri=str(broken))
    fast = _exchange(_client(missing, True), json.dumps(TX).encode(), {})
    full = _exchange(_client(missing, False), json.dumps(TX).encode(), {})
    assert fast == full
    assert fast[0] == 503 and fast[1]["retry-after"] == "60"
    assert str(tmp_path) not in fast[2].decode()


def test_asgi_fast_path_writes_the_same_request_line(
    model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(model_path)
    lines = []
    for fast in (True, False):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="fraudlite.request"):
            _exchange(_client(settings, fast), b'{"amount": -1}', {})
        (record,) = [r for r in caplog.records if r.name == "fraudlite.request"]
        fields = dict(record.fields)  # type: ignore[attr-defined]
        fields.pop("duration_us")
        lines.append(fields)
    assert lines[0] == lines[1]
    assert lines[0]["route"] == "/predict" and lines[0]["status"] == 422
    assert "amount" in lines[0]["error_fields"]


def _events(body: bytes, headers: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    text = body.decode()
    v2 = http_api_event("POST", "/predict", raw_body=text, stage="prod")
    v2["headers"].update(headers)
    v2_b64 = http_api_event("POST", "/predict", raw_body=text, b64=True)
    v2_b64["headers"].update(headers)
    rest = rest_api_event("POST", "/predict")
    rest["body"] = text
    rest["headers"].update(headers)
    rest["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    v1 = {**rest, "version": "1.0"}
    return [("v2", v2), ("v2-base64", v2_b64), ("rest", rest), ("http-v1", v1)]


@pytest.mark.parametrize(("name", "body", "headers"), CASES, ids=[c[0] for c in CASES])
def test_lambda_fast_path_answers_as_mangum(
    model_path: Path, name: str, body: bytes, headers: dict[str, str]
) -> None:
    env = {
        "FRAUD_MODEL_URI": str(model_path),
        "FRAUD_API_BASE_PATH": "/prod",
        "FRAUD_MAX_BODY_BYTES": "2048",
    }
    handler = build_handler(env, setup_logging=False)
    for kind, event in _events(body, headers):
        fast = handler(event, FakeLambdaContext())
        full = handler.mangum(event, FakeLambdaContext())
        assert fast == full, kind
        assert fast["headers"]["x-request-id"] == "JKJaXmPLvHcESHA=" or kind in ("rest", "http-v1")


def test_lambda_fast_path_with_api_keys_and_without_a_model(model_path: Path) -> None:
    env = {"FRAUD_MODEL_URI": str(model_path), "FRAUD_API_KEYS_SHA256": key_digest(KEY)}
    handler = build_handler(env, setup_logging=False)
    for key, status in ((None, 401), ("wrong", 401), (KEY, 200)):
        event = http_api_event("POST", "/predict", TX)
        if key is not None:
            event["headers"]["x-api-key"] = key
        fast = handler(event, FakeLambdaContext())
        assert fast == handler.mangum(event, FakeLambdaContext())
        assert fast["statusCode"] == status
    broken = build_handler({"FRAUD_MAX_BATCH": "lots"}, setup_logging=False)
    event = http_api_event("POST", "/predict", TX)
    fast = broken(event, FakeLambdaContext())
    assert fast == broken.mangum(event, FakeLambdaContext())
    assert json.loads(fast["body"])["error"].endswith("configuration error: FRAUD_MAX_BATCH")


def test_lambda_fast_path_refuses_a_body_that_is_not_base64(model_path: Path) -> None:
    handler = build_handler({"FRAUD_MODEL_URI": str(model_path)}, setup_logging=False)
    event = http_api_event("POST", "/predict", TX)
    event["isBase64Encoded"], event["body"] = True, "%%% not base64 %%%"
    answer = handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["details"] == [
        {"field": "body", "problem": "isBase64Encoded but not base64"}
    ]


def test_other_routes_and_events_still_go_through_mangum(model_path: Path) -> None:
    handler = build_handler({"FRAUD_MODEL_URI": str(model_path)}, setup_logging=False)
    assert handler._mangum is None
    # GET /predict is a 405 from Starlette's router, with its Allow header.
    answer = handler(http_api_event("GET", "/predict"), FakeLambdaContext())
    assert answer["statusCode"] == 405 and answer["headers"]["allow"] == "POST"
    assert handler._mangum is not None
    assert handler(http_api_event("GET", "/health"), FakeLambdaContext())["statusCode"] == 200


def test_score_skips_only_the_python_checks_of_session_run(model_path: Path) -> None:
    from service_model import columns_of, example_rows

    from service import schema

    settings = Settings(model_uri=str(model_path))
    model = load_model(settings)
    columns = columns_of(example_rows(50), model.input_names)
    probabilities, labels = model.score(columns)
    feeds = {name: columns[name] for name in model.input_names}
    (public,) = model.session.run([schema.OUTPUT_PROBABILITY], feeds)
    assert probabilities.tobytes() == public.tobytes()
    assert (labels == (public >= np.float32(model.threshold))).all()

    class PublicOnly:  # an onnxruntime without the private binding: the public run is used
        def __init__(self, session: Any) -> None:
            self.run = session.run

    other = load_model(settings)
    other.session = PublicOnly(other.session)  # type: ignore[assignment]
    assert other.score(columns)[0].tobytes() == public.tobytes()


def test_request_line_written_directly_equals_the_formatters(model_path: Path) -> None:
    """With only the entry point's handler installed the request line skips ``logging``; it
    must carry what JsonFormatter would have written, and go through logging otherwise."""
    import io

    from service.telemetry.logs import REQUEST_LOGGER, JsonFormatter, configure_logging
    from service.telemetry.request_record import RequestLogWriter

    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    root = logging.getLogger("fraudlite")
    try:
        writer = RequestLogWriter("v1")
        record = writer.start("req-9")
        record.error_fields.append("amount")
        writer.write(record, "POST", "/predict", 422, 0)
        (direct,) = [json.loads(line) for line in stream.getvalue().splitlines()]
        # The same record through logging and the formatter, for comparison.
        captured: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = captured.append  # type: ignore[method-assign]
        logging.getLogger(REQUEST_LOGGER).addHandler(handler)  # now not the only handler
        try:
            writer.write(record, "POST", "/predict", 422, 0)
        finally:
            logging.getLogger(REQUEST_LOGGER).removeHandler(handler)
        (through_logging,) = captured
        formatted = json.loads(JsonFormatter().format(through_logging))
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        root.propagate = True
    for line in (direct, formatted):
        line.pop("duration_us")
    assert direct.keys() == formatted.keys()
    assert {k: v for k, v in direct.items() if k != "ts"} == {
        k: v for k, v in formatted.items() if k != "ts"
    }
    from datetime import datetime

    apart = datetime.fromisoformat(formatted["ts"]) - datetime.fromisoformat(direct["ts"])
    assert 0 <= apart.total_seconds() < 5 and direct["ts"].endswith("+00:00")
    assert direct["error_fields"] == ["amount"] and direct["status"] == 422


def _same_parse(validator: Any, body: bytes) -> None:
    """parse (with its one-call path) and the general path agree: the same request, or the same
    error with the same details."""
    from service.errors import ServiceError

    outcomes = []
    for parse in (validator.parse, validator.parse_general):
        try:
            parsed = parse(body)
        except ServiceError as exc:
            outcomes.append(("error", exc.status, exc.message, exc.body()))
            continue
        columns = {k: (v.dtype.str, v.tolist()) for k, v in parsed.columns.items()}
        outcomes.append(("ok", parsed.batch, parsed.transaction_ids, parsed.options, columns))
    assert outcomes[0] == outcomes[1], body


SINGLE_BODIES = [
    TX,
    {**TX, "transaction_id": 42},
    {**TX, "transaction_id": 42.0},
    {**TX, "transaction_id": 4.5},
    {k: v for k, v in TX.items() if k != "transaction_id"},
    {**TX, "step": 1.5},
    {**TX, "step": 744.0, "amount": 0.1 + 0.2},
    {**TX, "amount": 1e39},
    {**TX, "amount": -0.0},
    {**TX, "amount": 10**25},
    {**TX, "amount": True},
    {**TX, "amount": "181"},
    {**TX, "type": "transfer"},
    {**TX, "isFraud": 1, "isFlaggedFraud": 0.0, "nameOrig": "C1", "nameDest": "M2"},
    {**TX, "isFraud": 2},
    {**TX, "nameOrig": ""},
    {**TX, "explain": False},
    {**TX, "colour": "red"},
    {k: v for k, v in TX.items() if k != "amount"},
    LEGACY | {"type_TRANSFER": 1},
    {**LEGACY, "type_TRANSFER": 1, "type_DEBIT": 1},
    {"transactions": [TX]},
]


@pytest.mark.parametrize("body", SINGLE_BODIES, ids=range(len(SINGLE_BODIES)))
def test_one_call_parse_agrees_with_the_general_path(model_path: Path, body: Any) -> None:
    from service.state import ServiceState

    settings = Settings(model_uri=str(model_path))
    validator = ServiceState(settings=settings, model=load_model(settings)).validator
    _same_parse(validator, json.dumps(body).encode())


def test_one_call_parse_agrees_on_raw_bodies(model_path: Path) -> None:
    from service.state import ServiceState

    settings = Settings(model_uri=str(model_path))
    validator = ServiceState(settings=settings, model=load_model(settings)).validator
    text = json.dumps(TX)
    for body in (
        text.replace('"amount": 181.0', '"amount": NaN'),
        text.replace('"amount": 181.0', '"amount": 1e999'),
        text.replace('"step": 1', '"step": 1, "step": 2'),
        text[:-1],
        "",
        "  ",
        "[]",
        "null",
        '{"type": "TRANSFER"}',
        text.encode().decode() + "\n",
    ):
        _same_parse(validator, body.encode())
    assert validator._parse_single(text.encode()) is not None  # the common body takes it


def test_utc_stamps_format_milliseconds_truncated() -> None:
    from service.telemetry.stdout import UtcStamps

    now = [1_800_000_000.25]
    stamps = UtcStamps(lambda: now[0])
    assert stamps.now() == "2027-01-15T08:00:00.250"
    assert stamps.at(1_800_000_000.25) == "2027-01-15T08:00:00.250"
    now[0] = 1_800_000_000.9995  # truncated, not rounded up into the next second
    assert stamps.now() == "2027-01-15T08:00:00.999"
    now[0] = 1_800_000_001.0  # the next second is formatted anew
    assert stamps.now() == "2027-01-15T08:00:01.000"


def test_lambda_fast_path_answers_a_genuine_bug_as_mangum_does(
    model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    from service.lambda_app import LambdaHandler
    from service.runtime import build_runtime

    # A session that does not match the model's metadata: session.run fails on the feeds.
    settings = Settings(model_uri=str(model_path))
    other = load_model(
        Settings(model_uri=str(build_model(tmp_path / "p.onnx", inputs=("type", "amount"))))
    )
    broken = dataclasses.replace(load_model(settings), session=other.session)
    handler = LambdaHandler(build_runtime(settings, broken))
    event = http_api_event("POST", "/predict", TX)
    with caplog.at_level(logging.ERROR, logger="fraudlite.request"):
        fast = handler(event, FakeLambdaContext())
    assert fast == handler.mangum(event, FakeLambdaContext())
    assert fast["statusCode"] == 500
    assert json.loads(fast["body"])["request_id"] == "JKJaXmPLvHcESHA="
    assert sum(1 for r in caplog.records if r.exc_info) == 2  # each path logged its traceback


@contextlib.contextmanager
def _request_log_to(monkeypatch: pytest.MonkeyPatch, out: Any) -> Iterator[None]:
    """stdout and the service's JSON log on ``out`` (as the entry points set them up), undone
    afterwards so pytest's capture gets its streams back."""
    from service.telemetry.logs import configure_logging

    monkeypatch.setattr(sys, "stdout", out)
    configure_logging("INFO", stream=out)
    root = logging.getLogger("fraudlite")
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.propagate = True


def _write_one_scored_request(
    writer: Any, probability: float, is_fraud: bool, transaction_id: str
) -> None:
    """One single-transaction /predict request through ``writer``, as the route records it."""
    from service.telemetry.request_record import record_decisions

    record = writer.start("req-1")
    record.batch_size, record.scoring_us = 1, 40
    record_decisions(
        record,
        model_version="v1",
        threshold=0.5,
        probabilities=np.array([probability], dtype=np.float32),
        labels=np.array([is_fraud]),
        columns={},
        transaction_ids=[transaction_id],
    )
    writer.write(record, "POST", "/predict", 200, time.perf_counter_ns())


def test_a_requests_stdout_lines_share_one_clock_reading_and_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request line, its decision line and its EMF record are timed by one clock reading
    and leave in one write when they all go to stdout; with the decision log in a file, that
    file gets its own line and stdout the other two."""
    import io

    from service.telemetry.decision_log import DecisionLog
    from service.telemetry.emf import EmfRecorder
    from service.telemetry.request_record import RequestLogWriter
    from service.telemetry.setup import Telemetry
    from service.telemetry.stdout import write_stdout

    class CountingStdout(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    def one_request(decisions: DecisionLog) -> CountingStdout:
        out = CountingStdout()
        with _request_log_to(monkeypatch, out):
            telemetry = Telemetry(metrics=EmfRecorder("fraudlite"), decisions=decisions)
            writer = RequestLogWriter("v1", telemetry)
            writer._clock = lambda: 1_800_000_000.2345  # 2027-01-15T08:00:00.234 UTC
            _write_one_scored_request(writer, 0.75, True, "t-1")
        return out

    out = one_request(DecisionLog(write_stdout))
    request, decision, emf = (json.loads(line) for line in out.getvalue().splitlines())
    assert out.writes == 1
    assert request["event"] == "request" and request["ts"] == "2027-01-15T08:00:00.234+00:00"
    assert decision["event"] == "decision" and decision["timestamp"] == "2027-01-15T08:00:00.234Z"
    assert decision["transaction_id"] == "t-1" and decision["probability"] == 0.75
    assert emf["_aws"]["Timestamp"] == 1_800_000_000_234 and emf["TransactionsFlagged"] == 1
    assert emf["RequestLatency"] == request["duration_us"] / 1000

    lines: list[str] = []
    out = one_request(DecisionLog(lines.append))  # e.g. FRAUD_DECISION_LOG=<file>
    assert out.writes == 1
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == [
        "request",
        "metrics",
    ]
    (line,) = lines
    assert json.loads(line)["timestamp"] == "2027-01-15T08:00:00.234Z"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_request_lines_on_a_real_file_keep_their_place_and_encoding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, encoding: str
) -> None:
    """On a UTF-8 stream over a real file (Lambda's and uvicorn's stdout) a request's lines go to
    its file descriptor in one system call, after what was written to the stream before them;
    a stream in another encoding gets them through its own layers, in its encoding."""
    from service.telemetry import stdout as stdout_module
    from service.telemetry.decision_log import DecisionLog
    from service.telemetry.emf import EmfRecorder
    from service.telemetry.request_record import RequestLogWriter
    from service.telemetry.setup import Telemetry
    from service.telemetry.stdout import write_stdout

    fd_writes: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        fd_writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(stdout_module.os, "write", counting_write)
    path = tmp_path / "stdout.log"
    with path.open("w", encoding=encoding) as out, _request_log_to(monkeypatch, out):
        telemetry = Telemetry(metrics=EmfRecorder("fraudlite"), decisions=DecisionLog(write_stdout))
        writer = RequestLogWriter("v1", telemetry)
        out.write("printed before\n")  # buffered in the stream, not yet on the file
        _write_one_scored_request(writer, 0.25, False, "tx-é")
        out.write("printed after\n")
    lines = path.read_bytes().decode(encoding).splitlines()
    assert lines[0] == "printed before" and lines[-1] == "printed after"
    events = [json.loads(line)["event"] for line in lines[1:-1]]
    assert events == ["request", "decision", "metrics"]
    assert json.loads(lines[2])["transaction_id"] == "tx-é"
    if encoding == "utf-8":
        assert len(fd_writes) == 1 and fd_writes[0].count(b"\n") == 3
    else:
        assert fd_writes == []
