"""Turn a raw Arrow table of PaySim columns into the canonical, validated DataFrame.

Every reader (CSV, Parquet, Hugging Face) produces a ``pyarrow.Table`` and hands it to
:func:`canonical_frame`, so all sources are checked by the same rules and end up with the same
compact dtypes: step int32, type categorical over ``TRANSACTION_TYPES``, money float32, names as
pandas' Arrow-backed strings, labels int8. Row numbers in messages count data rows from 1.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from service.schema import PAYSIM_COLUMNS, TRANSACTION_TYPES


class DataError(ValueError):
    """A problem with input data: the message names the source, the column and the problem."""


#: Money columns: float32, never negative.
MONEY_COLUMNS: Final = (
    "amount",
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
)
#: Integer columns and their canonical numpy dtype.
INT_COLUMNS: Final = {"step": np.int32, "isFraud": np.int8, "isFlaggedFraud": np.int8}
LABEL_COLUMNS: Final = ("isFraud", "isFlaggedFraud")
NAME_COLUMNS: Final = ("nameOrig", "nameDest")

#: The canonical dtype of the ``type`` column.
TYPE_DTYPE: Final = pd.CategoricalDtype(list(TRANSACTION_TYPES), ordered=False)


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _numbers(col: pa.ChunkedArray, name: str, origin: str) -> np.ndarray:
    """Return the column as float64 or int64 numpy values; raise on text, nulls and NaN."""
    kind = col.type
    if pa.types.is_dictionary(kind):
        col = pc.cast(col, kind.value_type)
        kind = col.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = col.to_pandas()
        values = pd.to_numeric(text, errors="coerce")
        bad = (values.isna() & text.notna()).to_numpy()
        if bad.any():
            row = _first_row(bad)
            raise DataError(
                f"{origin}: column {name!r} has non-numeric value {text.iloc[row - 1]!r} "
                f"at row {row} ({int(bad.sum())} such row(s))"
            )
        col = pa.chunked_array([pa.array(values.to_numpy(), from_pandas=True)])
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise DataError(f"{origin}: column {name!r} has type {kind}, expected numbers")
    if col.null_count:
        missing = pc.is_null(col).to_numpy(zero_copy_only=False)
        raise DataError(
            f"{origin}: column {name!r} has {col.null_count} missing value(s) "
            f"(first at row {_first_row(missing)})"
        )
    values = col.to_numpy()
    if values.dtype.kind == "b":
        values = values.astype(np.int8)
    if values.dtype.kind == "f" and np.isnan(values).any():
        nan = np.isnan(values)
        raise DataError(
            f"{origin}: column {name!r} has {int(nan.sum())} NaN value(s) "
            f"(first at row {_first_row(nan)})"
        )
    return values


def _money(col: pa.ChunkedArray, name: str, origin: str) -> np.ndarray:
    values = _numbers(col, name, origin)
    negative = values < 0
    if negative.any():
        row = _first_row(negative)
        raise DataError(
            f"{origin}: column {name!r} has negative value {values[row - 1]} at row {row} "
            f"({int(negative.sum())} such row(s)); amounts and balances must be >= 0"
        )
    if np.isinf(values).any():
        raise DataError(f"{origin}: column {name!r} has infinite value(s)")
    return values.astype(np.float32, copy=False)


def _integers(col: pa.ChunkedArray, name: str, origin: str) -> np.ndarray:
    values = _numbers(col, name, origin)
    if values.dtype.kind == "f":
        fractional = values != np.floor(values)
        if fractional.any():
            row = _first_row(fractional)
            raise DataError(
                f"{origin}: column {name!r} has non-integer value {values[row - 1]} at row {row}"
            )
    if name in LABEL_COLUMNS:
        bad = (values != 0) & (values != 1)
        if bad.any():
            row = _first_row(bad)
            raise DataError(
                f"{origin}: column {name!r} must be 0 or 1, found {values[row - 1]} at row {row} "
                f"({int(bad.sum())} such row(s))"
            )
    else:
        bad = (values < 0) | (values > np.iinfo(np.int32).max)
        if bad.any():
            row = _first_row(bad)
            raise DataError(
                f"{origin}: column {name!r} must be a non-negative integer, "
                f"found {values[row - 1]} at row {row}"
            )
    return values.astype(INT_COLUMNS[name], copy=False)


def _types(col: pa.ChunkedArray, origin: str) -> pd.Categorical:
    if not pa.types.is_dictionary(col.type):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        col = col.dictionary_encode()
    if col.null_count:
        missing = pc.is_null(col).to_numpy(zero_copy_only=False)
        raise DataError(
            f"{origin}: column 'type' has {col.null_count} missing value(s) "
            f"(first at row {_first_row(missing)})"
        )
    codes = np.empty(len(col), dtype=np.int8)
    start = 0
    for chunk in col.chunks:
        # Each chunk has its own dictionary: map it onto the canonical order once per chunk.
        names = [str(v) for v in chunk.dictionary.to_pylist()]
        unknown = [v for v in names if v not in TRANSACTION_TYPES]
        indices = chunk.indices.to_numpy(zero_copy_only=False)
        if unknown:
            lookup = np.array([v in TRANSACTION_TYPES for v in names])
            bad = ~lookup[indices]
            counts = pd.Series(np.asarray(names, dtype=object)[indices[bad]]).value_counts()
            listed = ", ".join(f"{v!r} ({n} row(s))" for v, n in counts.head(10).items())
            raise DataError(
                f"{origin}: column 'type' has unknown value(s) {listed}; "
                f"allowed: {', '.join(TRANSACTION_TYPES)}"
            )
        lookup = np.array([TRANSACTION_TYPES.index(v) for v in names], dtype=np.int8)
        codes[start : start + len(chunk)] = lookup[indices] if len(names) else 0
        start += len(chunk)
    return pd.Categorical.from_codes(codes, dtype=TYPE_DTYPE)


def _names(col: pa.ChunkedArray, name: str, origin: str) -> pd.Series:
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    missing = pc.fill_null(pc.equal(pc.utf8_length(col), 0), True)
    if pc.any(missing).as_py():
        flags = missing.to_numpy(zero_copy_only=False)
        raise DataError(
            f"{origin}: column {name!r} has {int(flags.sum())} missing value(s) "
            f"(first at row {_first_row(flags)})"
        )
    return col.to_pandas()


def canonical_frame(table: pa.Table, origin: str, *, require_fraud: bool = True) -> pd.DataFrame:
    """Validate ``table`` and return the PaySim columns, in order, with canonical dtypes.

    Raises DataError naming ``origin``, the column and the problem. Extra columns are ignored.
    """
    missing = [c for c in PAYSIM_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(
            f"{origin}: missing column(s) {', '.join(missing)}; "
            f"a PaySim file has the columns {', '.join(PAYSIM_COLUMNS)}"
        )
    if table.num_rows == 0:
        raise DataError(f"{origin} is empty: it has a header but no data rows")
    columns: dict[str, object] = {}
    for name in PAYSIM_COLUMNS:
        col = table.column(name)
        if name == "type":
            columns[name] = _types(col, origin)
        elif name in NAME_COLUMNS:
            columns[name] = _names(col, name, origin)
        elif name in INT_COLUMNS:
            columns[name] = _integers(col, name, origin)
        else:
            columns[name] = _money(col, name, origin)
    frame = pd.DataFrame(columns, copy=False)
    if require_fraud and not (frame["isFraud"].to_numpy() == 1).any():
        raise DataError(f"{origin} has no fraud rows (isFraud == 1): cannot train")
    return frame
