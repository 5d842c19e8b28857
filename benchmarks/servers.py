"""Start each side's app under uvicorn on 127.0.0.1 (one worker), warm it up, measure, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import PROJECT_ROOT, BenchmarkError, free_port, proc_memory, require
from benchmarks.payloads import single_body

Target = Literal["fraudlite", "baseline"]
TARGETS: tuple[Target, ...] = ("fraudlite", "baseline")


@dataclass(frozen=True)
class ServerSpec:
    """How to start one side: command line and environment additions."""

    target: Target
    command: list[str]
    env: dict[str, str]


def server_spec(
    target: Target, artifacts: Path, port: int, extra_args: tuple[str, ...] = ()
) -> ServerSpec:
    """fraudlite through its own CLI (``python -m service``); the baseline as the original ran.

    ``extra_args`` go on the end of either command line (both take uvicorn's ``--http`` and
    ``--loop``; benchmarks/http_compare.py pins them per arm).
    """
    host = ["--host", "127.0.0.1", "--port", str(port), *extra_args]
    if target == "fraudlite":
        model = require(artifacts / "model.onnx", "run fraud-convert on the artifacts first")
        return ServerSpec(
            target, [sys.executable, "-m", "service", "--model", str(model), *host], {}
        )
    model = require(artifacts / "pipeline.joblib", "run fraud-train first")
    app = "benchmarks.baseline.lambda_handler:app"
    # The seed stack ran plain uvicorn (h11 + asyncio). uvicorn's "auto" would now pick
    # httptools and uvloop, installed for fraud-serve, so the baseline is pinned unless an arm
    # asks otherwise.
    if "--http" not in extra_args:
        host += ["--http", "h11"]
    if "--loop" not in extra_args:
        host += ["--loop", "asyncio"]
    command = [sys.executable, "-m", "uvicorn", app, *host, "--workers", "1"]
    return ServerSpec(target, command, {"MODEL_PATH": str(model)})


@dataclass
class RunningServer:
    """A started server process; its output goes to ``log``."""

    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    memory: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, body: bytes, timeout: float = 10.0) -> tuple[int, Any]:
        """POST /predict and return (status, decoded JSON or None)."""
        request = urllib.request.Request(
            self.url + "/predict", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def wait_ready(self, probe: dict[str, Any], timeout: float = 90.0) -> float:
        """Seconds until a valid POST /predict answers 200; raises if the server dies or stalls."""
        started = time.perf_counter()
        body = json.dumps(probe).encode()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"{self.spec.target} server exited with {self.process.returncode}; "
                    f"see {self.log}:\n{self.log.read_text()[-2000:]}"
                )
            try:
                status, _ = self.post(body, timeout=2.0)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
                continue
            if status == 200:
                return time.perf_counter() - started
            raise BenchmarkError(f"{self.spec.target} answered {status} to a valid request")
        raise BenchmarkError(f"{self.spec.target} not ready after {timeout:.0f}s; see {self.log}")

    def warm_up(self, raws: list[dict[str, Any]], requests: int = 200) -> None:
        """Valid single requests, so lazy imports and caches are in place before measuring."""
        for index in range(requests):
            body = json.dumps(single_body(raws[index % len(raws)], self.spec.target)).encode()
            status, answer = self.post(body)
            if status != 200 or "probability_fraud" not in answer:
                raise BenchmarkError(f"{self.spec.target} warm-up request answered {status}")

    def record_memory(self, label: str) -> dict[str, int]:
        """Peak and current RSS of the server process now, stored under ``label``."""
        self.memory[label] = proc_memory(self.process.pid)
        return self.memory[label]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (uvicorn shuts down gracefully), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    target: Target,
    artifacts: Path,
    log_dir: Path,
    extra_args: tuple[str, ...] = (),
    name: str | None = None,
) -> RunningServer:
    """Start ``target`` on a free port; call :meth:`RunningServer.wait_ready` next.

    ``name`` (default: the target) names the log file, so several arms of one target can run.
    """
    port = free_port()
    spec = server_spec(target, artifacts, port, extra_args)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"server_{name or target}.log"
    env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            spec.command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT
        )
    return RunningServer(spec=spec, port=port, process=process, log=log)
