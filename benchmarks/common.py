"""Shared helpers of the benchmarks: paths, run metadata, statistics, progress and JSON output."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from train.versions import package_versions

PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS: Final = PROJECT_ROOT / "benchmarks" / "results"
DEFAULT_ARTIFACTS: Final = PROJECT_ROOT / "artifacts"

#: Packages whose versions shape the figures, per side (reported with every result file).
VERSIONED: Final[tuple[str, ...]] = (
    "onnxruntime",
    "numpy",
    "starlette",
    "msgspec",
    "mangum",
    "uvicorn",
    "fastapi",
    "pydantic",
    "pandas",
    "scikit-learn",
    "xgboost-cpu",
    "xgboost",
    "joblib",
    "locust",
    "awslambdaric",
)

MODEL_FILES: Final[tuple[str, ...]] = ("model.onnx", "pipeline.joblib", "xgb_model.json")


class BenchmarkError(RuntimeError):
    """A benchmark could not run (missing model, server that never answered, ...)."""


def aws_tools() -> Any:
    """tests/aws_tools.py, the deployment tests' helpers (tests/ is not a package): the Lambda
    bundle, the wheel platforms and pip environment of the image build, the emulator runner."""
    tests = str(PROJECT_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import aws_tools

    return aws_tools


def progress(stage: str, message: str) -> None:
    """One progress line on stderr, so long runs show where they are."""
    print(f"[{stage}] {message}", file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    """Python and the installed versions of the packages that shape the figures."""
    return package_versions(VERSIONED)


def machine_info() -> dict[str, Any]:
    """What the figures were measured on; the load average tells how quiet the machine was."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_total_mib"] = round(int(line.split()[1]) / 1024)
                break
    return info


def run_metadata() -> dict[str, Any]:
    """Timestamp, machine and versions: the header of every result file."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def summarize(values: Sequence[float] | Iterable[float], scale: float = 1.0) -> dict[str, float]:
    """count, mean, p50, p95, p99 and max of ``values`` multiplied by ``scale``."""
    array = np.asarray(list(values), dtype=np.float64) * scale
    if array.size == 0:
        return {"count": 0}
    return {
        "count": int(array.size),
        "mean": float(array.mean()),
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def model_files(artifacts: Path) -> dict[str, int]:
    """Sizes in bytes of the model files present in ``artifacts``."""
    return {
        name: (artifacts / name).stat().st_size
        for name in MODEL_FILES
        if (artifacts / name).exists()
    }


def require(path: Path, hint: str) -> Path:
    """``path`` if it exists, else a BenchmarkError telling how to produce it."""
    if not path.exists():
        raise BenchmarkError(f"{path} not found: {hint}")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_memory(pid: int) -> dict[str, int]:
    """Peak (VmHWM) and current (VmRSS) resident set size of a process, in KiB."""
    fields = {"VmHWM": "peak_rss_kib", "VmRSS": "rss_kib"}
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in fields:
            out[fields[key]] = int(line.split()[1])
    return out


class Stopwatch:
    """Elapsed seconds since construction (monotonic)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
