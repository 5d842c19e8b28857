"""fraud-score: score CSV/Parquet files or S3 prefixes with a fraudlite model, locally or on Ray.

    fraud-score data/2026-11/*.csv.gz --model artifacts/model.onnx -o scores.parquet
    fraud-score s3://bank-raw/tx/2026-11/ --model s3://models/fraud/model.onnx \\
        -o s3://bank-scores/2026-11.parquet --keep nameOrig,nameDest --workers 8
    fraud-score s3://bank-raw/tx/ --model model.onnx -o s3://out/all.parquet --engine ray \\
        --ray-address ray://head:10001

Exit status: 0 when every row was scored or written to the rejects file, 2 for a data or usage
problem (no input file, a missing column, a model that does not load), 1 when an output cannot be
written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from batch.errors import BatchError
from batch.job import default_workers, run_job
from batch.plan import JobSpec
from batch.sources import s3_endpoint


def build_parser() -> argparse.ArgumentParser:
    """The command line of fraud-score (also ``python -m batch``)."""
    p = argparse.ArgumentParser(
        prog="fraud-score",
        description="Score transactions in files or S3 prefixes with a fraudlite ONNX model.",
        epilog="Output rows: transaction_id (or row, the 0-based data row of its file), "
        "probability_fraud, is_fraud, model_version, then the --keep columns. See docs/batch.md.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a .csv, .csv.gz or .parquet file, a directory or glob of them, "
        "or an s3://bucket/key object or s3://bucket/prefix/",
    )
    p.add_argument("--model", required=True, help="model.onnx: a local path or s3://bucket/key")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="scores file: .parquet (the default for any other name), .csv or .csv.gz; "
        "local or s3://",
    )
    p.add_argument(
        "--rejects",
        metavar="FILE",
        help="rejected rows with their reason (default: beside the output, NAME.rejects.EXT)",
    )
    p.add_argument(
        "--summary",
        metavar="FILE",
        help="summary JSON (default: beside the output, NAME.summary.json)",
    )
    p.add_argument(
        "--keep",
        default="",
        metavar="COLS",
        help="comma-separated input columns copied to the output (e.g. nameOrig,isFraud)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="scoring workers: threads (local) or Ray actors (default: the cores available here; "
        "with --ray-address, the cluster's CPUs)",
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this machine; ray: Ray Data (pip install 'fraudlite[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to run on (e.g. ray://head:10001 or auto); without it a local Ray "
        "instance is started",
    )
    p.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        help="S3-compatible endpoint (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run fraud-score; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.ray_address and args.engine != "ray":
        parser.error("--ray-address needs --engine ray")
    keep = tuple(dict.fromkeys(name.strip() for name in args.keep.split(",") if name.strip()))
    spec = JobSpec(
        source=args.source,
        model=args.model,
        output=args.output,
        rejects=args.rejects,
        summary=args.summary,
        keep=keep,
        workers=args.workers or (None if args.ray_address else default_workers()),
        engine=args.engine,
        ray_address=args.ray_address,
        s3_endpoint_url=s3_endpoint(args.s3_endpoint_url, os.environ),
    )
    try:
        summary = run_job(spec, quiet=args.quiet)
    except BatchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_status
    print(
        f"{summary['rows']:,} rows: {summary['scored']:,} scored, {summary['rejected']:,} "
        f"rejected, {summary['flagged']:,} flagged, in {summary['seconds']:.1f}s "
        f"({summary['rows_per_second'] or 0:,} rows/s) -> {summary['output']}"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
