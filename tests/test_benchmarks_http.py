"""Issue 20's HTTP and Lambda-split harnesses (benchmarks/http_compare.py, benchmarks/rie_split.py)
and fraud-serve's choice of uvicorn's HTTP protocol and loop. Counts, fields and answers only:
no timing is asserted. The load clients run against a tiny local server that answers 200 and
422 in turn and counts what it sent."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import re
import shutil
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import http_compare, rie_split
from benchmarks.common import PROJECT_ROOT
from service import cli

# --- a tiny keep-alive HTTP/1.1 server ----------------------------------------------------------


class TinyServer:
    """Answers every request on 127.0.0.1, 200 and 422 in turn per connection; counts them."""

    def __init__(self) -> None:
        self.sent: Counter[int] = Counter()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        turn = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
                await reader.readexactly(length)
                status = 200 if turn % 2 == 0 else 422
                turn += 1
                body = b'{"ok": true}' if status == 200 else b'{"detail": "no"}'
                reason = b"OK" if status == 200 else b"Unprocessable Entity"
                # Counted before it is sent: a client may read it before drain() returns here.
                self.sent[status] += 1
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (status, reason, len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> TinyServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    async def _shutdown(self) -> None:
        """Close the listener and end the open connections' tasks (no coroutine left pending)."""
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture()
def tiny() -> Iterator[TinyServer]:
    with TinyServer() as server:
        yield server


BODIES = [json.dumps({"n": i, "note": "]] a Lua long-bracket closer"}).encode() for i in range(5)]


def test_python_client_counts_every_response_by_status(tiny: TinyServer) -> None:
    requests = [http_compare.http_request("/predict", body) for body in BODIES]
    result = http_compare.python_load(tiny.port, requests, connections=3, seconds=0.5)
    assert result.requests > 0
    assert result.requests == sum(result.statuses.values())
    # Every request sent was read back before the deadline stopped a connection.
    assert result.statuses == {str(k): v for k, v in sorted(tiny.sent.items())}
    assert set(result.statuses) == {"200", "422"}
    assert result.errors == {}
    figures = result.as_dict()
    assert figures["requests_per_s"] > 0
    assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
    assert figures["client_cpu_share"] is not None


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_client_counts_responses_and_non_2xx(tiny: TinyServer, tmp_path: Path) -> None:
    client = http_compare.LoadClient("wrk", BODIES, tmp_path, shutil.which("wrk"))
    result = client.run(tiny.port, connections=2, seconds=1)
    assert result.client == "wrk"
    sent = sum(tiny.sent.values())
    # wrk does not count the requests still in flight when its time is up (one per connection).
    assert sent - 2 <= result.requests <= sent
    assert result.statuses["2xx/3xx"] + result.statuses["non-2xx/3xx"] == result.requests
    assert tiny.sent[422] - 2 <= result.statuses["non-2xx/3xx"] <= tiny.sent[422]
    assert result.latency_ms["p50"] <= result.latency_ms["p99"]


def test_parse_wrk_reads_the_scripts_summary() -> None:
    line = (
        f"{http_compare.WRK_MARKER}"
        '{"requests": 100, "duration_us": 2000000, "errors": {"connect": 0, "read": 1, '
        '"write": 0, "status": 7, "timeout": 0}, "latency_us": {"p50": 1500, "p90": 2000, '
        '"p99": 9000, "p999": 12000, "mean": 1600.5, "max": 15000}}'
    )
    result = http_compare.parse_wrk("Running 2s test\n" + line + "\n", client_cpu_s=0.1)
    assert result.requests == 100 and result.seconds == 2.0
    assert result.statuses == {"2xx/3xx": 93, "non-2xx/3xx": 7}
    assert result.errors == {"read": 1}
    assert result.latency_ms["p99"] == 9.0
    assert result.as_dict()["client_cpu_share"] == pytest.approx(0.05)
    with pytest.raises(http_compare.BenchmarkError):
        http_compare.parse_wrk("no summary", 0.0)


def test_wrk_script_keeps_bodies_intact() -> None:
    script = http_compare.wrk_script(BODIES)
    for body in BODIES:
        literal = http_compare._lua_string(body.decode())
        assert literal in script
        level = literal.index("[", 1)
        assert literal[level + 1 : -level - 1] == body.decode()
    assert 'wrk.format("POST", "/predict"' in script


def test_percentiles_are_nearest_rank() -> None:
    figures = http_compare.percentiles_ms([i * 1_000_000 for i in range(1, 101)])  # 1..100 ms
    assert figures["p50"] == 50.0 and figures["p90"] == 90.0 and figures["p99"] == 99.0
    assert figures["max"] == 100.0


def fake_round(rps: float, p99: float, cpu: float) -> dict[str, Any]:
    return {
        "seconds": 10.0,
        "requests": int(rps * 10),
        "requests_per_s": rps,
        "latency_ms": {"p50": p99 / 4, "p90": p99 / 2, "p99": p99},
        "statuses": {"2xx/3xx": int(rps * 10), "non-2xx/3xx": 0},
        "errors": {},
        "server_cpu_us_per_request": cpu,
        "server_runqueue_wait_us_per_request": 5.0,
        "client_cpu_share": 0.1,
        "load_average_1m": 1.0,
    }


