"""benchmarks/instructions.py: per-call instructions from two callgrind counts, and its report.

The callgrind runs themselves take minutes (benchmarks/results/instructions.json holds a real
run); here the counting is replaced by a fake so the arithmetic and the report are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import instructions


def test_per_call_divides_the_difference_by_the_calls() -> None:
    assert instructions.per_call(1_000, 61_000, 300) == 200.0
    with pytest.raises(ValueError):
        instructions.per_call(1, 2, 0)


def test_report_has_every_arm_over_session_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "model.onnx").write_bytes(b"x")
    per_arm = {"session_run": 200, "parse_score": 300, "app_quiet": 420, "lambda_quiet": 350}
    per_arm["lambda"] = 500

    def fake_count(arm: str, calls: int, model: Path, valgrind: str = "valgrind") -> int:
        assert model == tmp_path / "model.onnx"
        return 1_000_000 + per_arm[arm] * calls

    monkeypatch.setattr(instructions, "count", fake_count)
    monkeypatch.setattr(instructions, "warm_bytecode", lambda model: None)
    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/usr/bin/valgrind")
    args = ["--artifacts", str(tmp_path), "--out", str(tmp_path), "--calls", "10"]
    assert instructions.main(args) == 0
    report = json.loads((tmp_path / "instructions.json").read_text())
    assert report["instructions_per_call"] == {k: float(v) for k, v in per_arm.items()}
    assert report["over_session_run"]["app_quiet"] == pytest.approx(2.1)
    assert "app_quiet" in capsys.readouterr().out


def test_without_valgrind_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "model.onnx").write_bytes(b"x")
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main(["--artifacts", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "instructions.json").exists()
