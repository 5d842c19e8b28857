"""The scheduled drift job against S3 and Secrets Manager on a moto server, GitHub on a local
stand-in, in-process and under AWS's Lambda Runtime Interface Emulator with the image's bundle."""

from __future__ import annotations

import dataclasses
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from drift_fixtures import profiled_model
from fitted_artifacts import paysim_like_frame, write_paysim_csv
from moto_s3 import threaded_moto, use_fake_credentials
from starlette.testclient import TestClient

from drift.cli import main as drift_main
from service.app import create_app
from service.aws.drift_job import (
    DISPATCH_EVENT,
    DRIFT_MAX_PSI,
    DRIFT_PSI,
    Clients,
    DriftJobError,
    default_clients,
    http_post,
    run,
)
from service.model import LoadedModel, load_model
from service.schema import MODEL_INPUTS
from service.settings import Settings, SettingsError
from service.settings.companions import DriftJobSettings
from service.telemetry.decision_log import DecisionLog
from service.telemetry.setup import Telemetry

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

BUCKET = "fraudlite-decisions"
MODELS = "fraudlite-models"
NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
TOKEN = "ghp_test_token_not_real"
LIVE = ["type", "amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"]


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """A moto server on 127.0.0.1 for S3 and Secrets Manager, with fake credentials."""
    with pytest.MonkeyPatch.context() as env:
        use_fake_credentials(env)
        with threaded_moto() as endpoint:
            env.setenv("AWS_ENDPOINT_URL", endpoint)
            yield endpoint


