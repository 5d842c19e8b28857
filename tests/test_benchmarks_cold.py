"""Issue 20's measurement: the cold-start floor arm, init steps, the cold-import guard and the
in-process request path, run on the small test model. Fields and answers only: no timings."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bench_artifacts import trained_artifacts

from benchmarks import cold_imports, cold_start, floor_probe, inprocess
from benchmarks.cold_probe import MARKER
from benchmarks.common import PROJECT_ROOT
from benchmarks.importtime import parse_importtime
from service import schema


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_artifacts(tmp_path_factory)


@pytest.fixture(scope="module")
def env(artifacts: Path) -> dict[str, str]:
    return cold_start.side_env("floor", artifacts)


@pytest.fixture(scope="module")
def fraudlite_answer(env: dict[str, str]) -> dict[str, Any]:
    return cold_start.one_cold_start("fraudlite", env)


def test_floor_arm_gives_fraudlites_answer(
    env: dict[str, str], fraudlite_answer: dict[str, Any]
) -> None:
    assert floor_probe.MARKER == MARKER
    assert floor_probe.OUTPUT == schema.OUTPUT_PROBABILITY
    floor = cold_start.one_cold_start("floor", env)
    assert floor["status"] == 200
    assert floor["wall_s"] > floor["import_s"] > 0
    assert floor["session_s"] > 0 and floor["invoke_s"] > 0
    assert floor["probability_fraud"] == pytest.approx(fraudlite_answer["probability_fraud"])


def test_floor_imports_nothing_but_numpy_and_onnxruntime(env: dict[str, str]) -> None:
    command = cold_start.probe_command("floor", env)
    process = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert process.returncode == 0, process.stderr[-1000:]
    packages = {name.split(".")[0] for name, _, _ in parse_importtime(process.stderr)}
    assert {"numpy", "onnxruntime"} <= packages
    assert not packages & {"service", "benchmarks", "starlette", "mangum", "msgspec", "anyio"}


def test_init_steps_cover_the_cold_path_and_answer_alike(
    env: dict[str, str], fraudlite_answer: dict[str, Any]
) -> None:
    steps = cold_start.init_steps(env, runs=1)
    names = list(steps["median_s"])
    for word in (
        "import",
        "settings",
        "model fetch",
        "session",
        "warm-up",
        "runtime build",
        "invoke",
    ):
        assert any(word in name for name in names), word
    assert all(seconds >= 0 for seconds in steps["median_s"].values())
    assert steps["total_s_median"] == pytest.approx(sum(steps["median_s"].values()))
    assert steps["probability_fraud"] == pytest.approx(fraudlite_answer["probability_fraud"])


def test_cold_start_reports_the_floor_ratio(artifacts: Path, tmp_path: Path) -> None:
    args = ["--runs", "1", "--no-rie", "--artifacts", str(artifacts), "--out", str(tmp_path)]
    assert cold_start.main(args) == 0
    report = json.loads((tmp_path / "cold_start.json").read_text())
    floor, ours = report["sides"]["floor"], report["sides"]["fraudlite"]
    assert floor["entry_module"] == "benchmarks/floor_probe.py"
    assert floor["import_breakdown"]["top"][0]["self_ms"] > 0
    assert report["floor_ratio"] == pytest.approx(ours["wall"]["median"] / floor["wall"]["median"])
    # CPU seconds of each fresh interpreter, start to exit: positive, and no more than it could
    # use in its life (answer, then shutdown) on this machine's cores.
    for side in (floor, ours):
        (cpu,) = side["cpu_s"]
        (lifetime,) = side["lifetime_s"]
        assert side["wall_s"][0] <= lifetime
        assert 0 < cpu <= lifetime * (os.cpu_count() or 1)
    assert report["floor_cpu_ratio"] == pytest.approx(
        ours["cpu"]["median"] / floor["cpu"]["median"]
    )
    assert report["init_steps"]["runs"] == 1


def test_cold_import_guard_passes_on_head(artifacts: Path, capsys: pytest.CaptureFixture) -> None:
    assert cold_imports.main(["--model", str(artifacts / "model.onnx")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_cold_import_guard_fails_loudly_on_a_newcomer(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    status, modules = cold_imports.cold_modules(artifacts / "model.onnx")
    assert status == 200 and "service.lambda_handler" in modules
    newcomers = ["boto3", "service.docs.extra", "sqlite3"]
    monkeypatch.setattr(cold_imports, "cold_modules", lambda model: (200, modules + newcomers))
    assert cold_imports.main(["--model", str(artifacts / "model.onnx")]) == 1
    error = capsys.readouterr().err
    assert all(name in error for name in newcomers)
    # Installer shims and private C modules of the standard library are not tracked.
    assert cold_imports.classify(["__editable___x_finder", "_socket", "json"])["unexpected"] == []


def test_inprocess_reports_both_arms_and_the_profile(artifacts: Path, tmp_path: Path) -> None:
    args = ["--requests", "20", "--rounds", "1", "--artifacts", str(artifacts)]
    assert inprocess.main([*args, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "inprocess.json").read_text())
    assert set(report["median_us"]) == {
        "lambda_handler",
        "lambda_mangum",
        "app",
        "app_quiet",
        "score",
        "session_run",
    }
    assert set(report["over_session_run"]) == set(report["median_us"])
    assert report["app_over_session_run"] == pytest.approx(
        report["median_us"]["app"] / report["median_us"]["session_run"]
    )
    assert 0 <= report["answer"]["probability_fraud"] <= 1
    layers = report["profile"]["layers"]
    assert "session.run (onnxruntime)" in layers
    assert sum(layer["share"] for layer in layers.values()) == pytest.approx(1.0)
    assert report["profile"]["top_functions"]
