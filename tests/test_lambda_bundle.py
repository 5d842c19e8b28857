"""The Lambda bundle under AWS's own runtime: the RIE runs ``python -m awslambdaric`` on it.

The bundle is what the image's /var/task holds: requirements/service.lock installed by hash from
wheels for the image's Python and glibc (Amazon Linux 2023), plus a copy of service/. The
interpreter sees nothing else (-S, PYTHONPATH = the bundle), so a dependency missing from the
lock, or one that only training brings, fails here. Its answers to API Gateway HTTP API (payload
2.0) events must equal the local server's answers for the same model.

Needs PyPI for the first bundle build (cached after that) and the RIE from aws-sam-cli, which
``.ci/install-aws-tools`` installs; in CI (CI=true) a missing RIE fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_tools import (
    SAM_CLI_VERSION,
    Bundle,
    Emulator,
    build_bundle,
    dockerfile_arg,
    emulator,
    find_python,
    find_rie,
    isolated_env,
    listening_addresses,
    python_command,
    task_root,
)
from lambda_events import http_api_event
from service_model import EXAMPLE_TRANSACTION, build_model, example_rows
from starlette.testclient import TestClient

from service.app import create_app
from service.model import load_model
from service.settings import Settings

pytestmark = pytest.mark.slow

TX = {**EXAMPLE_TRANSACTION, "transaction_id": "tx-1"}


def route_event(method: str, path: str, body: Any = None, raw_body: str | None = None) -> dict:
    """An HTTP API 2.0 event for one of template.yaml's explicit routes on the $default stage."""
    return http_api_event(method, path, body, raw_body=raw_body, route_key=f"{method} {path}")


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
    """The image's Python version (Dockerfile ARG PYTHON_VERSION), else this interpreter's."""
    wanted = dockerfile_arg("PYTHON_VERSION") or "3.12"
    found = find_python(wanted)
    if found is not None:
        return found, wanted
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    warnings.warn(
        f"no Python {wanted} here: the bundle runs on Python {mine} (the lock is checked for both)",
        stacklevel=1,
    )
    return Path(sys._base_executable), mine  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def bundle(lambda_python: tuple[Path, str]) -> Bundle:
    python, version = lambda_python
    return build_bundle(python, version)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("bundle-model") / "model.onnx")


@pytest.fixture(scope="module")
def task(bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return task_root(bundle, tmp_path_factory.mktemp("var-task"))


@pytest.fixture(scope="module")
def function_env(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "FRAUD_MODEL_URI": str(model_path),
        "FRAUD_MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache")),
        "FRAUD_ORT_INTRA_OP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="module")
def running(
    rie: Path,
    lambda_python: tuple[Path, str],
    bundle: Bundle,
    task: Path,
    function_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Emulator, float]]:
    """The emulator, and the seconds from start to the first answer (init + first invoke)."""
    log = tmp_path_factory.mktemp("rie") / "rie.log"
    with emulator(rie, lambda_python[0], bundle, task, function_env, log) as emu:
        started = time.perf_counter()
        first = emu.invoke(route_event("GET", "/health"))
        cold = time.perf_counter() - started
        assert first["statusCode"] == 200, emu.output()
        yield emu, cold


@pytest.fixture(scope="module")
def local(model_path: Path) -> TestClient:
    """The local server (Starlette app in this process) on the same model."""
    settings = Settings(model_uri=str(model_path))
    return TestClient(create_app(settings, load_model(settings)))


