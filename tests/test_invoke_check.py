"""fraud-invoke-check (CI's image test) against the Lambda bundle under AWS's RIE on 127.0.0.1.

In CI the same command talks to the RIE inside the built image (`make image-test`); here the
emulator runs the exact bundle the image holds (tests/test_lambda_bundle.py builds it), so the
events and the checks on the answers are exercised for real without Docker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_tools import emulator
from service_model import build_model

# The bundle, the emulator binary and the image's Python come from the bundle tests' fixtures.
from test_lambda_bundle import bundle, lambda_python, rie, task  # noqa: F401

from ops.invoke_check import invoke_url, main
from service.schema import MODEL_INPUTS

pytestmark = pytest.mark.slow


def _env(model: Path, cache: Path) -> dict[str, str]:
    return {
        "FRAUD_MODEL_URI": str(model),
        "FRAUD_MODEL_CACHE_DIR": str(cache),
        "FRAUD_ORT_INTRA_OP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


PREAUTH = ("type", "step", "amount", "oldbalanceOrg", "oldbalanceDest")


@pytest.mark.parametrize(
    ("threshold", "inputs", "code"),
    [(0.5, MODEL_INPUTS, 0), (0.999, MODEL_INPUTS, 1), (0.5, PREAUTH, 0)],
    ids=["flags-the-fraud", "misses-the-fraud", "preauth-inputs"],
)
def test_invoke_check_under_the_emulator(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys,
    threshold: float,
    inputs: tuple[str, ...],
    code: int,
) -> None:
    fixture = request.getfixturevalue
    rie_path, python = fixture("rie"), fixture("lambda_python")[0]
    built, task_dir = fixture("bundle"), fixture("task")
    # 0.5: the fraud-like row (p ~ 0.96) is flagged; 0.999: it is not and the check must fail.
    # The V2 request carries the inputs the model's metadata lists (fewer for preauth).
    feature_set = "preauth" if inputs == PREAUTH else "full"
    model = build_model(
        tmp_path / "model.onnx", threshold=threshold, inputs=inputs, feature_set=feature_set
    )
    env = _env(model, tmp_path / "cache")
    with emulator(rie_path, python, built, task_dir, env, tmp_path / "rie.log") as emu:
        assert main([emu.url, "--wait", "30"]) == code, emu.output()[-2000:]
    printed = capsys.readouterr().out
    assert "PASS  GET /health" in printed
    verdict = "PASS" if code == 0 else "FAIL"
    assert f"{verdict}  POST /predict fraud-like" in printed
    assert "PASS  GET /v2/models/fraudlite:" in printed
    assert f"{verdict}  POST /v2/models/fraudlite/infer" in printed


def test_nothing_listening_fails(capsys) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main([f"http://127.0.0.1:{port}", "--wait", "0"]) == 1
    assert "FAIL  emulator" in capsys.readouterr().out


def test_urls() -> None:
    endpoint = "http://127.0.0.1:9000/2015-03-31/functions/function/invocations"
    assert invoke_url("http://127.0.0.1:9000") == endpoint
    assert invoke_url("http://127.0.0.1:9000/") == endpoint
    assert invoke_url(endpoint) == endpoint
    with pytest.raises(ValueError):
        invoke_url("https://lambda.us-east-1.amazonaws.com")
    with pytest.raises(SystemExit) as exited:
        main(["ftp://x"])
    assert exited.value.code == 2
