"""Fails loudly when a module outside the allow-list lands on fraudlite's Lambda cold path.

``python -m benchmarks.cold_imports [--artifacts DIR | --model FILE]`` starts a fresh interpreter
that imports the Lambda entry (service.lambda_handler, which loads the model) and answers one API
Gateway v2 event, then lists ``sys.modules``. Every module must be allowed by the data below:
third-party and standard-library modules by top-level package, fraudlite's own modules one by one
(private ``_x`` standard-library modules are C-level details and not tracked). Exit 0 and a
summary when all are allowed; exit 1 naming every newcomer; exit 2 when it cannot run.

The allow-list is the cold path after issue 20's Lambda fast path (CPython 3.11): POST /predict is
answered without Starlette, Mangum, asyncio or anyio, and without the docs, OpenAPI, V2 and rollout
modules (272 modules, from 410; the bare-onnxruntime floor imports 194). Shrink it along with the
code; grow it only on purpose, in the same commit as the import, saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from benchmarks.common import DEFAULT_ARTIFACTS, PROJECT_ROOT, BenchmarkError, require

ENTRY: Final = "service.lambda_handler"

#: Third-party top-level packages on the cold path (the ``service`` extra's runtime).
THIRD_PARTY: Final[frozenset[str]] = frozenset(
    {
        "numpy",
        "onnxruntime",
        "msgspec",
        # msgspec's own import of it (msgspec._utils), not fraudlite's.
        "typing_extensions",
    }
)
#: Installer shims that are not part of the program (pip's editable finder, setuptools' hack).
INSTALLER_PREFIXES: Final[tuple[str, ...]] = ("__editable__", "_distutils_hack", "__main__")

#: Public standard-library top-level packages on the cold path.
STDLIB: Final[frozenset[str]] = frozenset(
    [
        "abc",
        "ast",
        "atexit",
        "base64",
        "binascii",
        "bisect",
        "builtins",
        "codecs",
        "collections",
        "contextlib",
        "contextvars",
        "copy",
        "copyreg",
        "ctypes",
        "dataclasses",
        "datetime",
        "decimal",
        "dis",
        "encodings",
        "enum",
        "errno",
        "fnmatch",
        "functools",
        "genericpath",
        "hashlib",
        "hmac",
        "importlib",
        "inspect",
        "io",
        "ipaddress",
        "itertools",
        "json",
        "keyword",
        "linecache",
        "logging",
        "marshal",
        "math",
        "ntpath",
        "numbers",
        "opcode",
        "operator",
        "os",
        "pathlib",
        "pickle",
        "platform",
        "posix",
        "posixpath",
        "re",
        "reprlib",
        "site",
        "stat",
        "string",
        "struct",
        "sys",
        "textwrap",
        "threading",
        "time",
        "token",
        "tokenize",
        "traceback",
        "types",
        "typing",
        "urllib",
        "uuid",
        "warnings",
        "weakref",
        "zipimport",
    ]
)

#: fraudlite's own modules on the cold path, one by one.
SERVICE: Final[frozenset[str]] = frozenset(
    [
        "service",
        "service.api",
        "service.api.explain",
        "service.api.predict",
        "service.api.problems",
        "service.api.requests",
        "service.api.scoring",
        "service.auth",
        "service.aws",
        "service.aws.gateway",
        "service.bodies",
        "service.errors",
        "service.failures",
        "service.lambda_app",
        "service.lambda_handler",
        "service.model",
        "service.model.core",
        "service.model.errors",
        "service.model.explanation",
        "service.model.identity",
        "service.model.loading",
        "service.model.metadata",
        "service.model.store",
        "service.monitoring",
        "service.monitoring.binning",
        "service.monitoring.decisions",
        "service.monitoring.reference",
        "service.runtime",
        "service.schema",
        "service.settings",
        "service.state",
        "service.telemetry",
        "service.telemetry.decision_log",
        "service.telemetry.emf",
        "service.telemetry.logs",
        "service.telemetry.metrics",
        "service.telemetry.request_record",
        "service.telemetry.setup",
        "service.telemetry.stdout",
    ]
)

#: Run in the fresh interpreter: import the entry, answer one event, list what got imported.
_CHILD = """
import json, sys
event = json.loads(sys.argv[1])
import service.lambda_handler as entry
class Context:
    function_name = "cold-imports"
    aws_request_id = "cold-imports"
    def get_remaining_time_in_millis(self):
        return 30000
