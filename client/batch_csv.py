"""Reading an uploaded PaySim CSV into the API bodies of its rows.

Cells are read as text and sent as the API expects them where that is unambiguous; anything else
is sent as it is, so the API (not the client) judges it and names the field and the problem.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from client.presets import NUMERIC_FIELDS, TRANSACTION_FIELDS

_INTEGER_FIELDS = frozenset(f.name for f in NUMERIC_FIELDS if f.integer)


class CsvError(ValueError):
    """The uploaded file cannot be read as a PaySim CSV (the message says why)."""


def read_csv(data: bytes) -> pd.DataFrame:
    """Read an uploaded CSV as text cells (so nothing is silently coerced); check the columns."""
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CsvError(f"not a readable CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [name for name in TRANSACTION_FIELDS if name not in frame.columns]
    if missing:
        raise CsvError(
            f"the CSV lacks the column(s) {', '.join(missing)}; "
            f"expected PaySim columns including {', '.join(TRANSACTION_FIELDS)}"
        )
    if frame.empty:
        raise CsvError("the CSV has a header but no rows")
    return frame


def _cell(name: str, text: str) -> Any:
    """One CSV cell as the JSON value to send; values the API must judge are sent as they are."""
    text = text.strip()
    if not text:
        return None
    if name == "type":
        return text
    try:
        number = float(text)
    except ValueError:
        return text  # the API answers with the field and the problem
    if not math.isfinite(number):
        return text  # JSON cannot carry NaN/Infinity; send the text and let the API say so
    if name in _INTEGER_FIELDS and number.is_integer():
        return int(number)
    return number


def transactions_from(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The API bodies of the rows: only the transaction fields (labels and names stay out)."""
    columns = [frame[name].tolist() for name in TRANSACTION_FIELDS]
    return [
        {
            name: _cell(name, values[i])
            for name, values in zip(TRANSACTION_FIELDS, columns, strict=True)
        }
        for i in range(len(frame))
    ]
