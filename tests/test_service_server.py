"""The app under a real uvicorn server on 127.0.0.1: concurrency, streaming limits, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serve
from service_model import build_model, direct_scores, example_rows

from service.app import create_app
from service.cli import build_parser
from service.model import load_model
from service.settings import Settings

uvicorn = pytest.importorskip("uvicorn")

MAX_BODY = 50_000


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("server") / "model.onnx")


@pytest.fixture(scope="module")
def base_url(model_path: Path) -> Iterator[str]:
    """uvicorn serving the app on a free 127.0.0.1 port, in a background thread."""
    settings = Settings(model_uri=str(model_path), max_body_bytes=MAX_BODY)
    app = create_app(settings, load_model(settings))
    with serve(app) as port:
        yield f"http://127.0.0.1:{port}"


def test_200_concurrent_requests_are_all_answered_correctly(
    base_url: str, model_path: Path
) -> None:
    rows = example_rows(350, seed=21)
    singles = rows[:150]
    batches = [rows[150 + 5 * i : 155 + 5 * i] for i in range(40)]
    invalid = [{**row, "amount": -1.0} for row in rows[:10]]
    single_expected = [float(direct_scores(model_path, [row])[0][0]) for row in singles]
    batch_expected = [direct_scores(model_path, batch)[0].tolist() for batch in batches]

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            calls = [
                client.post("/predict", json={**r, "transaction_id": i})
                for i, r in enumerate(singles)
            ]
            calls += [client.post("/predict", json={"transactions": b}) for b in batches]
            calls += [client.post("/predict", json=r) for r in invalid]
            return await asyncio.gather(*calls)  # fmt: skip

    responses = asyncio.run(run())
    assert len(responses) == 200
    for i, response in enumerate(responses[:150]):
        assert response.status_code == 200
        assert response.json()["transaction_id"] == i
        assert response.json()["probability_fraud"] == single_expected[i]
    for b, response in enumerate(responses[150:190]):
        assert response.status_code == 200
        got = [p["probability_fraud"] for p in response.json()["predictions"]]
        assert got == batch_expected[b]
    for response in responses[190:]:
        assert response.status_code == 422
        assert response.json()["details"][0]["field"] == "amount"
    assert len({r.headers["x-request-id"] for r in responses}) == 200


def test_a_chunked_body_over_the_limit_is_stopped_with_413(base_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"transactions": ['
        for _ in range(60):
            yield (
                b'{"type": "PAYMENT", "step": 1, "amount": 1.0, "nameOrig": "'
                + b"C" * 1000
                + b'"},'
            )
        yield b"{}]}"

    response = httpx.post(
        f"{base_url}/predict",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["error"]


def test_a_declared_length_over_the_limit_is_413(base_url: str) -> None:
    body = json.dumps({"transactions": [{"nameOrig": "C" * (MAX_BODY + 10)}]})
    response = httpx.post(
        f"{base_url}/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_cli_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.model, args.host, args.port) == (None, "127.0.0.1", 8000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env.update(extra)
    return env


def test_python_m_service_serves_the_model(model_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--model", str(model_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        url = f"http://127.0.0.1:{port}"
        health = _wait_for(url + "/health", process)
        assert health.status_code == 200
        tx = example_rows(1, seed=2)[0]
        answer = httpx.post(url + "/predict", json=tx).json()
        assert answer["probability_fraud"] == float(direct_scores(model_path, [tx])[0][0])
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=20)
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert any(line["route"] == "/predict" and line["status"] == 200 for line in requests)
    assert b"fraud-serve: model" in stderr


def test_cli_rejects_bad_configuration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service"],
        capture_output=True,
        text=True,
        env=_env(FRAUD_THRESHOLD="2"),
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "FRAUD_THRESHOLD" in result.stderr


def _wait_for(url: str, process: subprocess.Popen[Any]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 30 s")
