"""fraud-retrain-gate on two real fitted-and-converted models: a better and a worse one."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fitted_artifacts import make_artifacts

from convert.export import export_model
from ops.retrain_gate import GateInputError, decide, main, run_gate

ROOT = Path(__file__).resolve().parents[1]
#: Held-out rows: the latest steps of another generated sample (about 20,000 rows, ~60 frauds).
DATA = "synthetic:100000"


def _model(directory: Path, **params) -> Path:
    artifacts, _ = make_artifacts(directory, rows=20_000, seed=0, threshold=0.4, **params)
    return export_model(artifacts, artifacts / "model.onnx", verify=False, explain=False)


@pytest.fixture(scope="module")
def better(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model(tmp_path_factory.mktemp("better"), n_estimators=30, max_depth=4)


@pytest.fixture(scope="module")
def worse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Two depth-1 stumps: a real model, but a weak one.
    return _model(tmp_path_factory.mktemp("worse"), n_estimators=2, max_depth=1)


@pytest.fixture(scope="module")
def better_vs_worse(better: Path, worse: Path):
    return run_gate(better.parent, worse, DATA, seed=7)


@pytest.fixture(scope="module")
def worse_vs_better(better: Path, worse: Path):
    return run_gate(worse, better.parent, DATA, seed=7)


def test_a_better_candidate_passes(better_vs_worse) -> None:
    result = better_vs_worse
    assert result.passed, result.reasons
    assert result.candidate.pr_auc > result.current.pr_auc + 0.1
    assert result.candidate.recall >= 0.9
    assert result.frauds >= 20 and result.rows > 10_000


def test_a_worse_candidate_fails_both_gates(worse_vs_better) -> None:
    result = worse_vs_better
    assert not result.passed
    assert "below the allowed floor" in result.reasons[0]
    assert "< target 0.9" in result.reasons[1]


def test_both_models_are_scored_on_the_same_rows(better_vs_worse, worse_vs_better) -> None:
    # Swapping the roles swaps the figures exactly: same rows, same weights, same metrics.
    assert better_vs_worse.candidate == worse_vs_better.current
    assert better_vs_worse.current == worse_vs_better.candidate
    assert better_vs_worse.rows == worse_vs_better.rows


def test_tolerance_and_target_are_applied_as_given(better_vs_worse) -> None:
    cand, prod = better_vs_worse.candidate, better_vs_worse.current
    gap = cand.pr_auc - prod.pr_auc
    # The better model as production and the worse as candidate fails unless the tolerance
    # covers the whole gap (and the recall target is out of the way).
    assert not decide(prod, cand, tolerance=gap - 1e-6, target_recall=0.0)[0]
    assert decide(prod, cand, tolerance=gap + 1e-6, target_recall=0.0)[0]
    # Recall is compared with the target inclusively.
    lower = dataclasses.replace(cand, recall=0.85)
    assert not decide(lower, prod, tolerance=0.01, target_recall=0.9)[0]
    assert decide(lower, prod, tolerance=0.01, target_recall=0.85)[0]


def test_without_a_production_model_only_recall_is_gated(better: Path, worse: Path) -> None:
    first = run_gate(better, None, DATA, seed=7)
    assert first.passed and first.current is None
    assert first.reasons[0].startswith("no production model")
    assert not run_gate(worse, None, DATA, seed=7).passed


def test_cli_exit_codes_json_and_markdown(better: Path, worse: Path, tmp_path: Path, capsys):
    out_json, out_md = tmp_path / "gate.json", tmp_path / "gate.md"
    argv = ["--data", DATA, "--seed", "7", "--json", str(out_json), "--markdown", str(out_md)]
    assert main(["--candidate", str(better), "--current", str(worse), *argv]) == 0
    saved = json.loads(out_json.read_text())
    assert saved["passed"] is True and saved["pr_auc_change"] > 0.1
    assert out_md.read_text().startswith("### Retrain gate: PASSED")
    assert "| candidate |" in out_md.read_text() and "| production |" in out_md.read_text()
    assert main(["--candidate", str(worse), "--current", str(better), *argv]) == 1
    assert json.loads(out_json.read_text())["passed"] is False
    assert "### Retrain gate: FAILED" in capsys.readouterr().out


def test_usage_and_data_errors_exit_2(better: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nothing"
    assert main(["--candidate", str(missing), "--data", DATA]) == 2
    assert "no model at" in capsys.readouterr().err
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    assert main(["--candidate", str(garbage), "--data", DATA]) == 2
    assert "not a loadable ONNX model" in capsys.readouterr().err
    assert main(["--candidate", str(better), "--data", str(tmp_path / "none.csv")]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["--candidate", str(better), "--data", DATA, "--tolerance", "2"])
    assert exited.value.code == 2


def test_gate_input_error_for_a_directory_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(GateInputError, match=r"model\.onnx"):
        run_gate(tmp_path, None, DATA)


def test_installed_console_script(better: Path, worse: Path) -> None:
    script = Path(sys.executable).with_name("fraud-retrain-gate")
    assert script.exists(), "pip install -e . registers fraud-retrain-gate"
    done = subprocess.run(
        [str(script), "--candidate", str(worse), "--current", str(better), "--data", DATA],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Retrain gate: FAILED" in done.stdout
