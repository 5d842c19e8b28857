"""EMF metrics from the Lambda handler: one valid record per invocation, the right values.

The handler is built as Lambda builds it (``build_handler``) and invoked with API Gateway HTTP
API events; what it writes to stdout is parsed and checked against the EMF specification by
tests/emf_spec.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from emf_spec import EmfError, check_emf, is_emf
from lambda_events import FakeLambdaContext, http_api_event
from service_model import EXAMPLE_TRANSACTION, build_model, direct_scores, example_rows

from service.lambda_app import build_handler
from service.telemetry import metrics as m
from service.telemetry.emf import DIMENSION_SETS, EmfRecorder
from service.telemetry.metrics import Observation

TX = {**EXAMPLE_TRANSACTION, "transaction_id": "tx-emf"}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("emf") / "model.onnx")


def make_handler(model_path: Path, **env: str) -> Any:
    return build_handler({"FRAUD_MODEL_URI": str(model_path), **env}, setup_logging=False)


def invoke(handler: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    return handler(http_api_event(method, path, body), FakeLambdaContext())


def emf_records(text: str) -> list[dict[str, Any]]:
    """Every EMF record in ``text``, each checked against the specification."""
    return [check_emf(line) for line in text.splitlines() if is_emf(line)]


def test_one_valid_record_per_invocation(model_path: Path, capsys) -> None:
    handler = make_handler(model_path)
    capsys.readouterr()
    calls = [
        ("GET", "/health", None),
        ("POST", "/predict", TX),
        ("POST", "/predict", {"transactions": example_rows(7, seed=3)}),
        ("POST", "/predict", {**TX, "amount": -1}),
        ("GET", "/nope", None),
    ]
    for method, path, body in calls:
        before = len(emf_records(capsys.readouterr().out))
        assert before == 0
        invoke(handler, method, path, body)
        records = emf_records(capsys.readouterr().out)
        assert len(records) == 1, (method, path)


def test_record_values_follow_the_request(model_path: Path, capsys) -> None:
    handler = make_handler(model_path, FRAUD_METRICS_NAMESPACE="fraudlite-test")
    capsys.readouterr()
    rows = example_rows(25, seed=11)
    answer = invoke(handler, "POST", "/predict", {"transactions": rows})
    assert answer["statusCode"] == 200
    (record,) = emf_records(capsys.readouterr().out)
    flagged = int(direct_scores(model_path, rows)[1].sum())
    assert 0 < flagged < 25  # the test means something only with both outcomes present
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "fraudlite-test"
    assert directive["Dimensions"] == DIMENSION_SETS
    assert record["Route"] == "/predict"
    assert record["ModelVersion"] == json.loads(answer["body"])["model_version"]
    assert record[m.REQUESTS] == 1
    assert record[m.BATCH_SIZE] == 25 and record[m.TRANSACTIONS_SCORED] == 25
    assert record[m.TRANSACTIONS_FLAGGED] == flagged
    assert record[m.SCORING_TIME] >= 0 and record[m.REQUEST_LATENCY] > 0
    assert m.CLIENT_ERRORS not in record and m.SERVER_ERRORS not in record
    units = {d["Name"]: d["Unit"] for d in directive["Metrics"]}
    assert units[m.REQUEST_LATENCY] == "Milliseconds"
    assert units[m.SCORING_TIME] == "Microseconds"
    # The first invocation of the process is its cold start; later ones are not.
    assert record[m.COLD_STARTS] == 1
    invoke(handler, "POST", "/predict", TX)
    (second,) = emf_records(capsys.readouterr().out)
    assert m.COLD_STARTS not in second
    assert second[m.TRANSACTIONS_SCORED] == 1


def test_errors_are_counted_by_class_without_scoring_metrics(model_path: Path, capsys) -> None:
    handler = make_handler(model_path)
    invoke(handler, "GET", "/health", None)
    capsys.readouterr()
    invoke(handler, "POST", "/predict", {**TX, "amount": -1})
    (bad,) = emf_records(capsys.readouterr().out)
    assert bad[m.CLIENT_ERRORS] == 1 and m.SERVER_ERRORS not in bad
    assert m.TRANSACTIONS_SCORED not in bad and m.SCORING_TIME not in bad
    invoke(handler, "GET", "/definitely/not/a/route", None)
    (missing,) = emf_records(capsys.readouterr().out)
    assert missing["Route"] == m.UNMATCHED_ROUTE  # bounded: the path is not a dimension value


def test_model_load_failure_is_counted_in_the_first_record(tmp_path: Path, capsys) -> None:
    handler = make_handler(tmp_path / "missing.onnx")
    capsys.readouterr()
    answer = invoke(handler, "POST", "/predict", TX)
    assert answer["statusCode"] == 503
    (record,) = emf_records(capsys.readouterr().out)
    assert record[m.MODEL_LOAD_FAILURES] == 1 and record[m.COLD_STARTS] == 1
    assert record[m.SERVER_ERRORS] == 1
    assert record["ModelVersion"] == m.NO_MODEL


def test_metrics_off_writes_no_record(model_path: Path, capsys) -> None:
    handler = make_handler(model_path, FRAUD_METRICS="off", FRAUD_DECISION_LOG="off")
    capsys.readouterr()
    assert invoke(handler, "POST", "/predict", TX)["statusCode"] == 200
    assert emf_records(capsys.readouterr().out) == []


def test_extension_metrics_join_the_record_and_cannot_shadow_core_names() -> None:
    lines: list[str] = []
    recorder = EmfRecorder("fraudlite", lines.append, clock=lambda: 1_800_000_000.0)
    recorder.startup(model_loaded=True)
    extra = {"ShadowDisagreements": (2.0, "Count"), m.REQUESTS: (99.0, "Count")}
    recorder.observe(Observation("/predict", 200, 1.5, "v1", 3, 40, 1, extra))
    record = check_emf(lines[0], now_ms=1_800_000_000_000)
    assert record["ShadowDisagreements"] == 2.0
    assert record[m.REQUESTS] == 1
    assert record["_aws"]["Timestamp"] == 1_800_000_000_000


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda r: r["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda r: r["_aws"].__setitem__("Timestamp", 1_800_000_000), "milliseconds"),
        (lambda r: r.pop("Route"), "dimension Route"),
        (lambda r: r.pop("Requests"), "metric Requests"),
        (lambda r: r.__setitem__("Requests", "1"), "finite number"),
        (lambda r: r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="ms"), "Unit"),
        (lambda r: r["_aws"]["CloudWatchMetrics"][0].update(Namespace="a b"), "Namespace"),
    ],
)
def test_the_spec_checker_rejects_broken_records(mutate: Any, rule: str) -> None:
    """The checker itself must fail on each broken rule, or the tests above prove nothing."""
    lines: list[str] = []
    EmfRecorder("fraudlite", lines.append, clock=lambda: 1_800_000_000.0).observe(
        Observation("/predict", 200, 1.0, "v1")
    )
    record = json.loads(lines[0])
    check_emf(json.dumps(record), now_ms=1_800_000_000_000)
    mutate(record)
    with pytest.raises(EmfError, match=rule):
        check_emf(json.dumps(record), now_ms=1_800_000_000_000)


@pytest.mark.parametrize(
    "observation",
    [
        Observation("/predict", 200, 0.123, "v1", 1, 50, 0),
        Observation("/predict", 200, 1e-7, "v1", 1000, 870, 12),
        Observation("/predict", 200, 0.3, "v1", 3, None, 2),
        Observation("/predict", 422, 0.3, "v1"),
        Observation("/health", 200, 0.031, m.NO_MODEL),
        Observation(m.UNMATCHED_ROUTE, 503, 12.5, m.NO_MODEL),
        Observation("/odd%s%%route", 500, 2.0, "v%d"),
    ],
)
def test_core_records_equal_the_general_ones(observation: Observation) -> None:
    """Records built on the request path (a C-built struct, its directive cached) equal the general
    rendering byte for byte, the first time and from the cache, and stay valid EMF."""
    recorder = EmfRecorder("fraudlite", lambda text: None, clock=lambda: 1_800_000_000.5)
    for _ in range(2):
        line = recorder.render(observation)
        assert line == recorder.render_general(observation)
        check_emf(line, now_ms=1_800_000_000_000)


def test_core_record_members_are_the_metric_and_dimension_names() -> None:
    """The C-built common record names its members literally: they must be the names the
    template's alarms and dashboard read (service/telemetry/metrics.py), in the general
    rendering's order."""
    from service.telemetry.emf import _Record

    core = [m.REQUESTS, m.CLIENT_ERRORS, m.SERVER_ERRORS, m.REQUEST_LATENCY, m.BATCH_SIZE]
    core += [m.TRANSACTIONS_SCORED, m.TRANSACTIONS_FLAGGED, m.SCORING_TIME]
    expected = ("_aws", m.ROUTE, m.MODEL_VERSION, "event", *core)
    assert _Record.__struct_encode_fields__ == expected


def test_core_records_of_every_kind_equal_the_general_ones() -> None:
    """Each kind of core record (status class x scored x timed), as the writer hands it to the
    encoder, encodes to the general rendering byte for byte."""
    recorder = EmfRecorder("ns", lambda text: None, clock=lambda: 1_800_000_000.25)
    kinds = 0
    for status in (200, 404, 503):
        for size, flagged, scoring in ((None, None, None), (4, 1, None), (4, 1, 77), (None, 1, 9)):
            observation = Observation("/v2/score", status, 0.5, "v7", size, scoring, flagged)
            record = recorder.record(observation)
            assert not isinstance(record, msgspec.Raw)  # the C-built path
            encoded = msgspec.json.encode(record).decode()
            assert encoded == recorder.render_general(observation)
            check_emf(encoded, now_ms=1_800_000_000_000)
            kinds += 1
    assert kinds == 12
