"""The API's validation rules, applied to a whole chunk at once, with the API's own wording.

Finding bad rows is vectorised (numpy/pyarrow over the chunk): a missing value, a number that is not
finite, negative or beyond float32, a step that is not a whole number or beyond 2**24, text that is
not a number, a ``type`` the model does not know. Explaining a bad row is rare work, so it is done
by the API itself: the row is turned into the JSON object a client would have sent and given to the
service's :class:`~service.api.requests.RequestValidator`, so every reason is word for word what
POST /predict answers (``amount: must not be negative, got -5.0``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from service.api.problems import F32_MAX, STEP_MAX
from service.api.requests import RequestValidator
from service.errors import ValidationFailed
from service.model.metadata import InputSpec

#: Longest name the API accepts (service/api/requests.py ``_Name``).
NAME_MAX_CHARS: Final = 256


@dataclass(frozen=True)
class CheckedChunk:
    """A chunk split in two: model-ready columns of its valid rows, and the bad rows' reasons."""

    valid: np.ndarray  # bool[N]: the row passed every rule
    columns: dict[str, np.ndarray]  # model inputs of the valid rows only, in row order
    rejected_rows: np.ndarray  # int64[R]: indices (within the chunk) of the bad rows
    reasons: list[str]  # one per rejected row: "field: problem; field: problem"
    fields: list[str]  # the first offending field of each rejected row


class ChunkValidator:
    """Validates chunks for one model: its inputs, their types and its transaction types."""

    def __init__(self, inputs: Sequence[InputSpec], type_values: Sequence[str]) -> None:
        self.inputs = tuple(inputs)
        self.type_values = tuple(type_values)
        self._type_set = pa.array(self.type_values, pa.string())
        self._type_objects = np.array(self.type_values, dtype=object)
        # max_batch only bounds request bodies; one row is checked at a time here.
        self._api = RequestValidator(self.inputs, self.type_values, max_batch=1)

    def check(self, table: pa.Table) -> CheckedChunk:
        """Vectorised checks of every model input of ``table``; reasons for the bad rows."""
        n = table.num_rows
        bad = np.zeros(n, dtype=bool)
        values: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            column = table.column(spec.name)
            if spec.name == "type":
                codes, column_bad = self._type_codes(column)
                values[spec.name] = codes
            elif spec.type == "string":
                values[spec.name], column_bad = _names(column)
            else:
                numbers, column_bad = _numbers(column)
                column_bad |= _out_of_range(spec.name, numbers)
                values[spec.name] = numbers
            bad |= column_bad
        rejected = np.flatnonzero(bad)
        reasons, fields = self._explain(table, rejected)
        keep = ~bad
        columns: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            kept = values[spec.name][keep] if rejected.size else values[spec.name]
            if spec.name == "type":
                columns[spec.name] = self._type_objects[kept]
            elif spec.type == "string":
                columns[spec.name] = kept
            else:
                # JSON numbers are float64 in the API too, then float32: the model's precision.
                columns[spec.name] = kept.astype(np.float32)
        return CheckedChunk(keep, columns, rejected.astype(np.int64), reasons, fields)

    def _type_codes(self, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string()) if _castable_to_text(column.type) else column
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            n = len(column)
            return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        index = pc.index_in(column, value_set=self._type_set)  # null when unknown or missing
        bad = index.is_null().to_numpy(zero_copy_only=False)
        codes = index.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, bad

    def _explain(self, table: pa.Table, rejected: np.ndarray) -> tuple[list[str], list[str]]:
        """The API's details for each rejected row, from the JSON body a client would send."""
        reasons: list[str] = []
        fields: list[str] = []
        if not rejected.size:
            return reasons, fields
        rows = table.take(pa.array(rejected)).select([s.name for s in self.inputs]).to_pylist()
        for position, row in zip(rejected.tolist(), rows, strict=True):
            body = {}
            for spec in self.inputs:
                value = row[spec.name]
                if value is None:
                    continue  # absent, as a missing key in a JSON body
                body[spec.name] = _json_number(value) if spec.type == "float32" else value
            try:
                # allow_nan: NaN and Infinity reach the API's own wording, as from a Python client.
                self._api.parse(json.dumps(body, allow_nan=True, default=str).encode())
            except ValidationFailed as failure:
                reasons.append("; ".join(f"{d.field}: {d.problem}" for d in failure.details))
                fields.append(failure.details[0].field if failure.details else "")
                continue
            # The vectorised rules and the API's disagree: a bug here, never a silent pass.
            raise AssertionError(f"row {position} failed the batch checks but passes the API's")
        return reasons, fields


def _castable_to_text(kind: pa.DataType) -> bool:
    return pa.types.is_dictionary(kind) or pa.types.is_binary(kind) or pa.types.is_null(kind)


def _names(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A string model input other than ``type`` (e.g. nameDest): 1 to 256 characters."""
    if _castable_to_text(column.type):
        column = pc.cast(column, pa.string())
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        n = len(column)
        return np.full(n, "", dtype=object), np.ones(n, dtype=bool)
    lengths = pc.utf8_length(column)
    bad = pc.or_kleene(pc.is_null(lengths), pc.or_(pc.less(lengths, 1), pc.greater(lengths, 256)))
    bad_np = pc.fill_null(bad, True).to_numpy(zero_copy_only=False)
    return column.fill_null("").to_numpy(zero_copy_only=False), bad_np


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """float64 values and a mask of the values that are missing or not numbers."""
    kind = column.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        if kind != pa.float64():
            column = pc.cast(column, pa.float64())
        missing = column.is_null().to_numpy(zero_copy_only=False)
        return column.fill_null(0.0).to_numpy(zero_copy_only=False), missing
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            numbers = pc.cast(column, pa.float64())
            missing = numbers.is_null().to_numpy(zero_copy_only=False)
            return numbers.fill_null(0.0).to_numpy(zero_copy_only=False), missing
        except pa.ArrowInvalid:
            return _parse_text(column.to_pylist())
    # Booleans, dates, ...: never a number (the API says "expected a number, got a boolean").
    n = len(column)
    return np.zeros(n), np.ones(n, dtype=bool)


def _parse_text(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Slow path for a text column holding something that is not a number."""
    numbers = np.zeros(len(texts))
    bad = np.zeros(len(texts), dtype=bool)
    for index, text in enumerate(texts):
        if text is None:
            bad[index] = True
            continue
        try:
            numbers[index] = float(text)
        except ValueError:
            bad[index] = True
    return numbers, bad


def _out_of_range(name: str, numbers: np.ndarray) -> np.ndarray:
    """The API's numeric rules (service/api/problems.py), on a whole column."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers < 0)
        if name == "step":
            return bad | (numbers > STEP_MAX) | (np.floor(numbers) != numbers)
        return bad | (numbers > F32_MAX)


def _json_number(value: Any) -> Any:
    """The value as a client would send it in JSON: a number when the text is one, else the text
    itself (the API then answers "expected a number, got a string"); booleans stay booleans."""
    if isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
