"""The OpenAPI document: generated from the validating types, built lazily, and in agreement
with the service on every example and on every request body listed here (accepted exactly when
the schema says it is valid), for a full and a preauth model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from service_model import PREAUTH_INPUTS, build_model, example_rows
from starlette.testclient import TestClient

import service.docs.document as docs_document
from service import schema
from service.api.explain import pop_options
from service.api.problems import F32_MAX, STEP_MAX
from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings

MAX_BATCH = 20
TX = {**schema.EXAMPLE_TRANSACTION, "nameDest": "C1", "nameOrig": "C2"}


def make_client(path: Path) -> TestClient:
    settings = Settings(model_uri=str(path), max_batch=MAX_BATCH)
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    return TestClient(create_app(settings, model))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return make_client(build_model(tmp_path_factory.mktemp("oa") / "full.onnx"))


@pytest.fixture(scope="module")
def preauth(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    path = build_model(
        tmp_path_factory.mktemp("oa") / "pre.onnx", inputs=PREAUTH_INPUTS, feature_set="preauth"
    )
    return make_client(path)


def validator_for(document: dict[str, Any], body_schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**body_schema, "components": document["components"]})


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    return document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_nothing_is_built_before_the_first_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = docs_document.openapi_document

    def counting(state: Any) -> dict[str, Any]:
        calls.append(1)
        return real(state)

    monkeypatch.setattr(docs_document, "openapi_document", counting)
    client = make_client(build_model(tmp_path / "m.onnx"))
    assert client.post("/predict", json=TX).status_code == 200
    assert client.get("/health").status_code == 200
    assert calls == []  # create_app and scoring build none of it (a Lambda cold start)
    first = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json() == first
    assert calls == [1]  # built once, on the first GET, then kept


def test_the_value_rules_are_in_the_schema(full: TestClient) -> None:
    components = full.get("/openapi.json").json()["components"]["schemas"]
    tx = components["Transaction"]["properties"]
    assert tx["amount"]["minimum"] == 0 and tx["amount"]["maximum"] == F32_MAX
    assert tx["step"]["maximum"] == STEP_MAX and tx["step"]["multipleOf"] == 1
    assert tx["nameDest"]["minLength"] == 1 and tx["nameDest"]["maxLength"] == 256
    assert tx["type"]["enum"] == list(schema.TRANSACTION_TYPES)
    batch = components["BatchRequest"]["properties"]["transactions"]
    assert batch["minItems"] == 1 and batch["maxItems"] == MAX_BATCH
    assert components["Transaction"]["additionalProperties"] is False
    # A model exported without explanations: only "explain": false, no top_k.
    options = components["TransactionRequest"]["properties"]
    assert options["explain"] == {"const": False, "default": False} or options["explain"].get(
        "enum"
    ) == [False]
    assert "top_k" not in options
    v2_step = components["V2Input_step"]["properties"]["data"]["items"]
    assert v2_step["maximum"] == STEP_MAX and v2_step["multipleOf"] == 1


def test_a_preauth_schema_requires_only_its_inputs(preauth: TestClient) -> None:
    document = preauth.get("/openapi.json").json()
    components = document["components"]["schemas"]
    assert components["Transaction"]["required"] == list(PREAUTH_INPUTS)
    for field in schema.POST_TRANSACTION_FIELDS:
        assert field not in components["Transaction"]["required"]
        assert field not in components["LegacyTransaction"]["required"]
        assert (
            "not an input of this model"
            in components["Transaction"]["properties"][field]["description"]
        )
    inputs = components["V2InferenceRequest"]["properties"]["inputs"]["prefixItems"]
    assert [i["$ref"].rsplit("_", 1)[1] for i in inputs] == list(PREAUTH_INPUTS)


@pytest.mark.parametrize("which", ["full", "preauth"])
def test_every_example_validates_and_is_the_real_answer(
    which: str, request: pytest.FixtureRequest
) -> None:
    client: TestClient = request.getfixturevalue(which)
    document = client.get("/openapi.json").json()
    predict = document["paths"]["/predict"]["post"]
    bodies = predict["requestBody"]["content"]["application/json"]["examples"]
    answers = predict["responses"]["200"]["content"]["application/json"]
    check_request = validator_for(document, request_schema(document, "/predict"))
    check_answer = validator_for(document, answers["schema"])
    for name, example in bodies.items():
        check_request.validate(example["value"])
        answer = client.post("/predict", json=example["value"])
        assert answer.status_code == 200, answer.text
        assert answer.json() == answers["examples"][name]["value"]
        check_answer.validate(answer.json())
    errors = predict["responses"]["422"]["content"]["application/json"]
    validator_for(document, errors["schema"]).validate(errors["example"])
    infer = document["paths"]["/v2/models/{model}/infer"]["post"]
    v2_request = infer["requestBody"]["content"]["application/json"]
    v2_answer = infer["responses"]["200"]["content"]["application/json"]
    if which == "full":  # the example takes the full model's inputs
        validator_for(document, v2_request["schema"]).validate(v2_request["example"])
        validator_for(document, v2_answer["schema"]).validate(v2_answer["example"])
        answer = client.post("/v2/models/fraudlite/infer", json=v2_request["example"])
        assert answer.json() == v2_answer["example"]
    else:
        assert "example" not in v2_answer


def _body_cases() -> dict[str, tuple[Any, bool]]:
    """Request bodies and whether each is valid, for the full model."""
    rows = example_rows(3, seed=7)
    legacy = {k: v for k, v in TX.items() if k != "type"} | {
        "type_CASH_OUT": 0, "type_DEBIT": 0, "type_PAYMENT": 0, "type_TRANSFER": 1,
    }  # fmt: skip
    return {
        "single": (TX, True),
        "single with id and labels": ({**TX, "transaction_id": 7, "isFraud": 1}, True),
        "whole float id": ({**TX, "transaction_id": 7.0}, True),
        "batch": ({"transactions": rows}, True),
        "legacy": (legacy, True),
        "legacy with a ratio": ({**legacy, "amt_ratio_orig": None}, True),
        "explain false": ({**TX, "explain": False}, True),
        "float step": ({**TX, "step": 3.0}, True),
        "fractional step": ({**TX, "step": 1.5}, False),
        "negative amount": ({**TX, "amount": -1.0}, False),
        "too large": ({**TX, "amount": 1e39}, False),
        "unknown type": ({**TX, "type": "WIRE"}, False),
        "missing field": ({k: v for k, v in TX.items() if k != "amount"}, False),
        "unknown field": ({**TX, "velocity": 3}, False),
        "empty account name": ({**TX, "nameOrig": ""}, False),
        "long id": ({**TX, "transaction_id": "x" * 257}, False),
        "fractional id": ({**TX, "transaction_id": 1.5}, False),
        "label 0.5": ({**TX, "isFraud": 0.5}, False),
        "explain on a plain model": ({**TX, "explain": True}, False),
        "top_k without explain": ({**TX, "top_k": 3}, False),
        "type and flags": ({**legacy, "type": "TRANSFER"}, False),
        "two flags": ({**legacy, "type_DEBIT": 1}, False),
        "flag 0.5": ({**legacy, "type_TRANSFER": 0.5}, False),
        "empty batch": ({"transactions": []}, False),
        "batch too large": ({"transactions": [TX] * (MAX_BATCH + 1)}, False),
        "options inside a batch item": ({"transactions": [{**TX, "explain": False}]}, False),
        "a list": ([TX], False),
    }


@pytest.mark.parametrize("case", list(_body_cases()))
def test_the_schema_and_the_service_agree(full: TestClient, case: str) -> None:
    body, valid = _body_cases()[case]
    document = full.get("/openapi.json").json()
    assert validator_for(document, request_schema(document, "/predict")).is_valid(body) is valid
    response = full.post("/predict", json=body)
    assert response.status_code == (200 if valid else 422), response.text


def _v2_request(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": name,
                "shape": [len(rows)],
                "datatype": "BYTES" if name == "type" else "FP32",
                "data": [row[name] for row in rows],
            }
            for name in schema.MODEL_INPUTS
        ]
    }


BINARY = {"binary_data": True}
EMPTY: dict[str, Any] = {"parameters": {}}


def _v2_cases() -> dict[str, tuple[Any, bool]]:
    base = _v2_request(example_rows(2, seed=8))

    def changed(change: Any) -> dict[str, Any]:
        body = copy.deepcopy(base)
        change(body)
        return body

    return {
        "plain": (base, True),
        "null outputs": (changed(lambda b: b.update(outputs=None)), True),
        "one output in binary": (
            changed(lambda b: b.update(outputs=[{"name": "label", "parameters": BINARY}])),
            True,
        ),
        "empty input name": (changed(lambda b: b["inputs"][0].update(name="")), False),
        "unknown output": (changed(lambda b: b.update(outputs=[{"name": "score"}])), False),
        "output twice": (
            changed(lambda b: b.update(outputs=[{"name": "label"}, {"name": "label", **EMPTY}])),
            False,
        ),
        "binary size in JSON": (
            changed(lambda b: b["inputs"][1].update(parameters={"binary_data_size": 4})),
            False,
        ),
        "negative amount": (changed(lambda b: b["inputs"][2]["data"].__setitem__(0, -1.0)), False),
        "missing input": (changed(lambda b: b["inputs"].pop()), False),
        "unknown field": (changed(lambda b: b.update(input=[])), False),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_v2_cases()))
def test_the_v2_schema_and_the_service_agree(full: TestClient, case: str) -> None:
    body, valid = _v2_cases()[case]
    document = full.get("/openapi.json").json()
    check = validator_for(document, request_schema(document, "/v2/models/{model}/infer"))
    assert check.is_valid(body) is valid
    response = full.post("/v2/models/fraudlite/infer", json=body)
    assert response.status_code == (200 if valid else 400), response.text


def test_without_a_model_the_document_still_builds(tmp_path: Path) -> None:
    settings = Settings(model_uri=str(tmp_path / "absent.onnx"))
    client = TestClient(create_app(settings, ModelLoadFailure(reason="no such file")))
    document = client.get("/openapi.json").json()
    assert document["info"]["version"] == "no-model"
    components = document["components"]["schemas"]
    assert components["Transaction"]["required"] == list(schema.MODEL_INPUTS)
    assert "V2InferenceRequest" in components
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("top_k", "expected"),
    [(3, 3), (3.0, 3), (1e300, int(1e300)), (2.5, None), (0, None), (True, None)],
)
def test_top_k_is_a_json_integer(top_k: Any, expected: int | None) -> None:
    """The schema says integer >= 1, and 3.0 is an integer in JSON Schema: the service agrees."""
    errors: list[Any] = []
    _, options = pop_options({**TX, "explain": True, "top_k": top_k}, False, errors)
    if expected is None:
        assert [e.field for e in errors] == ["top_k"]
    else:
        assert errors == [] and options.top_k == expected and type(options.top_k) is int