def fake_report(tmp_path: Path) -> dict[str, Any]:
    arms = {
        "fraudlite_h11_asyncio": [fake_round(2000, 8, 450)] * 3,
        "fraudlite_httptools_uvloop": [fake_round(3000, 5, 300)] * 3,
        "baseline_h11_asyncio": [fake_round(250, 50, 4000)] * 3,
        "baseline_httptools_uvloop": [fake_round(260, 48, 3900)] * 3,
    }
    summary = {name: http_compare.summarize_arm(rounds) for name, rounds in arms.items()}
    for name in summary:
        arm = http_compare.ARMS[name]
        summary[name].update({"target": arm.target, "http": arm.http, "loop": arm.loop})
    ratios = http_compare.compare(summary)
    return {
        "machine": {"load_average_1m": 1.0},
        "load_average_1m_end": 1.0,
        "git": {"commit": "0" * 40, "service_uncommitted": []},
        "config": {"connections": 10, "client": "wrk"},
        "arms": summary,
        "ratios": ratios,
        "headline": http_compare.headline(summary, ratios),
        "profile": {},
    }


def test_report_has_every_arm_and_ratio(tmp_path: Path) -> None:
    report = fake_report(tmp_path)
    assert set(report["arms"]) == set(http_compare.ARMS)
    for arm in report["arms"].values():
        for key in (
            "requests_per_s",
            "latency_ms",
            "server_cpu_us_per_request",
            "failed_responses",
        ):
            assert key in arm
        assert set(arm["latency_ms"]) == {"p50", "p90", "p99"}
    pairs = {
        f"{ours}/{theirs}"
        for ours in http_compare.ARMS
        if ours.startswith("fraudlite")
        for theirs in http_compare.ARMS
        if theirs.startswith("baseline")
    }
    assert set(report["ratios"]) == pairs
    pair = report["ratios"]["fraudlite_httptools_uvloop/baseline_h11_asyncio"]
    assert pair["requests_per_s"] == pytest.approx(12.0)
    assert pair["p99_lower"] == pytest.approx(10.0)
    assert pair["cpu_per_request_lower"] == pytest.approx(4000 / 300)
    top = report["headline"]
    assert top["requests_per_s_met"] and top["p99_met"]
    assert "targets" in http_compare.table(report)
    png = http_compare.plot(report, tmp_path / "http_compare.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sampled_stacks_are_charged_to_their_layer() -> None:
    loop = "run_forever (loop.c:1);UVStream__try_write (loop.c:2)"
    raw = "\n".join(
        [
            f"main (service/cli.py:1);{loop};write (libc.so.6) 4",
            "x (logging/__init__.py:1);StreamHandler.emit (logging/__init__.py:2);"
            "write (libc.so.6) 2",
            "run_forever (loop.c:1);on_url (uvicorn/protocols/http/httptools_impl.py:9) 3",
            "run_forever (loop.c:1);feed_data (parser.c:5);llhttp_execute (llhttp.c:3) 2",
            "f (service/api/predict.py:1);Session.run (onnxruntime/capi/x.py:1);"
            "0x1 (onnxruntime/capi/onnxruntime_pybind11_state.so) 6",
            "run_forever (loop.c:1);uv_run (core.c:452) 1",
            "_PyEval_EvalFrameDefault (libpython3.11.so.1.0) 2",
        ]
    )
    grouped = http_compare.group_samples(
        raw, requests=10, rate=100, seconds=1, user_us_per_request=140.0, system_us_per_request=60.0
    )
    layers = grouped["layers"]
    assert layers[http_compare.SOCKET_LAYER]["samples"] == 4
    assert layers[http_compare.LOG_IO_LAYER]["samples"] == 2
    assert layers["uvicorn HTTP protocol (python)"]["samples"] == 3
    assert layers["HTTP parser (httptools, C)"]["samples"] == 2
    assert layers["onnxruntime (session.run, C++ and its python wrapper)"]["samples"] == 6
    assert layers["event loop (uvloop + libuv, C)"]["samples"] == 1
    assert layers[http_compare.UNATTRIBUTED]["samples"] == 2
    assert sum(layer["sample_share"] for layer in layers.values()) == pytest.approx(1.0)
    # The 6 syscall samples share the 60 µs of kernel CPU; the 14 others the 140 µs of user CPU.
    assert layers[http_compare.SOCKET_LAYER]["us_per_request"] == pytest.approx(40.0)
    assert layers["onnxruntime (session.run, C++ and its python wrapper)"][
        "us_per_request"
    ] == pytest.approx(60.0)
    assert sum(layer["us_per_request"] for layer in layers.values()) == pytest.approx(200.0)
    assert sum(layer["cpu_share"] for layer in layers.values()) == pytest.approx(1.0)
    assert grouped["samples"] == 20 and grouped["busy_share_of_wall"] == pytest.approx(0.2)


def test_server_cpu_is_read_for_a_live_process() -> None:
    import os

    cpu, wait = http_compare.process_sched(os.getpid())
    assert cpu > 0
    assert wait is None or wait >= 0


def test_out_is_stripped_for_the_head_rerun() -> None:
    argv = ["--rounds", "1", "--out", "x", "--seconds=2", "--out=y"]
    assert http_compare.strip_out(argv) == ["--rounds", "1", "--seconds=2"]


# --- fraud-serve's HTTP protocol and loop -------------------------------------------------------


def test_auto_picks_httptools_and_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_installed", lambda name: True)
    assert cli.resolve_server_impl() == ("httptools", "uvloop")
    assert cli.resolve_server_impl("h11", "asyncio") == ("h11", "asyncio")
    monkeypatch.setattr(cli, "_installed", lambda name: False)
    assert cli.resolve_server_impl() == ("h11", "asyncio")
    with pytest.raises(cli.ServerImplError, match="httptools"):
        cli.resolve_server_impl("httptools", "auto")
    with pytest.raises(cli.ServerImplError, match="uvloop"):
        cli.resolve_server_impl("auto", "uvloop")


def test_serve_flags_are_parsed() -> None:
    args = cli.build_parser().parse_args(["--http", "h11", "--loop", "asyncio"])
    assert (args.http, args.loop) == ("h11", "asyncio")
    defaults = cli.build_parser().parse_args([])
    assert (defaults.http, defaults.loop) == ("auto", "auto")


def test_fast_server_packages_stay_out_of_the_lambda_lock() -> None:
    """httptools and uvloop come with the server extra; the image installs service.lock only."""
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in requirements}

    assert {"uvicorn", "httptools", "uvloop"} <= names(extras["server"])
    assert not {"uvicorn", "httptools", "uvloop"} & names(extras["service"])
    lock = (PROJECT_ROOT / "requirements" / "service.lock").read_text()
    locked = {m.lower() for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.M)}
    assert locked, "the lock pins nothing?"
    for name in ("uvicorn", "httptools", "uvloop", "h11", "prometheus-client", "prometheus_client"):
        assert name not in locked, f"{name} would enter the Lambda image"