class GitHub(BaseHTTPRequestHandler):
    """Records repository_dispatch calls and answers 204 as GitHub does."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        GitHub.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def github() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return profiled_model(tmp_path_factory.mktemp("job"))


@pytest.fixture(scope="module")
def loaded(model_path: Path) -> LoadedModel:
    model = load_model(Settings(model_uri=str(model_path)))
    assert isinstance(model, LoadedModel)
    return model


def decision_lines(loaded: LoadedModel, frame: pd.DataFrame) -> str:
    """The decision log the API writes for ``frame`` (batches of 200 through /predict)."""
    lines: list[str] = []
    app = create_app(
        Settings(model_uri=loaded.source), loaded, Telemetry(decisions=DecisionLog(lines.append))
    )
    rows = frame[list(MODEL_INPUTS)].astype({"type": str}).to_dict("records")
    with TestClient(app) as client:
        for start in range(0, len(rows), 200):
            body = {"transactions": rows[start : start + 200]}
            assert client.post("/predict", json=body).status_code == 200
    return "".join(lines)


@pytest.fixture(scope="module")
def s3(aws: str, model_path: Path) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket=MODELS)
    client.put_object(Bucket=MODELS, Key="v1/model.onnx", Body=model_path.read_bytes())
    return client


def put_day(s3: Any, prefix: str, day: str, text: str, name: str = "part-0.gz") -> None:
    year, month, dom = day.split("-")
    key = f"{prefix}year={year}/month={month}/day={dom}/{name}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(text.encode()))


def settings(prefix: str, **extra: Any) -> DriftJobSettings:
    return DriftJobSettings(
        model_uri=f"s3://{MODELS}/v1/model.onnx",
        source=f"s3://{BUCKET}/{prefix}",
        min_rows=500,
        report_uri=f"s3://{BUCKET}/drift-reports/{prefix}",
        **extra,
    )


@pytest.fixture(scope="module")
def shifted(loaded: LoadedModel) -> tuple[pd.DataFrame, str]:
    frame = paysim_like_frame(1200, 77)
    frame["amount"] = frame["amount"] * 4
    return frame, decision_lines(loaded, frame)


def test_drift_run_reads_yesterday_emits_metrics_writes_report_and_dispatches(
    s3: Any, github: str, loaded: LoadedModel, model_path: Path, shifted, tmp_path: Path
) -> None:
    frame, text = shifted
    prefix = "drifted/decisions/"
    half = text.splitlines(keepends=True)
    put_day(s3, prefix, "2026-11-28", "".join(half[:600]))
    put_day(s3, prefix, "2026-11-28", "".join(half[600:]), "part-1.gz")
    # Outside the window (today, and two days ago): not read.
    put_day(s3, prefix, "2026-11-29", text)
    put_day(s3, prefix, "2026-11-27", text)
    # Another model's records in the window: skipped, counted.
    other = "".join(
        json.dumps({**json.loads(line), "model_version": "0000"}) + "\n" for line in half[:50]
    )
    put_day(s3, prefix, "2026-11-28", other, "part-2.gz")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret_id = secrets.create_secret(Name="fraudlite/github-token", SecretString=TOKEN)["ARN"]
    GitHub.calls.clear()
    emitted: list[str] = []
    job = settings(
        prefix,
        retrain_secret_id=secret_id,
        retrain_repository="example/fraudlite",
        github_api_url=github,
    )
    summary = run(job, default_clients(), now=NOW, emit=emitted.append)

    assert summary["days"] == ["2026-11-28"] and summary["objects"] == 3
    assert summary["rows"] == 1200 and summary["other_model_rows"] == 50
    assert summary["status"] == "drifted" and "amount" in summary["drifted"]
    assert "score" in summary["drifted"]
    # The same PSI as fraud-drift on the raw transactions, for every live entry.
    out = tmp_path / "raw.json"
    drift_main(
        [
            "--model",
            str(model_path),
            "--data",
            str(write_paysim_csv(tmp_path / "r.csv", frame)),
            "--json",
            str(out),
        ]
    )
    raw = json.loads(out.read_text())
    for name, value in summary["psi"].items():
        assert value == pytest.approx(raw["psi"][name], abs=1e-6), name
    # EMF: one DriftPSI per feature (dimension Feature), and the totals the alarm watches.
    records = [json.loads(line) for line in emitted]
    per_feature = {r["Feature"]: r[DRIFT_PSI] for r in records if "Feature" in r}
    assert per_feature == summary["psi"]
    totals = records[-1]
    assert totals[DRIFT_MAX_PSI] == max(summary["psi"].values())
    assert totals["DriftedFeatures"] == len(summary["drifted"]) and totals["DriftRows"] == 1200
    assert totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    # The report in S3.
    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"drift-reports/{prefix}2026-11-29.json")["Body"].read()
    )
    assert report["psi"] == summary["psi"] and sum(report["counts"]["amount"]) == 1200
    # The retrain workflow was started, with the token from Secrets Manager.
    assert summary["retrain"] == "sent"
    (call,) = GitHub.calls
    assert call["path"] == "/repos/example/fraudlite/dispatches"
    assert call["headers"]["Authorization"] == f"Bearer {TOKEN}"
    body = json.loads(call["body"])
    assert body["event_type"] == DISPATCH_EVENT == "drift-detected"
    assert body["client_payload"]["model_version"] == loaded.version
    assert len(body["client_payload"]) <= 10  # GitHub's limit on client_payload properties
    assert TOKEN not in json.dumps(summary)


def test_stable_traffic_starts_nothing(s3: Any, github: str, loaded: LoadedModel) -> None:
    prefix = "stable/decisions/"
    put_day(s3, prefix, "2026-11-28", decision_lines(loaded, paysim_like_frame(1200, 78)))
    GitHub.calls.clear()
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret_id = secrets.create_secret(Name="fraudlite/stable", SecretString=TOKEN)["ARN"]
    job = settings(
        prefix,
        retrain_secret_id=secret_id,
        retrain_repository="example/fraudlite",
        github_api_url=github,
    )
    summary = run(job, default_clients(), now=NOW, emit=lambda line: None)
    assert summary["status"] == "stable" and summary["drifted"] == []
    assert max(summary["psi"].values()) < 0.1
    assert summary["retrain"] == "not needed" and GitHub.calls == []


def test_too_few_rows_give_no_verdict(s3: Any, loaded: LoadedModel) -> None:
    prefix = "few/decisions/"
    put_day(s3, prefix, "2026-11-28", decision_lines(loaded, paysim_like_frame(100, 3)))
    emitted: list[str] = []
    summary = run(settings(prefix), default_clients(), now=NOW, emit=emitted.append)
    assert summary["status"] == "insufficient_data" and summary["rows"] == 100
    (record,) = [json.loads(line) for line in emitted]
    assert record["DriftRows"] == 100 and DRIFT_MAX_PSI not in record


def test_github_refusal_and_bad_secret_are_reported_without_the_token(
    s3: Any, shifted, loaded: LoadedModel
) -> None:
    prefix = "refused/decisions/"
    put_day(s3, prefix, "2026-11-28", shifted[1])
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret_id = secrets.create_secret(Name="fraudlite/refused", SecretString=TOKEN)["ARN"]
    refused = Clients(default_clients().s3, default_clients().secrets, lambda *a: 401)
    job = settings(prefix, retrain_secret_id=secret_id, retrain_repository="example/fraudlite")
    summary = run(job, refused, now=NOW, emit=lambda line: None)
    assert summary["retrain"] == "failed: GitHub answered HTTP 401"
    missing = settings(prefix, retrain_secret_id="absent", retrain_repository="example/x")
    summary = run(missing, default_clients(), now=NOW, emit=lambda line: None)
    assert summary["retrain"].startswith("failed: secret not readable")


def test_unreadable_model_or_source_fails_the_run(s3: Any) -> None:
    with pytest.raises(DriftJobError, match="model not loaded"):
        run(
            DriftJobSettings(model_uri=f"s3://{MODELS}/absent.onnx", source=f"s3://{BUCKET}/x/"),
            default_clients(),
            now=NOW,
        )
    with pytest.raises(DriftJobError, match="decision log not readable"):
        job = dataclasses.replace(settings("x/"), source="s3://no-such-bucket/d/")
        run(job, default_clients(), now=NOW)


def test_settings_from_env_name_the_variable() -> None:
    base = {
        "FRAUD_MODEL_URI": "s3://models/model.onnx",
        "FRAUD_DRIFT_SOURCE": "s3://bucket/decisions/",
    }
    parsed = DriftJobSettings.from_env(base)
    assert (parsed.days, parsed.watch, parsed.drift, parsed.min_rows) == (1, 0.1, 0.25, 1000)
    for extra, variable in (
        ({"FRAUD_DRIFT_SOURCE": "/local/path"}, "FRAUD_DRIFT_SOURCE"),
        ({"FRAUD_DRIFT_DAYS": "40"}, "FRAUD_DRIFT_DAYS"),
        ({"FRAUD_DRIFT_THRESHOLD": "0.05"}, "FRAUD_DRIFT_THRESHOLD"),
        ({"FRAUD_DRIFT_MIN_ROWS": "x"}, "FRAUD_DRIFT_MIN_ROWS"),
        ({"FRAUD_RETRAIN_SECRET_ID": "arn:secret"}, "FRAUD_RETRAIN_REPOSITORY"),
        (
            {"FRAUD_RETRAIN_SECRET_ID": "s", "FRAUD_RETRAIN_REPOSITORY": "not a repo"},
            "FRAUD_RETRAIN_REPOSITORY",
        ),
        ({"FRAUD_GITHUB_API_URL": "http://example.com"}, "FRAUD_GITHUB_API_URL"),
    ):
        with pytest.raises(SettingsError) as info:
            DriftJobSettings.from_env({**base, **extra})
        assert info.value.variable == variable
    with pytest.raises(SettingsError) as info:
        DriftJobSettings.from_env({"FRAUD_DRIFT_SOURCE": "s3://bucket/d/"})
    assert info.value.variable == "FRAUD_MODEL_URI"


def test_http_post_returns_error_statuses(github: str) -> None:
    assert (
        http_post(f"{github}/repos/a/b/dispatches", {"Content-Type": "application/json"}, b"{}")
        == 204
    )


def test_fraud_drift_reads_the_decision_log_from_s3(
    s3: Any, shifted, model_path: Path, tmp_path: Path
) -> None:
    """fraud-drift --data s3://... on Firehose-style objects (gzip, no suffix): the job's PSI."""
    frame, text = shifted
    s3.put_object(Bucket=BUCKET, Key="cli/decisions/part-a", Body=gzip.compress(text.encode()))
    out = tmp_path / "s3.json"
    status = drift_main(
        ["--model", str(model_path), "--data", f"s3://{BUCKET}/cli/", "--json", str(out)]
    )
    report = json.loads(out.read_text())
    assert status == 1 and report["rows"] == 1200 and "amount" in report["drifted"]
    raw = tmp_path / "raw.json"
    drift_main(
        [
            "--model",
            str(model_path),
            "--data",
            str(write_paysim_csv(tmp_path / "r.csv", frame)),
            "--json",
            str(raw),
        ]
    )
    expected = json.loads(raw.read_text())
    assert report["psi"] == {k: v for k, v in expected["psi"].items() if k in report["psi"]}
    assert len(report["psi"]) == 8  # the live entries: raw inputs, hour and the score
