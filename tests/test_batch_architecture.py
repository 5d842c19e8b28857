"""batch/ and train/search_ray.py keep the architecture rules: no import cycles (type-only and
function-level imports included), Ray only where it is optional, service/ untouched by them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import test_import_cycles as checker

ROOT = Path(__file__).resolve().parents[1]


def test_no_import_cycles_with_batch() -> None:
    modules = checker.module_files()
    for path in (ROOT / "batch").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = checker.import_graph(modules)
    assert "batch.job" in graph and "batch.plan" in graph["batch.job"]
    assert checker.cycles(graph) == []


def test_local_scoring_never_imports_ray_and_service_never_imports_batch() -> None:
    code = (
        "import sys, batch.cli, batch.job, batch.local, service.app, service.lambda_app\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'optuna', 'pandas'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == ""
    for path in (ROOT / "service").rglob("*.py"):
        text = path.read_text()
        assert "import batch" not in text and "from batch" not in text, path
