"""fraud-parity: report contents and exit codes 0 (pass), 1 (mismatch), 2 (usage errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from fitted_artifacts import make_artifacts, paysim_like_frame, write_paysim_csv
from onnx import numpy_helper

from convert.export import export_model
from convert.parity_cli import main

KEYS = {"rows", "max_abs_diff", "mean_abs_diff", "label_flips", "near_threshold", "passed"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    out, pipeline = make_artifacts(tmp_path_factory.mktemp("art"), rows=20_000, n_estimators=20)
    return export_model(out), out / "pipeline.joblib", pipeline


def args(model, pipeline, data="synthetic:3000", *extra):
    return ["--model", str(model), "--pipeline", str(pipeline), "--data", data, *extra]


def tampered(model_path, tmp_path, edit) -> str:
    model = onnx.load(model_path)
    edit(model)
    out = tmp_path / "tampered.onnx"
    onnx.save(model, out)
    return str(out)


def test_pass_exit_0_with_json(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts
    out = tmp_path / "parity.json"
    code = main(
        args(
            model,
            pipeline,
            "synthetic:5000",
            "--seed",
            "3",
            "--json",
            str(out),
            "--batch-size",
            "999",
        )
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(out.read_text())
    assert set(report) >= KEYS
    assert report["rows"] == 5000 and report["passed"] is True
    assert report["max_abs_diff"] <= 1e-6 and report["label_flips"] == 0
    assert len(report["worst"]) == 10 and report["worst"][0]["abs_diff"] == report["max_abs_diff"]
    assert "PASSED" in captured.out and "scored 5,000/5,000 rows" in captured.err
    # The default export explains: contributions compared with xgboost's approx_contribs.
    assert report["contributions_checked"] is True and report["feature_mismatches"] == 0
    assert report["contributions_max_abs_diff"] <= report["contrib_atol"] == 1e-5
    assert "max |contrib diff|" in captured.out


def _contribution_weights(m):
    (gate,) = [n for n in m.graph.node if n.op_type == "If"]
    then = next(a for a in gate.attribute if a.name == "then_branch").g
    (node,) = then.node
    return next(a for a in node.attribute if a.name == "target_weights")


def test_tampered_contribution_exits_1_and_contrib_atol_applies(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts

    def nudge_every_weight(m):
        weights = _contribution_weights(m)
        weights.floats[:] = [w + 3e-5 for w in weights.floats]

    bad = tampered(model, tmp_path, nudge_every_weight)
    out = tmp_path / "contrib.json"
    assert main(args(bad, pipeline, "synthetic:2000", "--json", str(out))) == 1
    report = json.loads(out.read_text())
    assert report["max_abs_diff"] <= 1e-6 and report["label_flips"] == 0  # scores untouched
    assert report["contributions_max_abs_diff"] > 1e-5 and report["passed"] is False
    assert report["contributions_worst"][0]["abs_diff"] == report["contributions_max_abs_diff"]
    assert "FAILED" in capsys.readouterr().out
    assert main(args(bad, pipeline, "synthetic:2000", "--contrib-atol", "1e-3")) == 0
    capsys.readouterr()


def test_model_without_contributions_is_checked_and_says_so(artifacts, tmp_path, capsys):
    _, pipeline, _ = artifacts
    plain = export_model(pipeline.parent, tmp_path / "plain.onnx", explain=False)
    out = tmp_path / "plain.json"
    assert main(args(plain, pipeline, "synthetic:2000", "--json", str(out))) == 0
    report = json.loads(out.read_text())
    assert report["contributions_checked"] is False
    assert report["contributions_max_abs_diff"] is None
    assert "not in this model: comparison skipped" in capsys.readouterr().out


def test_file_source_and_rows_limit(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts
    csv = write_paysim_csv(tmp_path / "rows.csv", paysim_like_frame(3000, seed=2))
    assert main(args(model, pipeline, str(csv), "--rows", "1k")) == 0
    assert "rows compared        1,000" in capsys.readouterr().out


def test_tampered_leaf_exits_1(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts

    def shift_first_tree(m):
        (node,) = [n for n in m.graph.node if n.op_type == "TreeEnsembleClassifier"]
        attr = next(a for a in node.attribute if a.name == "class_weights")
        treeids = next(a for a in node.attribute if a.name == "class_treeids").ints
        attr.floats[:] = [
            w + 0.01 if t == 0 else w for w, t in zip(attr.floats, treeids, strict=True)
        ]

    assert main(args(tampered(model, tmp_path, shift_first_tree), pipeline)) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out


def test_tampered_threshold_exits_1_on_label_flips(artifacts, tmp_path, capsys):
    model, pipeline, fitted = artifacts
    probs = fitted.predict_proba(paysim_like_frame(3000, seed=0))[:, 1]
    middle = float(np.median(probs))  # half the rows now flip, probabilities unchanged

    def move_threshold(m):
        (init,) = [i for i in m.graph.initializer if i.name.startswith("threshold")]
        init.CopyFrom(numpy_helper.from_array(np.array(middle, dtype=np.float32), init.name))

    out = tmp_path / "flips.json"
    bad = tampered(model, tmp_path, move_threshold)
    code = main(args(bad, pipeline, "synthetic:3000", "--json", str(out)))
    assert code == 1
    report = json.loads(out.read_text())
    assert report["max_abs_diff"] <= 1e-6 and report["label_flips"] > 100
    assert report["passed"] is False and report["flips"]
    capsys.readouterr()


def test_usage_errors_exit_2(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts
    assert main(args(tmp_path / "none.onnx", pipeline)) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(args(model, tmp_path / "none.joblib")) == 2
    assert "pipeline file not found" in capsys.readouterr().err
    assert main(args(model, pipeline, str(tmp_path / "nope.csv"))) == 2
    assert "bad data source" in capsys.readouterr().err
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    assert main(args(tmp_path / "bad.onnx", pipeline)) == 2
    assert "cannot load ONNX model" in capsys.readouterr().err
    for extra in (["--rows", "0"], ["--atol", "-1"], ["--contrib-atol", "x"], []):
        with pytest.raises(SystemExit) as exc:
            main(args(model, pipeline, "synthetic:100", *extra) if extra else ["--model", "x"])
        assert exc.value.code == 2
    capsys.readouterr()


REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/data/paysim_real_sample.csv.gz"


@pytest.mark.real_data
@pytest.mark.skipif(not REAL_SAMPLE.is_file(), reason=f"real PaySim sample absent: {REAL_SAMPLE}")
def test_parity_on_real_paysim_rows(artifacts, tmp_path, capsys):
    model, pipeline, _ = artifacts
    out = tmp_path / "real.json"
    assert main(args(model, pipeline, str(REAL_SAMPLE), "--rows", "30k", "--json", str(out))) == 0
    report = json.loads(out.read_text())
    assert report["rows"] == 30_000 and report["max_abs_diff"] <= 1e-6
    capsys.readouterr()
