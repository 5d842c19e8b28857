"""Smoke runs of every benchmark entry point with tiny settings, and the locustfile's payloads.

Speed is never asserted here: only that each benchmark runs, writes the documented keys and
plausible values, and that both sides score the same transactions alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench_artifacts import trained_artifacts
from fastapi.testclient import TestClient as FastAPIClient
from starlette.testclient import TestClient

from benchmarks import cold_start, latency, load, run_all
from benchmarks.baseline.app import create_app as create_baseline
from benchmarks.payloads import sample_transactions, save_transactions
from benchmarks.summary import TARGETS, render_table
from service.app import create_app
from service.model import load_model
from service.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_artifacts(tmp_path_factory)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench_results")


@pytest.fixture(scope="module")
def clients(artifacts: Path) -> dict[str, Any]:
    """The real fraudlite service and the baseline app, in process."""
    import joblib

    settings = Settings(model_uri=str(artifacts / "model.onnx"))
    return {
        "fraudlite": TestClient(create_app(settings, load_model(settings))),
        "baseline": FastAPIClient(create_baseline(joblib.load(artifacts / "pipeline.joblib"))),
    }


def locust_picks(shape: str, data: Path, n: int = 30) -> dict[str, Any]:
    """Bodies the locustfile's tasks pick, from a subprocess (locust patches the stdlib)."""
    script = Path(__file__).with_name("bench_locust_picks.py")
    done = subprocess.run(
        [sys.executable, str(script), shape, str(data), str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def locust_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("locust") / "tx.json"
    return save_transactions(path, sample_transactions(300, seed=5))


@pytest.mark.parametrize("shape", ["fraudlite", "baseline"])
def test_locust_tasks_send_bodies_each_side_accepts_or_refuses_as_expected(
    shape: str, clients: dict[str, Any], locust_data: Path
) -> None:
    picks = locust_picks(shape, locust_data)
    client = clients[shape]
    weights = picks["task_weights"]
    assert weights["single"] > weights["batch_10"] > weights["batch_100"] > 0
    assert weights["invalid"] > 0
    for body in picks["single"]:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text
        assert 0.0 <= answer.json()["probability_fraud"] <= 1.0
    names = set()
    for case in picks["invalid"]:
        answer = client.post(
            "/predict", content=case["body"], headers={"content-type": "application/json"}
        )
        assert answer.status_code == case["status"], (case["name"], answer.text)
        assert 400 <= answer.status_code < 500
        names.add(case["name"])
    assert len(names) > 1
    if shape == "fraudlite":
        answer = client.post("/predict", json=picks["batch_100"])
        assert answer.status_code == 200
        assert len(answer.json()["predictions"]) == 100


@pytest.fixture(scope="module")
def latency_report(artifacts: Path, out: Path) -> dict[str, Any]:
    assert latency.main(["--seconds", "0.2", "--artifacts", str(artifacts), "--out", str(out)]) == 0
    return json.loads((out / "latency.json").read_text())


def test_latency_smoke_run(latency_report: dict[str, Any], out: Path) -> None:
    assert set(latency_report["methods"]) == {
        "fraudlite_onnx",
        "xgboost_inplace",
        "joblib_pipeline",
    }
    for figures in latency_report["methods"].values():
        for size, rows in (("single", 1), ("batch_1000", 1000)):
            case = figures[size]
            assert case["rows_per_call"] == rows
            assert 0 < case["p50_us"] <= case["p99_us"]
            assert case["rows_per_s"] > 0 and case["calls"] >= (50 if rows == 1 else 5)
    assert latency_report["agreement"]["ok"], latency_report["agreement"]
    assert latency_report["ratios"]["single_p50_vs_joblib_pipeline"] > 0
    assert {"timestamp", "machine", "versions"} <= latency_report.keys()
    assert (out / "latency.png").read_bytes()[:8] == PNG


@pytest.fixture(scope="module")
def cold_report(artifacts: Path, out: Path) -> dict[str, Any]:
    args = ["--runs", "1", "--no-rie", "--artifacts", str(artifacts), "--out", str(out)]
    assert cold_start.main(args) == 0
    return json.loads((out / "cold_start.json").read_text())


def test_cold_start_smoke_run(cold_report: dict[str, Any], out: Path) -> None:
    sides = cold_report["sides"]
    for side in ("fraudlite", "baseline"):
        figures = sides[side]
        assert len(figures["wall_s"]) == figures["runs"] == 1
        assert figures["wall"]["median"] > figures["import_s_median"] > 0
        breakdown = figures["import_breakdown"]
        assert breakdown["total_ms"] > 0 and breakdown["top"][0]["self_ms"] > 0
    # The fraudlite entry module must not pull in the baseline's libraries.
    fraudlite_packages = {row["package"] for row in sides["fraudlite"]["import_breakdown"]["top"]}
    assert not fraudlite_packages & {"sklearn", "pandas", "xgboost", "scipy"}
    assert sides["fraudlite"]["probability_fraud"] == pytest.approx(
        sides["baseline"]["probability_fraud"], abs=1e-5
    )
    assert cold_report["ratio"] > 0
    assert (out / "cold_start.png").read_bytes()[:8] == PNG


@pytest.fixture(scope="module")
def load_report(artifacts: Path, out: Path) -> dict[str, Any]:
    args = ["--users", "2", "--spawn-rate", "2", "--duration", "3", "--transactions", "300"]
    assert load.main([*args, "--artifacts", str(artifacts), "--out", str(out)]) == 0
    return json.loads((out / "load.json").read_text())


def test_load_smoke_run(load_report: dict[str, Any], out: Path) -> None:
    for target in ("fraudlite", "baseline"):
        run = load_report["targets"][target]
        assert run["requests"] > 0 and run["failures"] == 0
        assert run["latency_ms"]["count"] == run["requests"]
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]
        assert run["requests_per_s"] > 0 and run["transactions_per_s"] > 0
        assert "single" in run["by_name"]
        memory = run["memory_kib"]
        assert memory["after_load"]["peak_rss_kib"] >= memory["after_warmup"]["peak_rss_kib"] > 0
        assert Path(run["csv"]).exists()
    assert set(load_report["ratios"]) >= {"requests_per_s", "p99_lower", "peak_rss_lower"}
    assert (out / "load_latency.png").read_bytes()[:8] == PNG


def test_summary_table_reports_ratios_and_targets(
    latency_report: dict[str, Any],
    cold_report: dict[str, Any],
    load_report: dict[str, Any],
    artifacts: Path,
) -> None:
    report = run_all.assemble(
        artifacts,
        run_all.Plan.quick(),
        {
            "latency": latency_report,
            "cold_start": cold_report,
            "load": load_report,
            "footprint": None,
        },
    )
    rows = {row["key"]: row for row in report["summary"]}
    for key in ("cold_start", "single_row_p50", "load_p99", "load_requests_per_s"):
        assert rows[key]["ratio"] > 0
        assert rows[key]["target_ratio"] == TARGETS[key]
        assert rows[key]["target_met"] == (rows[key]["ratio"] >= TARGETS[key])
    assert rows["model_file"]["fraudlite"] > 0 and rows["model_file"]["baseline"] > 0
    table = render_table(report)
    assert table.count("\n|") == len(report["summary"]) + 2
    assert {"timestamp", "machine", "versions", "model_files_bytes"} <= report.keys()


def test_lambda_emulator_cold_start_of_fraudlite(artifacts: Path) -> None:
    from benchmarks.rie import _aws_tools

    if _aws_tools().find_rie() is None:
        reason = "aws-lambda-rie not installed: run .ci/install-aws-tools"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run it before the tests)")
        pytest.skip(reason)
    result = cold_start.rie_part(artifacts, runs=1)
    assert result["runs"] == 1 and len(result["first_invoke_s"]["values"]) == 1
    assert result["first_invoke_s"]["median"] > 0
    warm = result["warm_invoke_ms"]
    assert warm["count"] > 0 and 0 < warm["p50"] <= warm["p99"]
