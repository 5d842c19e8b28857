"""Import-time breakdown of a module from ``python -X importtime``, grouped by top-level package."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT_ROOT, BenchmarkError


def parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for each ``import time:`` line of ``-X importtime``."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
            rows.append((name.strip(), int(self_us), int(cumulative_us)))
        except ValueError:
            continue  # a line interleaved with other output
    return rows


def breakdown(rows: list[tuple[str, int, int]], module: str, top: int = 10) -> dict[str, Any]:
    """Total import time, the module's own cumulative time and the top packages by self time."""
    by_package: dict[str, int] = defaultdict(int)
    modules: dict[str, int] = defaultdict(int)
    for name, self_us, _ in rows:
        package = name.split(".")[0]
        by_package[package] += self_us
        modules[package] += 1
    cumulative = {name: cumulative_us for name, _, cumulative_us in rows}
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        "module": module,
        "total_ms": sum(self_us for _, self_us, _ in rows) / 1000,
        "module_cumulative_ms": cumulative.get(module, 0) / 1000,
        "modules_imported": len(rows),
        "top": [
            {"package": name, "self_ms": us / 1000, "modules": modules[name]} for name, us in ranked
        ],
    }


def measure(module: str, env: dict[str, str], top: int = 10) -> dict[str, Any]:
    """Import ``module`` in a fresh interpreter under ``-X importtime`` and break the time down."""
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env={**os.environ, **env},
        cwd=Path(PROJECT_ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if process.returncode != 0:
        raise BenchmarkError(f"importing {module} failed:\n{process.stderr[-2000:]}")
    return breakdown(parse_importtime(process.stderr), module, top)
