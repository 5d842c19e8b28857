"""Where a warm Lambda invoke goes under AWS's Runtime Interface Emulator: the emulator and its
runtime client, against fraudlite's own share.

``python -m benchmarks.rie_split [--invokes 300]`` starts one RIE per arm (each on 127.0.0.1 only,
the function in the Lambda bundle of the image's Python: requirements/service.lock +
awslambdaric, as benchmarks/rie.py and the deployment tests run it) and sends the same API Gateway
v2 POST /predict event to each in turn (interleaved, one keep-alive connection per emulator):

- ``raw_empty``: a constant v2 response from a minimal runtime loop of this file (stdlib
  http.client: GET next, POST response), no awslambdaric: the emulator's own round trip;
- ``ric_empty``: the same constant response from a handler run by awslambdaric: + awslambdaric;
- ``ric_json``: a handler that decodes the event's JSON body and encodes a prediction-shaped
  answer, under awslambdaric: + the JSON work any Python handler does;
- ``fraudlite``: ``service.lambda_handler.handler``, under awslambdaric: + fraudlite;
- ``fraudlite_timed``: the same handler wrapped to report its own time in a response header, so
  fraudlite's in-handler time is measured in place, beside the round trip;
- ``fraudlite_quiet``: ``fraudlite_timed`` with FRAUD_METRICS=off and FRAUD_LOG_LEVEL=WARNING:
  no request log line and no EMF record on stdout (which the emulator, like Lambda, reads).

p50/p99 of the round trip per arm, the differences between adjacent arms (who adds what), and
fraudlite's in-handler p50/p99. Writes ``rie_split.json`` and ``rie_split.png`` under ``--out``.

The module's top level imports only the standard library: the emulator's runtime imports this
file (copied into the task root as ``rie_split_handlers.py``) for the reference handlers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

#: What the reference handlers answer: an API Gateway v2 (payload 2.0) proxy response.
CONSTANT_BODY: Final = '{"probability_fraud": 0.0, "is_fraud": false}'
HANDLER_MODULE: Final = "rie_split_handlers"
TIMING_HEADER: Final = "x-handler-us"
ARMS: Final = (
    "raw_empty",
    "ric_empty",
    "ric_json",
    "fraudlite",
    "fraudlite_timed",
    "fraudlite_quiet",
)
#: fraudlite_quiet: the timed handler without its two stdout lines per invoke (the JSON request
#: line and the EMF metrics record), to price them.
QUIET_ENV: Final = {"FRAUD_METRICS": "off", "FRAUD_LOG_LEVEL": "WARNING"}
TIMED: Final = ("fraudlite_timed", "fraudlite_quiet")


def empty_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A constant API Gateway v2 response: nothing of the event is read."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": CONSTANT_BODY,
        "isBase64Encoded": False,
    }


def json_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Decode the event's JSON body and encode a prediction-shaped answer from it: the JSON work
    of any handler of this API, without a model."""
    raw = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(raw).decode()
    body = json.loads(raw)
    answer = {
        "transaction_id": body.get("transaction_id"),
        "probability_fraud": 0.0,
        "is_fraud": False,
        "threshold": 0.5,
        "model_version": "none",
        "amount": body.get("amount"),
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(answer),
        "isBase64Encoded": False,
    }


def fraudlite_timed_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """fraudlite's handler, its own time (µs) added as a response header."""
    from service.lambda_handler import handler

    started = time.perf_counter()
    answer = handler(event, context)
    elapsed_us = (time.perf_counter() - started) * 1e6
    headers = dict(answer.get("headers") or {})
    headers[TIMING_HEADER] = f"{elapsed_us:.1f}"
    return {**answer, "headers": headers}


def raw_runtime_loop() -> None:  # pragma: no cover - runs inside the emulator
    """The least a Lambda runtime can do: GET the next event, POST the constant answer, forever.

    No awslambdaric: the gap to ``ric_empty`` is awslambdaric's per-invoke cost.
    """
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    connection = http.client.HTTPConnection(api)
    base = "/2018-06-01/runtime/invocation"
    answer = json.dumps(empty_handler({}, None)).encode()
    while True:
        connection.request("GET", f"{base}/next")
        response = connection.getresponse()
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        response.read()
        if response.status != 200 or not request_id:
            # The runtime API failing is fatal for a runtime: exit and let the emulator say so.
            raise RuntimeError(f"runtime API answered {response.status} to /next")
        connection.request(
            "POST",
            f"{base}/{request_id}/response",
            body=answer,
            headers={"Content-Type": "application/json"},
        )
        connection.getresponse().read()


