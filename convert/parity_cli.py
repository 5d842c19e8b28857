"""``fraud-parity``: score the same rows with the pipeline and with the ONNX model, compare.

Exit 0 when max |p_onnx - p_pipeline| <= atol, no label flips and, for a model with a
``contributions`` output, max |contribution - XGBoost's approx_contribs| <= contrib-atol; 1
otherwise; 2 on usage errors (missing file, unreadable model or pipeline, bad data source,
model/pipeline mismatch).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convert.artifacts import load_pipeline
from convert.errors import ConvertError, ParityInputError
from convert.parity import (
    DEFAULT_ATOL,
    DEFAULT_BATCH,
    DEFAULT_CONTRIB_ATOL,
    ParityReport,
    check_parity,
    make_session,
)

_COUNT = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def row_count(text: str) -> int:
    """Parse a row count: ``1000000``, ``1_000_000``, ``200k`` or ``1M``."""
    match = _COUNT.match(text.strip().replace("_", ""))
    value = (
        float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()] if match else 0
    )
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"expected a positive row count (e.g. 1000000, 1M), got {text!r}"
        )
    return int(value)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-parity",
        description="Check that model.onnx reproduces pipeline.joblib on the same rows.",
    )
    parser.add_argument("--model", required=True, type=Path, help="model.onnx")
    parser.add_argument("--pipeline", required=True, type=Path, help="pipeline.joblib")
    parser.add_argument(
        "--data",
        required=True,
        metavar="SOURCE",
        help="file (.csv/.csv.gz/.parquet), synthetic:N or hf:NAME",
    )
    parser.add_argument("--rows", type=row_count, help="compare only the first N rows")
    parser.add_argument("--atol", type=positive_float, default=DEFAULT_ATOL, help="default 1e-6")
    parser.add_argument(
        "--contrib-atol",
        type=positive_float,
        default=DEFAULT_CONTRIB_ATOL,
        help="tolerance on contributions, log-odds (default 1e-5)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the report as JSON")
    parser.add_argument(
        "--batch-size", type=row_count, default=DEFAULT_BATCH, help="rows per batch"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for synthetic:N (default 0)")
    parser.add_argument("--worst", type=int, default=10, help="how many worst rows to show")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="onnxruntime intra-op threads (default 1, as the service; 0: onnxruntime decides)",
    )
    return parser


def _progress(started: float):
    def show(done: int, total: int) -> None:
        print(
            f"[parity {time.perf_counter() - started:6.1f}s] scored {done:,}/{total:,} rows "
            f"({done / max(total, 1):.0%})",
            file=sys.stderr,
        )

    return show


def _load_data(source: str, seed: int, rows: int | None):
    from train.data import DataError, load_transactions  # heavy imports only when needed

    try:
        frame = load_transactions(source, seed=seed, progress=True).frame
    except DataError as exc:
        raise ParityInputError(f"bad data source: {exc}") from exc
    return frame.head(rows) if rows is not None else frame


def _jsonable(value: Any) -> Any:
    """Strict JSON: non-finite floats become strings (e.g. an infinite difference)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def print_report(report: ParityReport) -> None:
    print(f"rows compared        {report.rows:,}")
    print(f"max |p_onnx - p_xgb| {report.max_abs_diff:.3g}  (atol {report.atol:g})")
    print(f"mean |diff|          {report.mean_abs_diff:.3g}")
    print(f"label flips          {report.label_flips}  (threshold {report.threshold!r})")
    print(
        f"near threshold       {report.near_threshold} rows within atol "
        f"({report.near_threshold_flips} of them flipped, not counted as flips)"
    )
    if report.contributions_checked:
        print(
            f"max |contrib diff|   {report.contributions_max_abs_diff:.3g}  "
            f"(atol {report.contrib_atol:g}, vs xgboost approx_contribs; "
            f"mean {report.contributions_mean_abs_diff:.3g})"
        )
        print(f"feature mismatches   {report.feature_mismatches} rows")
        for row in report.contributions_worst[:3] if report.contributions_max_abs_diff else []:
            print(
                f"  #{row['row']} {row['column']} xgb={row['xgboost']:.9g} "
                f"onnx={row['onnx']:.9g} diff={row['abs_diff']:.3g}"
            )
    else:
        print("contributions        not in this model: comparison skipped")
    print(f"seconds scoring      {report.seconds}")
    if report.worst:
        print("worst rows:")
        for row in report.worst:
            print(
                f"  #{row['row']} {row['type']} amount={row['amount']} "
                f"p_xgb={row['p_pipeline']:.9g} p_onnx={row['p_onnx']:.9g} "
                f"diff={row['abs_diff']:.3g} labels={row['label_pipeline']}/{row['label_onnx']}"
            )
    print("PASSED" if report.passed else "FAILED")


def run(args: argparse.Namespace) -> ParityReport:
    for name, path in (("model", args.model), ("pipeline", args.pipeline)):
        if not path.is_file():
            raise ParityInputError(f"{name} file not found: {path}")
    try:
        session = make_session(str(args.model), args.threads)
    except Exception as exc:  # onnxruntime raises its own exception types for a bad file
        raise ParityInputError(f"cannot load ONNX model {args.model}: {exc}") from exc
    try:
        pipeline, features, _ = load_pipeline(args.pipeline)
    except ConvertError as exc:
        raise ParityInputError(str(exc)) from exc
    model_set = session.get_modelmeta().custom_metadata_map.get("feature_set")
    if model_set != features.feature_set:
        raise ParityInputError(
            f"model feature_set {model_set!r} does not match "
            f"the pipeline's {features.feature_set!r}"
        )
    started = time.perf_counter()
    frame = _load_data(args.data, args.seed, args.rows)
    return check_parity(
        session,
        pipeline,
        frame,
        atol=args.atol,
        contrib_atol=args.contrib_atol,
        batch_size=args.batch_size,
        worst=args.worst,
        progress=_progress(started),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the parity check; see the module docstring for exit codes."""
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except ConvertError as exc:
        print(f"fraud-parity: error: {exc}", file=sys.stderr)
        return exc.status
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_jsonable(report.to_dict()), indent=2, allow_nan=False))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
