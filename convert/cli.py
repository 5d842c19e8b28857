"""``fraud-convert ARTIFACTS_DIR [-o PATH]``: export the trained pipeline to one ONNX graph."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from convert.artifacts import load_artifacts
from convert.drift_profile import ReferenceRows, training_rows
from convert.errors import ConvertError
from convert.export import DEFAULT_EXPLAIN, MODEL_FILE, export_model
from service.monitoring.reference import PROFILE_KEY, parse_profile


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
    # --- drift reference profile (issue 17) ---
    parser.add_argument(
        "--reference-data",
        metavar="SOURCE",
        help="rows to compute the drift reference profile on (default: the train part of "
        "the data named in metrics.json, split again as fraud-train did)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="write no drift reference profile"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the converter; exit 0 on success, 1 when the self-check fails, 2 on usage errors."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    print(f"converting {args.artifacts_dir} ...", file=sys.stderr)
    try:
        reference = None if args.no_profile else reference_rows(args)
        out = export_model(
            args.artifacts_dir,
            args.output,
            verify=not args.no_verify,
            explain=args.explain,
            reference=reference,
        )
    except ConvertError as exc:
        print(f"fraud-convert: error: {exc}", file=sys.stderr)
        return exc.status
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    print(profile_summary(out))
    return 0


# --- drift reference profile (issue 17) ---
def reference_rows(args: argparse.Namespace) -> ReferenceRows | None:
    """The rows to profile (convert/drift_profile.py), announced on stderr; None when unknown."""
    metrics = load_artifacts(Path(args.artifacts_dir)).metrics
    rows = training_rows(metrics, args.reference_data)
    if rows is None:
        print(
            "no drift reference profile: metrics.json names no training data "
            "(pass --reference-data SOURCE)",
            file=sys.stderr,
        )
    else:
        print(f"drift reference profile on {rows.description}", file=sys.stderr)
    return rows


def profile_summary(path: Path) -> str:
    """One line on the written model's drift profile: entries and size in bytes."""
    import onnx

    model = onnx.load_model(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    text = props.get(PROFILE_KEY)
    if text is None:
        return "drift profile: none"
    profile = parse_profile(text)
    return (
        f"drift profile: {len(profile.entries)} entries ({', '.join(profile.names())}), "
        f"{len(text.encode()):,} bytes of metadata"
    )


if __name__ == "__main__":
    sys.exit(main())
