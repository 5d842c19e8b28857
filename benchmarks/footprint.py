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
import hashlib
import json
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


_PROFILE = r"""
import json, resource, sys, time

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

model, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start_rss, t0, c0 = rss_kib(), time.perf_counter(), cpu()
from service.lambda_app import build_handler
handler = build_handler({"FRAUD_MODEL_URI": model, "FRAUD_LOG_LEVEL": "WARNING"})
init_s, init_cpu, init_rss = time.perf_counter() - t0, cpu() - c0, rss_kib()
kinds = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"]
rows = [
    {"type": kinds[i % 5], "step": 1 + i % 700, "amount": 1000.0 + 37.0 * i,
     "oldbalanceOrg": 5000.0 + i, "newbalanceOrig": 4000.0, "oldbalanceDest": 100.0 * (i % 9),
     "newbalanceDest": 2000.0, "nameOrig": "C%d" % i, "nameDest": "M%d" % (i % 50)}
    for i in range(size)
]
body = json.dumps({"transactions": rows})
event = {
    "version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict", "rawQueryString": "",
    "headers": {"content-type": "application/json", "host": "localhost"},
    "requestContext": {"http": {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "footprint"}, "stage": "$default",
        "requestId": "footprint", "routeKey": "POST /predict"},
    "body": body, "isBase64Encoded": False,
}
class Context:
    aws_request_id = "footprint"
    function_name = "fraudlite-scoring"
    memory_limit_in_mb = 1024
    def get_remaining_time_in_millis(self):
        return 30000
seconds, cpus = [], []
for _ in range(batches):
    t, c = time.perf_counter(), cpu()
    answer = handler(event, Context())
    assert answer["statusCode"] == 200, answer
    seconds.append(time.perf_counter() - t)
    cpus.append(cpu() - c)
single = dict(event, body=json.dumps(rows[0]))
t, c = time.perf_counter(), cpu()
for _ in range(200):
    assert handler(single, Context())["statusCode"] == 200
single_s, single_cpu = (time.perf_counter() - t) / 200, (cpu() - c) / 200
print(json.dumps({
    "python": sys.version.split()[0], "rss_before_import_kib": start_rss,
    "rss_after_init_kib": init_rss,
    "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "init_s": init_s, "init_cpu_s": init_cpu, "batch_rows": size, "batches": batches,
    "batch_s": seconds, "batch_cpu_s": cpus,
    "single_s_mean": single_s, "single_cpu_s_mean": single_cpu,
}))
"""

#: Lambda gives a function one full vCPU at this memory size, proportionally less below it.
FULL_VCPU_MB = 1769


def find_python(version: str) -> Path | None:
    """An interpreter of ``version``: pyenv's builds first, then /usr/local/bin and /usr/bin."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted((pyenv / "versions").glob(f"{version}.*/bin/python{version}"))
    candidates += [Path(d) / f"python{version}" for d in ("/usr/local/bin", "/usr/bin")]
    return next((c for c in candidates if c.exists()), None)


def memory_profile(model: Path, site: Path, batches: int = 20, size: int = 1000) -> dict[str, Any]:
    """Peak RSS and CPU of a Lambda-like process: imports, model load, ``batches`` batches."""
    python = find_python(PYTHON_VERSION)
    if python is None:
        raise BenchmarkError(f"no Python {PYTHON_VERSION} to run the installed side with")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            PROJECT_ROOT / "service",
            Path(tmp) / "service",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        # Precompiled like the image (pip compiles at install; the Dockerfile compiles service/).
        compile_all = [str(python), "-S", "-m", "compileall", "-q", "-j0", str(site), tmp]
        subprocess.run(compile_all, check=True, capture_output=True)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": f"{tmp}:{site}"}
        env |= {"OMP_NUM_THREADS": "1", "FRAUD_ORT_INTRA_OP_THREADS": "1"}
        process = subprocess.run(
            [str(python), "-S", "-c", _PROFILE, str(model.resolve()), str(batches), str(size)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
    if process.returncode != 0:
        raise BenchmarkError(f"memory profile failed:\n{process.stderr[-3000:]}")
    figures = json.loads(process.stdout.strip().splitlines()[-1])
    figures["model"] = str(model)
    figures["model_bytes"] = model.stat().st_size
    figures["peak_rss_mib"] = figures["peak_rss_kib"] / 1024
    warm = sorted(figures["batch_cpu_s"][1:] or figures["batch_cpu_s"])
    figures["batch_cpu_s_median"] = warm[len(warm) // 2]
    # Wall time scales roughly with 1/CPU share for a single-threaded process below 1 vCPU.
    figures["estimated_s_by_memory_mb"] = {
        str(mb): {
            "init": figures["init_cpu_s"] * max(1.0, FULL_VCPU_MB / mb),
            "batch_1000": figures["batch_cpu_s_median"] * max(1.0, FULL_VCPU_MB / mb),
            "single": figures["single_cpu_s_mean"] * max(1.0, FULL_VCPU_MB / mb),
        }
        for mb in (256, 512, 1024, 1769, 3008)
    }
    return figures


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
