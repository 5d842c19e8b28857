"""Who pulls in what on the Lambda cold path: ``python -X importtime`` as a tree, each module's
own time charged to the fraudlite module (``service.<package>``) that first imported it.

``python -m benchmarks.cold_attribution [--runs N] [--model FILE]``: the importtime tree of
``import service.lambda_handler`` (which loads the model), medians over N fresh interpreters.
Each line's self time is charged to the innermost ``service.*`` module above it in the tree
(so ``service.app -> starlette -> asyncio`` charges asyncio to ``service.app``), grouped by
``service.<package>``, and separately to the top-level third-party or stdlib package it belongs
to. That says which fraudlite module to make lazy to take a library off the cold path (issue 20,
docs/performance.md). Prints a table; ``--json`` prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from benchmarks.common import DEFAULT_ARTIFACTS, PROJECT_ROOT, BenchmarkError, require


def parse_tree(stderr: str) -> list[tuple[int, str, int]]:
    """(depth, module, self µs) per ``import time:`` line, in output order (children first)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, _, name = line.removeprefix("import time:").split("|", 2)
        except ValueError:
            continue
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((depth, name.strip(), int(self_us)))
    return rows


def owner(module: str) -> str:
    """``service.<package>`` (or ``service.<module>``) for a fraudlite module."""
    return ".".join(module.split(".")[:2])


def attribute(rows: list[tuple[int, str, int]]) -> dict[str, dict[str, float]]:
    """Self ms charged to the innermost service module above each line, and by package."""
    # -X importtime prints a module after its children: walk backwards so parents come first.
    charged: dict[str, float] = defaultdict(float)
    by_package: dict[str, float] = defaultdict(float)
    pairs: dict[str, float] = defaultdict(float)
    stack: list[tuple[int, str]] = []  # (depth, module) of the ancestors of the current line
    for depth, name, self_us in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, name))
        service = next((m for _, m in reversed(stack) if m.split(".")[0] == "service"), None)
        where = owner(service) if service else "(outside service: python start-up)"
        charged[where] += self_us / 1000
        by_package[name.split(".")[0]] += self_us / 1000
        pairs[f"{where} <- {name.split('.')[0]}"] += self_us / 1000
    return {
        "by_service_module": dict(charged),
        "by_package": dict(by_package),
        "by_service_module_and_package": dict(pairs),
    }


def measure(model: Path, runs: int) -> dict[str, dict[str, float]]:
    """Median ms per service module and per package over ``runs`` fresh interpreters."""
    samples: dict[str, dict[str, list[float]]] = {
        "by_service_module": defaultdict(list),
        "by_package": defaultdict(list),
        "by_service_module_and_package": defaultdict(list),
    }
    for _ in range(runs):
        process = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import service.lambda_handler"],
            env={**os.environ, "FRAUD_MODEL_URI": str(model)},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if process.returncode != 0:
            raise BenchmarkError(f"import failed:\n{process.stderr[-2000:]}")
        for kind, figures in attribute(parse_tree(process.stderr)).items():
            for key, ms in figures.items():
                samples[kind][key].append(ms)
    return {
        kind: dict(
            sorted(
                ((k, statistics.median(v + [0.0] * (runs - len(v)))) for k, v in values.items()),
                key=lambda item: -item[1],
            )
        )
        for kind, values in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Print the attribution; exit 2 when it cannot run."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.cold_attribution", description=__doc__)
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--model", type=Path, help="model.onnx (default: ARTIFACTS/model.onnx)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        model = args.model or require(args.artifacts / "model.onnx", "pass --model")
        figures = measure(model, max(1, args.runs))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for kind, rows in figures.items():
        print(f"import self time charged {kind.replace('_', ' ')} (median ms of {args.runs}):")
        for key, ms in list(rows.items())[:20]:
            print(f"  {ms:7.1f}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
