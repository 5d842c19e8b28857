"""benchmarks/telemetry_overhead.py on a small model with tiny counts: it runs, every
configuration really records what it claims, and the verdicts follow the numbers. No timing is
asserted (speed lives in the benchmark's own output)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from drift_fixtures import profiled_model
from service_model import EXAMPLE_TRANSACTION, build_model

from benchmarks.telemetry_overhead import (
    BUDGET_BINS_US,
    BUDGET_COLD_MS,
    BUDGET_REQUEST_US,
    CONFIGS,
    STEPS,
    _requests,
    app_for_config,
    direct_path,
    in_process,
    in_situ,
    step_telemetry,
    summarize_rounds,
    verdicts,
)
from service.model import LoadedModel, load_model
from service.monitoring.binning import BINS_FIELD
from service.settings import Settings


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, LoadedModel]:
    path = build_model(tmp_path_factory.mktemp("bench") / "model.onnx")
    settings = Settings(model_uri=str(path))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    return settings, model


def test_each_configuration_records_what_it_claims(tmp_path: Path, capsys) -> None:
    """With a model that carries a drift profile: EMF and decision lines where claimed (on
    stdout but in ``server+file``), and the drift bins only in the ``+bins`` configurations
    (the plain ones are issue 15's alone)."""
    settings = Settings(model_uri=str(profiled_model(tmp_path / "model", explain=False)))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    body = json.dumps({**EXAMPLE_TRANSACTION, "transaction_id": "b"}).encode()
    expected = {  # EMF records, decision lines on stdout, lines with drift bins there
        "off": (0, 0, 0),
        "lambda": (3, 3, 0),
        "lambda+bins": (3, 3, 3),
        "server": (0, 3, 0),
        "server+bins": (0, 3, 3),
        "server+file": (0, 0, 0),
    }
    assert set(expected) == set(CONFIGS)
    loop = asyncio.new_event_loop()
    try:
        for config in CONFIGS:
            app = app_for_config(settings, model, config, tmp_path)
            capsys.readouterr()
            _, _, ok = loop.run_until_complete(_requests(app, body, 3))
            assert ok == 3
            sys.stdout.flush()
            out = capsys.readouterr().out
            counts = (out.count('"_aws"'), out.count('"event":"decision"'), out.count(BINS_FIELD))
            assert counts == expected[config], config
    finally:
        loop.close()
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()  # server+file's file
    assert len(lines) == 3 and not any(BINS_FIELD in line for line in lines)


def test_in_process_and_direct_path_report_every_configuration(
    loaded: tuple[Settings, LoadedModel],
) -> None:
    settings, model = loaded
    results = in_process(model, settings, rounds=2, requests=5)
    for name in ("single", "batch1000"):
        for clock in ("cpu", "wall"):
            part = results[name][clock]
            assert set(CONFIGS) <= set(part)
            assert all(part[c]["median_us"] > 0 for c in CONFIGS)
            assert (
                "overhead_median_us" in part["lambda"] and "overhead_median_us" not in part["off"]
            )
    direct = direct_path(model, settings, repeats=2, number=20)
    assert set(direct) >= {"lambda", "server"}
    for config in ("lambda", "server"):
        assert set(direct[config]["parts"]) == {"record_decisions", "decision_log", "metrics"}
        assert isinstance(direct[config]["drift_bins"], bool)


def test_overheads_are_paired_differences_and_verdicts_follow_budgets() -> None:
    summary = summarize_rounds(
        {
            "off": [10.0, 20.0, 30.0],
            "lambda": [15.0, 22.0, 45.0],
            "lambda+bins": [25.0, 29.0, 51.0],
            "server": [10.0, 20.0, 30.0],
            "server+file": [21.0, 25.0, 41.0],
        },
        7,
    )
    assert summary["lambda"]["overhead_median_us"] == 5.0  # differences 5, 2, 15
    assert summary["server"]["overhead_median_us"] == 0.0
    assert summary["lambda+bins"]["bins_median_us"] == 7.0  # against lambda: 10, 7, 6
    assert "bins_median_us" not in summary["lambda"]
    single = {"cpu": summary, "wall": summary}
    cold = {f"{k}_overhead_median_ms": v for k, v in (("cpu", 3.0), ("wall", 12.0))}
    result = verdicts({"in_process": {"single": single}, "cold_start": cold})
    assert BUDGET_REQUEST_US == 10.0 and BUDGET_COLD_MS == 10.0  # the budgets
    assert result["lambda_request_overhead_us_cpu"]["met"] is True
    assert BUDGET_BINS_US == 5.0  # issue 17's target per row
    assert result["lambda_drift_bins_us_cpu"] == {"value": 7.0, "budget": 5.0, "met": False}
    assert "server_drift_bins_us_cpu" not in result  # no bins configuration measured
    assert result["server_file_request_overhead_us_cpu"]["value"] == 11.0  # 11, 5, 11
    assert result["server_file_request_overhead_us_cpu"]["met"] is False
    assert result["cold_start_overhead_ms_cpu"]["met"] is True
    assert result["cold_start_overhead_ms_wall"]["met"] is False


def test_in_situ_steps_add_one_piece_each(
    loaded: tuple[Settings, LoadedModel], tmp_path: Path
) -> None:
    settings, model = loaded
    telemetry = {step: step_telemetry(step, tmp_path) for step in STEPS}
    assert not telemetry["off"].active and telemetry["plumbing"].active
    assert telemetry["plumbing"].decisions is None and telemetry["emf"].decisions is None
    assert telemetry["emf+decisions"].decisions is not None
    assert telemetry["prometheus+decisions"].decisions is not None
    assert telemetry["emf+decisions+bins"].decisions is not None  # bins: app_for_config
    result = in_situ(model, settings, rounds=2, requests=3)
    assert set(STEPS) <= set(result)
    assert result["off"]["overhead_median_us"] == 0
