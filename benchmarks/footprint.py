"""``python -m benchmarks.footprint`` (``make footprint``): installed size of dependencies.

Each side is ``pip install --target`` into its own folder, for the Lambda image's interpreter and
platform (CPython 3.12, manylinux up to glibc 2.34, this machine's architecture), from wheels
only, and measured file by file:

- ``fraudlite``: requirements/service.lock, exactly what the Dockerfile installs;
- ``baseline``: the replaced approach's serving stack (xgboost, scikit-learn, imbalanced-learn,
  pandas, joblib, fastapi, mangum) with the standard xgboost wheel, which on Linux x86_64 pulls in
  NVIDIA's NCCL library, as the original project would have installed it;
- ``baseline_cpu``: the same with xgboost-cpu, the fairer comparison.

boto3 is left out of every side: the Lambda Python base image ships it. Versions come from
pyproject.toml where it pins them. Installs are cached (``--cache-dir``) so the benchmark suite can
rerun this cheaply; ``--skip-install`` measures the cache only. Writes benchmarks/results/
footprint.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_RESULTS, PROJECT_ROOT, BenchmarkError, progress, write_json

LOCK = PROJECT_ROOT / "requirements" / "service.lock"
PYTHON_VERSION = "3.12"
GLIBC_MINOR = 34
MIB = 1024 * 1024
#: A zip-packaged Lambda function and its layers may unpack to at most this much.
LAMBDA_ZIP_LIMIT_MIB = 250
TARGET_RATIO = 1 / 3


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
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        platform.machine().lower()
    ]
    return [f"manylinux_2_{m}_{arch}" for m in range(GLIBC_MINOR, 16, -1)] + [
        f"manylinux2014_{arch}"
    ]


def _pip_env() -> dict[str, str]:
    """pip sees the default index only, as the image build does (no machine config files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def install(side: Side, target: Path) -> float:
    """pip install --target ``target``; returns the seconds it took."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--target",
        str(target),
        "--only-binary=:all:",
        *(arg for tag in wheel_platforms() for arg in ("--platform", tag)),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        *side.pip_args,
    ]
    started = time.perf_counter()
    process = subprocess.run(command, env=_pip_env(), capture_output=True, text=True)
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
    work = Path(tempfile.mkdtemp(prefix=f"{side.name}-", dir=cache))
    try:
        seconds = install(side, work / "site")
        (work / "complete").write_text(" ".join(side.pip_args))
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final, seconds


def measure(site: Path) -> dict[str, Any]:
    """Total bytes and files under ``site``, and bytes per installed distribution (from each
    dist-info RECORD; files no RECORD lists, such as bin/ scripts, count in the total only)."""
    total = files = 0
    for path in site.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            files += 1
    packages: dict[str, dict[str, Any]] = {}
    for record in site.glob("*.dist-info/RECORD"):
        name, _, version = record.parent.name[: -len(".dist-info")].partition("-")
        size = 0
        for line in record.read_text().splitlines():
            relative = line.rsplit(",", 2)[0]
            path = site / relative
            if path.is_file() and not path.is_symlink():
                size += path.stat().st_size
        packages[name.lower().replace("_", "-")] = {"version": version, "mib": size / MIB}
    ordered = dict(sorted(packages.items(), key=lambda item: -item[1]["mib"]))
    return {"total_mib": total / MIB, "files": files, "packages": ordered}


def run(out: Path, cache: Path | None, skip_install: bool) -> dict[str, Any]:
    """Install (or reuse) and measure every side; write ``out``; return the report."""
    report: dict[str, Any] = {
        "python": PYTHON_VERSION,
        "platform": wheel_platforms()[0],
        "note": "pip install --target, wheels only; boto3 excluded (the Lambda base image has it)",
        "sides": {},
    }
    for side in sides():
        progress("footprint", f"{side.name}: installing ({side.description})")
        folder, seconds = installed(side, cache, skip_install)
        try:
            figures = measure(folder / "site")
        finally:
            if cache is None:
                shutil.rmtree(folder, ignore_errors=True)
        figures["requirements"] = list(side.pip_args) if side.name != "fraudlite" else "lock"
        figures["description"] = side.description
        figures["install_s"] = seconds
        figures["fits_lambda_zip_limit"] = figures["total_mib"] <= LAMBDA_ZIP_LIMIT_MIB
        report["sides"][side.name] = figures
        progress("footprint", f"{side.name}: {figures['total_mib']:.1f} MiB")
    ours = report["sides"]["fraudlite"]["total_mib"]
    report["ratios"] = {
        "fraudlite_to_baseline": ours / report["sides"]["baseline"]["total_mib"],
        "fraudlite_to_baseline_cpu": ours / report["sides"]["baseline_cpu"]["total_mib"],
    }
    report["target_ratio"] = TARGET_RATIO
    report["meets_target"] = all(r <= TARGET_RATIO for r in report["ratios"].values())
    write_json(out, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.footprint [--out FILE] [--skip-install] ...``."""
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "footprint.json")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache / "fraudlite" / "footprint",
        help="where installs are kept between runs",
    )
    parser.add_argument("--no-cache", action="store_true", help="install into temporary folders")
    parser.add_argument(
        "--skip-install", action="store_true", help="measure cached installs only; never install"
    )
    args = parser.parse_args(argv)
    try:
        report = run(args.out, None if args.no_cache else args.cache_dir, args.skip_install)
    except BenchmarkError as exc:
        print(f"footprint: {exc}", file=sys.stderr)
        return 1
    for name, side in report["sides"].items():
        top = ", ".join(f"{p} {v['mib']:.0f}" for p, v in list(side["packages"].items())[:4])
        print(f"{name:13s} {side['total_mib']:8.1f} MiB  ({top})")
    for name, value in report["ratios"].items():
        print(f"{name}: {value:.3f} (target <= {TARGET_RATIO:.3f})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
