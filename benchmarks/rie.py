"""fraudlite under AWS's Lambda Runtime Interface Emulator with awslambdaric: the closest local
stand-in for Lambda's Init Duration.

Reuses the deployment tests' tooling (tests/aws_tools.py): the Lambda bundle (the locked service
requirements for the image's Python, plus awslambdaric), the RIE binary that .ci/install-aws-tools
installs, and the emulator runner (loopback only, isolated ``-S`` interpreter). Per run: a new
emulator, the time from its start to the first answered v2 event (the RIE starts the runtime on
the first invoke, so this includes Python start, imports and the model load); then, in the first
run, warm invokes for their latency.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# _aws_tools keeps its old name here: the tests import it from this module.
from benchmarks.common import aws_tools as _aws_tools
from benchmarks.common import progress, summarize
from benchmarks.events import http_api_v2_event

WARM_INVOKES = 200


def _lambda_python(tools: Any) -> tuple[Path, str]:
    """The image's Python version if installed here, else this interpreter's (as the tests do)."""
    wanted = tools.dockerfile_arg("PYTHON_VERSION") or "3.12"
    found = tools.find_python(wanted)
    if found is not None:
        return found, wanted
    return Path(sys._base_executable), f"{sys.version_info.major}.{sys.version_info.minor}"  # type: ignore[attr-defined]


def rie_cold_start(artifacts: Path, runs: int, body: dict[str, Any]) -> dict[str, Any]:
    """Start-to-first-answer seconds per run and warm invoke latency, or why not measured."""
    tools = _aws_tools()
    rie = tools.find_rie()
    if rie is None:
        return {"skipped": "aws-lambda-rie not installed: run .ci/install-aws-tools"}
    python, version = _lambda_python(tools)
    progress("rie", f"Lambda bundle for Python {version} (built once, then cached)")
    bundle = tools.build_bundle(python, version)
    first: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fraudlite-rie-") as scratch:
        root = Path(scratch)
        task = tools.task_root(bundle, root / "task")
        env = {
            # The emulator runs in its task root: a relative path would point nowhere.
            "FRAUD_MODEL_URI": str((artifacts / "model.onnx").resolve()),
            "FRAUD_MODEL_CACHE_DIR": str(root / "model-cache"),
        }
        for index in range(runs):
            started = time.perf_counter()
            with tools.emulator(rie, python, bundle, task, env, root / f"rie{index}.log") as emu:
                answer = emu.invoke(http_api_v2_event(body))
                first.append(time.perf_counter() - started)
                if answer.get("statusCode") != 200:
                    raise RuntimeError(f"emulator answered {answer}: {emu.output()[-2000:]}")
                if index == 0:
                    for _ in range(WARM_INVOKES):
                        begun = time.perf_counter()
                        emu.invoke(http_api_v2_event(body))
                        warm.append(time.perf_counter() - begun)
            progress("rie", f"run {index + 1}/{runs}: first answer after {first[-1]:.2f}s")
    return {
        "python": version,
        "runs": runs,
        "first_invoke_s": {"values": first, "median": statistics.median(first)},
        "warm_invoke_ms": summarize(warm, scale=1000),
        "note": "RIE start to first answered v2 POST /predict; warm = later invokes, same runtime",
    }