# --- rie_split's handlers ------------------------------------------------------------------------


def v2_event(body: dict[str, Any], encoded: bool = False) -> dict[str, Any]:
    from benchmarks.events import http_api_v2_event

    event = http_api_v2_event(body)
    if encoded:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    return event


@pytest.mark.parametrize("encoded", [False, True])
def test_reference_handlers_answer_valid_v2_responses(encoded: bool) -> None:
    event = v2_event({"transaction_id": "t-1", "amount": 12.5, "type": "TRANSFER"}, encoded)
    for handler in (rie_split.empty_handler, rie_split.json_handler):
        answer = handler(event, None)
        assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is False
        assert answer["headers"]["content-type"] == "application/json"
        rie_split.check_answer(handler.__name__, answer)  # raises on a bad answer
    echoed = json.loads(rie_split.json_handler(event, None)["body"])
    assert echoed["transaction_id"] == "t-1" and echoed["amount"] == 12.5
    with pytest.raises(RuntimeError):
        rie_split.check_answer("bad", {"statusCode": 502, "body": "{}"})


def test_raw_runtime_speaks_the_runtime_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimal runtime loop: GET next, POST the answer under the request id it was given."""
    posted: list[tuple[str, bytes]] = []

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        served = 0

        def do_GET(self) -> None:
            if RuntimeApi.served:  # one event, then the loop ends on an error
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                return
            RuntimeApi.served += 1
            body = json.dumps(v2_event({"amount": 1.0})).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            posted.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{server.server_address[1]}")
        with pytest.raises(RuntimeError, match="500"):  # the second GET fails by design
            rie_split.raw_runtime_loop()
    finally:
        server.shutdown()
    assert [path for path, _ in posted] == ["/2018-06-01/runtime/invocation/req-1/response"]
    answer = json.loads(posted[0][1])
    rie_split.check_answer("raw_empty", answer)


def test_split_and_shares_subtract_adjacent_arms() -> None:
    def arm(p50: float, p99: float) -> dict[str, Any]:
        return {"round_trip_ms": {"p50": p50, "p99": p99}}

    arms = {
        "raw_empty": arm(1.5, 2.0),
        "ric_empty": arm(1.4, 2.2),
        "ric_json": arm(1.5, 2.4),
        "fraudlite": arm(2.4, 3.5),
        "fraudlite_timed": arm(2.5, 3.6),
    }
    steps = rie_split.split(arms)
    assert steps["awslambdaric's per-invoke cost"]["p50_ms"] == pytest.approx(-0.1)
    assert steps["fraudlite beyond a JSON-only handler"]["p50_ms"] == pytest.approx(0.9)
    shares = rie_split.shares(arms, {"p50": 0.8})
    parts = ("emulator_and_client", "awslambdaric", "json_of_any_handler", "fraudlite_beyond_json")
    assert sum(shares[p] for p in parts) == pytest.approx(shares["total_fraudlite_p50"])
    assert shares["fraudlite_in_handler_p50"] == 0.8
