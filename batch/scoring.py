"""Score one chunk: validate, run the model on the valid rows, build the output and rejects tables.

The same :class:`ChunkScorer` runs in the local engine's threads and in each Ray actor, so both
engines produce identical rows. Scoring is the service's ``LoadedModel.score`` (one
``session.run`` per chunk): the probabilities and labels POST /predict would answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.reader import Chunk
from batch.validate import ChunkValidator
from service.model import LoadedModel

#: Output column names (docs/batch.md).
ROW: Final = "row"
FILE: Final = "file"
TRANSACTION_ID: Final = "transaction_id"
PROBABILITY: Final = "probability_fraud"
IS_FRAUD: Final = "is_fraud"
MODEL_VERSION: Final = "model_version"
FIELD: Final = "field"
REASON: Final = "reason"
#: Every column name the outputs may use (not allowed in --keep).
OUTPUT_COLUMNS: Final = (FILE, ROW, TRANSACTION_ID, PROBABILITY, IS_FRAUD, MODEL_VERSION)
#: Longest transaction_id echoed in a rejects row: client-chosen text stays bounded.
ID_MAX_CHARS: Final = 256


@dataclass(frozen=True)
class Layout:
    """The columns of a job's outputs, decided once from every input file's columns."""

    use_transaction_id: bool  # every input file has a transaction_id column
    multi_file: bool  # more than one input file: rows are told apart by a ``file`` column
    keep: tuple[str, ...]  # --keep columns, copied through as read
    keep_types: tuple[pa.DataType, ...]

    def output_schema(self) -> pa.Schema:
        fields = [pa.field(FILE, pa.string())] if self.multi_file else []
        if self.use_transaction_id:
            fields.append(pa.field(TRANSACTION_ID, pa.string()))
        else:
            fields.append(pa.field(ROW, pa.int64()))
        fields += [
            # float64 holds the float32 probability exactly: the number /predict answers.
            pa.field(PROBABILITY, pa.float64()),
            pa.field(IS_FRAUD, pa.bool_()),
            pa.field(MODEL_VERSION, pa.string()),
        ]
        fields += [pa.field(n, t) for n, t in zip(self.keep, self.keep_types, strict=True)]
        return pa.schema(fields)

    def rejects_schema(self) -> pa.Schema:
        fields = [pa.field(FILE, pa.string())] if self.multi_file else []
        fields.append(pa.field(ROW, pa.int64()))
        if self.use_transaction_id:
            fields.append(pa.field(TRANSACTION_ID, pa.string()))
        fields += [pa.field(FIELD, pa.string()), pa.field(REASON, pa.string())]
        return pa.schema(fields)


@dataclass(frozen=True)
class ScoredChunk:
    """What one chunk gave: output rows, rejected rows and counts."""

    scored: pa.Table
    rejects: pa.Table
    rows: int
    flagged: int
    file_index: int
    first_row: int

    @property
    def rejected(self) -> int:
        return self.rejects.num_rows


class ChunkScorer:
    """Validates and scores chunks for one model and one output layout."""

    def __init__(self, model: LoadedModel, layout: Layout, file_uris: Sequence[str]) -> None:
        self.model = model
        self.layout = layout
        self.file_uris = tuple(file_uris)
        self.validator = ChunkValidator(model.metadata.inputs, model.metadata.type_values)
        self.output_schema = layout.output_schema()
        self.rejects_schema = layout.rejects_schema()
        self._repeated: dict[str, pa.Array] = {}

    def __call__(self, chunk: Chunk) -> ScoredChunk:
        table = chunk.table
        checked = self.validator.check(table)
        n_valid = int(checked.valid.sum())
        if n_valid:
            probabilities, labels = self.model.score(checked.columns)
        else:
            probabilities, labels = np.zeros(0, np.float32), np.zeros(0, bool)
        all_valid = n_valid == table.num_rows
        valid = None if all_valid else pa.array(checked.valid)
        kept = table if valid is None else table.filter(valid)
        rows = chunk.row_numbers()
        columns: list[pa.Array | pa.ChunkedArray] = []
        if self.layout.multi_file:
            columns.append(self.repeated(self.file_uris[chunk.file_index], n_valid))
        if self.layout.use_transaction_id:
            columns.append(_text(kept.column(TRANSACTION_ID)))
        else:
            columns.append(pa.array(rows if all_valid else rows[checked.valid]))
        columns += [
            pa.array(probabilities.astype(np.float64)),
            pa.array(labels),
            self.repeated(self.model.version, n_valid),
        ]
        columns += [
            _as_type(kept.column(name), kind)
            for name, kind in zip(self.layout.keep, self.layout.keep_types, strict=True)
        ]
        scored = pa.Table.from_arrays(columns, schema=self.output_schema)
        return ScoredChunk(
            scored=scored,
            rejects=self._rejects(chunk, checked.rejected_rows, checked.reasons, checked.fields),
            rows=table.num_rows,
            flagged=int(np.count_nonzero(labels)),
            file_index=chunk.file_index,
            first_row=chunk.first_row,
        )

    def repeated(self, text: str, n: int) -> pa.Array:
        """``text`` n times: a slice of one array built once (no list of n Python strings per
        chunk). Several threads may call it; the worst case is building the array twice."""
        column = self._repeated.get(text)
        if column is None or len(column) < n:
            column = pa.array([text] * max(n, 1 << 16), pa.string())
            self._repeated[text] = column
        return column.slice(0, n)

    def _rejects(
        self, chunk: Chunk, positions: np.ndarray, reasons: list[str], fields: list[str]
    ) -> pa.Table:
        n = positions.size
        columns: list[pa.Array] = []
        if self.layout.multi_file:
            columns.append(self.repeated(self.file_uris[chunk.file_index], n))
        columns.append(pa.array(positions + chunk.first_row, pa.int64()))
        if self.layout.use_transaction_id:
            ids = _text(chunk.table.column(TRANSACTION_ID).take(pa.array(positions)))
            columns.append(pc.utf8_slice_codeunits(ids, 0, ID_MAX_CHARS))
        columns += [pa.array(fields, pa.string()), pa.array(reasons, pa.string())]
        return pa.Table.from_arrays(columns, schema=self.rejects_schema)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if column.type == pa.string() else column.cast(pa.string())


def _as_type(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    return column if column.type == kind else column.cast(kind)
