"""Request validation: accepted shapes, and a named field plus problem for every mistake."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from service_model import EXAMPLE_TRANSACTION, PREAUTH_INPUTS

from service import schema
from service.api.requests import MAX_DETAILS, RequestValidator
from service.errors import MalformedJSON, ValidationFailed
from service.model.metadata import InputSpec

TX = dict(EXAMPLE_TRANSACTION)
LEGACY = {
    "step": 1,
    "amount": 181.0,
    "oldbalanceOrg": 181.0,
    "newbalanceOrig": 0.0,
    "oldbalanceDest": 0.0,
    "newbalanceDest": 0.0,
    "type_CASH_OUT": 0,
    "type_DEBIT": 0,
    "type_PAYMENT": 0,
    "type_TRANSFER": 1,
    "amt_ratio_orig": 1.0,
}


def validator(
    inputs: tuple[str, ...] = schema.MODEL_INPUTS, max_batch: int = 5
) -> RequestValidator:
    specs = tuple(InputSpec(name, schema.INPUT_TYPES[name]) for name in inputs)
    return RequestValidator(specs, schema.TRANSACTION_TYPES, max_batch)


def parse(body: Any, v: RequestValidator | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (v or validator()).parse(raw)


def problems(body: Any, v: RequestValidator | None = None) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as raised:
        parse(body, v)
    assert raised.value.status == 422
    return {d.field: d.problem for d in raised.value.details}


def test_single_transaction_becomes_float32_columns() -> None:
    parsed = parse({**TX, "transaction_id": "t-1", "nameOrig": "C1", "nameDest": "C2"})
    assert not parsed.batch and parsed.size == 1
    assert parsed.transaction_ids == ["t-1"]
    assert list(parsed.columns) == list(schema.MODEL_INPUTS)
    assert parsed.columns["type"].tolist() == ["TRANSFER"]
    for name in schema.NUMERIC_FIELDS:
        assert parsed.columns[name].dtype == np.float32
    assert parsed.columns["amount"].tolist() == [181.0]


def test_batch_keeps_request_order_and_ids() -> None:
    # 3.0 is the integer 3 in JSON (and in the OpenAPI document's schema): echoed as 3.
    items = [{**TX, "amount": float(i), "transaction_id": i if i != 3 else 3.0} for i in range(5)]
    parsed = parse({"transactions": items})
    assert parsed.batch and parsed.size == 5
    assert parsed.transaction_ids == [0, 1, 2, 3, 4]
    assert parsed.columns["amount"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_known_unused_fields_are_accepted_and_ignored() -> None:
    body = {**TX, "nameOrig": "C1", "nameDest": "M2", "isFraud": 1, "isFlaggedFraud": False}
    assert parse(body).columns.keys() == set(schema.MODEL_INPUTS)


def test_float64_values_are_rounded_to_float32_not_rejected() -> None:
    parsed = parse({**TX, "amount": 0.1})
    assert parsed.columns["amount"][0] == np.float32(0.1)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, "CASH_IN"),
        ({"type_CASH_OUT": 1}, "CASH_OUT"),
        ({"type_DEBIT": 1.0}, "DEBIT"),
        ({"type_PAYMENT": True}, "PAYMENT"),
        ({"type_TRANSFER": 1}, "TRANSFER"),
    ],
)
def test_legacy_body_recovers_the_type(flags: dict[str, Any], expected: str) -> None:
    body = {**LEGACY, **dict.fromkeys(schema.LEGACY_ONE_HOT, 0), **flags}
    parsed = parse(body)
    assert parsed.columns["type"].tolist() == [expected]
    assert parsed.columns["amount"].tolist() == [181.0]


def test_legacy_and_current_items_mix_in_a_batch() -> None:
    parsed = parse({"transactions": [TX, LEGACY, {**LEGACY, "type_TRANSFER": 0}]})
    assert parsed.columns["type"].tolist() == ["TRANSFER", "TRANSFER", "CASH_IN"]


def test_legacy_body_with_two_types_set() -> None:
    found = problems({**LEGACY, "type_CASH_OUT": 1})
    assert "more than one type flag" in found["type_TRANSFER"]


def test_legacy_flag_must_be_zero_or_one() -> None:
    assert "0 or 1" in problems({**LEGACY, "type_DEBIT": 0.5})["type_DEBIT"]
    assert "0 or 1" in problems({**LEGACY, "type_DEBIT": 2})["type_DEBIT"]


def test_legacy_flags_are_required() -> None:
    body = dict(LEGACY)
    del body["type_PAYMENT"]
    assert problems(body) == {"type_PAYMENT": "required field is missing"}


def test_type_and_one_hot_together_is_an_error() -> None:
    assert "either 'type' or the type_*" in problems({**TX, "type_TRANSFER": 1})["type_TRANSFER"]


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        ({"amount": -1.0}, "amount", "must not be negative"),
        ({"oldbalanceOrg": -0.01}, "oldbalanceOrg", "must not be negative"),
        ({"newbalanceDest": 1e39}, "newbalanceDest", "float32"),
        ({"amount": True}, "amount", "got a boolean"),
        ({"amount": "12"}, "amount", "expected a number, got a string"),
        ({"amount": None}, "amount", "expected a number, got null"),
        ({"amount": [1]}, "amount", "got a list"),
        ({"step": 1.5}, "step", "whole number"),
        ({"step": -1}, "step", "must not be negative"),
        ({"step": 2**24 + 1}, "step", "float32"),
        ({"step": False}, "step", "got a boolean"),
        ({"type": "WIRE"}, "type", "unknown transaction type 'WIRE'"),
        ({"type": 3}, "type", "expected a string"),
        ({"nameOrig": 7}, "nameOrig", "expected a string"),
        ({"isFraud": 3}, "isFraud", "0 or 1"),
        ({"transaction_id": 1.5}, "transaction_id", "a string or a whole number, got 1.5"),
        ({"transaction_id": True}, "transaction_id", "got a boolean"),
        ({"isFraud": 0.5}, "isFraud", "must be 0 or 1, got 0.5"),
        ({"velocity": 3}, "velocity", "unknown field"),
    ],
)
def test_each_mistake_names_field_and_problem(
    change: dict[str, Any], field: str, needle: str
) -> None:
    found = problems({**TX, **change})
    assert list(found) == [field]
    assert needle in found[field]


def test_every_offending_field_is_reported_not_just_the_first() -> None:
    found = problems({**TX, "amount": -5, "step": 0.5, "type": "X", "zz": 1, "oldbalanceOrg": True})
    assert set(found) == {"amount", "step", "type", "zz", "oldbalanceOrg"}


def test_missing_required_fields_are_listed() -> None:
    body = {k: v for k, v in TX.items() if k not in ("amount", "type")}
    assert problems(body) == {
        "type": "required field is missing",
        "amount": "required field is missing",
    }


def test_non_finite_numbers_name_their_field() -> None:
    raw = json.dumps({**TX, "amount": float("nan"), "oldbalanceOrg": float("inf")}).encode()
    assert b"NaN" in raw and b"Infinity" in raw
    found = problems(raw)
    assert set(found) == {"amount", "oldbalanceOrg"}
    assert all("finite" in p for p in found.values())
    overflow = json.dumps(TX).replace('"amount": 181.0', '"amount": 1e999').encode()
    assert "finite" in problems(overflow)["amount"]


def test_batch_items_name_their_index() -> None:
    body = {"transactions": [TX, {**TX, "amount": -1}, TX, "nope", {**TX, "type": "?"}]}
    found = problems(body)
    assert set(found) == {"transactions[1].amount", "transactions[3]", "transactions[4].type"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"transactions": []}, "at least 1"),
        ({"transactions": [TX] * 6}, "at most 5 transactions, got 6"),
        ({"transactions": {"a": TX}}, "expected a list"),
    ],
)
def test_batch_size_limits(body: Any, needle: str) -> None:
    assert needle in problems(body)["transactions"]


def test_batch_body_rejects_other_top_level_fields() -> None:
    assert "unknown field" in problems({"transactions": [TX], "verbose": True})["verbose"]


@pytest.mark.parametrize("body", [[TX], "TX", 3, None])
def test_top_level_must_be_an_object(body: Any) -> None:
    assert "expected a JSON object" in problems(body)["body"]


@pytest.mark.parametrize(
    "raw", [b"", b"   ", b"{", b'{"a": tru}', b"\xff\xfe", b'{"a":1}x', b"[" * 100_000]
)
def test_malformed_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(MalformedJSON) as raised:
        validator().parse(raw)
    assert raised.value.status == 400
    assert raised.value.message.startswith("malformed JSON")


def test_details_are_capped() -> None:
    items = [{**TX, "amount": -1, "step": -1}] * 40
    with pytest.raises(ValidationFailed) as raised:
        parse({"transactions": items}, validator(max_batch=40))
    details = raised.value.details
    assert len(details) == MAX_DETAILS
    assert details[-1].problem == f"{80 - MAX_DETAILS + 1} more problems not listed"


def test_required_fields_follow_the_model_inputs() -> None:
    preauth = validator(PREAUTH_INPUTS)
    body = {k: v for k, v in TX.items() if k not in schema.POST_TRANSACTION_FIELDS}
    parsed = parse({**body, "nameDest": "C1"}, preauth)
    assert list(parsed.columns) == list(PREAUTH_INPUTS)
    assert parsed.columns["nameDest"].dtype == object
    assert problems(body, preauth) == {"nameDest": "required field is missing"}
    # The full model still needs the post-transaction balances.
    assert set(problems({**body, "nameDest": "C1"})) == set(schema.POST_TRANSACTION_FIELDS)
    # Balances a model does not use are still checked when sent.
    assert (
        "must not be negative"
        in problems({**body, "nameDest": "C", "newbalanceOrig": -1}, preauth)["newbalanceOrig"]
    )
