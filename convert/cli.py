"""``fraud-convert ARTIFACTS_DIR [-o PATH]``: export the trained pipeline to one ONNX graph."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from convert.errors import ConvertError
from convert.export import DEFAULT_EXPLAIN, MODEL_FILE, export_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-convert",
        description=(
            "Export ARTIFACTS_DIR/pipeline.joblib (features + XGBoost) as one ONNX graph: raw "
            "transaction fields in, probability and label out. The graph is checked against "
            "the pipeline on crafted edge rows before it is written."
        ),
    )
    parser.add_argument("artifacts_dir", metavar="ARTIFACTS_DIR", help="fraud-train --out dir")
    parser.add_argument(
        "-o", "--output", metavar="PATH", help=f"output file (default ARTIFACTS_DIR/{MODEL_FILE})"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the edge-row parity self-check"
    )
    parser.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_EXPLAIN,
        help="add the 'contributions' and 'features' outputs (per-feature log-odds "
        "contributions; unused outputs cost nothing at scoring time, see "
        "docs/explanations.md). Default: --explain",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the converter; exit 0 on success, 1 when the self-check fails, 2 on usage errors."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    print(f"converting {args.artifacts_dir} ...", file=sys.stderr)
    try:
        out = export_model(
            args.artifacts_dir, args.output, verify=not args.no_verify, explain=args.explain
        )
    except ConvertError as exc:
        print(f"fraud-convert: error: {exc}", file=sys.stderr)
        return exc.status
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
