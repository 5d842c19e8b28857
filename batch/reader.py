"""Read one input file as a stream of chunks: bounded memory whatever the file's size.

CSV (plain or gzip) goes through pyarrow's streaming CSV reader, Parquet through its row-group
reader; only the columns the job needs are read. Numeric columns are parsed as float64 directly
(the fast path). A CSV whose numeric column holds text that is not a number ("n/a", "12,50") makes
that parse fail; the file is then read again from the first row not yet delivered with those columns
as text, so the validator can reject exactly the offending rows and name the problem.

A file can also be read in :class:`Part` s, each on its own (the Ray engine's actors do): an
uncompressed CSV file by byte ranges cut at line starts, a Parquet file by runs of batches of one
row group. A part does not know how many rows come before it, so its chunks number their rows
from 0; whoever reads the parts in order adds the rows of the earlier ones.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
#: Bytes of an uncompressed CSV file per part: about 200,000 PaySim rows, a second of one core's
#: scoring, so N actors share a file evenly without a part's start-up cost showing.
CSV_PART_BYTES = 16 * 1024 * 1024
#: Batches (of PARQUET_BATCH_ROWS) per part of a Parquet row group: a 1M-row group is read as 4
#: parts, so 7 row groups keep 2 actors busy to the end instead of leaving one idle for a whole
#: group. A part after the first decodes (and drops) the group's earlier rows, a small cost next
#: to scoring them.
PARQUET_PART_BATCHES = 4


@dataclass(frozen=True)
class Part:
    """A piece of one file, read on its own: CSV lines starting in bytes ``[start, stop)`` (the
    header's bytes are read too, for the column names; ``stop`` -1: the whole file), or rows
    ``[start, stop)`` of Parquet row group ``group``."""

    file_index: int
    start: int
    stop: int
    group: int = -1  # Parquet: the row group; -1 for CSV


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


def read_chunks(location: Location, wanted: Columns, file_index: int = 0) -> Iterator[Chunk]:
    """Chunks of ``location``'s rows with the wanted columns only."""
    present = file_schema(location).names
    check_columns(location, present, wanted)
    optional = tuple(name for name in wanted.optional if name in present)
    if location.format == "parquet":
        yield from _parquet_chunks(location, wanted, optional, file_index, None)
    else:
        yield from _csv_chunks(location, lambda: _whole_csv(location), wanted, optional, file_index)


def read_part(location: Location, wanted: Columns, part: Part) -> Iterator[Chunk]:
    """Chunks of one part of ``location``, rows numbered from 0 at the part's first row."""
    present = file_schema(location).names
    check_columns(location, present, wanted)
    optional = tuple(name for name in wanted.optional if name in present)
    if location.format == "parquet":
        yield from _parquet_chunks(location, wanted, optional, part.file_index, part)
        return
    if part.stop < 0:  # the whole file (gzip)
        yield from _csv_chunks(
            location, lambda: _whole_csv(location), wanted, optional, part.file_index
        )
        return
    try:
        handle = location.filesystem.open_input_file(location.path)
    except OSError as exc:
        raise BatchError(f"{location.uri}: cannot read: {_first_line(exc)}") from None
    with handle:
        size = handle.size()
        header_end = _line_start(handle, 0, 0, size)
        header = handle.read_at(header_end, 0)
        start = _line_start(handle, part.start, header_end, size)
        stop = _line_start(handle, part.stop, header_end, size)

        def byte_range() -> Any:
            return _CsvRange(handle, header, start, stop)

        if stop > start:
            yield from _csv_chunks(location, byte_range, wanted, optional, part.file_index)


def file_parts(location: Location, file_index: int) -> list[Part]:
    """How a file is read in parts: an uncompressed CSV file by ranges of CSV_PART_BYTES, a gzip
    CSV whole (a gzip stream cannot be entered in the middle), a Parquet file by row group, each
    in runs of PARQUET_PART_BATCHES batches."""
    if location.format == "parquet":
        with location.filesystem.open_input_file(location.path) as handle:
            metadata = pq.ParquetFile(handle).metadata
            groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        step = PARQUET_BATCH_ROWS * PARQUET_PART_BATCHES
        parts = [
            Part(file_index, start, min(rows, start + step), group)
            for group, rows in enumerate(groups)
            for start in range(0, max(rows, 1), step)
        ]
        return parts or [Part(file_index, 0, 0, 0)]
    if location.compression is not None:
        return [Part(file_index, 0, -1)]
    size = location.filesystem.get_file_info(location.path).size or 0
    # Offsets before the first line start after the header are moved there when read.
    bounds = [*range(0, size, CSV_PART_BYTES), size]
    return [Part(file_index, a, b) for a, b in itertools.pairwise(bounds)] or [
        Part(file_index, 0, 0)
    ]


def _csv_chunks(
    location: Location,
    open_stream: Callable[[], Any],
    wanted: Columns,
    optional: tuple[str, ...],
    file_index: int,
) -> Iterator[Chunk]:
    """Chunks of the CSV text ``open_stream`` gives (opened again to reread as text)."""
    delivered = 0
    as_text = False
    while True:
        try:
            for table in _csv_tables(open_stream, wanted, optional, delivered, as_text):
                yield Chunk(table, delivered, file_index)
                delivered += table.num_rows
            return
        except pa.ArrowInvalid as exc:
            if as_text or "conversion error" not in str(exc).lower():
                raise BatchError(f"{location.uri}: not a readable CSV file: {exc}") from None
            as_text = True  # some value is not a number: reread the rest with text columns


def _csv_tables(
    open_stream: Callable[[], Any],
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
    with open_stream() as stream:
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
    part: Part | None,
) -> Iterator[Chunk]:
    with location.filesystem.open_input_file(location.path) as handle:
        parquet = pq.ParquetFile(handle)
        groups = list(range(parquet.metadata.num_row_groups))
        first, stop = 0, None
        if part is not None:
            groups = [part.group] if part.group < len(groups) else []
            first, stop = part.start, part.stop
        columns = list(dict.fromkeys((*wanted.required, *optional)))
        batches = parquet.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, columns=columns, row_groups=groups
        )
        delivered = 0
        position = 0  # rows decoded so far
        for batch in batches:
            low, position = position, position + batch.num_rows
            if stop is not None:
                # Rows before the part's first are decoded and dropped: a row group cannot be
                # entered in the middle.
                begin, end = max(first, low), min(stop, position)
                if end <= begin:
                    if position >= stop:
                        break
                    continue
                batch = batch.slice(begin - low, end - begin)
            if batch.num_rows:
                yield Chunk(pa.Table.from_batches([batch]), delivered, file_index)
                delivered += batch.num_rows


def _whole_csv(location: Location) -> Any:
    return location.filesystem.open_input_stream(location.path, compression=location.compression)


def _line_start(handle: Any, offset: int, header_end: int, size: int) -> int:
    """The first offset at or after ``offset`` where a line starts (never inside the header)."""
    if offset <= header_end and header_end:
        return header_end
    if offset <= 0:
        position = 0  # the header's own end: the first newline of the file
    elif offset >= size:
        return size
    else:
        position = offset - 1  # a line starts at offset when the byte before it is a newline
    while position < size:
        block = handle.read_at(min(1 << 16, size - position), position)
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)
    return size


class _CsvRange(io.RawIOBase):
    """A CSV file's header line followed by its bytes ``[start, stop)``, as one stream."""

    def __init__(self, handle: Any, header: bytes, start: int, stop: int) -> None:
        super().__init__()
        self._handle = handle
        self._header = memoryview(header)
        self._position = start
        self._stop = stop

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if len(self._header):
            n = min(len(view), len(self._header))
            view[:n] = self._header[:n]
            self._header = self._header[n:]
            return n
        n = min(len(view), self._stop - self._position)
        if n <= 0:
            return 0
        data = self._handle.read_at(n, self._position)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