def assert_same_answer(
    emu: Emulator, local: TestClient, event: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Invoke the function and the local app with the same request; both must answer alike.

    Returns the function's status and JSON body.
    """
    answer = emu.invoke(event)
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    expected = local.request(
        method, path, content=event.get("body"), headers={"content-type": "application/json"}
    )
    assert answer["statusCode"] == expected.status_code, (answer, emu.output()[-3000:])
    assert answer["isBase64Encoded"] is False
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["content-type"] == expected.headers["content-type"]
    body = json.loads(answer["body"])
    assert body == expected.json()
    return answer["statusCode"], body


def test_emulator_listens_on_loopback_only(running: tuple[Emulator, float]) -> None:
    emu, _ = running
    addresses = listening_addresses(emu.process.pid)
    assert addresses, "the emulator has no listening socket"
    assert all(a.startswith("127.0.0.1:") for a in addresses), addresses


def test_single_prediction_matches_local_server(running, local) -> None:
    status, body = assert_same_answer(running[0], local, route_event("POST", "/predict", TX))
    assert status == 200
    assert body["transaction_id"] == "tx-1"
    assert 0.0 <= body["probability_fraud"] <= 1.0


def test_full_batch_matches_local_server(running, local) -> None:
    rows = example_rows(1000, seed=5)
    event = route_event("POST", "/predict", {"transactions": rows})
    status, body = assert_same_answer(running[0], local, event)
    assert status == 200
    assert len(body["predictions"]) == 1000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**TX, "amount": -5}, 422),
        ({k: v for k, v in TX.items() if k != "type"}, 422),
        ({**TX, "type": "WIRE"}, 422),
        ({"transactions": []}, 422),
    ],
    ids=["negative-amount", "missing-type", "unknown-type", "empty-batch"],
)
def test_bad_requests_match_local_server(running, local, body: dict, status: int) -> None:
    got, answer = assert_same_answer(running[0], local, route_event("POST", "/predict", body))
    assert got == status
    assert answer["details"], answer


def test_malformed_json_is_a_400_like_locally(running, local) -> None:
    event = route_event("POST", "/predict", raw_body='{"type": "TRANSFER",')
    assert assert_same_answer(running[0], local, event)[0] == 400


@pytest.mark.parametrize(
    ("path", "status"), [("/health", 200), ("/model", 200), ("/openapi.json", 200), ("/nope", 404)]
)
def test_get_routes_match_local_server(running, local, path: str, status: int) -> None:
    assert assert_same_answer(running[0], local, route_event("GET", path))[0] == status


def test_bundle_interpreter_sees_only_the_bundle(
    lambda_python: tuple[Path, str], bundle: Bundle, task: Path, function_env: dict[str, str]
) -> None:
    """Same interpreter flags and environment as under the emulator: no site-packages of the
    project venv or the interpreter leak in, and nothing from training is importable."""
    python = lambda_python[0]
    probe = (
        "import importlib.util, json, sys\n"
        "mods = ['xgboost', 'sklearn', 'imblearn', 'pandas', 'joblib', 'boto3', 'train',"
        " 'convert', 'fastapi', 'onnx', 'onnxruntime', 'numpy', 'mangum', 'awslambdaric']\n"
        "print(json.dumps({'path': sys.path, 'prefix': sys.base_prefix,"
        " 'found': {m: importlib.util.find_spec(m) is not None for m in mods}}))\n"
    )
    env = isolated_env(bundle, task, function_env)
    out = subprocess.run(
        [*python_command(python), "-c", probe],
        cwd=task,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    allowed = (str(task), str(bundle.task), str(bundle.runtime), report["prefix"])
    leaked = [p for p in report["path"] if p and not p.startswith(allowed)]
    assert not leaked, leaked
    assert not [p for p in report["path"] if "site-packages" in p], report["path"]
    found = report["found"]
    for absent in ("xgboost", "sklearn", "imblearn", "pandas", "joblib", "boto3", "train"):
        assert not found[absent], f"{absent} is importable in the Lambda bundle"
    for absent in ("convert", "fastapi", "onnx"):
        assert not found[absent], f"{absent} is importable in the Lambda bundle"
    for present in ("onnxruntime", "numpy", "mangum", "awslambdaric"):
        assert found[present], f"{present} missing from the Lambda bundle"


def test_model_loads_once_per_container(running: tuple[Emulator, float]) -> None:
    """Init runs once: warm invocations reuse the model (the cold start time is only printed)."""
    emu, cold = running
    for _ in range(3):
        assert emu.invoke(route_event("GET", "/health"))["statusCode"] == 200
    output = emu.output()
    assert output.count("loaded from") == 1, output[-3000:]
    assert output.count("START RequestId") >= 4
    print(f"\nRIE cold start (process start to first answer): {cold:.2f} s")


def test_ci_installs_the_sam_cli_version_the_tests_look_for() -> None:
    script = (Path(__file__).resolve().parents[1] / ".ci" / "install-aws-tools").read_text()
    assert f"SAM_CLI_VERSION={SAM_CLI_VERSION}\n" in script
    assert "aws-tools-sam$SAM_CLI_VERSION" in script
