"""fraud-train --search ray: Ray Tune (Optuna TPE + ASHA) on a local 2-CPU Ray instance started
here, on small data; the artifacts are the default search's and convert to ONNX with parity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest

from convert.export import export_model
from convert.parity_cli import main as parity_main
from train.cli import main as train_main
from train.pipeline import param_distributions

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pytest.importorskip("optuna", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_space_is_the_default_searchs() -> None:
    from train.search_ray import tune_space

    space = tune_space(param_distributions("none", imbalance=500.0))
    assert (space["model__n_estimators"].lower, space["model__n_estimators"].upper) == (100, 400)
    assert (space["model__max_depth"].lower, space["model__max_depth"].upper) == (3, 9)
    assert space["model__learning_rate"].lower == pytest.approx(0.03)
    assert space["model__learning_rate"].upper == pytest.approx(0.3)
    assert (space["model__subsample"].lower, space["model__subsample"].upper) == (0.6, 1.0)
    assert space["model__scale_pos_weight"].upper == pytest.approx(500.0)
    assert type(space["model__learning_rate"].get_sampler()).__name__ == "_LogUniform"


def test_ray_search_writes_artifacts_that_convert_with_parity(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "artifacts"
    args = ["--data", "synthetic:20000", "--n-iter", "4", "--cv", "2", "--folds", "2"]
    args += ["--seed", "5"]
    assert train_main([*args, "--out", str(out), "--search", "ray"]) == 0
    err = capsys.readouterr().err
    assert err.count("[search] trial ") == 4  # one progress line per trial
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["search"] == "ray"
    assert 0 < metrics["search"]["best_score"] <= 1
    assert metrics["test"]["pr_auc"] >= 0.9
    # The refitted best pipeline carries the chosen parameters, inside the space.
    model = joblib.load(out / "pipeline.joblib").named_steps["model"]
    assert 100 <= model.n_estimators < 400 and 3 <= model.max_depth < 9
    assert model.n_estimators == metrics["params"]["n_estimators"]
    for name in ("xgb_model.json", "report.md", "pr_curve.png"):
        assert (out / name).stat().st_size > 0
    export_model(out)  # checks parity on crafted edge rows before it writes
    parity = [
        "--model",
        str(out / "model.onnx"),
        "--pipeline",
        str(out / "pipeline.joblib"),
        "--data",
        "synthetic:10000",
    ]
    assert parity_main(parity) == 0


def test_unknown_scoring_is_refused_before_ray_starts() -> None:
    from train.search_ray import run_ray_search

    with pytest.raises(ValueError, match="scoring must be one of"):
        run_ray_search(None, None, None, {}, n_iter=1, cv=2, scoring="accuracy", seed=0)
