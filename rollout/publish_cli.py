"""``fraud-publish``: publish a converted model to S3 under its version, or list published ones.

    fraud-publish ARTIFACTS --bucket B [--prefix models/] [--json]
    fraud-publish --list --bucket B [--prefix models/] [--json]

Exit status: 0 published (or the same bytes were already there) / listed, 1 refused or failed
(an existing version with other bytes, S3 errors), 2 usage errors and unpublishable artifacts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout.manifest import ArtifactsError, read_release
from rollout.s3store import Published, PublishError, list_versions, publish

DEFAULT_PREFIX = "models/"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-publish",
        description="Upload ARTIFACTS/model.onnx with metrics.json, report.md and a manifest to "
        "s3://BUCKET/PREFIX<model_version>/, never overwriting a published version; print the "
        "values to deploy. AWS credentials and region come from the usual boto3 sources; "
        "AWS_ENDPOINT_URL_S3 points at another S3 endpoint.",
    )
    parser.add_argument("artifacts", nargs="?", metavar="ARTIFACTS", help="fraud-train --out dir")
    parser.add_argument("--bucket", required=True, help="S3 bucket")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"key prefix ({DEFAULT_PREFIX})")
    parser.add_argument("--list", action="store_true", help="list published versions instead")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Publish or list; see the module docstring for exit statuses."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list == (args.artifacts is not None):
        parser.error("give either ARTIFACTS or --list")
    import boto3  # the CLI talks to S3; importing rollout alone does not need boto3

    client = boto3.client("s3")
    try:
        if args.list:
            versions = list_versions(client, args.bucket, args.prefix)
            print(json.dumps(versions, indent=2) if args.json else format_versions(versions))
            return 0
        release = read_release(Path(args.artifacts))
        print(f"publishing model {release.version} ...", file=sys.stderr)
        result = publish(client, args.bucket, args.prefix, release)
    except ArtifactsError as exc:
        print(f"fraud-publish: error: {exc}", file=sys.stderr)
        return 2
    except PublishError as exc:
        print(f"fraud-publish: refused: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_json()) if args.json else format_published(result))
    return 0


def format_published(result: Published) -> str:
    what = "published" if result.created else "already published (same bytes, nothing written)"
    return "\n".join(
        [
            f"model {result.model_version} {what}: {result.uri}",
            f"bucket:  {result.bucket}",
            f"key:     {result.key}",
            f"sha256:  {result.sha256}",
            f"version: {result.model_version}",
            "deploy:  sam deploy --parameter-overrides "
            f"ModelBucket={result.bucket} ModelKey={result.key} ModelSha256={result.sha256}",
        ]
    )


def format_versions(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return "no published versions"
    header = ("version", "created", "features", "pr_auc", "precision", "recall", "sha256")
    rows = [header]
    for m in versions:
        metrics = m.get("metrics") or {}
        rows.append(
            (
                str(m.get("model_version")),
                str(m.get("created")),
                str(m.get("feature_set")),
                *(_number(metrics.get(k)) for k in ("pr_auc", "precision", "recall")),
                str(m.get("sha256", ""))[:16],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


if __name__ == "__main__":
    sys.exit(main())
