"""The Locust file authenticates like every client (issue 13): a real headless Locust run
against a real server that requires an API key, with and without the key."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import serve
from service_model import build_model

from service.app import create_app
from service.auth import key_digest
from service.model import LoadedModel, load_model
from service.settings import Settings

# Only looked up, not imported: importing locust patches the standard library with gevent.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (the bench extra)", allow_module_level=True)
ROOT = Path(__file__).resolve().parents[1]
KEY = "locust-key-42"


def run_locust(url: str, out: Path, *extra: str) -> dict[str, dict[str, int]]:
    """Locust headless for 5 s with 2 users; per entry name, requests and failures."""
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"),
        "--headless", "-u", "2", "-r", "2", "-t", "5s", "--stop-timeout", "5", "-H", url,
        "--json-file", str(out), "--only-summary", "--loglevel", "ERROR", *extra,
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, check=False)
    entries = json.loads(out.with_suffix(".json").read_text())
    return {
        e["name"]: {"requests": e["num_requests"], "failures": e["num_failures"]} for e in entries
    }


def test_locust_sends_the_key_and_is_refused_without_it(tmp_path: Path) -> None:
    path = build_model(tmp_path / "model.onnx")
    settings = Settings(model_uri=str(path), api_keys_sha256=(key_digest(KEY),))
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    with serve(create_app(settings, model)) as port:
        url = f"http://127.0.0.1:{port}"
        keyed = run_locust(url, tmp_path / "keyed", "--auth", "apikey", "--api-key", KEY)
        anonymous = run_locust(url, tmp_path / "anonymous")
    assert keyed["single"]["requests"] > 0 and keyed["single"]["failures"] == 0
    assert sum(e["failures"] for e in keyed.values()) == 0  # invalid cases got their 4xx too
    assert anonymous["single"]["requests"] > 0
    assert anonymous["single"]["failures"] == anonymous["single"]["requests"]  # every one a 401
