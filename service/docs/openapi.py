"""GET /openapi.json (OpenAPI 3.1) and GET /docs (a self-contained HTML page, no CDN).

The document is built once per app from the loaded model: required fields are the model's inputs
and the response examples are the model's real answers to the request examples.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from service import schema
from service.api.problems import F32_MAX, STEP_MAX
from service.api.routes import prediction_body, score_parsed
from service.docs.explain import add_explain_schemas
from service.docs.page import render_docs
from service.httpio import json_response
from service.model import LoadedModel
from service.state import ServiceState
from service.v2.openapi import V2_SCHEMAS, v2_paths

EXAMPLE = {"transaction_id": "tx-0001", **schema.EXAMPLE_TRANSACTION}
LEGACY_EXAMPLE = {
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
BATCH_EXAMPLE = {
    "transactions": [
        EXAMPLE,
        {**EXAMPLE, "transaction_id": "tx-0002", "type": "PAYMENT", "amount": 9839.64,
         "oldbalanceOrg": 170136.0, "newbalanceOrig": 160296.36, "nameDest": "M1979787155"},
    ]
}  # fmt: skip
ERROR_EXAMPLE = {
    "error": "invalid request: transactions[1].amount: must not be negative, got -5.0",
    "details": [{"field": "transactions[1].amount", "problem": "must not be negative, got -5.0"}],
}


def _field_schemas(type_values: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    money = {"type": "number", "minimum": 0, "maximum": F32_MAX, "format": "float"}
    fields: dict[str, dict[str, Any]] = {
        "transaction_id": {"type": ["string", "integer"], "description": "echoed back"},
        "type": {"type": "string", "enum": list(type_values)},
        "step": {
            "type": "integer",
            "minimum": 0,
            "maximum": STEP_MAX,
            "description": "hour of the simulation (PaySim: 1-744); 1.0 is accepted as 1",
        },
    }
    for name in schema.NUMERIC_FIELDS[1:]:
        fields[name] = {**money, "description": "non-negative; scored as float32"}
    for name in schema.NAME_FIELDS:
        fields[name] = {"type": "string", "description": "account id; accepted, unused"}
    for name in schema.LABEL_FIELDS:
        fields[name] = {"type": ["integer", "boolean"], "description": "label; ignored"}
    return fields


def openapi_document(state: ServiceState) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this app, specialised to its model."""
    model = state.model if isinstance(state.model, LoadedModel) else None
    inputs = model.input_names if model else schema.MODEL_INPUTS
    type_values = model.metadata.type_values if model else schema.TRANSACTION_TYPES
    fields = _field_schemas(type_values)
    flag = {"type": ["integer", "boolean"], "enum": [0, 1, False, True]}
    legacy_fields = {k: v for k, v in fields.items() if k != "type"}
    legacy_fields.update({name: flag for name in schema.LEGACY_ONE_HOT})
    legacy_fields["amt_ratio_orig"] = {"type": ["number", "null"], "description": "ignored"}
    one_hot = list(schema.LEGACY_ONE_HOT)
    scored = {
        "transaction_id": {"type": ["string", "integer"]},
        "probability_fraud": {"type": "number", "description": "float32 P(fraud)"},
        "is_fraud": {"type": "boolean", "description": "probability_fraud >= threshold"},
    }
    components = {
        "Transaction": _object(fields, [n for n in inputs]),
        "LegacyTransaction": _object(
            legacy_fields, [n for n in inputs if n != "type"] + one_hot,
            "The original project's body: type from the one-hot fields (all 0 = CASH_IN).",
        ),
        "BatchRequest": _object(
            {"transactions": {
                "type": "array", "minItems": 1, "maxItems": state.settings.max_batch,
                "items": {"oneOf": [_ref("Transaction"), _ref("LegacyTransaction")]},
            }},
            ["transactions"],
        ),
        # One scored transaction inside a batch answer; a single answer adds the threshold
        # and model version, which a batch answer gives once for all items.
        "BatchItem": _object(scored, ["probability_fraud", "is_fraud"]),
        "Prediction": _object({
            **scored,
            "threshold": {"type": "number"},
            "model_version": {"type": "string"},
        }, ["probability_fraud", "is_fraud", "threshold", "model_version"]),
        "BatchPrediction": _object({
            "predictions": {"type": "array", "items": _ref("BatchItem")},
            "threshold": {"type": "number"},
            "model_version": {"type": "string"},
        }, ["predictions", "threshold", "model_version"]),
        "Error": _object({
            "error": {"type": "string"},
            "details": {"type": "array", "items": _object(
                {"field": {"type": "string"}, "problem": {"type": "string"}},
                ["field", "problem"])},
        }, ["error", "details"]),
    }  # fmt: skip
    add_explain_schemas(components)
    errors = {
        "400": _error("Malformed JSON"),
        "413": _error(f"Body larger than {state.settings.max_body_bytes} bytes"),
        "415": _error("Content-Type is not application/json"),
        "422": _error("Invalid fields; each problem names its field", ERROR_EXAMPLE),
        "503": _error("Model not loaded; the error says why"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fraudlite scoring service",
            "version": model.version if model else "no-model",
            "description": "Real-time fraud scoring of PaySim-style transactions with one ONNX "
            "model. Numbers are scored as float32. Unknown fields are rejected.",
        },
        "servers": [{"url": state.settings.api_base_path}],
        "paths": {
            "/predict": {"post": {
                "summary": "Score one transaction, a batch, or a legacy 11-field body",
                "description": f"A batch holds 1 to {state.settings.max_batch} transactions, "
                "scored in one call and answered in request order.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"oneOf": [_ref("TransactionRequest"), _ref("BatchRequest"),
                                         _ref("LegacyTransactionRequest")]},
                    "examples": {name: {"value": body} for name, body in _bodies(model).items()},
                }}},
                "responses": {
                    "200": {"description": "Prediction(s)", "content": {"application/json": {
                        "schema": {"oneOf": [_ref("Prediction"), _ref("BatchPrediction")]},
                        "examples": _answers(state, model),
                    }}},
                    **errors,
                },
            }},
            "/health": {"get": {"summary": "Liveness and model readiness", "responses": {
                "200": _json("Model loaded", {"status": "ok", "model_version": "..."}),
                "503": errors["503"],
            }}},
            "/model": {"get": {"summary": "Model metadata and the threshold in use", "responses": {
                "200": _json("Model metadata", model.describe() if model else {}),
                "503": errors["503"],
            }}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI 3.1 document"}}}},
            "/docs": {"get": {"summary": "Human-readable documentation", "responses": {
                "200": {"description": "HTML page"}}}},
            **v2_paths(state),
        },
        "components": {"schemas": {**components, **V2_SCHEMAS}},
    }  # fmt: skip


