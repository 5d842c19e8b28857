"""HTTP on loopback, side by side in one run: fraudlite (h11 + asyncio, httptools + uvloop) and
the seed-style baseline (FastAPI + pandas + joblib) under uvicorn, 10 keep-alive connections.

``python -m benchmarks.http_compare [--rounds 3] [--seconds 10] [--connections 10]`` starts every
arm on 127.0.0.1 (one uvicorn worker each, all started first and left idle while another arm is
loaded), then runs interleaved rounds: in each round every arm gets ``--seconds`` of closed-loop
load (the arm order rotates per round, so background load hits every arm alike). The load
generator is wrk (C, one thread) when installed, else this module's own asyncio HTTP/1.1 client;
its CPU use is reported, so a saturated client shows. Each request is one single-row POST /predict
(benchmarks/payloads.py), cycling through generated transactions.

Then a socket-to-socket profile of the fraudlite worker under the same load: ``fraud-serve`` run
under cProfile (switched on and off by signal, so start-up and warm-up stay out), its own time
grouped by layer (event loop, uvicorn's HTTP protocol, parser, Starlette, the app, onnxruntime,
logging, ...) and scaled to the CPU µs per request measured without the profiler.

Writes ``http_compare.json`` and ``http_compare.png`` under ``--out`` and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.common import (
    DEFAULT_RESULTS,
    PROJECT_ROOT,
    BenchmarkError,
    free_port,
    progress,
    ratio,
    require,
    run_metadata,
    write_json,
)

#: Where the small test model lives when no trained artifacts/ exist (docs/performance.md).
FALLBACK_ARTIFACTS: Final = Path(tempfile.gettempdir()) / "fl_art"
WRK_MARKER: Final = "HTTP_COMPARE_JSON "
#: The issue's targets: fraudlite's requests/s at least 10x, its p99 at most 1/5 of the baseline's.
TARGET_RPS_RATIO: Final = 10.0
TARGET_P99_RATIO: Final = 5.0
#: The headline pair: what ``fraud-serve`` runs by default now (the server extra installed)
#: against the seed stack as it ran (plain uvicorn, no [standard] extra: h11 + asyncio).
HEADLINE: Final = ("fraudlite_httptools_uvloop", "baseline_h11_asyncio")


@dataclass(frozen=True)
class Arm:
    """One server under test: a target (benchmarks/servers.py) and uvicorn's protocol and loop."""

    name: str
    target: str
    http: str
    loop: str

    @property
    def args(self) -> tuple[str, ...]:
        return ("--http", self.http, "--loop", self.loop)


ARMS: Final[dict[str, Arm]] = {
    arm.name: arm
    for arm in (
        Arm("fraudlite_h11_asyncio", "fraudlite", "h11", "asyncio"),
        Arm("fraudlite_httptools_uvloop", "fraudlite", "httptools", "uvloop"),
        Arm("baseline_h11_asyncio", "baseline", "h11", "asyncio"),
        Arm("baseline_httptools_uvloop", "baseline", "httptools", "uvloop"),
    )
}


# --- load generators ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    """One closed-loop run against one server: counts, latency percentiles (ms), client CPU."""

    client: str
    seconds: float
    requests: int
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    client_cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "seconds": self.seconds,
            "requests": self.requests,
            "requests_per_s": self.requests_per_s,
            "statuses": self.statuses,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "client_cpu_s": self.client_cpu_s,
            # Share of one core the load generator used: near 1.0 means it may be the bottleneck.
            "client_cpu_share": self.client_cpu_s / self.seconds if self.seconds > 0 else None,
            **self.extra,
        }