def in_process_loop(count: int, events_path: str, out_path: str) -> None:  # pragma: no cover
    """fraudlite's handler called ``count`` times in this interpreter, no emulator: writes the
    per-call µs to ``out_path``. Run with the emulator's interpreter, bundle and environment, it
    tells the handler's own time from what running under the emulator adds to it."""
    from service.lambda_handler import handler

    events = json.loads(Path(events_path).read_text())
    for index in range(50):  # warm-up, as the emulator arms get
        handler(events[index % len(events)], None)
    times = []
    for index in range(count):
        begun = time.perf_counter()
        handler(events[index % len(events)], None)
        times.append((time.perf_counter() - begun) * 1e6)
    Path(out_path).write_text(json.dumps(times))


# --- the benchmark (imports beyond the standard library stay inside the functions) -------------


class Invoker:
    """POSTs events to one emulator over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = "/2015-03-31/functions/function/invocations"

    def invoke(self, payload: bytes) -> dict[str, Any]:
        self.connection.request("POST", self.path, body=payload)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"emulator answered HTTP {response.status}: {data[:500]!r}")
        return json.loads(data)

    def close(self) -> None:
        self.connection.close()


def check_answer(arm: str, answer: dict[str, Any]) -> None:
    """Every arm must answer a v2 response with status 200 (fraudlite: with a probability)."""
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"{arm} answered {str(answer)[:500]}")
    body = json.loads(answer.get("body") or "null")
    if not isinstance(body, dict) or "probability_fraud" not in body:
        raise RuntimeError(f"{arm} answered a body without probability_fraud: {body}")


def start_emulator(
    arm: str, rie: Path, python: Path, bundle: Any, task: Path, env: dict[str, str], log: Path
) -> Any:
    """The deployment tests' RIE on 127.0.0.1 (tests/aws_tools.py ``emulator``, a context
    manager) running ``arm``'s function: awslambdaric, or for ``raw_empty`` this module's own
    minimal runtime loop."""
    tools = _tools()
    runtime = (
        f"{task / (HANDLER_MODULE + '.py')} --raw-runtime"
        if arm == "raw_empty"
        else '-m awslambdaric "$@"'
    )
    handler = {
        "raw_empty": f"{HANDLER_MODULE}.empty_handler",
        "ric_empty": f"{HANDLER_MODULE}.empty_handler",
        "ric_json": f"{HANDLER_MODULE}.json_handler",
        "fraudlite": "service.lambda_handler.handler",
        "fraudlite_timed": f"{HANDLER_MODULE}.fraudlite_timed_handler",
        "fraudlite_quiet": f"{HANDLER_MODULE}.fraudlite_timed_handler",
    }[arm]
    arm_env = {**env, **(QUIET_ENV if arm == "fraudlite_quiet" else {})}
    return tools.emulator(rie, python, bundle, task, arm_env, log, handler, runtime)


def _tools() -> Any:
    from benchmarks.common import aws_tools

    return aws_tools()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, mean and count of ``values`` (ms)."""
    from benchmarks.common import summarize

    figures = summarize(values)
    ordered = sorted(values)
    figures["p90"] = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0.0
    return figures


