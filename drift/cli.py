"""``fraud-drift --model MODEL --data SOURCE``: drift of data or live traffic against the model.

Exit status: 0 nothing drifted, 1 a feature or the score drifted, 2 usage or input errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drift.compare import DriftReport, add_documents, build_report
from drift.errors import DriftError
from drift.report import markdown, write_json, write_png
from drift.scoring import DriftModel
from drift.sources import read_source
from service.monitoring.reference import DRIFT_PSI, WATCH_PSI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-drift",
        description=(
            "Population stability index (and binned KS) of each model feature and the score, "
            "SOURCE against the training reference the model carries (drift_profile). SOURCE: "
            "a CSV/CSV.gz/Parquet file, a directory or s3:// prefix of them, a JSON-lines "
            "decision log or the service's live counts. Exit 0: no drift; 1: drift; 2: error."
        ),
    )
    parser.add_argument("--model", required=True, metavar="MODEL", help="model.onnx")
    parser.add_argument("--data", required=True, metavar="SOURCE", help="what to compare")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the JSON report here")
    parser.add_argument("--png", type=Path, metavar="OUT", help="plot drifted features here")
    parser.add_argument(
        "--watch", type=float, default=WATCH_PSI, help=f"PSI to watch (default {WATCH_PSI})"
    )
    parser.add_argument(
        "--drift", type=float, default=DRIFT_PSI, help=f"PSI of drift (default {DRIFT_PSI})"
    )
    return parser


def run(model_path: str, source: str, watch: float, drift: float) -> tuple[DriftModel, DriftReport]:
    """Open the model, read SOURCE, bin it against the reference and compare."""
    model = DriftModel.open(model_path)
    found = read_source(source, model.inputs)
    flat = np.zeros(model.binner.total_bins, dtype=np.int64)
    started = time.perf_counter()
    for frame in found.frames:
        flat += model.counts(frame)
        print(
            f"[drift {time.perf_counter() - started:5.1f}s] scored {len(frame):,} rows",
            file=sys.stderr,
        )
    live, live_rows = add_documents(
        model.binner, model.profile, found.documents, model.metadata.model_version
    )
    flat += live
    if found.skipped_lines:
        print(f"[drift] skipped {found.skipped_lines:,} other log lines", file=sys.stderr)
    rows = found.raw_rows + live_rows
    return model, build_report(model.binner, flat, rows, watch, drift)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.watch <= args.drift:
        parser.error("need 0 < --watch <= --drift")
    try:
        model, report = run(args.model, args.data, args.watch, args.drift)
    except DriftError as exc:
        print(f"fraud-drift: error: {exc}", file=sys.stderr)
        return exc.status
    if args.json:
        write_json(report, args.json)
    if args.png:
        write_png(report, model.profile, args.png)
    print(markdown(report, args.data, model.metadata.model_version), end="")
    return 1 if report.drifted else 0


if __name__ == "__main__":
    sys.exit(main())