def http_request(path: str, body: bytes, host: str = "127.0.0.1") -> bytes:
    """One keep-alive HTTP/1.1 POST as raw bytes."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def percentiles_ms(latencies_ns: Sequence[int]) -> dict[str, float]:
    """p50, p90, p99, p99.9, mean and max of latencies given in ns, in ms."""
    if not latencies_ns:
        return {}
    ordered = sorted(latencies_ns)

    def at(q: float) -> float:
        # Nearest-rank percentile: the value below which q of the requests finished.
        # (less a hair: 0.99 * 100 is 99.00000000000001 in floating point).
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered) - 1e-9) - 1))
        return ordered[index] / 1e6

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p999": at(0.999),
        "mean": statistics.fmean(ordered) / 1e6,
        "max": ordered[-1] / 1e6,
    }


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    else:
        if b"chunked" in head.lower():
            raise BenchmarkError("chunked responses are not supported by the python client")
    if length:
        await reader.readexactly(length)
    return status


async def _python_load(
    port: int, requests: Sequence[bytes], connections: int, seconds: float
) -> tuple[int, Counter[int], Counter[str], list[int], float]:
    """``connections`` closed-loop keep-alive connections for ``seconds``."""
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds
    clock = time.perf_counter_ns

    async def connection(offset: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            errors["connect"] += 1
            return
        index = offset
        try:
            while time.perf_counter() < deadline:
                request = requests[index % len(requests)]
                index += connections
                begun = clock()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    errors["read"] += 1
                    return
                latencies.append(clock() - begun)
                statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    return len(latencies), statuses, errors, latencies, time.perf_counter() - started


def python_load(
    port: int, requests: Sequence[bytes], connections: int = 10, seconds: float = 10.0
) -> LoadResult:
    """Closed-loop load from this process's own asyncio HTTP/1.1 client (no wrk needed).

    Counts every response by status; a connection that fails stops and is counted in ``errors``.
    Its CPU use (this process's CPU time over the wall time) is reported: near 1.0 it is the
    bottleneck, and wrk should be used.
    """
    cpu = time.process_time()
    count, statuses, errors, latencies, elapsed = asyncio.run(
        _python_load(port, requests, connections, seconds)
    )
    return LoadResult(
        client="python-asyncio",
        seconds=elapsed,
        requests=count,
        statuses={str(k): v for k, v in sorted(statuses.items())},
        errors=dict(errors),
        latency_ms=percentiles_ms(latencies),
        client_cpu_s=time.process_time() - cpu,
    )


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal that cannot be closed by ``text``."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(bodies: Sequence[bytes], path: str = "/predict") -> str:
    """A wrk Lua script: POST ``bodies`` in turn (prebuilt per thread), JSON summary at the end."""
    literals = ",\n".join(_lua_string(body.decode()) for body in bodies)
    return f"""
local bodies = {{
{literals}
}}
local prepared = {{}}
local index = 0

init = function(args)
  for i, body in ipairs(bodies) do
    prepared[i] = wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"}}, body)
  end
end

request = function()
  index = index % #prepared + 1
  return prepared[index]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write("{WRK_MARKER}")
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "errors": {{"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}}, "latency_us": {{"p50": %d, "p90": %d, ' ..
    '"p99": %d, "p999": %d, "mean": %f, "max": %d}}}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
"""


def parse_wrk(stdout: str, client_cpu_s: float) -> LoadResult:
    """The JSON line the script's ``done`` writes, as a LoadResult (statuses: 2xx/3xx vs not)."""
    for line in stdout.splitlines():
        if line.startswith(WRK_MARKER):
            data = json.loads(line[len(WRK_MARKER) :])
            break
    else:
        raise BenchmarkError(f"wrk printed no summary:\n{stdout[-2000:]}")
    errors = data["errors"]
    non_ok = int(errors.pop("status"))
    requests = int(data["requests"])
    return LoadResult(
        client="wrk",
        seconds=data["duration_us"] / 1e6,
        requests=requests,
        # wrk counts responses, not codes: "non-2xx/3xx" holds every other status.
        statuses={"2xx/3xx": requests - non_ok, "non-2xx/3xx": non_ok},
        errors={k: int(v) for k, v in errors.items() if v},
        latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
        client_cpu_s=client_cpu_s,
    )


def wrk_load(
    wrk: str, port: int, script: Path, connections: int = 10, seconds: float = 10.0
) -> LoadResult:
    """Closed-loop load from wrk (one thread: enough for 10 connections, and one core is left)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise BenchmarkError(f"wrk failed ({process.returncode}): {process.stderr[-2000:]}")
    return parse_wrk(process.stdout, cpu)


@dataclass
class LoadClient:
    """The chosen load generator with its request set prepared."""

    kind: str  # "wrk" or "python"
    bodies: list[bytes]
    workdir: Path
    wrk: str | None = None

    def __post_init__(self) -> None:
        self.requests = [http_request("/predict", body) for body in self.bodies]
        self.script = self.workdir / f"wrk_{id(self)}.lua"
        if self.kind == "wrk":
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.script.write_text(wrk_script(self.bodies))

    def run(self, port: int, connections: int, seconds: float) -> LoadResult:
        if self.kind == "wrk":
            assert self.wrk is not None
            return wrk_load(self.wrk, port, self.script, connections, seconds)
        return python_load(port, self.requests, connections, seconds)


def choose_client(kind: str) -> tuple[str, str | None]:
    """("wrk", path) when wrk is installed (or asked for), else ("python", None)."""
    wrk = shutil.which("wrk")
    if kind == "wrk" and wrk is None:
        raise BenchmarkError("wrk is not installed: apt-get install -y wrk, or --client python")
    if kind in ("wrk", "auto") and wrk is not None:
        return "wrk", wrk
    return "python", None


# --- server CPU ---------------------------------------------------------------------------------


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending.extend(int(child) for child in children)
    return found


def process_sched(pid: int) -> tuple[float, float | None]:
    """(CPU seconds, seconds runnable but waiting for a core) of a process tree.

    CPU from /proc/PID/stat (utime + stime in clock ticks: it keeps the time of threads that have
    exited, which a sum over live threads would lose; the baseline's thread pools come and go).
    The wait from /proc/PID/task/TID/schedstat of the live threads (ns), or None without
    schedstat: it shows how much the shared machine held the server back.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    wait: float | None = 0.0
    for proc in _process_tree(pid):
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # After the command name: state is fields[0]; utime and stime are stat fields 14 and 15.
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        try:
            for task in Path(f"/proc/{proc}/task").iterdir():
                if wait is not None:
                    wait += int((task / "schedstat").read_text().split()[1]) / 1e9
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            wait = None
    return cpu, wait


def process_user_system(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process tree from /proc/PID/stat: system is the kernel's
    share (syscalls, and on loopback the TCP delivery to the client done in the sender's call)."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for proc in _process_tree(pid):
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        user += int(fields[11]) / ticks
        system += int(fields[12]) / ticks
    return user, system


# --- the profiled worker ------------------------------------------------------------------------

#: Layers of the socket-to-socket path, recognised from a function's file or name (first match).
LAYERS: Final[tuple[tuple[str, str], ...]] = (
    ("<method 'poll' of 'select.epoll'", "idle: waiting in epoll"),
    ("onnxruntime_pybind11_state", "onnxruntime (session.run)"),
    ("onnxruntime", "onnxruntime python wrapper"),
    ("uvicorn/protocols/http", "uvicorn HTTP protocol"),
    ("uvicorn/", "uvicorn (other)"),
    ("h11/", "HTTP parser (h11)"),
    ("httptools", "HTTP parser (httptools)"),
    ("uvloop", "event loop (uvloop, incl. socket I/O)"),
    ("asyncio/", "event loop (asyncio)"),
    ("selectors", "event loop (asyncio)"),
    ("_socket.socket", "socket I/O (send, recv)"),
    ("prometheus_client", "telemetry (prometheus metrics)"),
    ("TextIOWrapper", "log line I/O (write, flush)"),
    ("service/telemetry", "telemetry (request log, decision log, metrics)"),
    ("service/monitoring", "telemetry (drift bins)"),
    ("service/model", "app: scoring core (service/model)"),
    ("service/api", "app: route, validation, answer (service/api)"),
    ("service/", "app: other service modules"),
    ("starlette/middleware", "ASGI: starlette middleware"),
    ("starlette", "ASGI: starlette (routing, request, response)"),
    ("anyio", "ASGI: anyio"),
    ("msgspec", "encoding (msgspec)"),
    ("json/", "encoding (json)"),
    ("numpy", "numpy"),
    ("logging", "logging module"),
)
IDLE_LAYER: Final = "idle: waiting in epoll"
OTHER_LAYER: Final = "other (stdlib, builtins)"


def layer_of(filename: str, name: str) -> str:
    """The layer a profiled function belongs to."""
    where = f"{filename} {name}"
    return next((layer for key, layer in LAYERS if key in where), OTHER_LAYER)


def profile_worker(argv: list[str]) -> int:
    """Run ``fraud-serve`` with ``argv``, profiled between SIGUSR1 and SIGUSR2.

    SIGUSR1 switches cProfile on (after start-up and warm-up), SIGUSR2 switches it off and writes
    the stats to $HTTP_COMPARE_PROFILE. Signal handlers run on the main thread, which is the one
    running the event loop, so that is the thread profiled.
    """
    from service.cli import main as serve

    profiler = cProfile.Profile()
    out = Path(os.environ["HTTP_COMPARE_PROFILE"])

    def start(signum: int, frame: Any) -> None:
        profiler.enable()

    def stop(signum: int, frame: Any) -> None:
        profiler.disable()
        partial = out.with_suffix(".tmp")
        profiler.dump_stats(str(partial))
        partial.rename(out)  # the parent waits for this name: never a half-written file

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    return serve(argv)


def group_profile(stats_path: Path, requests: int, cpu_us_per_request: float | None) -> dict:
    """Own time by layer: shares of the busy time (epoll waits left out), µs per request scaled
    to the unprofiled CPU time per request, and the top functions."""
    stats = pstats.Stats(str(stats_path))
    by_layer: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_layer[layer_of(filename, name)] += own
        short = filename.split("site-packages/")[-1].split(f"{PROJECT_ROOT}/")[-1]
        rows.append((own, cumulative, calls, f"{short}:{line}({name})"))
    idle = by_layer.pop(IDLE_LAYER, 0.0)
    busy = sum(by_layer.values())
    rows.sort(reverse=True)
    n = max(requests, 1)
    layers = {}
    for layer, own in sorted(by_layer.items(), key=lambda item: -item[1]):
        share = own / busy if busy else 0.0
        layers[layer] = {
            "share": share,
            "profiled_us_per_request": own / n * 1e6,
            "us_per_request": share * cpu_us_per_request if cpu_us_per_request else None,
        }
    return {
        "method": "cProfile in the worker (deterministic; misses C time outside Python calls)",
        "requests": requests,
        "note": (
            "cProfile own time of the worker's event-loop thread, epoll waits left out; cProfile "
            "inflates Python calls, so read the shares; us_per_request = share x the CPU µs per "
            "request measured without the profiler"
        ),
        "profiled_busy_us_per_request": busy / n * 1e6,
        "idle_epoll_us_per_request": idle / n * 1e6,
        "cpu_us_per_request_unprofiled": cpu_us_per_request,
        "layers": layers,
        "top_functions": [
            {
                "function": where,
                "own_us_per_request": own / n * 1e6,
                "cumulative_us_per_request": cumulative / n * 1e6,
                "calls_per_request": calls / n,
            }
            for own, cumulative, calls, where in rows[:25]
            if layer_of(where, where) != IDLE_LAYER
        ],
    }


# --- the sampled profile (py-spy) ---------------------------------------------------------------

#: Layers for py-spy's native stacks, matched from the innermost frame outwards (first frame
#: that matches any key decides): interpreter and libc helper frames match nothing, so their
#: time goes to the Python or library function they were running for.
SAMPLE_LAYERS: Final[tuple[tuple[str, str], ...]] = (
    ("onnxruntime", "onnxruntime (session.run, C++ and its python wrapper)"),
    ("uvicorn/protocols/http", "uvicorn HTTP protocol (python)"),
    ("uvicorn/", "uvicorn (other)"),
    ("(parser.c:", "HTTP parser (httptools, C)"),
    ("(llhttp.c:", "HTTP parser (httptools, C)"),
    ("(api.c:", "HTTP parser (httptools, C)"),
    ("(http.c:", "HTTP parser (httptools, C)"),
    ("httptools/", "HTTP parser (httptools, C)"),
    ("h11/", "HTTP parser (h11, python)"),
    ("(loop.c:", "event loop (uvloop + libuv, C)"),
    ("(core.c:", "event loop (uvloop + libuv, C)"),
    ("(stream.c:", "event loop (uvloop + libuv, C)"),
    ("(linux.c:", "event loop (uvloop + libuv, C)"),
    ("(loop-watcher.c:", "event loop (uvloop + libuv, C)"),
    ("uvloop/", "event loop (uvloop + libuv, C)"),
    ("asyncio/", "event loop (asyncio, python)"),
    ("_asynciomodule.c", "event loop (asyncio tasks, C)"),
    ("selectors.py", "event loop (asyncio, python)"),
    ("prometheus_client", "telemetry (request log, decision log, metrics)"),
    ("service/telemetry", "telemetry (request log, decision log, metrics)"),
    ("service/monitoring", "telemetry (request log, decision log, metrics)"),
    ("logging/", "logging module"),
    ("service/model", "app: scoring core (service/model)"),
    ("service/api", "app: route, validation, answer (service/api)"),
    ("service/", "app: other service modules"),
    ("starlette/", "ASGI: starlette (routing, request, response, middleware)"),
    ("anyio", "ASGI: starlette (routing, request, response, middleware)"),
    ("msgspec", "encoding (json, msgspec)"),
    ("json/", "encoding (json, msgspec)"),
    ("_json", "encoding (json, msgspec)"),
    ("numpy", "numpy"),
)
#: Innermost frames that are system calls: charged to socket I/O, or to the log line when the
#: stack shows a log write (py-spy counts a thread preempted inside a syscall as busy, so these
#: include time the server waited for a core after waking the client).
SYSCALLS: Final = ("write (libc", "send (libc", "recv (libc", "read (libc", "writev (libc")
SYSCALLS_IDLE: Final = ("epoll_wait (libc", "epoll_pwait (libc")
LOG_WRITERS: Final = ("StreamHandler.emit", "service/telemetry/stdout", "TextIOWrapper")
SOCKET_LAYER: Final = "kernel: socket send/recv, epoll (syscalls)"
LOG_IO_LAYER: Final = "log line I/O (write syscall)"
UNATTRIBUTED: Final = "unattributed (interpreter, libc, stdlib)"


def sample_layer(stack: str) -> str:
    """The layer of one folded py-spy stack (``outer;...;inner``)."""
    frames = stack.split(";")
    leaf = frames[-1]
    if leaf.startswith(SYSCALLS):
        return LOG_IO_LAYER if any(k in stack for k in LOG_WRITERS) else SOCKET_LAYER
    if leaf.startswith(SYSCALLS_IDLE):
        return SOCKET_LAYER
    for frame in reversed(frames):
        for key, layer in SAMPLE_LAYERS:
            if key in frame:
                return layer
    return UNATTRIBUTED


def group_samples(
    raw: str,
    requests: int,
    rate: int,
    seconds: float,
    user_us_per_request: float | None = None,
    system_us_per_request: float | None = None,
) -> dict[str, Any]:
    """py-spy's raw (folded) output grouped by layer, and the hottest innermost frames.

    py-spy samples a thread that is running *or runnable*, so on a shared machine the time a
    server waits for a core after waking the client lands in the syscall that woke it, and the
    profiler's own stops inflate the run. So the sample shares are not used as CPU shares
    directly: the syscall layers get the server's measured kernel (system) CPU per request, and
    the other layers split its user CPU per request in proportion to their samples; both CPU
    figures come from the load rounds, without the profiler.
    """
    by_layer: dict[str, int] = defaultdict(int)
    leaves: dict[str, int] = defaultdict(int)
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        by_layer[sample_layer(stack)] += n
        leaves[stack.split(";")[-1]] += n
    kernel_layers = {SOCKET_LAYER, LOG_IO_LAYER}
    kernel = sum(n for layer, n in by_layer.items() if layer in kernel_layers)
    user = total - kernel
    cpu = None
    if user_us_per_request is not None and system_us_per_request is not None:
        cpu = user_us_per_request + system_us_per_request

    def us(layer: str, n: int) -> float | None:
        if cpu is None:
            return None
        if layer in kernel_layers:
            return n / kernel * system_us_per_request if kernel else 0.0  # type: ignore[operator]
        return n / user * user_us_per_request if user else 0.0  # type: ignore[operator]

    layers = {}
    for layer, n in sorted(by_layer.items(), key=lambda item: -item[1]):
        figure = us(layer, n)
        layers[layer] = {
            "samples": n,
            "sample_share": n / total,
            "us_per_request": figure,
            "cpu_share": figure / cpu if figure is not None and cpu else None,
        }
    return {
        "method": "py-spy record --native (sampling; the server runs unmodified)",
        "note": (
            "samples of running or runnable threads, each charged to the innermost frame that "
            "names a layer; us_per_request: the syscall layers share the measured system CPU per "
            "request, the others the measured user CPU per request, by samples"
        ),
        "requests": requests,
        "samples": total,
        "rate_hz": rate,
        "busy_share_of_wall": total / (rate * seconds) if seconds else None,
        "user_us_per_request": user_us_per_request,
        "system_us_per_request": system_us_per_request,
        "layers": layers,
        "top_leaf_frames": [
            {"frame": frame, "sample_share": n / total}
            for frame, n in sorted(leaves.items(), key=lambda item: -item[1])[:25]
        ],
    }


def sample_arm(
    arm: Arm, server: Any, client: LoadClient, config: Config, figures: dict[str, Any]
) -> dict[str, Any]:
    """py-spy on a running (warm) server while the client loads it for ``profile_seconds``;
    ``figures`` are the arm's unprofiled results (their user and system CPU scale the layers)."""
    py_spy = require_py_spy()
    rate = 250
    out = config.work / f"profile_{arm.name}.txt"
    out.unlink(missing_ok=True)
    seconds = config.profile_seconds
    command = [py_spy, "record", "--native", "-r", str(rate), "-f", "raw"]
    command += ["-d", str(max(1, round(seconds))), "-o", str(out)]
    command += ["--pid", str(server.process.pid)]
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.3)  # py-spy attaches before the load starts
    cpu_before, wait_before = process_sched(server.process.pid)
    result = client.run(server.port, config.connections, seconds)
    cpu_after, wait_after = process_sched(server.process.pid)
    log, _ = recorder.communicate(timeout=seconds + 60)
    if recorder.returncode != 0 or not out.exists():
        raise BenchmarkError(f"py-spy failed ({recorder.returncode}): {log[-2000:]!r}")
    n = max(result.requests, 1)
    grouped = group_samples(
        out.read_text(),
        result.requests,
        rate,
        result.seconds,
        user_us_per_request=figures.get("server_user_us_per_request"),
        system_us_per_request=figures.get("server_system_us_per_request"),
    )
    # What attaching py-spy did to the run (its stops cost the server CPU and throughput).
    grouped["profiled_run"] = {
        "requests_per_s": result.requests_per_s,
        "cpu_us_per_request": (cpu_after - cpu_before) / n * 1e6,
        "runqueue_wait_us_per_request": (
            max(0.0, wait_after - wait_before) / n * 1e6
            if wait_before is not None and wait_after is not None
            else None
        ),
    }
    return grouped


def require_py_spy() -> str:
    """The py-spy next to this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchmarkError("py-spy is not installed: pip install py-spy, or --profiler cprofile")
    return found


# --- the run ------------------------------------------------------------------------------------


#: Set by :func:`rerun_from_head` in the exported tree, which has no .git of its own.
HEAD_ENV: Final = "BENCH_EXPORTED_COMMIT"


def _git(*args: str, cwd: Path = PROJECT_ROOT) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    result = subprocess.run([git, *args], capture_output=True, text=True, cwd=cwd, check=False)
    return result.stdout.strip()


def git_state() -> dict[str, Any]:
    """The commit measured, and whether service/ had uncommitted changes (the servers run from
    the working tree, so those are what was measured, unless the run is from an exported HEAD)."""
    exported = os.environ.get(HEAD_ENV)
    if exported:
        commit, _, subject = exported.partition(" ")
        return {"commit": commit, "subject": subject, "service_uncommitted": [], "tree": "HEAD"}
    dirty = [line[3:] for line in _git("status", "--porcelain", "service/").splitlines()]
    return {
        "commit": _git("rev-parse", "HEAD"),
        "subject": _git("log", "-1", "--format=%s"),
        "service_uncommitted": dirty,
        "tree": "working tree",
    }


def rerun_from_head(module: str, argv: list[str], out: Path) -> int:
    """Run ``python -m module argv`` in a clean export of HEAD (``git archive``), results to
    ``out``: what is committed gets measured, not the half-done edits of whoever shares the tree.

    The export comes first on sys.path (it is the working directory of ``-m``), ahead of the
    venv's editable install of this checkout.
    """
    commit = _git("rev-parse", "HEAD")
    if not commit:
        raise BenchmarkError("--head needs git and a repository")
    subject = _git("log", "-1", "--format=%s")
    with tempfile.TemporaryDirectory(prefix="fraudlite-head-") as scratch:
        tree = Path(scratch)
        archive = tree / "head.tar"
        subprocess.run(
            [shutil.which("git") or "git", "archive", "--format=tar", "-o", str(archive), commit],
            cwd=PROJECT_ROOT,
            check=True,
        )
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        archive.unlink()
        progress("head", f"measuring {commit[:10]} ({subject}) from {tree}")
        env = {**os.environ, HEAD_ENV: f"{commit} {subject}"}
        command = [sys.executable, "-m", module, *argv, "--out", str(out.resolve())]
        return subprocess.run(command, cwd=tree, env=env, check=False).returncode


def bodies_for(target: str, transactions: int, seed: int) -> list[bytes]:
    """Single-row POST /predict bodies in ``target``'s request shape."""
    from benchmarks.payloads import sample_transactions, single_body

    raws = sample_transactions(transactions, seed=seed)
    return [json.dumps(single_body(raw, target)).encode() for raw in raws]  # type: ignore[arg-type]


def _median(rounds: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize_arm(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """An arm's figures over its rounds: pooled requests/s, median-of-rounds percentiles."""
    seconds = sum(r["seconds"] for r in rounds)
    requests = sum(r["requests"] for r in rounds)
    keys = ("p50", "p90", "p99")
    latency = {k: statistics.median(r["latency_ms"][k] for r in rounds) for k in keys}
    cpu = [r["server_cpu_us_per_request"] for r in rounds if r.get("server_cpu_us_per_request")]
    waits = [
        r["server_runqueue_wait_us_per_request"]
        for r in rounds
        if r.get("server_runqueue_wait_us_per_request") is not None
    ]
    failed = sum(
        v for r in rounds for k, v in r["statuses"].items() if not k.startswith(("2", "3"))
    )
    return {
        "requests": requests,
        "seconds": seconds,
        "requests_per_s": requests / seconds if seconds else 0.0,
        "requests_per_s_by_round": [r["requests_per_s"] for r in rounds],
        "latency_ms": latency,
        "latency_ms_by_round": [{k: r["latency_ms"][k] for k in keys} for r in rounds],
        "failed_responses": failed,
        "errors": sum(sum(r["errors"].values()) for r in rounds),
        "server_cpu_us_per_request": statistics.median(cpu) if cpu else None,
        "server_user_us_per_request": _median(rounds, "server_user_us_per_request"),
        "server_system_us_per_request": _median(rounds, "server_system_us_per_request"),
        "cpu_bound_requests_per_s": 1e6 / statistics.median(cpu) if cpu else None,
        "server_runqueue_wait_us_per_request": statistics.median(waits) if waits else None,
        "client_cpu_share": statistics.median(r["client_cpu_share"] for r in rounds),
        "load_average_1m": [r["load_average_1m"] for r in rounds],
    }


def compare(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every fraudlite arm against every baseline arm: requests/s ratio (fraudlite / baseline)
    and p99 ratio (baseline p99 / fraudlite p99); both > 1 mean fraudlite is better."""
    out: dict[str, Any] = {}
    for ours, mine in arms.items():
        if not ours.startswith("fraudlite"):
            continue
        for theirs, them in arms.items():
            if not theirs.startswith("baseline"):
                continue
            out[f"{ours}/{theirs}"] = {
                "requests_per_s": ratio(mine["requests_per_s"], them["requests_per_s"]),
                "p99_lower": ratio(them["latency_ms"]["p99"], mine["latency_ms"]["p99"]),
                "p50_lower": ratio(them["latency_ms"]["p50"], mine["latency_ms"]["p50"]),
                # Server CPU per request, baseline / fraudlite: the ratio a quiet machine would
                # show in requests/s when both servers are CPU-bound.
                "cpu_per_request_lower": ratio(
                    them["server_cpu_us_per_request"], mine["server_cpu_us_per_request"]
                ),
            }
    return out


def headline(arms: dict[str, dict[str, Any]], ratios: dict[str, Any]) -> dict[str, Any] | None:
    """The issue's pair and whether its two targets are met."""
    pair = "/".join(HEADLINE)
    if pair not in ratios:
        return None
    figures = ratios[pair]
    rps, p99 = figures["requests_per_s"], figures["p99_lower"]
    return {
        "fraudlite_arm": HEADLINE[0],
        "baseline_arm": HEADLINE[1],
        "requests_per_s_ratio": rps,
        "p99_ratio": p99,
        "target_requests_per_s_ratio": TARGET_RPS_RATIO,
        "target_p99_ratio": TARGET_P99_RATIO,
        "requests_per_s_met": rps is not None and rps >= TARGET_RPS_RATIO,
        "p99_met": p99 is not None and p99 >= TARGET_P99_RATIO,
    }


@dataclass
class Config:
    """What one run of the benchmark does."""

    artifacts: Path
    out: Path
    arms: list[Arm]
    rounds: int = 3
    seconds: float = 10.0
    connections: int = 10
    client: str = "auto"
    transactions: int = 500
    seed: int = 0
    profile_seconds: float = 5.0
    profiler: str = "auto"  # "py-spy", "cprofile" or "auto" (py-spy when installed)
    #: Server logs (a line per request: tens of MiB), wrk's script, raw profiles: kept for a
    #: look after the run, outside the repository.
    work: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "fraudlite-http")


def _start(arm: Arm, artifacts: Path, log_dir: Path) -> Any:
    from benchmarks.servers import start_server

    server = start_server(arm.target, artifacts, log_dir, arm.args, name=arm.name)  # type: ignore[arg-type]
    return server


def _warm(server: Any, arm: Arm, client: LoadClient, config: Config) -> None:
    """Valid requests first (the servers' own check), then a short burst of the real load."""
    from benchmarks.payloads import sample_transactions, single_body

    raws = sample_transactions(20, seed=config.seed)
    server.wait_ready(single_body(raws[0], arm.target))  # type: ignore[arg-type]
    server.warm_up(raws, requests=100)
    client.run(server.port, config.connections, 1.0)


def measure_round(server: Any, client: LoadClient, config: Config) -> dict[str, Any]:
    """One timed load run against a running server, with the server's CPU per request."""
    load_before = os.getloadavg()[0]
    cpu_before, wait_before = process_sched(server.process.pid)
    user_before, system_before = process_user_system(server.process.pid)
    result = client.run(server.port, config.connections, config.seconds)
    cpu_after, wait_after = process_sched(server.process.pid)
    user_after, system_after = process_user_system(server.process.pid)
    cpu = cpu_after - cpu_before
    n = result.requests
    out = result.as_dict()
    out["server_cpu_s"] = cpu
    out["server_cpu_us_per_request"] = cpu / n * 1e6 if n else None
    out["server_user_us_per_request"] = (user_after - user_before) / n * 1e6 if n else None
    out["server_system_us_per_request"] = (system_after - system_before) / n * 1e6 if n else None
    # The requests/s one dedicated core would give at this CPU cost: robust to a busy machine.
    out["cpu_bound_requests_per_s"] = n / cpu if cpu > 0 else None
    if wait_before is not None and wait_after is not None and n:
        # Live threads only: a thread that exited takes its wait with it, hence the clamp.
        out["server_runqueue_wait_us_per_request"] = max(0.0, wait_after - wait_before) / n * 1e6
    out["load_average_1m"] = round(max(load_before, os.getloadavg()[0]), 2)
    return out


def profile_arm(
    arm: Arm, client: LoadClient, config: Config, cpu_us_per_request: float | None
) -> dict[str, Any]:
    """fraud-serve for ``arm`` under cProfile, loaded for ``profile_seconds``; grouped stats."""
    from benchmarks.servers import RunningServer, ServerSpec

    model = require(config.artifacts / "model.onnx", "run fraud-convert first")
    port = free_port()
    log_dir = config.work
    stats_path = log_dir / f"profile_{arm.name}.prof"
    stats_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "benchmarks.http_compare",
        "--profile-worker",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *arm.args,
    ]
    log = log_dir / f"server_profile_{arm.name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HTTP_COMPARE_PROFILE": str(stats_path)}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT
        )
    server = RunningServer(
        spec=ServerSpec("fraudlite", command, {}), port=port, process=process, log=log
    )
    try:
        _warm(server, arm, client, config)
        process.send_signal(signal.SIGUSR1)
        time.sleep(0.2)  # let the handler run before the load starts
        result = client.run(port, config.connections, config.profile_seconds)
        process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not stats_path.exists():
            if time.monotonic() > deadline or process.poll() is not None:
                raise BenchmarkError(f"the profiled worker wrote no stats; see {log}")
            # The idle loop may sit in epoll: a request wakes it so the signal handler runs.
            try:
                server.post(client.bodies[0], timeout=2.0)
            except OSError:
                time.sleep(0.1)
    finally:
        server.stop()
    grouped = group_profile(stats_path, result.requests, cpu_us_per_request)
    grouped["profiled_requests_per_s"] = result.requests_per_s
    return grouped


def choose_profiler(kind: str) -> str:
    """ "py-spy" (sampling, native frames, no inflation) when installed or asked for, else
    "cprofile" (deterministic, inflates Python calls, blind to C time of uvloop)."""
    if kind == "cprofile":
        return kind
    try:
        require_py_spy()
    except BenchmarkError:
        if kind == "py-spy":
            raise
        return "cprofile"
    return "py-spy"


def run(config: Config) -> dict[str, Any]:
    """Start every arm, run the interleaved rounds, profile fraudlite; write JSON and PNG."""
    kind, wrk = choose_client(config.client)
    log_dir = config.work
    progress("http", f"load generator: {kind}, {config.connections} connections")
    clients = {
        target: LoadClient(kind, bodies_for(target, config.transactions, config.seed), log_dir, wrk)
        for target in {arm.target for arm in config.arms}
    }
    meta = {**run_metadata(), "git": git_state()}
    servers: dict[str, Any] = {}
    per_round: dict[str, list[dict[str, Any]]] = {arm.name: [] for arm in config.arms}
    try:
        for arm in config.arms:
            progress("http", f"{arm.name}: starting")
            servers[arm.name] = _start(arm, config.artifacts, log_dir)
            _warm(servers[arm.name], arm, clients[arm.target], config)
        for index in range(config.rounds):
            # Rotate the order each round: no arm always runs first (or right after the baseline).
            shift = index % len(config.arms)
            for arm in config.arms[shift:] + config.arms[:shift]:
                figures = measure_round(servers[arm.name], clients[arm.target], config)
                figures["round"] = index
                per_round[arm.name].append(figures)
                progress(
                    "http",
                    f"round {index + 1}/{config.rounds} {arm.name}: "
                    f"{figures['requests_per_s']:,.0f} req/s, p99 "
                    f"{figures['latency_ms']['p99']:.2f} ms, server "
                    f"{figures['server_cpu_us_per_request'] or 0:.0f} CPU µs/req (waited "
                    f"{figures.get('server_runqueue_wait_us_per_request') or 0:.0f}), client CPU "
                    f"{figures['client_cpu_share']:.0%}, load {figures['load_average_1m']}",
                )
        arms = {name: summarize_arm(rounds) for name, rounds in per_round.items()}
        profiler = choose_profiler(config.profiler) if config.profile_seconds > 0 else None
        profiles: dict[str, Any] = {}
        for arm in config.arms:
            if arm.target != "fraudlite" or profiler is None:
                continue
            progress("http", f"{arm.name}: {profiler} profile, {config.profile_seconds:.0f}s load")
            cpu = arms[arm.name]["server_cpu_us_per_request"]
            if profiler == "py-spy":
                # The measured server itself, still warm: nothing in it changes.
                profiles[arm.name] = sample_arm(
                    arm, servers[arm.name], clients[arm.target], config, arms[arm.name]
                )
            else:
                profiles[arm.name] = profile_arm(arm, clients[arm.target], config, cpu)
    finally:
        for server in servers.values():
            server.stop()
    for arm in config.arms:
        arms[arm.name].update({"target": arm.target, "http": arm.http, "loop": arm.loop})
        arms[arm.name]["rounds"] = per_round[arm.name]
    ratios = compare(arms)
    report = {
        **meta,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "config": {
            "rounds": config.rounds,
            "seconds": config.seconds,
            "connections": config.connections,
            "client": kind,
            "transactions": config.transactions,
            "artifacts": str(config.artifacts),
            "logs_and_raw_profiles": str(config.work),
            "body": "one transaction per POST /predict, cycling through generated rows",
        },
        "arms": arms,
        "ratios": ratios,
        "headline": headline(arms, ratios),
        "profile": profiles,
    }
    write_json(config.out / "http_compare.json", report)
    plot(report, config.out / "http_compare.png")
    return report


def plot(report: dict[str, Any], path: Path) -> Path:
    """Requests/s per arm (a dot per round) and p50/p90/p99 per arm."""
    import numpy as np

    from benchmarks.plots import plt, save_figure  # Agg: files only

    arms = report["arms"]
    names = list(arms)
    colors = ["#1b7f5a" if arms[n]["target"] == "fraudlite" else "#c0504d" for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(len(names))
    left.bar(x, [arms[n]["requests_per_s"] for n in names], color=colors, alpha=0.8)
    for i, name in enumerate(names):
        rounds = arms[name]["requests_per_s_by_round"]
        left.plot([i] * len(rounds), rounds, "k.", markersize=5)
    labels = [n.replace("_", "\n", 1) for n in names]
    left.set_xticks(x, labels, fontsize=8)
    left.set_ylabel("requests/s (dots: rounds)")
    conf = report["config"]
    left.set_title(f"{conf['connections']} keep-alive connections, {conf['client']}")
    width = 0.27
    for j, key in enumerate(("p50", "p90", "p99")):
        right.bar(
            x + (j - 1) * width,
            [arms[n]["latency_ms"][key] for n in names],
            width,
            label=key,
            color=["#1b7f5a", "#6fc29d", "#0b3d2c"][j],
        )
    right.set_xticks(x, labels, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("latency (ms, log scale, median of rounds)")
    right.set_title(f"load average {report['machine']['load_average_1m']} at start")
    right.legend()
    return save_figure(fig, path)


def table(report: dict[str, Any]) -> str:
    """The per-arm figures and the headline ratios as a plain-text table."""
    lines = [
        f"{'arm':30} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'CPU µs/req':>10} {'wait µs/req':>11} {'client CPU':>10}",
    ]
    for name, arm in report["arms"].items():
        cpu = arm["server_cpu_us_per_request"]
        lines.append(
            f"{name:30} {arm['requests_per_s']:9,.0f} {arm['latency_ms']['p50']:8.2f} "
            f"{arm['latency_ms']['p90']:8.2f} {arm['latency_ms']['p99']:8.2f} "
            f"{(cpu or 0):10.0f} {arm['server_runqueue_wait_us_per_request'] or 0:11.0f} "
            f"{arm['client_cpu_share']:10.0%}"
        )
    for pair, figures in report["ratios"].items():
        rps, p99 = figures["requests_per_s"], figures["p99_lower"]
        cpu_ratio = figures["cpu_per_request_lower"]
        lines.append(
            f"{pair}: req/s x{rps or 0:.1f}, p99 lower x{p99 or 0:.1f}, "
            f"CPU/request lower x{cpu_ratio or 0:.1f}"
        )
    top = report.get("headline")
    if top:
        lines.append(
            f"targets (x{TARGET_RPS_RATIO:.0f} req/s, x{TARGET_P99_RATIO:.0f} p99): "
            f"req/s {'met' if top['requests_per_s_met'] else 'missed'}, "
            f"p99 {'met' if top['p99_met'] else 'missed'}"
        )
    for name, prof in report.get("profile", {}).items():
        lines.append(f"where {name}'s time per request goes ({prof['method'].split(' (')[0]}):")
        if prof.get("user_us_per_request") is not None:
            lines.append(
                f"  (unprofiled: user {prof['user_us_per_request']:.0f} µs + kernel "
                f"{prof['system_us_per_request']:.0f} µs CPU per request; columns: CPU share, "
                "CPU µs, share of samples)"
            )
        rows = sorted(prof["layers"].items(), key=lambda item: -(item[1]["us_per_request"] or 0))
        for layer, figures in rows:
            share = figures.get("cpu_share", figures.get("share")) or 0.0
            sampled = figures.get("sample_share", share)
            if share >= 0.01 or sampled >= 0.01:
                us = figures["us_per_request"] or 0
                lines.append(f"  {share:6.1%} {us:6.0f} µs  {sampled:6.1%}  {layer}")
    git = report["git"]
    dirty = " (+ uncommitted service/ changes)" if git["service_uncommitted"] else ""
    lines.append(
        f"commit {git['commit'][:10]}{dirty}; load average {report['machine']['load_average_1m']}"
        f" at start, {report['load_average_1m_end']} at end"
    )
    return "\n".join(lines)


def strip_out(argv: list[str]) -> list[str]:
    """``argv`` without ``--out X`` / ``--out=X`` (the re-run gets an absolute one)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            kept.append(arg)
    return kept


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.http_compare``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.http_compare", description=__doc__)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--seconds", type=float, default=10.0, help="load per arm per round")
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument(
        "--arms",
        default=",".join(ARMS),
        help=f"comma-separated, from {', '.join(ARMS)} (default: all)",
    )
    p.add_argument("--transactions", type=int, default=500, help="distinct rows cycled through")
    p.add_argument(
        "--profile-seconds",
        type=float,
        default=5.0,
        help="profiled load per fraudlite arm (0: none)",
    )
    p.add_argument("--profiler", choices=["auto", "py-spy", "cprofile"], default="auto")
    p.add_argument(
        "--head",
        action="store_true",
        help="measure a clean export of HEAD instead of the working tree",
    )
    p.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="model.onnx + pipeline.joblib (default artifacts/, else /tmp/fl_art)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or, with --profile-worker, be the profiled fraud-serve); exit 2 when
    it cannot run."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--profile-worker"]:
        return profile_worker(argv[1:])
    args = build_parser().parse_args(argv)
    if args.head:
        rest = [a for a in argv if a != "--head"]
        return rerun_from_head("benchmarks.http_compare", strip_out(rest), args.out)
    artifacts = args.artifacts
    if artifacts is None:
        default = PROJECT_ROOT / "artifacts"
        artifacts = default if (default / "model.onnx").exists() else FALLBACK_ARTIFACTS
    try:
        arms = [ARMS[name.strip()] for name in args.arms.split(",") if name.strip()]
    except KeyError as exc:
        print(f"error: unknown arm {exc}", file=sys.stderr)
        return 2
    config = Config(
        artifacts=artifacts,
        out=args.out,
        arms=arms,
        rounds=args.rounds,
        seconds=args.seconds,
        connections=args.connections,
        client=args.client,
        transactions=args.transactions,
        profile_seconds=args.profile_seconds,
        profiler=args.profiler,
    )
    try:
        report = run(config)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
