"""The dependency sets the footprint benchmark compares, and installing each into its own folder.

Every side is ``pip install --target`` for the Lambda image's interpreter and platform (CPython
3.12, manylinux up to glibc 2.34, this machine's architecture), from wheels only. The pip command,
its platform tags and its environment are the deployment tests' (tests/aws_tools.py), so the
footprint measures what the Lambda bundle tests build.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import PROJECT_ROOT, BenchmarkError, aws_tools

LOCK = PROJECT_ROOT / "requirements" / "service.lock"
PYTHON_VERSION = "3.12"
GLIBC_MINOR = 34


@dataclass(frozen=True)
class Side:
    """One dependency set: a name, what to pass to pip, and a one-line description."""

    name: str
    pip_args: tuple[str, ...]
    description: str


def _pins() -> dict[str, str]:
    """Exact pins of every extra in pyproject.toml, by normalised name."""
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirements in extras["optional-dependencies"].values():
        for requirement in requirements:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", requirement.strip())
            if match:
                pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def sides() -> list[Side]:
    """The three dependency sets measured."""
    pins = _pins()
    xgboost = pins["xgboost-cpu"]
    common = [
        f"scikit-learn=={pins['scikit-learn']}",
        f"imbalanced-learn=={pins['imbalanced-learn']}",
        f"pandas=={pins['pandas']}",
        f"joblib=={pins['joblib']}",
        f"fastapi=={pins['fastapi']}",
        f"mangum=={pins['mangum']}",
    ]
    return [
        Side(
            "fraudlite",
            ("--require-hashes", "-r", str(LOCK)),
            "requirements/service.lock (onnxruntime, numpy, starlette, msgspec, mangum)",
        ),
        Side(
            "baseline",
            (f"xgboost=={xgboost}", *common),
            "replaced stack with the standard xgboost wheel (pulls NVIDIA NCCL on x86_64)",
        ),
        Side("baseline_cpu", (f"xgboost-cpu=={xgboost}", *common), "replaced stack, xgboost-cpu"),
    ]


def wheel_platforms() -> list[str]:
    """pip ``--platform`` tags for the Lambda Python 3.12 image on this architecture."""
    return aws_tools().wheel_platforms(GLIBC_MINOR)


def install(side: Side, target: Path) -> float:
    """pip install --target ``target``; returns the seconds it took."""
    tools = aws_tools()
    # pip's own cache is kept (unlike the bundle tests): reruns of the benchmark suite are cheap.
    command = tools.pip_target_command(target, PYTHON_VERSION, list(side.pip_args), use_cache=True)
    started = time.perf_counter()
    process = subprocess.run(command, env=tools.pip_env(), capture_output=True, text=True)
    if process.returncode != 0:
        raise BenchmarkError(f"pip install for {side.name} failed:\n{process.stderr[-3000:]}")
    return time.perf_counter() - started


def cache_key(side: Side) -> str:
    """Changes whenever what the side installs could change."""
    material = "\n".join([*side.pip_args, PYTHON_VERSION, *wheel_platforms()[:1]])
    if "-r" in side.pip_args:
        material += LOCK.read_text()
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def installed(side: Side, cache: Path | None, skip_install: bool) -> tuple[Path, float | None]:
    """The folder holding the side's installed packages, installing it unless cached."""
    if cache is None:
        target = Path(tempfile.mkdtemp(prefix=f"footprint-{side.name}-"))
        return target, install(side, target / "site")
    final = cache / f"{side.name}-{cache_key(side)}"
    if (final / "complete").exists():
        return final, None
    if skip_install:
        raise BenchmarkError(f"{side.name}: nothing cached in {final} (run without --skip-install)")
    cache.mkdir(parents=True, exist_ok=True)
    # Installed beside the final folder and renamed into place: an interrupted install is never
    # mistaken for a complete one.
    work = Path(tempfile.mkdtemp(prefix=f"{side.name}-", dir=cache))
    try:
        seconds = install(side, work / "site")
        (work / "complete").write_text(" ".join(side.pip_args))
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final, seconds
