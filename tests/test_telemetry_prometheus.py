"""``GET /metrics`` under fraud-serve: scraped from a live uvicorn, parsed with prometheus_client.

Also: the decision log of the same run lands in the JSON-lines file FRAUD_DECISION_LOG names,
and the Lambda entry point neither mounts /metrics nor imports prometheus_client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from lambda_events import FakeLambdaContext, http_api_event
from prometheus_client.parser import text_string_to_metric_families
from service_model import EXAMPLE_TRANSACTION, build_model, direct_scores, example_rows

from service.lambda_app import build_handler
from service.telemetry.prometheus import PROMETHEUS_NAMES, snake_case

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = {
    **EXAMPLE_TRANSACTION,
    "amount": 12345.67,
    "oldbalanceOrg": 12345.67,
    "nameOrig": "C5550001111",
    "nameDest": "M5550002222",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(scrape: dict, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in scrape.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("prometheus") / "model.onnx")


def test_metrics_scraped_from_fraud_serve(model_path: Path, tmp_path: Path) -> None:
    port = free_port()
    decisions = tmp_path / "decisions.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env.update(FRAUD_DECISION_LOG=str(decisions))
    output = (tmp_path / "stdout.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--model", str(model_path), "--port", str(port)],
        stdout=output,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    rows = example_rows(40, seed=21)
    flagged = int(direct_scores(model_path, rows)[1].sum())
    assert 0 < flagged < 40
    try:
        wait_for(url + "/health", process)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/predict", json={"transactions": rows}).status_code == 200
            assert client.post("/predict", json=PRIVATE).status_code == 200
            assert (
                client.post("/predict", json={**EXAMPLE_TRANSACTION, "step": -1}).status_code == 422
            )
            assert client.get("/nope").status_code == 404
            scrape_response = client.get("/metrics")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
        output.close()
    # Nothing distinctive of a transaction in any output by default.
    everything = (
        (tmp_path / "stdout.log").read_text()
        + stderr.decode()
        + decisions.read_text()
        + scrape_response.text
    )
    assert '"event":"request"' in everything or '"event": "request"' in everything
    for value in ("12345.67", "12345.669", "C5550001111", "M5550002222"):
        assert value not in everything
    assert scrape_response.status_code == 200
    assert scrape_response.headers["content-type"].startswith("text/plain")
    scrape = samples(scrape_response.text)
    one_flag = int(direct_scores(model_path, [PRIVATE])[1][0])

    requests = PROMETHEUS_NAMES["Requests"]
    assert total(scrape, requests, route="/predict", status="200") == 2
    assert total(scrape, requests, route="/predict", status="422") == 1
    assert total(scrape, requests, route="unmatched", status="404") == 1
    assert total(scrape, requests, route="/health", status="200") >= 1
    assert total(scrape, PROMETHEUS_NAMES["ClientErrors"], route="/predict") == 1
    assert total(scrape, PROMETHEUS_NAMES["ServerErrors"]) == 0
    assert total(scrape, PROMETHEUS_NAMES["TransactionsScored"]) == 41
    assert total(scrape, PROMETHEUS_NAMES["TransactionsFlagged"]) == flagged + one_flag
    assert total(scrape, PROMETHEUS_NAMES["ColdStarts"]) == 1
    assert total(scrape, PROMETHEUS_NAMES["ModelLoadFailures"]) == 0
    # Histograms: one observation per request or scoring call, sums in seconds.
    duration = PROMETHEUS_NAMES["RequestLatency"]
    assert total(scrape, duration + "_count", route="/predict") == 3
    assert 0 < total(scrape, duration + "_sum", route="/predict") < 30
    assert total(scrape, PROMETHEUS_NAMES["ScoringTime"] + "_count", route="/predict") == 2
    assert total(scrape, PROMETHEUS_NAMES["BatchSize"] + "_sum", route="/predict") == 41
    assert total(scrape, PROMETHEUS_NAMES["BatchSize"] + "_bucket", route="/predict", le="1.0") == 1

    records = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert len(records) == 41 and {r["event"] for r in records} == {"decision"}
    assert sum(r["is_fraud"] for r in records) == flagged + one_flag


def test_prometheus_names_follow_the_conventions() -> None:
    for cloudwatch, prometheus in PROMETHEUS_NAMES.items():
        assert prometheus.startswith("fraudlite_")
        assert prometheus.removeprefix("fraudlite_").split("_")[0] in snake_case(cloudwatch)
    assert snake_case("ShadowDisagreements") == "shadow_disagreements"


def test_lambda_does_not_mount_metrics(model_path: Path) -> None:
    handler = build_handler(
        {"FRAUD_MODEL_URI": str(model_path), "FRAUD_DECISION_LOG": "off"}, setup_logging=False
    )
    answer = handler(http_api_event("GET", "/metrics"), FakeLambdaContext())
    assert answer["statusCode"] == 404


def test_the_lambda_entry_never_imports_prometheus_client(model_path: Path) -> None:
    code = (
        "import sys, service.lambda_handler as h; "
        "print('prometheus_client' in sys.modules, 'uvicorn' in sys.modules)"
    )
    env = {"PATH": os.environ.get("PATH", ""), "FRAUD_MODEL_URI": str(model_path)}
    env["FRAUD_DECISION_LOG"] = "off"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"


def wait_for(url: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 30 s")


def test_plain_counters_export_what_prometheus_client_would() -> None:
    """The recorder keeps plain numbers; its scrape has the families, samples and values that
    prometheus_client's Counter and Histogram give for the same observations."""
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.exposition import generate_latest

    from service.telemetry import metrics as m
    from service.telemetry.prometheus import PrometheusRecorder

    observations = [
        m.Observation("/predict", 200, 0.25, "v1", 1, 40, 1),
        m.Observation("/predict", 200, 0.5, "v1", 1000, 900, 3, {"ShadowDisagreements": (2, "")}),
        m.Observation("/predict", 200, 1.0, "v2", 2, None, 0),  # exactly on a bucket bound
        m.Observation("/predict", 422, 3000.0, "v1"),  # past the last bound
        m.Observation(m.UNMATCHED_ROUTE, 404, 0.1, m.NO_MODEL),
        m.Observation("/health", 503, 0.05, m.NO_MODEL),
    ]
    recorder = PrometheusRecorder()
    recorder.startup(model_loaded=True)
    for observation in observations:
        recorder.observe(observation)
    got = samples(generate_latest(recorder.registry).decode())

    # The same, the prometheus_client way.
    registry = CollectorRegistry()
    route, by_version = ["route"], ["route", "model_version"]
    requests = Counter("fraudlite_requests", "", ["route", "status"], registry=registry)
    client = Counter("fraudlite_client_errors", "", route, registry=registry)
    server = Counter("fraudlite_server_errors", "", route, registry=registry)
    latency = Histogram(
        "fraudlite_request_duration_seconds",
        "",
        route,
        registry=registry,
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    scoring = Histogram(
        "fraudlite_scoring_time_seconds",
        "",
        route,
        registry=registry,
        buckets=(2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2),
    )
    batch = Histogram(
        "fraudlite_batch_size",
        "",
        route,
        registry=registry,
        buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
    )
    scored = Counter("fraudlite_transactions_scored", "", by_version, registry=registry)
    flagged = Counter("fraudlite_transactions_flagged", "", by_version, registry=registry)
    shadow = Counter("fraudlite_shadow_disagreements", "", by_version, registry=registry)
    Counter("fraudlite_cold_starts", "", registry=registry).inc()
    Counter("fraudlite_model_load_failures", "", registry=registry)
    for o in observations:
        requests.labels(o.route, str(o.status)).inc()
        if 400 <= o.status < 500:
            client.labels(o.route).inc()
        elif o.status >= 500:
            server.labels(o.route).inc()
        latency.labels(o.route).observe(o.latency_ms / 1000)
        if o.scored:
            batch.labels(o.route).observe(o.batch_size)
            scored.labels(o.route, o.model_version).inc(o.batch_size)
            flagged.labels(o.route, o.model_version).inc(o.flagged)
            if o.scoring_us is not None:
                scoring.labels(o.route).observe(o.scoring_us / 1e6)
        for value, _unit in o.extra.values():
            shadow.labels(o.route, o.model_version).inc(value)
    expected = samples(generate_latest(registry).decode())

    def values(scrape: dict) -> dict:
        return {k: v for k, v in scrape.items() if not k[0].endswith("_created")}

    assert values(got).keys() == values(expected).keys()
    for key, value in values(expected).items():
        assert got[key] == pytest.approx(value), key
    assert {k for k in got if k[0].endswith("_created")} == {
        k for k in expected if k[0].endswith("_created")
    }


def test_observations_are_queued_boundedly_and_all_counted_at_a_scrape() -> None:
    """A request only queues its observation: the queue is folded into the counters every
    FOLD_EVERY observations (it never grows past that) and before every scrape, so a scrape
    counts every request answered before it."""
    from prometheus_client.exposition import generate_latest

    from service.telemetry import metrics as m
    from service.telemetry.prometheus import FOLD_EVERY, PrometheusRecorder

    recorder = PrometheusRecorder()
    answered = 2 * FOLD_EVERY + 5
    for index in range(answered):
        recorder.observe(m.Observation("/predict", 200, 0.25, "v1", 2, 40, index % 2))
        assert len(recorder._queue) == (index + 1) % FOLD_EVERY
    assert recorder.requests[("/predict", "200")][0] == 2 * FOLD_EVERY  # folded, not scraped
    got = samples(generate_latest(recorder.registry).decode())
    assert got[("fraudlite_requests_total", (("route", "/predict"), ("status", "200")))] == answered
    labels = (("model_version", "v1"), ("route", "/predict"))
    assert got[("fraudlite_transactions_scored_total", labels)] == 2 * answered
    assert got[("fraudlite_transactions_flagged_total", labels)] == answered // 2
    assert recorder._queue == []
