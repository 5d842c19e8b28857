"""The Open Inference Protocol (KServe V2) routes in the OpenAPI document (service/docs/openapi.py).

Schemas follow the protocol's own OpenAPI description (open_inference_rest.yaml), specialised to
fraudlite: the model name is fixed, the inputs are the model's raw fields, and the infer example's
answer is the loaded model's real answer.
"""

from __future__ import annotations

import json
from typing import Any, Final

from service.state import ServiceState
from service.v2.requests import InferValidator
from service.v2.routes import (
    CONTRIBUTIONS,
    MODEL_NAME,
    NOT_READY,
    OUTPUTS,
    SERVER_VERSION,
    infer_response,
)

#: An inference request in the protocol's example form ({"id": "42", ...}), two transactions.
INFER_EXAMPLE: Final[dict[str, Any]] = {
    "id": "42",
    "inputs": [
        {"name": "type", "shape": [2], "datatype": "BYTES", "data": ["TRANSFER", "PAYMENT"]},
        {"name": "step", "shape": [2], "datatype": "FP32", "data": [1, 1]},
        {"name": "amount", "shape": [2], "datatype": "FP32", "data": [181.0, 9839.64]},
        {"name": "oldbalanceOrg", "shape": [2], "datatype": "FP32", "data": [181.0, 170136.0]},
        {"name": "newbalanceOrig", "shape": [2], "datatype": "FP32", "data": [0.0, 160296.36]},
        {"name": "oldbalanceDest", "shape": [2], "datatype": "FP32", "data": [0.0, 0.0]},
        {"name": "newbalanceDest", "shape": [2], "datatype": "FP32", "data": [0.0, 0.0]},
    ],
    "outputs": [{"name": "probability"}, {"name": "label"}],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: str | None = None, example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if schema:
        content["schema"] = _ref(schema)
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _tensor(data: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string"},
        "datatype": {"type": "string", "enum": ["BYTES", "FP32", "INT64"]},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}},
    }
    if data:
        properties["parameters"] = {"type": "object"}
        properties["data"] = {"type": "array", "description": "row-major, flat or nested"}
    required = ["name", "datatype", "shape", *(["data"] if data else [])]
    return {"type": "object", "properties": properties, "required": required}


V2_SCHEMAS: Final[dict[str, Any]] = {
    "V2Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "V2Tensor": _tensor(data=True),
    "V2MetadataTensor": _tensor(data=False),
    "V2InferenceRequest": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "echoed in the response"},
            "parameters": {"type": "object", "description": "accepted and ignored"},
            "inputs": {"type": "array", "items": _ref("V2Tensor"), "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "enum": [*OUTPUTS, CONTRIBUTIONS]}},
                    "required": ["name"],
                },
            },
        },
        "required": ["inputs"],
        "additionalProperties": False,
    },
    "V2InferenceResponse": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object", "description": "threshold used for 'label'"},
            "outputs": {"type": "array", "items": _ref("V2Tensor")},
        },
        "required": ["model_name", "outputs"],
    },
}


def _infer_answer(state: ServiceState) -> Any:
    """The loaded model's answer to INFER_EXAMPLE, or an illustrative one."""
    try:
        model, _ = state.require_model()
        validator = InferValidator(
            model.metadata.inputs, model.metadata.type_values, state.settings.max_batch, OUTPUTS
        )
        parsed = validator.parse(json.dumps(INFER_EXAMPLE).encode())
        return infer_response(model, parsed, *model.score(parsed.columns))[0]
    # No model, or one needing other inputs: the document must still build.
    except Exception:
        return {"model_name": MODEL_NAME, "id": "42", "outputs": []}


def v2_paths(state: ServiceState) -> dict[str, Any]:
    """OpenAPI path items of the protocol's routes (versioned forms included)."""
    error = _ok("{'error': '...'}", "V2Error")
    errors = {"400": error, "404": _ok("Unknown model or version", "V2Error")}
    unavailable = {"503": _ok("No model loaded; the error says why", "V2Error")}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    model = {"name": "model", "in": "path", "required": True, "schema": {"enum": [MODEL_NAME]}}
    paths: dict[str, Any] = {
        "/v2": {"get": {"summary": "V2 server metadata", "responses": {"200": _ok(
            "Server metadata", example={"name": MODEL_NAME, "version": SERVER_VERSION,
                                        "extensions": []})}}},
        "/v2/health/live": {"get": {"summary": "V2 server live", "responses": {
            "200": _ok("Live", example={"live": True})}}},
        "/v2/health/ready": {"get": {"summary": "V2 server ready (model loaded)", "responses": {
            "200": _ok("Ready", example={"ready": True}),
            str(NOT_READY): _ok("Not ready (the protocol's 4xx for false)")}}},
    }  # fmt: skip
    for base, params in (
        ("/v2/models/{model}", [model]),
        ("/v2/models/{model}/versions/{version}", [model, version]),
    ):
        paths[base] = {
            "get": {
                "summary": "V2 model metadata",
                "parameters": params,
                "responses": {"200": _ok("Model metadata"), **errors, **unavailable},
            }
        }
        paths[f"{base}/ready"] = {
            "get": {
                "summary": "V2 model ready",
                "parameters": params,
                "responses": {"200": _ok("Ready"), **errors},
            }
        }
        paths[f"{base}/infer"] = {"post": {
            "summary": "V2 inference",
            "description": "Inputs: the model's raw fields (type BYTES, the others FP32), "
            f"shape [N] or [N, 1], 1 to {state.settings.max_batch} rows. "
            "Outputs: probability FP32, label INT64 (both by default); contributions FP32 "
            "[N, F+1] on request, for models exported with explanations.",
            "parameters": params,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("V2InferenceRequest"), "example": INFER_EXAMPLE}}},
            "responses": {"200": _ok("Inference response", "V2InferenceResponse",
                                     _infer_answer(state)),
                          **errors, "413": error, "415": error, **unavailable},
        }}  # fmt: skip
    return paths
