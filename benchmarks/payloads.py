"""Request bodies for the benchmarks: the same transactions in each side's request shape.

fraudlite takes raw PaySim fields (``type`` plus six numbers); the baseline takes the original
project's 11 pre-engineered fields. Both shapes are built from one list of raw transactions, so
both sides score the same rows. Standard library only: the locustfile imports this module.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

Shape = Literal["fraudlite", "baseline"]
SHAPES: Final[tuple[str, ...]] = ("fraudlite", "baseline")

#: Raw fields of one transaction, in PaySim column order (``nameOrig``/``nameDest`` left out).
RAW_FIELDS: Final[tuple[str, ...]] = (
    "step",
    "type",
    "amount",
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
)
#: The original project's one-hot columns (CASH_IN was the dropped category).
ONE_HOT: Final[dict[str, str]] = {
    "type_CASH_OUT": "CASH_OUT",
    "type_DEBIT": "DEBIT",
    "type_PAYMENT": "PAYMENT",
    "type_TRANSFER": "TRANSFER",
}


def sample_transactions(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` raw transactions from the built-in PaySim-style generator (labels dropped)."""
    from train.synthetic import generate  # pandas and numpy: only where data is generated

    frame = generate(n, seed=seed)
    rows = frame[list(RAW_FIELDS)].to_dict(orient="records")
    return [_plain(row) for row in rows]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars to JSON-friendly Python values (``step`` an integer, balances floats)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "type":
            out[key] = str(value)
        elif key == "step":
            out[key] = int(value)
        else:
            out[key] = float(value)
    return out


def save_transactions(path: Path, transactions: list[dict[str, Any]]) -> Path:
    """Write transactions as a JSON list (what the locustfile reads with ``--transactions``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(transactions))
    return path


def load_transactions(path: Path) -> list[dict[str, Any]]:
    """Read a JSON list written by :func:`save_transactions`."""
    rows = json.loads(Path(path).read_text())
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: expected a non-empty JSON list of transactions")
    return rows


def legacy_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The original 11-field body for one raw transaction (what the baseline expects)."""
    body: dict[str, Any] = {
        "step": int(raw["step"]),
        "amount": raw["amount"],
        "oldbalanceOrg": raw["oldbalanceOrg"],
        "newbalanceOrig": raw["newbalanceOrig"],
        "oldbalanceDest": raw["oldbalanceDest"],
        "newbalanceDest": raw["newbalanceDest"],
    }
    body.update({key: int(raw["type"] == name) for key, name in ONE_HOT.items()})
    old = raw["oldbalanceOrg"]
    body["amt_ratio_orig"] = raw["amount"] / old if old > 0 else -1.0
    return body


def single_body(raw: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """One transaction as the target's POST /predict body."""
    return dict(raw) if shape == "fraudlite" else legacy_fields(raw)


def batch_body(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """A fraudlite batch body (the baseline has no batch request)."""
    return {"transactions": [dict(raw) for raw in raws]}


@dataclass(frozen=True)
class InvalidCase:
    """A client mistake and the status the target must answer it with."""

    name: str
    body: bytes
    expected_status: int


def invalid_cases(shape: Shape, raw: dict[str, Any]) -> list[InvalidCase]:
    """Client mistakes both sides refuse with a 4xx, as ``shape`` bodies built from ``raw``.

    FastAPI answers malformed JSON with 422, fraudlite with 400; the rest are 422 on both sides.
    """
    body = single_body(raw, shape)
    missing = {k: v for k, v in body.items() if k != "amount"}
    wrong_type = {**body, "amount": "a lot"}
    return [
        InvalidCase(
            "malformed_json", b'{"step": 1, "amount": ', 400 if shape == "fraudlite" else 422
        ),
        InvalidCase("missing_field", json.dumps(missing).encode(), 422),
        InvalidCase("wrong_type", json.dumps(wrong_type).encode(), 422),
    ]


def pick(rng: random.Random, transactions: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """``k`` transactions drawn with replacement (a batch may repeat a row, as real ones can)."""
    return rng.choices(transactions, k=k)
