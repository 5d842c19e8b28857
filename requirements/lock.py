"""Regenerate ``requirements/service.lock`` from pyproject.toml's ``service`` extra (``make lock``).

The lock is what the Lambda image installs (``pip install --require-hashes``). It holds the
service extra minus boto3 and its dependencies, which the AWS Lambda Python base image already
ships. It is compiled once, universally (markers instead of one platform), by a pinned uv that
lives in its own throwaway virtual environment, never in the project venv. Every file of every
pinned release is hashed, so the same lock installs on x86_64 and arm64.

After compiling, the script proves the pins install from wheels alone (no compiler in the
image) on every target the deployment uses: CPython 3.12 on Amazon Linux 2023 (glibc 2.34,
the Lambda ``python:3.12`` image) for x86_64 and arm64, and the project's own CPython 3.11.
Usage: ``python requirements/lock.py [--check]`` (``--check`` compares instead of writing).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "service.lock"
UV_VERSION = "0.13.8"
#: Installed by the Lambda Python base image with boto3; the lock must not install them again.
BASE_IMAGE_PROVIDES = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
)
#: (python version, uv platform) pairs every pin must have a wheel for.
WHEEL_TARGETS = (
    ("3.12", "x86_64-manylinux_2_34"),
    ("3.12", "aarch64-manylinux_2_34"),
    ("3.11", "x86_64-manylinux_2_34"),
)
LOWEST_PYTHON = "3.11"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def service_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The service extra's requirement strings, without what the base image provides."""
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["service"]
    kept = []
    for requirement in extra:
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if normalize(name) not in BASE_IMAGE_PROVIDES:
            kept.append(requirement)
    return kept


def pins(lock_text: str) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a lock file."""
    return {normalize(name): version for name, version in _PIN.findall(lock_text)}


def tools_dir() -> Path:
    """Where the pinned uv lives (outside the repo, reused between runs)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "fraudlite" / f"lock-tools-uv{UV_VERSION}"


def ensure_uv() -> Path:
    """Install uv==UV_VERSION into its own venv once; return the uv executable."""
    target = tools_dir()
    uv = target / "bin" / "uv"
    if uv.exists():
        return uv
    print(f"installing uv=={UV_VERSION} into {target}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    subprocess.run(
        [str(target / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
        check=True,
    )
    return uv


def compile_lock(uv: Path, workdir: Path) -> str:
    """Compile the universal hashed lock for the service requirements; return its text."""
    source = workdir / "service.in"
    source.write_text("\n".join(service_requirements()) + "\n")
    out = workdir / "service.lock"
    subprocess.run(
        [
            str(uv),
            "pip",
            "compile",
            "service.in",
            "--universal",
            "--python-version",
            LOWEST_PYTHON,
            "--generate-hashes",
            "--custom-compile-command",
            "make lock",
            "--quiet",
            "-o",
            str(out),
        ],
        cwd=workdir,
        check=True,
    )
    return out.read_text()


def check_wheels(uv: Path, workdir: Path, expected: dict[str, str]) -> None:
    """Fail unless each target resolves, from wheels only, to exactly the locked pins."""
    for python, platform in WHEEL_TARGETS:
        result = subprocess.run(
            [
                str(uv),
                "pip",
                "compile",
                "service.in",
                "--python-version",
                python,
                "--python-platform",
                platform,
                "--only-binary",
                ":all:",
                "--no-header",
                "--no-annotate",
                "--quiet",
            ],
            cwd=workdir,
            check=True,
            capture_output=True,
            text=True,
        )
        got = pins(result.stdout)
        if got != expected:
            raise SystemExit(f"cp{python} {platform}: wheels resolve to {got}, lock has {expected}")
        print(f"ok: every pin has a wheel for CPython {python} on {platform}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Compile, verify and write (or, with --check, compare) requirements/service.lock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the lock would change")
    args = parser.parse_args(argv)
    uv = ensure_uv()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        text = compile_lock(uv, work)
        locked = pins(text)
        leaked = sorted(BASE_IMAGE_PROVIDES & locked.keys())
        if leaked:
            raise SystemExit(f"the base image provides {leaked}; something pulled them in")
        check_wheels(uv, work, locked)
    if args.check:
        if LOCK.read_text() != text:
            print(f"{LOCK} is out of date: run `make lock`", file=sys.stderr)
            return 1
        print(f"{LOCK} is up to date")
        return 0
    LOCK.write_text(text)
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(locked)} pinned packages", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
