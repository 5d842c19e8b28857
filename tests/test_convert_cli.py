"""fraud-convert / python -m convert: exit codes and output path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from fitted_artifacts import make_artifacts

from convert.cli import main
from service.schema import MODEL_INPUTS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("art"), rows=5000, n_estimators=10)[0]


def test_writes_model_next_to_artifacts_by_default(artifacts, capsys):
    assert main([str(artifacts)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert [o.name for o in onnx.load(artifacts / "model.onnx").graph.output] == [
        "probability",
        "label",
        "contributions",
        "features",
    ]


def test_no_explain_writes_the_two_score_outputs_only(artifacts, tmp_path, capsys):
    out = tmp_path / "plain.onnx"
    assert main([str(artifacts), "-o", str(out), "--no-explain"]) == 0
    model = onnx.load(out)
    assert [o.name for o in model.graph.output] == ["probability", "label"]
    assert [i.name for i in model.graph.input] == list(MODEL_INPUTS)
    keys = {p.key for p in model.metadata_props}
    assert "contributions_columns" not in keys and "explanation_outputs" not in keys
    capsys.readouterr()


def test_output_option_and_module_entry_point(artifacts, tmp_path):
    out = tmp_path / "sub" / "m.onnx"
    done = subprocess.run(
        [sys.executable, "-m", "convert", str(artifacts), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "edge-row parity" in done.stderr


def test_usage_errors_exit_2(artifacts, tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "artifacts directory not found" in capsys.readouterr().err
    (tmp_path / "metrics.json").write_text((artifacts / "metrics.json").read_text())
    assert main([str(tmp_path)]) == 2
    assert "pipeline file not found" in capsys.readouterr().err
    (tmp_path / "pipeline.joblib").write_bytes(b"not a pickle")
    assert main([str(tmp_path)]) == 2
    assert "cannot load pipeline" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
