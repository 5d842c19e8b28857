"""schemathesis (every check, both generation modes) against a live uvicorn's /openapi.json.

Two models, a full one and a pre-authorization one (fewer inputs, an account-name input), each
served on 127.0.0.1 by tests/live_server.py. The run is deterministic (``--generation-
deterministic``: the same cases every time) and bounded (``--max-examples`` per operation; the
coverage phase walks each schema's boundaries once). Any failure of any check, a 5xx included,
fails the test with schemathesis' own report. tests/schemathesis_hooks.py makes the positive V2
inference cases follow the one rule JSON Schema cannot say (rows agree with shapes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import serve
from service_model import PREAUTH_INPUTS, build_model

from service import schema
from service.app import create_app
from service.model import LoadedModel, load_model
from service.settings import Settings

TESTS = Path(__file__).parent
#: Cases per operation and phase beyond the coverage phase's boundary cases.
MAX_EXAMPLES = 5
MODELS = {"full": schema.MODEL_INPUTS, "preauth": PREAUTH_INPUTS}


@pytest.fixture(scope="module", params=list(MODELS))
def address(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    kind = request.param
    path = build_model(
        tmp_path_factory.mktemp(f"st-{kind}") / "model.onnx", inputs=MODELS[kind], feature_set=kind
    )
    settings = Settings(model_uri=str(path), max_batch=20)
    model = load_model(settings)
    assert isinstance(model, LoadedModel), model
    with serve(create_app(settings, model)) as port:
        yield f"http://127.0.0.1:{port}"


def test_schemathesis_finds_nothing(address: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{address}/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "30",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-20_000:]
    assert "No issues found" in report, report[-5_000:]
    # Every operation of the document was exercised, the V2 routes included.
    assert "Tested: 13" in report, report[-5_000:]