def split(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Who adds what to the p50 (and p99): each arm against the one before it."""
    steps = [
        ("emulator round trip (raw runtime, empty handler)", None, "raw_empty"),
        ("awslambdaric's per-invoke cost", "raw_empty", "ric_empty"),
        ("JSON decode/encode of body and answer", "ric_empty", "ric_json"),
        ("fraudlite beyond a JSON-only handler", "ric_json", "fraudlite"),
        ("fraudlite beyond an empty handler", "ric_empty", "fraudlite"),
        ("the request line and EMF record on stdout", "fraudlite_quiet", "fraudlite_timed"),
    ]
    out: dict[str, Any] = {}
    for label, before, after in steps:
        if after not in arms or (before is not None and before not in arms):
            continue
        top = arms[after]["round_trip_ms"]
        base = arms[before]["round_trip_ms"] if before else {"p50": 0.0, "p99": 0.0}
        out[label] = {
            "from": before,
            "to": after,
            "p50_ms": top["p50"] - base["p50"],
            "p99_ms": top["p99"] - base["p99"],
        }
    return out


def run(artifacts: Path, out: Path, invokes: int, warmup: int) -> dict[str, Any]:
    """Start the emulators, interleave the invokes, write rie_split.json and the PNG."""
    import shutil
    import tempfile

    from benchmarks.common import BenchmarkError, progress, require, run_metadata, write_json
    from benchmarks.events import http_api_v2_event
    from benchmarks.http_compare import git_state
    from benchmarks.payloads import sample_transactions, single_body
    from benchmarks.rie import _lambda_python

    tools = _tools()
    rie = tools.find_rie()
    if rie is None:
        raise BenchmarkError("aws-lambda-rie not installed: run .ci/install-aws-tools")
    model = require(artifacts / "model.onnx", "run fraud-convert first").resolve()
    python, version = _lambda_python(tools)
    progress("rie_split", f"Lambda bundle for Python {version} (built once, then cached)")
    bundle = tools.build_bundle(python, version)
    raws = sample_transactions(50, seed=0)
    payloads = [
        json.dumps(http_api_v2_event(single_body(raw, "fraudlite"))).encode() for raw in raws
    ]
    meta = {**run_metadata(), "git": git_state()}
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    handler_us: dict[str, list[float]] = {arm: [] for arm in TIMED}
    with tempfile.TemporaryDirectory(prefix="fraudlite-rie-split-") as scratch:
        root = Path(scratch)
        task = tools.task_root(bundle, root / "task")
        shutil.copy(Path(__file__), task / f"{HANDLER_MODULE}.py")
        env = {
            "FRAUD_MODEL_URI": str(model),
            "FRAUD_MODEL_CACHE_DIR": str(root / "model-cache"),
        }
        invokers: dict[str, Invoker] = {}
        with contextlib.ExitStack() as emulators:
            for arm in ARMS:
                emu = emulators.enter_context(
                    start_emulator(arm, rie, python, bundle, task, env, root / f"rie_{arm}.log")
                )
                port = urlsplit(emu.url).port
                assert port is not None  # the emulator's URL names the port it was given
                invokers[arm] = Invoker(port)
                emulators.callback(invokers[arm].close)
                check_answer(arm, invokers[arm].invoke(payloads[0]))  # the init (cold) invoke
                for index in range(warmup):
                    invokers[arm].invoke(payloads[index % len(payloads)])
            progress("rie_split", f"{invokes} warm invokes per arm, interleaved")
            for index in range(invokes):
                payload = payloads[index % len(payloads)]
                shift = index % len(ARMS)
                for arm in ARMS[shift:] + ARMS[:shift]:
                    begun = time.perf_counter()
                    answer = invokers[arm].invoke(payload)
                    times[arm].append((time.perf_counter() - begun) * 1000)
                    if arm in TIMED:
                        handler_us[arm].append(float(answer["headers"][TIMING_HEADER]))
        progress("rie_split", f"the handler in process ({invokes} calls, same bundle, no emulator)")
        in_process = handler_in_process(python, bundle, task, env, payloads, invokes, root)
    arms = {arm: {"round_trip_ms": percentiles(values)} for arm, values in times.items()}
    in_handler = {arm: percentiles([us / 1000 for us in handler_us[arm]]) for arm in TIMED}
    handler_ms = in_handler["fraudlite_timed"]
    report = {
        **meta,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "python": version,
        "invokes_per_arm": invokes,
        "warmup_per_arm": warmup,
        "client": "http.client, one keep-alive connection per emulator, interleaved arms",
        "arms": arms,
        "fraudlite_in_handler_ms": handler_ms,
        "fraudlite_quiet_in_handler_ms": in_handler["fraudlite_quiet"],
        # The same handler, interpreter, bundle and environment, called in a plain process.
        "fraudlite_in_process_ms": percentiles([us / 1000 for us in in_process]),
        "stdout_lines_in_handler_p50_ms": handler_ms["p50"] - in_handler["fraudlite_quiet"]["p50"],
        "split_ms": split(arms),
        "shares_of_fraudlite_p50": shares(arms, handler_ms),
    }
    write_json(out / "rie_split.json", report)
    plot(report, out / "rie_split.png")
    return report


def handler_in_process(
    python: Path,
    bundle: Any,
    task: Path,
    env: dict[str, str],
    payloads: list[bytes],
    count: int,
    root: Path,
) -> list[float]:
    """µs per call of fraudlite's handler in a plain process of the emulator's interpreter and
    bundle (stdout to a pipe, as under the emulator)."""
    import subprocess

    tools = _tools()
    events = root / "events.json"
    events.write_text(json.dumps([json.loads(p) for p in payloads]))
    out = root / "in_process.json"
    script = task / f"{HANDLER_MODULE}.py"
    command = [*tools.python_command(python), str(script), "--in-process", str(count)]
    subprocess.run(
        [*command, str(events), str(out)],
        cwd=task,
        env=tools.isolated_env(bundle, task, env),
        stdout=subprocess.PIPE,  # drained by run(), like the emulator reads the function's stdout
        stderr=subprocess.STDOUT,
        check=True,
        timeout=300,
    )
    return json.loads(out.read_text())


def shares(arms: dict[str, dict[str, Any]], handler_ms: dict[str, float]) -> dict[str, float]:
    """fraudlite's p50 round trip cut into emulator, awslambdaric, JSON and fraudlite (ms)."""
    need = {"raw_empty", "ric_empty", "ric_json", "fraudlite"}
    if not need <= arms.keys():
        return {}
    p50 = {arm: arms[arm]["round_trip_ms"]["p50"] for arm in need}
    return {
        "total_fraudlite_p50": p50["fraudlite"],
        "emulator_and_client": p50["raw_empty"],
        "awslambdaric": p50["ric_empty"] - p50["raw_empty"],
        "json_of_any_handler": p50["ric_json"] - p50["ric_empty"],
        "fraudlite_beyond_json": p50["fraudlite"] - p50["ric_json"],
        "fraudlite_in_handler_p50": handler_ms.get("p50", 0.0),
    }


def plot(report: dict[str, Any], path: Path) -> Path:
    """Round-trip p50 and p99 per arm, and fraudlite's in-handler p50 beside them."""
    import numpy as np

    from benchmarks.plots import plt, save_figure  # Agg: files only

    arms = report["arms"]
    names = list(arms)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    colors = ("#1b7f5a", "#6fc29d", "#0b3d2c")
    for j, key in enumerate(("p50", "p90", "p99")):
        values = [arms[n]["round_trip_ms"][key] for n in names]
        ax.bar(x + (j - 1) * 0.25, values, 0.25, label=f"round trip {key}", color=colors[j])
    for arm, key in (
        ("fraudlite_timed", "fraudlite_in_handler_ms"),
        ("fraudlite_quiet", "fraudlite_quiet_in_handler_ms"),
    ):
        handler = (report.get(key) or {}).get("p50")
        if handler and arm in names:
            ax.plot(
                [names.index(arm) - 0.25],
                [handler],
                "o",
                color="#c0504d",
                label="in-handler p50" if arm == "fraudlite_timed" else None,
            )
    # The tails are this machine's scheduling and run 10x the medians: a log scale keeps both.
    ax.set_yscale("log")
    ax.set_xticks(x, names)
    ax.set_ylabel("ms (log scale)")
    load = report["machine"]["load_average_1m"]
    ax.set_title(f"warm invokes under the Lambda RIE (Python {report['python']}), load {load}")
    ax.legend()
    return save_figure(fig, path)


def table(report: dict[str, Any]) -> str:
    """Per-arm p50/p99 and the split, as plain text."""
    lines = [f"{'arm':18} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"]
    for arm, figures in report["arms"].items():
        rt = figures["round_trip_ms"]
        lines.append(f"{arm:18} {rt['p50']:8.3f} {rt['p90']:8.3f} {rt['p99']:8.3f}")
    for key, label in (
        ("fraudlite_in_handler_ms", "fraudlite in-handler"),
        ("fraudlite_quiet_in_handler_ms", "fraudlite in-handler, no stdout lines"),
        ("fraudlite_in_process_ms", "fraudlite handler in a plain process (no emulator)"),
    ):
        h = report.get(key) or {}
        if h.get("count"):
            lines.append(f"{label}: p50 {h['p50']:.3f} ms, p99 {h['p99']:.3f} ms")
    for label, step in report["split_ms"].items():
        lines.append(f"  {label}: p50 {step['p50_ms']:+.3f} ms, p99 {step['p99_ms']:+.3f} ms")
    git = report["git"]
    lines.append(
        f"commit {git['commit'][:10]}; load average {report['machine']['load_average_1m']} at "
        f"start, {report['load_average_1m_end']} at end"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the split (or, with --raw-runtime, be the minimal runtime inside the emulator)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--raw-runtime"]:
        raw_runtime_loop()
        return 0
    if argv[:1] == ["--in-process"]:
        in_process_loop(int(argv[1]), argv[2], argv[3])
        return 0
    import argparse

    from benchmarks.common import DEFAULT_RESULTS, PROJECT_ROOT, BenchmarkError
    from benchmarks.http_compare import FALLBACK_ARTIFACTS, rerun_from_head, strip_out

    parser = argparse.ArgumentParser(prog="python -m benchmarks.rie_split", description=__doc__)
    parser.add_argument("--invokes", type=int, default=300, help="warm invokes per arm")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up invokes per arm")
    parser.add_argument("--artifacts", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--head", action="store_true", help="measure a clean export of HEAD, not the working tree"
    )
    args = parser.parse_args(argv)
    if args.head:
        rest = [a for a in argv if a != "--head"]
        return rerun_from_head("benchmarks.rie_split", strip_out(rest), args.out)
    artifacts = args.artifacts
    if artifacts is None:
        default = PROJECT_ROOT / "artifacts"
        artifacts = default if (default / "model.onnx").exists() else FALLBACK_ARTIFACTS
    try:
        report = run(artifacts, args.out, args.invokes, args.warmup)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
