"""fraud-smoke against a real uvicorn server on 127.0.0.1 serving small contract models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from live_server import serve
from service_model import build_model, direct_scores

from ops.smoke import FRAUD_LIKE, LEGITIMATE, SmokeConfig, main, run_smoke
from service.app import create_app
from service.model import load_model
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def server_for(model_path: Path) -> Iterator[str]:
    settings = Settings(model_uri=str(model_path))
    with serve(create_app(settings, load_model(settings))) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("smoke") / "model.onnx", threshold=0.5)


@pytest.fixture(scope="module")
def good_url(good_model: Path) -> Iterator[str]:
    with server_for(good_model) as url:
        yield url


def _quick(url: str, **kw) -> SmokeConfig:
    return SmokeConfig(url, health_attempts=1, health_wait=0.0, timeout=10.0, **kw)


def test_the_smoke_rows_straddle_the_test_models_threshold(good_model: Path) -> None:
    # Guards the premise of the tests below: the fraud-like row scores above 0.5, the other below.
    probability, label = direct_scores(good_model, [FRAUD_LIKE, LEGITIMATE])
    assert probability[0] > 0.5 > probability[1]
    assert label.tolist() == [1, 0]


def test_passes_against_a_healthy_server_and_records_every_check(good_url: str) -> None:
    report = run_smoke(_quick(good_url))
    assert report.passed, report.as_json()
    names = [c.name for c in report.checks]
    assert names == [
        "health",
        "fraud-like flagged",
        "legitimate not flagged",
        "v2 metadata",
        "v2 infer",
    ]
    assert report.model_version and len(report.model_version) == 16


def test_cli_exit_0_and_json_report(good_url: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "smoke.json"
    assert main([good_url + "/", "--attempts", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PASS  v2 infer" in printed and "FAIL" not in printed
    saved = json.loads(out.read_text())
    assert saved["passed"] is True and len(saved["checks"]) == 5


def test_expected_version_is_enforced(good_url: str) -> None:
    serving = run_smoke(_quick(good_url)).model_version
    assert run_smoke(_quick(good_url, expect_version=serving)).passed
    wrong = run_smoke(_quick(good_url, expect_version="0" * 16))
    assert not wrong.passed
    failed = [c for c in wrong.checks if not c.ok]
    assert [c.name for c in failed] == ["expected version"]
    assert "0000000000000000" in failed[0].detail


def test_a_model_that_misses_the_fraud_fails(tmp_path: Path, capsys) -> None:
    # Same graph, threshold above the fraud-like row's probability: it is no longer flagged.
    strict = build_model(tmp_path / "strict.onnx", threshold=0.999)
    with server_for(strict) as url:
        assert main([url, "--attempts", "1"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL  fraud-like flagged" in printed
    assert "PASS  legitimate not flagged" in printed
    assert "FAIL  v2 infer: labels [0, 0], expected [1, 0]" in printed


def test_a_server_without_a_model_fails_on_health(tmp_path: Path) -> None:
    settings = Settings(model_uri=str(tmp_path / "missing.onnx"))
    with serve(create_app(settings, load_model(settings))) as port:
        report = run_smoke(_quick(f"http://127.0.0.1:{port}"))
    assert not report.passed
    assert [c.name for c in report.checks] == ["health"]
    assert "HTTP 503" in report.checks[0].detail


def test_health_is_retried_until_the_attempts_run_out(tmp_path: Path) -> None:
    settings = Settings(model_uri=str(tmp_path / "missing.onnx"))
    notes: list[str] = []
    with serve(create_app(settings, load_model(settings))) as port:
        config = SmokeConfig(f"http://127.0.0.1:{port}", health_attempts=3, health_wait=0.0)
        report = run_smoke(config, say=notes.append)
    assert not report.passed
    assert len(notes) == 3 and all("HTTP 503" in n for n in notes)


def test_nothing_listening_is_a_failure_not_a_crash(capsys) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main([f"http://127.0.0.1:{port}", "--attempts", "1", "--wait", "0"]) == 1
    assert "FAIL  connection" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["ftp://example.org"], ["not a url"], ["http://127.0.0.1:1", "--attempts", "0"]],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


def test_api_key_comes_from_the_environment_and_is_required(monkeypatch) -> None:
    monkeypatch.delenv("SMOKE_TEST_KEY", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["http://127.0.0.1:1", "--api-key-env", "SMOKE_TEST_KEY"])
    assert exited.value.code == 2


def test_installed_console_script_runs(good_url: str) -> None:
    script = Path(sys.executable).with_name("fraud-smoke")
    assert script.exists(), "pip install -e . registers fraud-smoke"
    done = subprocess.run(
        [str(script), good_url, "--attempts", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke test of" in done.stdout and "passed" in done.stdout


def test_credentials_from_the_environment_are_sent_as_headers(monkeypatch) -> None:
    import http.server
    import threading

    seen: list[dict[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SMOKE_KEY", "k-123")
    monkeypatch.setenv("SMOKE_TOKEN", "t-456")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        argv = [url, "--attempts", "1", "--api-key-env", "SMOKE_KEY", "--bearer-env", "SMOKE_TOKEN"]
        assert main(argv) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0]["x-api-key"] == "k-123"
    assert seen[0]["authorization"] == "Bearer t-456"
