"""Offline AWS tooling for the deployment tests: SAM transform, cfn-lint, Lambda bundle, RIE.

Nothing here talks to AWS. The SAM translator runs with a fixed region and a managed-policy map
given in code; cfn-lint runs through its Python API. The Lambda bundle is what the Dockerfile
puts in ``/var/task`` (the locked service requirements, installed by hash from wheels for the
image's Python and glibc), cached between runs under the lock's hash; AWS's Runtime Interface
Emulator (``aws-lambda-rie``) comes from the aws-sam-cli package, installed in its own venv by
``.ci/install-aws-tools`` because its pins clash with the project's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "requirements" / "service.lock"

#: Kept in step with .ci/install-aws-tools (a test checks).
SAM_CLI_VERSION = "1.170.0"
#: The runtime interface client the Lambda Python base image runs; PyPI's build of it.
AWSLAMBDARIC_VERSION = "4.2.2"
#: Stands in for the ECR image URI that `sam build` writes into the template.
FAKE_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudlite:python3.12-v1"
#: The one managed policy the translator might ask for (none is used by template.yaml).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
}


# --- SAM template ------------------------------------------------------------------------------


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as a dict, short-form tags (!Ref, !Sub ...) turned into Fn:: forms."""
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def translate(template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> dict:
    """CloudFormation JSON from the SAM template, as the AWS::Serverless transform makes it.

    The function gets an image URI the way `sam build` gives it one; the region is fixed, so no
    AWS configuration or network is needed.
    """
    import copy

    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(dict(template))
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and props.get("PackageType"):
            props.setdefault("ImageUri", FAKE_IMAGE_URI)
    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    return translator.translate(
        sam, dict(parameters or {}), get_managed_policy_map=lambda: dict(MANAGED_POLICIES)
    )


@dataclass(frozen=True)
class LintProblem:
    """One cfn-lint finding."""

    rule: str
    severity: str
    message: str
    line: int

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity}) line {self.line}: {self.message}"


def cfn_lint(path: Path) -> list[LintProblem]:
    """Errors and warnings cfn-lint reports for a template file (informational ones excluded)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
    problems = [
        LintProblem(m.rule.id, m.rule.severity.lower(), m.message, m.linenumber) for m in matches
    ]
    return [p for p in problems if p.severity in ("error", "warning")]


def resolve_conditions(cfn: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, bool]:
    """Evaluate the template's Conditions for ``parameters`` (defaults filled in).

    Covers what template.yaml uses: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and Ref to
    parameters. Enough to assert what CloudFormation will make of the Fn::If branches.
    """
    values = {
        name: str(spec.get("Default", "")) for name, spec in cfn.get("Parameters", {}).items()
    }
    values.update({k: str(v) for k, v in parameters.items()})
    conditions = cfn.get("Conditions", {})
    done: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return values[node["Ref"]]
        return str(node)

    def truth(node: Any) -> bool:
        (fn, arg), *_ = node.items()
        if fn == "Fn::Equals":
            return value(arg[0]) == value(arg[1])
        if fn == "Fn::Not":
            return not truth(arg[0])
        if fn == "Fn::And":
            return all(truth(a) for a in arg)
        if fn == "Fn::Or":
            return any(truth(a) for a in arg)
        if fn == "Condition":
            return named(arg)
        raise ValueError(f"unsupported condition function {fn}")

    def named(name: str) -> bool:
        if name not in done:
            done[name] = truth(conditions[name])
        return done[name]

    return {name: named(name) for name in conditions}


def apply_conditions(node: Any, conditions: Mapping[str, bool]) -> Any:
    """``node`` with every Fn::If replaced by its chosen branch and AWS::NoValue dropped."""
    no_value = object()

    def walk(n: Any) -> Any:
        if isinstance(n, dict):
            if set(n) == {"Fn::If"}:
                name, yes, no = n["Fn::If"]
                return walk(yes if conditions[name] else no)
            if n == {"Ref": "AWS::NoValue"}:
                return no_value
            out = {k: walk(v) for k, v in n.items()}
            return {k: v for k, v in out.items() if v is not no_value}
        if isinstance(n, list):
            return [v for v in (walk(x) for x in n) if v is not no_value]
        return n

    result = walk(node)
    return None if result is no_value else result


# --- the lock ----------------------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(text: str) -> dict[str, str]:
    """``{normalised name: version}`` for each ``name==version`` requirement of a lock."""
    return {normalize(n): v for n, v in _PIN.findall(text)}


def lock_hash(path: Path = LOCK) -> str:
    """Short content hash of the lock (keys the bundle cache)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# --- the Lambda bundle -------------------------------------------------------------------------


