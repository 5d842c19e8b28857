"""Write the output and rejects tables as Parquet or CSV, locally or to S3, one chunk at a time.

Local files are written under a temporary name and renamed when complete, so a failed job never
leaves a file that looks finished. On S3 the object appears when its multipart upload completes,
which pyarrow does when the stream is closed; a failed job deletes what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from batch.errors import OutputError
from batch.sources import Location


def is_csv(uri: str) -> bool:
    """CSV for ``.csv`` and ``.csv.gz``; anything else is written as Parquet (the default)."""
    return uri.lower().endswith((".csv", ".csv.gz"))


def beside(output: str, label: str, suffix: str | None = None) -> str:
    """A file next to ``output``: ``scores.parquet`` -> ``scores.rejects.parquet``."""
    lowered = output.lower()
    for known in (".csv.gz", ".csv", ".parquet"):
        if lowered.endswith(known):
            stem, ext = output[: -len(known)], output[-len(known) :]
            return f"{stem}.{label}{suffix or ext}"
    return f"{output}.{label}{suffix or '.parquet'}"


class TableSink:
    """A Parquet or CSV file being written; :meth:`close` commits it, :meth:`abort` drops it."""

    def __init__(self, location: Location, schema: pa.Schema) -> None:
        self.location = location
        self.schema = schema
        self.rows = 0
        self._local = isinstance(location.filesystem, pafs.LocalFileSystem)
        head, name = os.path.split(location.path)
        self._target = location.path
        self._writing = os.path.join(head, f".{name}.partial") if self._local else location.path
        try:
            if self._local:
                location.filesystem.create_dir(head, recursive=True)
            compression = "gzip" if location.uri.lower().endswith(".gz") else None
            self._stream = location.filesystem.open_output_stream(
                self._writing, compression=compression
            )
            if is_csv(location.uri):
                self._writer: Any = pacsv.CSVWriter(self._stream, schema)
            else:
                # Dictionary pages for the text columns only (model_version, file, reasons repeat):
                # on the numbers they were tried and dropped for every page, which cost 60% of
                # the writing time and left the file 40% larger.
                text = [f.name for f in schema if pa.types.is_string(f.type)]
                self._writer = pq.ParquetWriter(self._stream, schema, use_dictionary=text)
        except (OSError, pa.ArrowException) as exc:
            raise OutputError(f"cannot write {location.uri}: {_first_line(exc)}") from None

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        try:
            self._writer.write_table(table)
        except (OSError, pa.ArrowException) as exc:
            raise OutputError(f"cannot write {self.location.uri}: {_first_line(exc)}") from None
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (an empty input still gets a file with the header or schema)."""
        try:
            self._writer.close()
            self._stream.close()
            if self._local:
                self.location.filesystem.move(self._writing, self._target)
        except (OSError, pa.ArrowException) as exc:
            raise OutputError(f"cannot write {self.location.uri}: {_first_line(exc)}") from None

    def abort(self) -> None:
        """Drop what was written; errors are ignored (the job is already failing)."""
        for step in (self._writer.close, self._stream.close):
            with contextlib.suppress(OSError, pa.ArrowException):
                step()
        with contextlib.suppress(OSError, pa.ArrowException):
            self.location.filesystem.delete_file(self._writing)


def write_json(location: Location, document: dict[str, Any]) -> None:
    """Write a small JSON document (the summary) to ``location``."""
    data = (json.dumps(document, indent=2) + "\n").encode()
    try:
        if isinstance(location.filesystem, pafs.LocalFileSystem):
            location.filesystem.create_dir(os.path.dirname(location.path), recursive=True)
        with location.filesystem.open_output_stream(location.path) as out:
            out.write(data)
    except (OSError, pa.ArrowException) as exc:
        raise OutputError(f"cannot write {location.uri}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