answer = entry.handler(event, Context())
result = {"status": answer.get("statusCode"), "modules": sorted(sys.modules)}
print("COLD_IMPORTS " + json.dumps(result))
"""


def event_json() -> str:
    """One POST /predict of the example transaction as an HTTP API v2 event (built here, in the
    parent, so the child imports nothing the entry does not)."""
    from benchmarks.events import http_api_v2_event
    from service import schema

    return json.dumps(http_api_v2_event(dict(schema.EXAMPLE_TRANSACTION)))


def cold_modules(model: Path) -> tuple[int, list[str]]:
    """The status answered and every module in ``sys.modules`` after one cold start."""
    process = subprocess.run(
        [sys.executable, "-c", _CHILD, event_json()],
        env={**os.environ, "FRAUD_MODEL_URI": str(model)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in process.stdout.splitlines() if x.startswith("COLD_IMPORTS ")]
    if process.returncode != 0 or not lines:
        raise BenchmarkError(f"the cold start failed:\n{process.stderr[-2000:]}")
    result = json.loads(lines[-1].removeprefix("COLD_IMPORTS "))
    return int(result["status"] or 0), result["modules"]


def classify(modules: list[str]) -> dict[str, Any]:
    """Modules grouped as allowed per kind, and the newcomers nothing allows."""
    stdlib_names = sys.stdlib_module_names
    unexpected: list[str] = []
    third_party: set[str] = set()
    stdlib: set[str] = set()
    service: list[str] = []
    for name in modules:
        top = name.split(".")[0]
        if name.startswith(INSTALLER_PREFIXES):
            continue
        if top == "service":
            (service if name in SERVICE else unexpected).append(name)
        elif top in stdlib_names:
            if top.startswith("_"):
                continue
            if top in STDLIB:
                stdlib.add(top)
            else:
                unexpected.append(name)
        elif top in THIRD_PARTY:
            third_party.add(top)
        else:
            unexpected.append(name)
    return {
        "modules_imported": len(modules),
        "third_party": sorted(third_party),
        "stdlib_packages": len(stdlib),
        "service_modules": len(service),
        "unexpected": unexpected,
    }


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m benchmarks.cold_imports``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.cold_imports", description=__doc__)
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--model", type=Path, help="model.onnx (default: ARTIFACTS/model.onnx)")
    p.add_argument("--json", action="store_true", help="print the classification as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every cold-path module is allowed, 1 naming the newcomers, 2 if it can't run."""
    args = build_parser().parse_args(argv)
    try:
        model = args.model or require(
            args.artifacts / "model.onnx", "run fraud-convert or pass --model"
        )
        status, modules = cold_modules(model)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if status != 200:
        print(f"error: the entry answered {status}, not 200: no model on the path", file=sys.stderr)
        return 2
    report = classify(modules)
    if args.json:
        print(json.dumps(report, indent=2))
    if report["unexpected"]:
        print(
            f"FAIL: {len(report['unexpected'])} module(s) outside the allow-list on the Lambda "
            f"cold path ({ENTRY}): {', '.join(report['unexpected'])}\n"
            "Defer the import (import it where it is used), or allow it in "
            "benchmarks/cold_imports.py saying why.",
            file=sys.stderr,
        )
        return 1
    print(
        f"ok: {report['modules_imported']} modules on the cold path, all allowed "
        f"(third-party: {', '.join(report['third_party'])}; "
        f"{report['stdlib_packages']} stdlib packages; {report['service_modules']} service modules)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
