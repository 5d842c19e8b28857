"""The security checks CI runs (issue 13) are wired in and every exception carries a reason."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_security_checks_then_the_tests() -> None:
    # The tests come last so that pytest's summary closes CI's output.
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands.index("bash .ci/security") < commands.index("make test")
    assert commands[-1] == "make test"
    security = (ROOT / ".ci" / "security").read_text()
    assert "pip-audit" in security and "requirements/service.lock" in security
    assert security.count("checkov -f") == 2  # as is, and with AuthMode=APIKEY
    bash = shutil.which("bash")
    assert bash is not None
    for script in ("run", "security", "install-security-tools"):
        subprocess.run([bash, "-n", str(ROOT / ".ci" / script)], check=True)


def test_ruff_bandit_rules_are_on_and_each_exception_is_explained() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    lint = tomllib.loads(text)["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    ignored = [code for code in lint["ignore"] if code.startswith("S")]
    per_file = {p: [c for c in codes if c.startswith("S")] for p, codes in lint.get(
        "per-file-ignores", {}).items()}  # fmt: skip
    # Nothing in service/ is exempt wholesale except the drift job's two documented rules.
    assert all(not p.startswith("service/") or p == "service/aws/drift_job.py" for p in per_file)
    for code in ignored:  # a global exception is preceded by a comment naming it
        assert re.search(rf"# {code} \([^)]+\): \S", text), code
    for path in per_file:  # a per-file exception has a comment just above it
        before = text[: text.index(f'"{path}" =')].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), path


def test_checkov_skips_have_reasons() -> None:
    config = (ROOT / ".checkov.yaml").read_text()
    for check in yaml.safe_load(config)["skip-check"]:
        assert re.search(rf"# {check} \([^)]+\): \S", config), check
    template = (ROOT / "template.yaml").read_text()
    for match in re.finditer(r"- id: (CKV_\w+)\n\s+comment: >-\n\s+(\S.{20,})", template):
        assert match.group(2).strip(), match.group(1)
    assert template.count("- id: CKV_") == len(re.findall(r"comment: >-\n\s+\S", template))
