"""Under AWS's Lambda runtime (RIE + awslambdaric, the image's bundle): per invocation one valid
EMF record, and one decision record per scored transaction, on the function's stdout.

The bundle holds requirements/service.lock only, so this also proves the Lambda path needs
nothing from the ``server`` extra (prometheus_client). Needs the RIE from ``.ci/install-aws-tools``
(CI fails without it, elsewhere the test skips) and PyPI for the first bundle build.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_tools import (
    Bundle,
    Emulator,
    build_bundle,
    dockerfile_arg,
    emulator,
    find_python,
    find_rie,
    task_root,
)
from emf_spec import check_emf, is_emf
from lambda_events import http_api_event
from service_model import EXAMPLE_TRANSACTION, build_model, direct_scores, example_rows

from service import schema

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rie() -> Path:
    path = find_rie()
    if path is None:
        reason = "aws-lambda-rie not installed: run .ci/install-aws-tools"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run it before the tests)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def lambda_python() -> tuple[Path, str]:
    wanted = dockerfile_arg("PYTHON_VERSION") or "3.12"
    found = find_python(wanted)
    if found is not None:
        return found, wanted
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    warnings.warn(f"no Python {wanted} here: the bundle runs on Python {mine}", stacklevel=1)
    return Path(sys._base_executable), mine  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("rie-telemetry") / "model.onnx")


@pytest.fixture(scope="module")
def running(
    rie: Path,
    lambda_python: tuple[Path, str],
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Emulator]:
    bundle: Bundle = build_bundle(*lambda_python)
    task = task_root(bundle, tmp_path_factory.mktemp("var-task"))
    env = {
        "FRAUD_MODEL_URI": str(model_path),
        "FRAUD_MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache")),
        "FRAUD_ORT_INTRA_OP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    log = tmp_path_factory.mktemp("rie") / "rie.log"
    with emulator(rie, lambda_python[0], bundle, task, env, log) as emu:
        yield emu


def route_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    return http_api_event(method, path, body, route_key=f"{method} {path}")


def lines_of(emu: Emulator) -> list[str]:
    return emu.output().splitlines()


def wait_for_lines(emu: Emulator, emf: int, decisions: int) -> tuple[list[dict], list[dict]]:
    """The EMF and decision records written so far, once at least the counts are there
    (the runtime's stdout reaches the log file a moment after the answer)."""
    deadline = time.monotonic() + 15
    while True:
        lines = lines_of(emu)
        records = [json.loads(line) for line in lines if line.startswith("{")]
        emf_lines = [line for line in lines if is_emf(line)]
        decided = [r for r in records if r.get("event") == "decision"]
        if (len(emf_lines) >= emf and len(decided) >= decisions) or time.monotonic() > deadline:
            return [check_emf(line) for line in emf_lines], decided


def test_one_emf_record_per_invocation_and_one_decision_per_transaction(
    running: Emulator, model_path: Path
) -> None:
    emu = running
    rows = example_rows(5, seed=13)
    v2_rows = example_rows(2, seed=14)
    v2_inputs = [
        {
            "name": name,
            "datatype": "BYTES" if name == "type" else "FP32",
            "shape": [2],
            "data": [row[name] for row in v2_rows],
        }
        for name in schema.MODEL_INPUTS
    ]
    calls = [
        (route_event("GET", "/health"), 0),
        (route_event("POST", "/predict", {**EXAMPLE_TRANSACTION, "transaction_id": "rie-1"}), 1),
        (route_event("POST", "/predict", {"transactions": rows}), 5),
        (route_event("POST", "/predict", {**EXAMPLE_TRANSACTION, "amount": -1}), 0),
        (route_event("POST", "/v2/models/fraudlite/infer", {"inputs": v2_inputs}), 2),
    ]
    emf_total, decision_total = 0, 0
    for event, scored in calls:
        answer = emu.invoke(event)
        assert answer["statusCode"] in (200, 422), (answer, emu.output()[-2000:])
        emf_total += 1
        decision_total += scored
        emf, decisions = wait_for_lines(emu, emf_total, decision_total)
        # Exactly one more of each kind, never more: one record per invocation.
        assert len(emf) == emf_total, emu.output()[-3000:]
        assert len(decisions) == decision_total
    emf, decisions = wait_for_lines(emu, emf_total, decision_total)
    assert emf[0]["ColdStarts"] == 1 and all("ColdStarts" not in r for r in emf[1:])
    assert [r["Route"] for r in emf] == [
        "/health",
        "/predict",
        "/predict",
        "/predict",
        "/v2/models/{model}/infer",
    ]
    assert emf[2]["TransactionsScored"] == 5
    assert emf[2]["TransactionsFlagged"] == int(direct_scores(model_path, rows)[1].sum())
    assert emf[3]["ClientErrors"] == 1
    assert decisions[0]["transaction_id"] == "rie-1"
    # Every record of a request carries that request's id (API Gateway's).
    assert len({d["request_id"] for d in decisions[1:6]}) == 1
    # Nothing but JSON lines from the service: the metrics need the EMF record on its own line.
    service_lines = [line for line in lines_of(emu) if '"event"' in line]
    assert all(line.startswith("{") and line.endswith("}") for line in service_lines)
