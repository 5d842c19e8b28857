"""Input files and reference answers for the fraud-score tests (tests/test_batch_*.py).

:func:`dirty_rows` is generated PaySim data with rows broken the ways real exports break (NaN, a
negative or non-numeric amount, an unknown type, an empty field, a fractional step, a value beyond
float32); :func:`api_answers` sends rows to POST /predict one batch at a time and returns what it
answered, so the tests compare fraud-score with the API itself rather than with fixed numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fitted_artifacts import paysim_like_frame
from starlette.testclient import TestClient

from service.app import create_app
from service.model import LoadedModel
from service.schema import PAYSIM_COLUMNS
from service.settings import Settings

#: 132,707 real PaySim rows (../shared/data/README.md); tests using it skip where it is absent.
REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/data/paysim_real_sample.csv.gz"
#: (row index, column, text written in the CSV, the API's reason for that row).
BROKEN: tuple[tuple[int, str, str, str], ...] = (
    (3, "amount", "-5", "amount: must not be negative, got -5.0"),
    (10, "amount", "NaN", "amount: must be a finite number (NaN and Infinity are not allowed)"),
    (
        11,
        "oldbalanceOrg",
        "inf",
        "oldbalanceOrg: must be a finite number (NaN and Infinity are not allowed)",
    ),
    (
        17,
        "type",
        "WIRE",
        "type: unknown transaction type 'WIRE'; expected one of CASH_IN, "
        "CASH_OUT, DEBIT, PAYMENT, TRANSFER",
    ),
    (25, "newbalanceDest", "", "newbalanceDest: required field is missing"),
    (26, "type", "", "type: required field is missing"),
    (40, "step", "1.5", "step: must be a whole number of hours, got 1.5"),
    (41, "step", "-1", "step: must not be negative, got -1.0"),
    (
        55,
        "amount",
        "1e39",
        "amount: must be at most 3.4028235e+38 (the largest float32; the model scores float32)",
    ),
    (60, "oldbalanceDest", "n/a", "oldbalanceDest: expected a number, got a string"),
)


def text_frame(n: int, seed: int = 0, with_ids: bool = True) -> pa.Table:
    """``n`` generated PaySim rows as text columns (money with two decimals, like Kaggle's)."""
    frame = paysim_like_frame(n, seed)
    columns: dict[str, list[str]] = {}
    if with_ids:
        columns["transaction_id"] = [f"tx-{seed}-{i}" for i in range(n)]
    for name in PAYSIM_COLUMNS:
        values = frame[name].tolist()
        if name in (
            "amount",
            "oldbalanceOrg",
            "newbalanceOrig",
            "oldbalanceDest",
            "newbalanceDest",
        ):
            columns[name] = [f"{v:.2f}" for v in values]
        else:
            columns[name] = [str(v) for v in values]
    return pa.table(columns)


def dirty_rows(n: int = 200, seed: int = 0, with_ids: bool = True) -> pa.Table:
    """:func:`text_frame` with the :data:`BROKEN` cells written in."""
    table = text_frame(n, seed, with_ids)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for row, column, text, _ in BROKEN:
        columns[column][row] = text
    return pa.table(columns)


def write_csv(table: pa.Table, path: Path) -> Path:
    """Write text columns as CSV, an empty field for an empty string (a missing value)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
    return path


def typed(table: pa.Table, numeric: Sequence[str]) -> pa.Table:
    """Numeric text columns as float64 (empty -> null), as a Parquet export would store them."""
    out = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if name in numeric:
            out[name] = pa.array([None if v == "" else float(v) for v in values], pa.float64())
        else:
            out[name] = pa.array([None if v == "" else v for v in values], pa.string())
    return pa.table(out)


def write_parquet(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def json_row(row: dict[str, Any], inputs: Sequence[str]) -> dict[str, Any]:
    """The JSON transaction a client would send for a CSV row: numbers as numbers."""
    body: dict[str, Any] = {}
    if row.get("transaction_id"):
        body["transaction_id"] = row["transaction_id"]
    for name in inputs:
        value = row.get(name)
        if value is None or value == "":
            continue
        if name == "type" or name.startswith("name"):
            body[name] = value
        else:
            try:
                body[name] = float(value)
            except ValueError:
                body[name] = value
    return body


def api_answers(
    model_path: Path, model: LoadedModel, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """POST /predict for each row (1000 at a time); returns each prediction, or for a row the API
    refuses, ``{"reason": "field: problem; ..."}`` from its 422 answer."""
    inputs = [spec.name for spec in model.metadata.inputs]
    client = TestClient(create_app(Settings(model_uri=str(model_path)), model))
    bodies = [json_row(row, inputs) for row in rows]
    answers: list[dict[str, Any]] = []
    for start in range(0, len(bodies), 1000):
        part = bodies[start : start + 1000]
        response = client.post(
            "/predict",
            content=json.dumps({"transactions": part}, allow_nan=True),
            headers={"content-type": "application/json"},
        )
        if response.status_code == 200:
            answers += response.json()["predictions"]
            continue
        assert response.status_code == 422, response.text
        for body in part:  # some row is refused: ask for each alone, as a client would
            one = client.post(
                "/predict",
                content=json.dumps(body, allow_nan=True),
                headers={"content-type": "application/json"},
            )
            if one.status_code == 422:
                details = one.json()["details"]
                answers.append(
                    {"reason": "; ".join(f"{d['field']}: {d['problem']}" for d in details)}
                )
            else:
                assert one.status_code == 200, one.text
                answers.append(one.json())
    return answers