def _answers(state: ServiceState, model: LoadedModel | None) -> dict[str, Any]:
    """The model's real answers to the request examples (static ones without a model)."""
    out: dict[str, Any] = {}
    for name, body in _bodies(model).items():
        try:
            loaded, validator = state.require_model()
            parsed = validator.parse(json.dumps(body).encode())
            out[name] = {"value": prediction_body(loaded, parsed, *score_parsed(loaded, parsed))}
        # No model, a model needing fields the examples lack, or one that fails to score:
        # the documentation must still build, so fall back to an illustrative answer.
        except Exception:
            out[name] = {"value": {"probability_fraud": 0.998, "is_fraud": True,
                                   "threshold": 0.42, "model_version": "..."}}  # fmt: skip
    return out


def _bodies(model: LoadedModel | None) -> dict[str, Any]:
    """The request examples; ``explained`` only for a model that can explain."""
    bodies = {"single": EXAMPLE, "batch": BATCH_EXAMPLE, "legacy": LEGACY_EXAMPLE}
    if model is not None and model.explanation is not None:
        bodies["explained"] = {**EXAMPLE, "explain": True, "top_k": 3}
    return bodies


def _object(
    properties: dict[str, Any], required: list[str], description: str | None = None
) -> dict[str, Any]:
    out = {"type": "object", "properties": properties, "required": required}
    out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, example: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


def _error(description: str, example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref("Error")}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def docs_routes(state: ServiceState) -> list[Route]:
    """GET /openapi.json and GET /docs, built once."""
    document = openapi_document(state)
    page = render_docs(document)

    async def openapi_json(request: Request) -> Response:
        return json_response(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
