"""The Lambda image recipe, read as text: base image, what is installed, what is copied, the CMD.

Also the lock it installs (requirements/service.lock must pin the service extra of
pyproject.toml exactly, minus what the base image ships) and the .dockerignore allow-list,
matched with Docker's own rules (last matching pattern wins; a pattern matching a parent
directory matches everything under it).
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
from aws_tools import DOCKERFILE, DOCKERIGNORE, LOCK, ROOT, lock_pins, normalize

from service.settings import Settings

BASE_IMAGE_PROVIDES = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil"}
BASE_IMAGE_PROVIDES |= {"urllib3", "six"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
    return out


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def args_of(steps: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in steps if kw == keyword]


def arg_defaults(steps: list[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for args in args_of(steps, "ARG"):
        name, _, default = args.partition("=")
        out[name] = default.strip("\"'")
    return out


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m[1], m[0]), value)


# --- base image and Python ---------------------------------------------------------------------


def test_base_is_the_aws_lambda_python_image(steps: list[tuple[str, str]]) -> None:
    froms = args_of(steps, "FROM")
    assert len(froms) == 1, "one stage: the Lambda base image itself"
    variables = arg_defaults(steps)
    base = expand(expand(froms[0], variables), variables)
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.\d+", base), base
    # Overridable for a local or mirrored base: FROM names the ARG, not a literal.
    assert froms[0] == "${BASE_IMAGE}"


def test_python_version_fits_project_and_lock(steps: list[tuple[str, str]]) -> None:
    version = arg_defaults(steps)["PYTHON_VERSION"]
    major, minor = map(int, version.split("."))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    low = re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"])
    assert low and minor >= int(low[1]) and major == 3
    # python:3.11 is Amazon Linux 2 (glibc 2.26): onnxruntime and numpy wheels need 2.28.
    assert minor >= 12
    lock_tool = (ROOT / "requirements" / "lock.py").read_text()
    assert f'("{version}", "x86_64-manylinux_2_34")' in lock_tool
    assert f'("{version}", "aarch64-manylinux_2_34")' in lock_tool


# --- what is installed -------------------------------------------------------------------------


def test_only_the_locked_service_requirements_are_installed(steps: list[tuple[str, str]]) -> None:
    runs = args_of(steps, "RUN")
    installs = [r for r in runs if "pip install" in r]
    assert len(installs) == 1, installs
    command = installs[0].split("&&")[0].split()
    assert command[:2] == ["pip", "install"]
    assert "--require-hashes" in command
    assert "--no-cache-dir" in command
    assert "--only-binary=:all:" in command
    assert command[command.index("-r") + 1] == "/opt/fraudlite/service.lock"
    assert command[command.index("--target") + 1] == '"${LAMBDA_TASK_ROOT}"'
    # Nothing else is named: every argument is a flag or the value of one.
    valued = {"-r", "--target"}
    loose = [
        a
        for i, a in enumerate(command[2:], start=2)
        if not a.startswith("-") and command[i - 1] not in valued
    ]
    assert not loose, loose
    copies = args_of(steps, "COPY")
    assert any(c.split()[0] == "requirements/service.lock" for c in copies)
    assert any(c.split()[-1] == "/opt/fraudlite/" for c in copies)
    for run in runs:
        for tool in ("yum ", "dnf ", "microdnf ", "gcc", "apt-get", "pip3 install", "conda "):
            assert tool not in run, run


def test_no_caches_or_build_leftovers(steps: list[tuple[str, str]]) -> None:
    runs = " ".join(args_of(steps, "RUN"))
    assert "--no-cache-dir" in runs
    assert "rm -rf /root/.cache" in runs


def test_thread_settings_fixed_by_environment(steps: list[tuple[str, str]]) -> None:
    env: dict[str, str] = {}
    for args in args_of(steps, "ENV"):
        for pair in args.split():
            name, _, value = pair.partition("=")
            env[name] = value
    assert env["FRAUD_ORT_INTRA_OP_THREADS"] == "1"
    assert env["FRAUD_ORT_INTER_OP_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "1"
    # The service reads these names; an empty MODEL_FILE leaves FRAUD_MODEL_URI unset.
    variables = {"MODEL_FILE": ""}
    image_env = {
        k: re.sub(r"\$\{MODEL_FILE:\+[^}]*\}", "", expand(v, variables)) for k, v in env.items()
    }
    settings = Settings.from_env(image_env)
    assert settings.ort_intra_op_threads == 1 and settings.ort_inter_op_threads == 1
    assert settings.model_uri is None
    assert env["FRAUD_MODEL_URI"] == "${MODEL_FILE:+/opt/fraudlite/model.onnx}"


# --- what is copied ----------------------------------------------------------------------------


def test_only_service_code_is_copied(steps: list[tuple[str, str]]) -> None:
    sources = []
    for args in args_of(steps, "COPY") + args_of(steps, "ADD"):
        parts = [p for p in args.split() if not p.startswith("--")]
        sources += parts[:-1]
    assert args_of(steps, "ADD") == []
    assert sorted(sources) == sorted(["requirements/service.lock", "${MODEL_FILE}", "service/"])
    for source in sources:
        assert not source.startswith(("train", "convert", "tests", "data", "benchmarks", "."))


def test_cmd_names_the_real_handler(steps: list[tuple[str, str]]) -> None:
    cmds = args_of(steps, "CMD")
    assert len(cmds) == 1
    (handler,) = json.loads(cmds[0])
    module, _, attribute = handler.rpartition(".")
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    assert path.is_file(), path
    tree = ast.parse(path.read_text())
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in assigned, f"{path} does not define {attribute}"
    assert args_of(steps, "ENTRYPOINT") == [], "the base image's entrypoint runs the handler"


# --- .dockerignore -----------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's (Go filepath.Match plus **) pattern as a regex for a slash-separated path."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def docker_ignores(path: str, lines: list[str]) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out of the build context."""
    ignored = False
    parts = path.split("/")
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = line.startswith("!")
        pattern = line[1:].strip() if exclude else line
        pattern = pattern.strip("/")
        regex = _pattern_regex(pattern)
        candidates = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not exclude
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        "service/app.py",
        "service/lambda_handler.py",
        "requirements/service.lock",
        "artifacts/model.onnx",
    ],
)
def test_dockerignore_keeps_what_the_image_needs(path: str) -> None:
    assert not docker_ignores(path, DOCKERIGNORE.read_text().splitlines())


