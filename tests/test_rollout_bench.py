"""benchmarks/shadow_cost.py runs end to end on small models and reports what it promises
(figures are not asserted: speed lives in the benchmark's own output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from service_model import build_model

from benchmarks import shadow_cost
from service import schema


@pytest.mark.slow
def test_shadow_cost_writes_its_json_and_plot(tmp_path: Path) -> None:
    primary = build_model(tmp_path / "p.onnx")
    second = build_model(tmp_path / "s.onnx", inputs=schema.PREAUTH_INPUTS)
    out = tmp_path / "results"
    argv = ["--primary", str(primary), "--second", str(second), "--requests", "60"]
    assert shadow_cost.main([*argv, "--rounds", "2", "--runs", "1", "--out", str(out)]) == 0
    result = json.loads((out / "shadow_cost.json").read_text())
    for name in shadow_cost.CONFIGURATIONS:
        assert result["warm"][name]["count"] == 60
    assert {"added_p50_us", "added_p99_us"} <= set(result["warm"]["with shadow"])
    for name in ("primary session.run", "second session.run", "both back to back"):
        assert result["warm"][name]["count"] == 60
    assert set(result["cold"]) == {
        "one model",
        "with shadow",
        "added_median_s",
        "second model load_model in process",
    }
    assert result["cold"]["with shadow"]["median"] > 0
    assert (out / "shadow_cost.png").stat().st_size > 1000
