"""Read one input file as a stream of chunks: bounded memory whatever the file's size.

CSV (plain or gzip) goes through pyarrow's streaming CSV reader, Parquet through its row-group
reader; only the columns the job needs are read. Numeric columns are parsed as float64 directly
(the fast path). A CSV whose numeric column holds text that is not a number ("n/a", "12,50") makes
that parse fail; the file is then read again from the first row not yet delivered with those columns
as text, so the validator can reject exactly the offending rows and name the problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from batch.errors import BatchError, MissingColumns
from batch.sources import Location

#: Bytes of CSV text parsed at a time. pyarrow's CSV reader reads up to 32 blocks ahead of its
#: consumer, so the block size bounds that buffer: 1 MiB blocks keep it under 32 MiB, where 8 MiB
#: blocks held 150-290 MiB of raw text while scoring.
CSV_BLOCK_BYTES = 1024 * 1024
#: Rows per chunk handed to a worker (CSV blocks are joined up to it; Parquet batches have it).
CHUNK_ROWS = 65_536
PARQUET_BATCH_ROWS = CHUNK_ROWS


@dataclass(frozen=True)
class Chunk:
    """Consecutive data rows of one file: ``first_row`` is the 0-based index of the first one."""

    table: pa.Table
    first_row: int
    file_index: int = 0

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def row_numbers(self) -> np.ndarray:
        return np.arange(self.first_row, self.first_row + self.table.num_rows, dtype=np.int64)


@dataclass(frozen=True)
class Columns:
    """The columns a job reads: model inputs (numeric or text), pass-through ones as text."""

    inputs: tuple[str, ...]  # the model's inputs, in its order
    numeric: tuple[str, ...]  # those that are numbers (float32); the others are text
    keep: tuple[str, ...] = ()  # --keep: copied through (as text from CSV, as stored in Parquet)
    optional: tuple[str, ...] = ()  # read when present: transaction_id

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.inputs, *self.keep)))

    @property
    def text(self) -> tuple[str, ...]:
        return tuple(name for name in self.inputs if name not in self.numeric)


def file_schema(location: Location) -> pa.Schema:
    """The columns of a file: its Parquet schema, or its CSV header (every column as text)."""
    try:
        if location.format == "parquet":
            with location.filesystem.open_input_file(location.path) as handle:
                return pq.read_schema(handle)
        with location.filesystem.open_input_stream(
            location.path, compression=location.compression
        ) as stream:
            options = pacsv.ReadOptions(block_size=1 << 16)
            names = pacsv.open_csv(stream, read_options=options).schema.names
            return pa.schema([pa.field(name, pa.string()) for name in names])
    except pa.ArrowInvalid as exc:
        if "empty" in str(exc).lower():
            raise BatchError(f"{location.uri}: empty file (not even a header line)") from None
        kind = "Parquet" if location.format == "parquet" else "CSV"
        raise BatchError(f"{location.uri}: not a readable {kind} file: {exc}") from None
    except OSError as exc:
        raise BatchError(f"{location.uri}: cannot read: {_first_line(exc)}") from None


def csv_column_type(name: str, wanted: Columns) -> pa.DataType:
    """The type a CSV column is delivered with (numeric inputs as float64, the rest as text)."""
    return pa.float64() if name in wanted.numeric else pa.string()


def check_columns(location: Location, present: Sequence[str], wanted: Columns) -> None:
    """Fail at once, naming every missing column, before any row is scored."""
    missing = [name for name in wanted.inputs if name not in present]
    if missing:
        raise MissingColumns(
            f"{location.uri}: missing column(s) {', '.join(missing)} needed by the model "
            f"(the file has {', '.join(present) or 'no columns'})"
        )
    missing = [name for name in wanted.keep if name not in present]
    if missing:
        raise MissingColumns(
            f"{location.uri}: missing column(s) {', '.join(missing)} named by --keep "
            f"(the file has {', '.join(present) or 'no columns'})"
        )


def read_chunks(
    location: Location,
    wanted: Columns,
    file_index: int = 0,
    row_groups: tuple[int, int] | None = None,
) -> Iterator[Chunk]:
    """Chunks of ``location``'s rows with the wanted columns only; for Parquet, ``row_groups``
    ``(start, stop)`` reads those row groups alone (the Ray engine reads a file in parts)."""
    present = file_schema(location).names
    check_columns(location, present, wanted)
    optional = tuple(name for name in wanted.optional if name in present)
    if location.format == "parquet":
        yield from _parquet_chunks(location, wanted, optional, file_index, row_groups)
    else:
        yield from _csv_chunks(location, wanted, optional, file_index, 0)


def parquet_row_groups(location: Location) -> list[int]:
    """Rows in each row group of a Parquet file."""
    with location.filesystem.open_input_file(location.path) as handle:
        metadata = pq.ParquetFile(handle).metadata
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _csv_chunks(
    location: Location,
    wanted: Columns,
    optional: tuple[str, ...],
    file_index: int,
    start_row: int,
) -> Iterator[Chunk]:
    delivered = start_row
    as_text = False
    while True:
        try:
            for table in _csv_tables(location, wanted, optional, delivered, as_text):
                yield Chunk(table, delivered, file_index)
                delivered += table.num_rows
            return
        except pa.ArrowInvalid as exc:
            if as_text or "conversion error" not in str(exc).lower():
                raise BatchError(f"{location.uri}: not a readable CSV file: {exc}") from None
            as_text = True  # some value is not a number: reread the rest with text columns


def _csv_tables(
    location: Location,
    wanted: Columns,
    optional: tuple[str, ...],
    skip: int,
    as_text: bool,
) -> Iterator[pa.Table]:
    numeric_type = pa.string() if as_text else pa.float64()
    types = {name: numeric_type for name in wanted.numeric}
    types.update({name: pa.string() for name in (*wanted.text, *optional)})
    # A --keep column that is also a model input keeps the input's type.
    types.update({name: pa.string() for name in wanted.keep if name not in types})
    convert = pacsv.ConvertOptions(
        column_types=types,
        include_columns=list(dict.fromkeys((*wanted.required, *optional))),
        # Only an empty field is a missing value (as an absent JSON key): pyarrow's default list
        # also makes "NaN" and "NA" null, but NaN must be rejected as NaN, the way the API does.
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, skip_rows_after_names=skip)
    with location.filesystem.open_input_stream(
        location.path, compression=location.compression
    ) as stream:
        reader = pacsv.open_csv(stream, read_options=read, convert_options=convert)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= CHUNK_ROWS:
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
        if rows:
            yield pa.Table.from_batches(pending)


def _parquet_chunks(
    location: Location,
    wanted: Columns,
    optional: tuple[str, ...],
    file_index: int,
    row_groups: tuple[int, int] | None,
) -> Iterator[Chunk]:
    with location.filesystem.open_input_file(location.path) as handle:
        parquet = pq.ParquetFile(handle)
        groups = list(range(parquet.metadata.num_row_groups))
        if row_groups is not None:
            groups = groups[row_groups[0] : row_groups[1]]
        sizes = [parquet.metadata.row_group(i).num_rows for i in range(groups[0] if groups else 0)]
        delivered = sum(sizes)  # rows of the row groups before the first one read
        columns = list(dict.fromkeys((*wanted.required, *optional)))
        batches = parquet.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, columns=columns, row_groups=groups
        )
        for batch in batches:
            if batch.num_rows:
                yield Chunk(pa.Table.from_batches([batch]), delivered, file_index)
                delivered += batch.num_rows


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
