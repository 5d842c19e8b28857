"""Read a SOURCE of transactions or live counts: files, directories, ``s3://`` prefixes.

Accepted objects, by name:

- ``.csv``, ``.csv.gz``, ``.parquet``: transactions with (at least) the model's raw input columns
  (labels are not needed; extra columns are ignored);
- ``.json``, ``.jsonl``, ``.jsonl.gz``, ``.log``, ``.log.gz``: JSON lines (or CloudWatch Logs
  envelopes, service/monitoring/records.py). A decision-log record with ``drift_bins`` (the
  service's reference-bin indices) or a live counts document adds counts; a record holding the
  raw input fields (opted into the decision log, or under ``transaction``) adds that row; other
  lines (request logs, EMF records) are skipped and counted.

A directory or S3 prefix is read recursively, in name order. In a directory only the suffixes
above are read; under an S3 prefix every object is (the decision log reaches S3 through
Firehose as gzip JSON lines named ``...gz`` or without a suffix): tables by suffix, the rest as
JSON lines, gunzipped when they are gzip.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from drift.errors import DriftError
from service.monitoring.live import COUNTS_FORMAT
from service.monitoring.records import BINS_FIELD, iter_records

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
LINE_SUFFIXES = (".json", ".jsonl", ".jsonl.gz", ".log", ".log.gz")


@dataclass
class Observations:
    """What a SOURCE held: raw rows (frames) and live counts documents."""

    frames: list[pd.DataFrame] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # counts and drift_bins
    objects: int = 0
    skipped_lines: int = 0

    @property
    def raw_rows(self) -> int:
        return sum(len(f) for f in self.frames)


def read_source(source: str, inputs: tuple[str, ...]) -> Observations:
    """Everything readable in ``source`` (see the module docstring); raises DriftError."""
    found = Observations()
    for name, data in _objects(source):
        found.objects += 1
        _read_object(name, data, inputs, found)
    if found.objects == 0:
        raise DriftError(
            f"{source}: no readable objects (expected {', '.join(TABLE_SUFFIXES + LINE_SUFFIXES)})"
        )
    return found


def _supported(name: str) -> bool:
    return name.lower().endswith(TABLE_SUFFIXES + LINE_SUFFIXES)


def _objects(source: str) -> Iterator[tuple[str, bytes]]:
    if source.startswith("s3://"):
        yield from _s3_objects(source)
        return
    path = Path(source)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name)):
            yield str(child), child.read_bytes()
    elif path.is_file():
        if not _supported(path.name):
            raise DriftError(f"{source}: unsupported file type")
        yield str(path), path.read_bytes()
    else:
        raise DriftError(f"{source}: no such file or directory")


def _s3_objects(uri: str) -> Iterator[tuple[str, bytes]]:
    """Objects under an ``s3://bucket/prefix`` (boto3 honours AWS_ENDPOINT_URL_S3)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise DriftError(f"{uri}: expected s3://bucket/prefix")
    client = boto3.client("s3")
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", ()))
        for key in keys:
            # Any object: Firehose names its (gzip) JSON-lines objects without our suffixes.
            if not key.endswith("/"):
                yield (
                    f"s3://{bucket}/{key}",
                    client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                )
    except (BotoCoreError, ClientError) as exc:
        raise DriftError(f"{uri}: cannot read from S3: {exc}") from None


def _read_object(name: str, data: bytes, inputs: tuple[str, ...], found: Observations) -> None:
    lower = name.lower()
    if lower.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError as exc:
            raise DriftError(f"{name}: not gzip: {exc}") from None
        lower = lower.removesuffix(".gz")
    if lower.endswith(".parquet"):
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DriftError(f"{name}: not a readable Parquet file: {exc}") from None
        found.frames.append(_checked(frame, inputs, name))
    elif lower.endswith(".csv"):
        try:
            frame = pd.read_csv(io.BytesIO(data), usecols=lambda c: c in inputs)
        except (ValueError, pd.errors.ParserError) as exc:
            raise DriftError(f"{name}: not a readable CSV file: {exc}") from None
        found.frames.append(_checked(frame, inputs, name))
    else:
        _read_lines(name, data, inputs, found)


def _checked(frame: pd.DataFrame, inputs: tuple[str, ...], name: str) -> pd.DataFrame:
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DriftError(f"{name}: missing column(s) {missing}")
    frame = frame[list(inputs)]
    bad = frame.drop(columns=["type"], errors="ignore").isna().any()
    if bad.any():
        raise DriftError(f"{name}: empty or non-numeric values in {list(bad[bad].index)}")
    return frame


def _read_lines(name: str, data: bytes, inputs: tuple[str, ...], found: Observations) -> None:
    rows: list[dict[str, Any]] = []
    for record in iter_records(data.decode("utf-8", errors="replace")):
        row = record.get("transaction", record)
        if isinstance(row, dict) and all(k in row for k in inputs):
            # Raw values (opted into the decision log) cover every feature: preferred to bins.
            rows.append({k: row[k] for k in inputs})
        elif record.get("format") == COUNTS_FORMAT or BINS_FIELD in record:
            found.documents.append(record)
        else:
            found.skipped_lines += 1
    if rows:
        found.frames.append(_checked(pd.DataFrame(rows), inputs, name))
