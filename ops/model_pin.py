"""``fraud-model-pin``: the model version production runs, pinned in git (deploy/model.json).

The retrain workflow publishes a model (fraud-publish) and opens a pull request that changes
only this file; merging it is the review, and the deploy workflow then ships the pinned version
through staging and the canary. The bucket is per account (a workflow variable), so the file
holds the key, the sha256 and the version, never a bucket name.

    fraud-model-pin set --from publish.json        # fraud-publish --json output -> the file
    fraud-model-pin get model_version              # one field (empty when nothing is pinned)
    fraud-model-pin sam-params --bucket B          # ModelBucket=B ModelKey=... ModelSha256=...
    fraud-model-pin fetch --bucket B --out DIR     # download the pinned model, sha256-checked

Exit 0 on success, 1 when nothing is pinned (sam-params) or a download is refused, 2 for usage.
``fetch`` with nothing pinned writes nothing and exits 0 (the first retrain has no model to beat).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path("deploy/model.json")
FIELDS = ("model_version", "key", "sha256", "created")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PinError(ValueError):
    """A pin file or publish record that is not usable."""


def read_pin(path: Path) -> dict[str, Any]:
    """The pin file; every field present (None when nothing is pinned yet)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PinError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PinError(f"{path} must hold a JSON object")
    return {field: data.get(field) for field in FIELDS}


def pinned(pin: dict[str, Any]) -> bool:
    return bool(pin.get("model_version") and pin.get("key") and pin.get("sha256"))


def pin_from_publish(record: dict[str, Any]) -> dict[str, Any]:
    """The pin for a fraud-publish ``--json`` record, checked."""
    missing = [f for f in ("model_version", "key", "sha256") if not record.get(f)]
    if missing:
        raise PinError(f"publish record lacks {missing}")
    if not _SHA256.match(str(record["sha256"])):
        raise PinError("publish record's sha256 is not 64 lowercase hex digits")
    if any(c in str(record["key"]) for c in "*?"):
        raise PinError("model key must not contain * or ? (it becomes part of an IAM ARN)")
    return {field: record.get(field) for field in FIELDS}


def write_pin(path: Path, pin: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pin, indent=2) + "\n")


def sam_params(pin: dict[str, Any], bucket: str) -> str:
    """``sam deploy --parameter-overrides`` values for the pinned model."""
    if not pinned(pin):
        raise PinError("no model pinned: run the retrain workflow or fraud-publish + `set`")
    return f"ModelBucket={bucket} ModelKey={pin['key']} ModelSha256={pin['sha256']}"


def fetch(pin: dict[str, Any], bucket: str, out: Path) -> Path | None:
    """Download the pinned model to ``out/model.onnx``; refuse bytes with another sha256."""
    if not pinned(pin):
        return None
    import boto3  # lazily: only this subcommand talks to AWS (AWS_ENDPOINT_URL_S3 honoured)

    body = boto3.client("s3").get_object(Bucket=bucket, Key=pin["key"])["Body"].read()
    digest = hashlib.sha256(body).hexdigest()
    if digest != pin["sha256"]:
        raise PinError(f"downloaded model has sha256 {digest}, pinned {pin['sha256']}")
    out.mkdir(parents=True, exist_ok=True)
    target = out / "model.onnx"
    target.write_bytes(body)
    return target


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraud-model-pin", description=__doc__.split("\n\n")[0])
    p.add_argument("--file", type=Path, default=DEFAULT_FILE, help=f"pin file ({DEFAULT_FILE})")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("set", help="pin the model of a fraud-publish --json record")
    s.add_argument("--from", dest="source", type=Path, required=True, help="publish.json")
    g = sub.add_parser("get", help="print one field")
    g.add_argument("field", choices=FIELDS)
    sp = sub.add_parser("sam-params", help="print sam deploy parameter overrides")
    sp.add_argument("--bucket", required=True)
    f = sub.add_parser("fetch", help="download the pinned model (sha256-checked)")
    f.add_argument("--bucket", required=True)
    f.add_argument("--out", type=Path, required=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; see the module docstring for exit codes."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "set":
            try:
                record = json.loads(args.source.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise PinError(f"cannot read {args.source}: {exc}") from exc
            pin = pin_from_publish(record)
            write_pin(args.file, pin)
            print(f"pinned model {pin['model_version']} ({pin['key']}) in {args.file}")
            return 0
        pin = read_pin(args.file)
        if args.command == "get":
            print(pin[args.field] or "")
            return 0
        if args.command == "sam-params":
            print(sam_params(pin, args.bucket))
            return 0
        target = fetch(pin, args.bucket, args.out)
        print(f"fetched {pin['model_version']} to {target}" if target else "no model pinned yet")
        return 0
    except PinError as exc:
        print(f"fraud-model-pin: error: {exc}", file=sys.stderr)
        return 2 if args.command == "set" else 1


if __name__ == "__main__":
    sys.exit(main())
