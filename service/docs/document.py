"""The OpenAPI 3.1 document of one app (served by service/docs/openapi.py).

It is generated from the types that validate requests (service/docs/schemas.py,
service/v2/openapi.py), specialised to the loaded model: its required fields, its transaction
types, the outputs it serves; the response examples are its real answers to the request
examples.
"""

from __future__ import annotations

from typing import Any

from service import schema
from service.api.requests import RequestValidator
from service.docs.examples import ERROR_EXAMPLE, answer_examples, request_examples
from service.docs.schemas import api_components, ref
from service.model import LoadedModel
from service.model.metadata import InputSpec
from service.state import ServiceState
from service.v2.openapi import v2_components, v2_paths


def openapi_document(state: ServiceState) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this app, specialised to its model."""
    model = state.model if isinstance(state.model, LoadedModel) else None
    validator = state.validator if model is not None else None
    if validator is None:  # no model: document the schema's full model
        validator = RequestValidator(
            tuple(InputSpec(n, schema.INPUT_TYPES[n]) for n in schema.MODEL_INPUTS),
            schema.TRANSACTION_TYPES,
            state.settings.max_batch,
        )
    components = api_components(validator, model is not None and model.explanation is not None)
    fields = components["Transaction"]["properties"]
    v2_validator = state.infer_validator if model is not None else None
    components.update(v2_components(v2_validator, fields, state.settings.max_batch))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fraudlite scoring service",
            "version": model.version if model else "no-model",
            "description": "Real-time fraud scoring of PaySim-style transactions with one ONNX "
            "model. Numbers are scored as float32. Unknown fields are rejected.",
        },
        "servers": [{"url": state.settings.api_base_path}],
        "paths": {**_api_paths(state, model, validator), **v2_paths(state, model)},
        "components": {"schemas": components},
    }


def _api_paths(
    state: ServiceState, model: LoadedModel | None, validator: RequestValidator
) -> dict[str, Any]:
    errors = {
        "400": _error("Malformed JSON"),
        "413": _error(f"Body larger than {state.settings.max_body_bytes} bytes"),
        "415": _error("Content-Type is not application/json"),
        "422": _error("Invalid fields; each problem names its field", ERROR_EXAMPLE),
        "503": _error("Model not loaded; the error says what kind of fault"),
    }
    answers = answer_examples(model, validator)
    return {
        "/predict": {"post": {
            "summary": "Score one transaction, a batch, or a legacy 11-field body",
            "description": f"A batch holds 1 to {state.settings.max_batch} transactions, "
            "scored in one call and answered in request order.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [ref("TransactionRequest"), ref("BatchRequest"),
                                     ref("LegacyTransactionRequest")]},
                "examples": {name: {"value": body}
                             for name, body in request_examples(model).items()},
            }}},
            "responses": {
                "200": {"description": "Prediction(s)", "content": {"application/json": {
                    "schema": {"oneOf": [ref("Prediction"), ref("BatchPrediction")]},
                    "examples": {name: {"value": body} for name, body in answers.items()},
                }}},
                **errors,
            },
        }},
        "/health": {"get": {"summary": "Liveness and model readiness", "responses": {
            "200": _json("Model loaded", ref("Health"),
                         {"status": "ok", "model_version": model.version if model else "..."}),
            "503": errors["503"],
        }}},
        "/model": {"get": {"summary": "Model metadata and the threshold in use", "responses": {
            "200": _json("Model metadata", {"type": "object"}, None),
            "503": errors["503"],
        }}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json("OpenAPI 3.1 document", {"type": "object"}, None)}}},
        "/docs": {"get": {"summary": "Human-readable documentation", "responses": {
            "200": {"description": "HTML page", "content": {"text/html": {
                "schema": {"type": "string"}}}}}}},
    }  # fmt: skip


def _json(description: str, schema_: dict[str, Any], example: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema_}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _error(description: str, example: Any = None) -> dict[str, Any]:
    return _json(description, ref("Error"), example)