def dockerfile_arg(name: str, dockerfile: Path = DOCKERFILE) -> str | None:
    """Default of ``ARG name=...`` in the Dockerfile (None when absent or without a default)."""
    match = re.search(rf"^ARG\s+{name}=(\S*)\s*$", dockerfile.read_text(), re.MULTILINE)
    return match.group(1).strip("\"'") if match else None


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/fraudlite`` (``~/.cache/fraudlite``): tools and bundles, not the repo."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fraudlite"


def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` (e.g. "3.12"): pyenv's builds, then PATH's real binaries."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted((pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"))
    candidates += [Path(p) / f"python{version}" for p in ("/usr/local/bin", "/usr/bin")]
    for candidate in candidates:
        if not candidate.exists():
            continue
        probe = subprocess.run(
            [str(candidate), "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def wheel_arch(machine: str | None = None) -> str:
    """Wheel architecture name of ``machine`` (default: this one): x86_64 or aarch64."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        (machine or platform.machine()).lower()
    ]


def wheel_platforms(glibc_minor: int = 34, machine: str | None = None) -> list[str]:
    """pip ``--platform`` tags a glibc 2.<minor> Linux accepts, newest first.

    Defaults to the Lambda Python 3.12 image (Amazon Linux 2023, glibc 2.34). pip does not
    expand a ``manylinux_2_34`` tag to the older ones it implies, so every one is listed.
    """
    arch = wheel_arch(machine)
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def pip_env() -> dict[str, str]:
    """The environment for pip: no machine-specific config files, indexes or find-links, as in
    the image build, which only sees the default index. Certificates settings are kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if "PIP_CERT" in os.environ:
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    return env


def pip_target_command(
    target: Path, python_version: str, args: list[str], *, use_cache: bool = False
) -> list[str]:
    """``pip install --target`` of ``args`` for CPython ``python_version`` on the image's
    platforms, wheels only, not byte-compiled (also used by benchmarks/footprint_install.py)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        *(() if use_cache else ("--no-cache-dir",)),
        "--no-compile",
        "--target",
        str(target),
        "--only-binary=:all:",
        *(arg for tag in wheel_platforms() for arg in ("--platform", tag)),
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        *args,
    ]


def _pip_target(target: Path, python_version: str, args: list[str]) -> None:
    subprocess.run(pip_target_command(target, python_version, args), check=True, env=pip_env())


@dataclass(frozen=True)
class Bundle:
    """A built Lambda bundle: ``task`` mirrors /var/task, ``runtime`` /var/runtime."""

    task: Path
    runtime: Path
    python_version: str


def build_bundle(python: Path, python_version: str, lock: Path = LOCK) -> Bundle:
    """The locked requirements (``--require-hashes``) plus awslambdaric, for ``python_version``.

    Byte-compiled by ``python`` as pip does inside the image. Cached under the lock's hash, the
    Python version and the platform; ``service/`` is not part of the cache (see
    :func:`task_root`). Built in a temporary folder and renamed into place, so an interrupted
    build is never reused.
    """
    key = f"{lock_hash(lock)}-cp{python_version.replace('.', '')}-{wheel_platforms()[0]}"
    key += f"-ric{AWSLAMBDARIC_VERSION}"
    final = cache_root() / "lambda-bundle" / key
    if not (final / "complete").exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=final.parent))
        try:
            _pip_target(work / "task", python_version, ["--require-hashes", "-r", str(lock)])
            _pip_target(work / "runtime", python_version, [f"awslambdaric=={AWSLAMBDARIC_VERSION}"])
            compile_all = [str(python), "-S", "-m", "compileall", "-q", "-j0"]
            subprocess.run([*compile_all, str(work / "task"), str(work / "runtime")], check=True)
            (work / "complete").write_text(lock.read_text())
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Bundle(final / "task", final / "runtime", python_version)


def task_root(bundle: Bundle, directory: Path) -> Path:
    """A copy of ``service/`` in ``directory`` (the image's ``COPY service/``), returned."""
    shutil.copytree(
        ROOT / "service", directory / "service", ignore=shutil.ignore_patterns("__pycache__")
    )
    return directory


# --- the Runtime Interface Emulator ------------------------------------------------------------


def aws_tools_dir() -> Path:
    """The separate venv that .ci/install-aws-tools fills with aws-sam-cli."""
    override = os.environ.get("FRAUDLITE_AWS_TOOLS")
    return Path(override) if override else cache_root() / f"aws-tools-sam{SAM_CLI_VERSION}"


def find_rie() -> Path | None:
    """The aws-lambda-rie binary for this machine inside aws-sam-cli's package data."""
    suffix = "arm64" if wheel_arch() == "aarch64" else "x86_64"
    pattern = f"lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{suffix}"
    for path in sorted(aws_tools_dir().glob(pattern)):
        if os.access(path, os.X_OK):
            return path
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    """A running RIE: ``invoke`` posts one event and returns the handler's answer."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def invoke(self, event: Mapping[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST")
        # An opener without proxies: the request must go straight to 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def isolated_env(bundle: Bundle, task: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The function's whole environment: PYTHONPATH is the bundle alone, nothing inherited
    but PATH (so the emulator finds nothing of the project's venv or site-packages)."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{task}:{bundle.task}:{bundle.runtime}",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(bundle.runtime),
        "AWS_LAMBDA_FUNCTION_NAME": "fraudlite-scoring",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        "AWS_REGION": "us-east-1",
        **extra,
    }


def python_command(python: Path) -> list[str]:
    """The interpreter flags of the bundle: -S (no site-packages at all, only PYTHONPATH and the
    standard library) and -s (no user site)."""
    return [str(python), "-S", "-s"]


@contextmanager
def emulator(
    rie: Path,
    python: Path,
    bundle: Bundle,
    task: Path,
    env: Mapping[str, str],
    log: Path,
    handler: str = "service.lambda_handler.handler",
    runtime: str = '-m awslambdaric "$@"',
) -> Iterator[Emulator]:
    """Run ``python -m awslambdaric HANDLER`` under the RIE on 127.0.0.1 (the API's handler
    unless another one of the image, e.g. the drift job's, is named).

    ``runtime`` is what the bootstrap runs with the interpreter instead of awslambdaric (a
    benchmark's own minimal runtime loop, benchmarks/rie_split.py). Both of the RIE's addresses
    are given explicitly: by default its invoke endpoint listens on every interface. The emulator
    is stopped (and waited for) on exit.
    """
    # A bootstrap script, like the image's /var/runtime/bootstrap: the RIE passes the handler
    # name to it and would read interpreter flags given on its own command line as its own. One
    # per log, so that several emulators can share a directory.
    bootstrap = log.with_name(f"{log.stem}.bootstrap")
    flags = " ".join(python_command(python))
    bootstrap.write_text(f"#!/bin/sh\nexec {flags} {runtime}\n")
    bootstrap.chmod(0o755)
    port, api_port = free_port(), free_port()
    command = [
        str(rie),
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{api_port}",
        "--log-level",
        "error",
        str(bootstrap),
        handler,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=task,
            env=isolated_env(bundle, task, env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    try:
        _wait_for_port(port, process)
        yield Emulator(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aws-lambda-rie exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"aws-lambda-rie did not listen on 127.0.0.1:{port} in {timeout}s")


def listening_addresses(pid: int) -> list[str]:
    """``ip:port`` of every TCP socket in LISTEN state owned by ``pid`` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                addresses.append(_decode_address(local, v6))
    return addresses


def _decode_address(hex_address: str, v6: bool) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if v6:
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(words))
    else:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return f"{ip}:{int(port, 16)}"


def urlopen_error_body(exc: urllib.error.HTTPError) -> str:
    """The body of an HTTP error from the emulator, for assertion messages."""
    return exc.read().decode(errors="replace")