@pytest.mark.parametrize(
    "path",
    [
        "train/features.py",
        "convert/cli.py",
        "tests/test_template.py",
        "data/paysim.csv",
        "artifacts/pipeline.joblib",
        "artifacts/metrics.json",
        "artifacts/xgb_model.json",
        "benchmarks/footprint.py",
        "client/app.py",
        ".venv/bin/python",
        ".git/HEAD",
        "pyproject.toml",
        "requirements/lock.py",
        "service/__pycache__/app.cpython-311.pyc",
        ".aws-sam/build/template.yaml",
    ],
)
def test_dockerignore_keeps_everything_else_out(path: str) -> None:
    assert docker_ignores(path, DOCKERIGNORE.read_text().splitlines())


def test_every_copied_file_is_in_the_context() -> None:
    lines = DOCKERIGNORE.read_text().splitlines()
    for path in (ROOT / "service").rglob("*.py"):
        assert not docker_ignores(path.relative_to(ROOT).as_posix(), lines), path


# --- the lock ------------------------------------------------------------------------------------


def service_extra() -> dict[str, str]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in extra["optional-dependencies"]["service"]:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", requirement.strip())
        assert match, f"service extra requirement not pinned exactly: {requirement}"
        pins[normalize(match[1])] = match[2]
    return pins


def test_lock_pins_the_service_extra_exactly() -> None:
    locked = lock_pins(LOCK.read_text())
    for name, version in service_extra().items():
        if name in BASE_IMAGE_PROVIDES:
            continue
        assert locked.get(name) == version, f"{name}: pyproject {version}, lock {locked.get(name)}"


def test_lock_leaves_out_what_the_base_image_ships() -> None:
    assert "boto3" in service_extra(), "the service needs boto3 for s3:// models"
    leaked = BASE_IMAGE_PROVIDES & lock_pins(LOCK.read_text()).keys()
    assert not leaked, leaked


def test_every_locked_requirement_has_hashes() -> None:
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    requirements = [b for b in blocks if "==" in b.split("\n")[0]]
    assert len(requirements) == len(lock_pins(text)) >= len(service_extra()) - 1
    for block in requirements:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block.split("\n")[0]
    assert "make lock" in text.split("\n", 2)[1]


def test_make_lock_regenerates_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target, "Makefile has no lock target"
    assert "requirements/lock.py" in target[1]
