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

``--model artifacts/model.onnx`` adds the memory a Lambda instance needs (what MemorySize in
template.yaml is chosen from): the handler of service/lambda_handler.py is built in a fresh
``python -S`` process that sees only the installed fraudlite side and a copy of service/ (as the
image does), then scores batches of 1,000 transactions; the process's peak RSS and CPU seconds
are recorded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_RESULTS, BenchmarkError, progress, write_json
from benchmarks.footprint_install import (
    GLIBC_MINOR,
    LOCK,
    PYTHON_VERSION,
    Side,
    install,
    installed,
    sides,
    wheel_platforms,
)
from benchmarks.footprint_memory import FULL_VCPU_MB, memory_profile

# Re-exported: the installing and the memory profile moved to their own modules.
__all__ = [
    "FULL_VCPU_MB",
    "GLIBC_MINOR",
    "LAMBDA_ZIP_LIMIT_MIB",
    "LOCK",
    "MIB",
    "PYTHON_VERSION",
    "TARGET_RATIO",
    "Side",
    "install",
    "installed",
    "main",
    "measure",
    "memory_profile",
    "run",
    "sides",
    "wheel_platforms",
]

MIB = 1024 * 1024
#: A zip-packaged Lambda function and its layers may unpack to at most this much.
LAMBDA_ZIP_LIMIT_MIB = 250
TARGET_RATIO = 1 / 3


def measure(site: Path) -> dict[str, Any]:
    """Total bytes and files under ``site``, and bytes per installed distribution (from each
    dist-info RECORD; files no RECORD lists, such as bin/ scripts, count in the total only)."""
    total = files = 0
    for path in site.rglob("*"):
        # Bytecode is left out on every side (pip ran with --no-compile; the memory profile
        # compiles the fraudlite side in place, as the image build does).
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            total += path.stat().st_size
            files += 1
    packages: dict[str, dict[str, Any]] = {}
    for record in site.glob("*.dist-info/RECORD"):
        name, _, version = record.parent.name[: -len(".dist-info")].partition("-")
        size = 0
        for line in record.read_text().splitlines():
            relative = line.rsplit(",", 2)[0]
            path = site / relative
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                size += path.stat().st_size
        packages[name.lower().replace("_", "-")] = {"version": version, "mib": size / MIB}
    ordered = dict(sorted(packages.items(), key=lambda item: -item[1]["mib"]))
    return {"total_mib": total / MIB, "files": files, "packages": ordered}


def run(
    out: Path, cache: Path | None, skip_install: bool, model: Path | None = None
) -> dict[str, Any]:
    """Install (or reuse) and measure every side (and, given a model, the memory an instance
    needs); write ``out``; return the report."""
    report: dict[str, Any] = {
        "python": PYTHON_VERSION,
        "platform": wheel_platforms()[0],
        "note": "pip install --target, wheels only; boto3 excluded (the Lambda base image has it)",
        "sides": {},
    }
    for side in sides():
        progress("footprint", f"{side.name}: {side.description}")
        folder, seconds = installed(side, cache, skip_install)
        try:
            figures = measure(folder / "site")
            if model is not None and side.name == "fraudlite":
                progress("footprint", f"memory: handler + {model} + batches of 1,000")
                report["memory"] = memory_profile(model, folder / "site")
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
    parser.add_argument(
        "--model", type=Path, help="also measure a Lambda instance's memory with this model.onnx"
    )
    args = parser.parse_args(argv)
    try:
        cache = None if args.no_cache else args.cache_dir
        report = run(args.out, cache, args.skip_install, args.model)
    except BenchmarkError as exc:
        print(f"footprint: {exc}", file=sys.stderr)
        return 1
    for name, side in report["sides"].items():
        top = ", ".join(f"{p} {v['mib']:.0f}" for p, v in list(side["packages"].items())[:4])
        print(f"{name:13s} {side['total_mib']:8.1f} MiB  ({top})")
    for name, value in report["ratios"].items():
        print(f"{name}: {value:.3f} (target <= {TARGET_RATIO:.3f})")
    if "memory" in report:
        m = report["memory"]
        print(
            f"memory: peak RSS {m['peak_rss_mib']:.0f} MiB, init {m['init_s']:.2f} s "
            f"({m['init_cpu_s']:.2f} CPU s), batch of {m['batch_rows']} "
            f"{m['batch_cpu_s_median'] * 1000:.0f} CPU ms, one transaction "
            f"{m['single_cpu_s_mean'] * 1000:.2f} CPU ms"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
