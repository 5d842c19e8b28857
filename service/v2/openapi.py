"""The Open Inference Protocol (KServe V2) routes in the OpenAPI document (docs/document.py).

Schemas are generated from the msgspec types that decode requests (service/v2/requests.py) and
describe answers (service/v2/answers.py), then specialised to the loaded model: one tensor schema
per model input (name, datatype and element rules, the same as /predict's fields), the outputs it
serves. What JSON Schema cannot say is in the operation's description: a tensor's data holds
shape[0] values and every input the same number of rows; inputs may come in any order and as
[N, 1] columns (the document shows the canonical [N] form, in the model's order); binary tensor
data (Inference-Header-Content-Length) is the extension's framing, not JSON.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import msgspec

from service.docs.schemas import REF_TEMPLATE, ref
from service.model import LoadedModel
from service.state import ServiceState
from service.v2 import answers, binary
from service.v2.requests import DATATYPES, InferenceRequest, InferValidator
from service.v2.routes import MODEL_NAME, NOT_READY, infer_response

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
#: Tensor parameters a JSON request cannot carry: binary data needs the extension's framing,
#: shared memory and classification are not served.
_REFUSED_INPUT_PARAMETERS: Final = (binary.SIZE_PARAMETER, "shared_memory_region", "classification")
_REFUSED_OUTPUT_PARAMETERS: Final = ("shared_memory_region", "classification")


def v2_components(
    validator: InferValidator | None, fields: dict[str, Any], max_batch: int
) -> dict[str, Any]:
    """Schemas of the protocol's requests and answers; with a model's ``validator``, its
    inputs get one schema each, whose values follow ``fields`` (/predict's field schemas)."""
    _, components = msgspec.json.schema_components(
        [InferenceRequest, *answers.ANSWER_TYPES], ref_template=REF_TEMPLATE
    )
    out = {f"V2{name}": schema for name, schema in components.items()}
    out = _renamed_refs(out, set(components))
    request = out["V2InferenceRequest"]
    request["properties"]["parameters"] = {
        "type": "object",
        "properties": {binary.REQUEST_PARAMETER: {"type": ["boolean", "null"]}},
        "description": f"{binary.REQUEST_PARAMETER}: true returns every output not saying "
        "otherwise as binary data (application/octet-stream); other parameters are ignored",
    }
    if validator is None:
        return out
    names = list(validator.inputs)
    for name, spec in validator.inputs.items():
        out[f"V2Input_{name}"] = _input_schema(
            out["V2InputTensor"], name, DATATYPES[spec.type], fields[name], max_batch
        )
    request["properties"]["inputs"] = {
        "type": "array",
        "prefixItems": [ref(f"V2Input_{name}") for name in names],
        "items": False,
        "minItems": len(names),
    }
    output = copy.deepcopy(out["V2RequestedOutput"])
    output["properties"]["name"] = {"enum": list(validator.outputs)}
    output["properties"]["parameters"] = {
        "type": ["object", "null"],
        "properties": {binary.OUTPUT_PARAMETER: {"type": ["boolean", "null"]}},
        "propertyNames": {"not": {"enum": list(_REFUSED_OUTPUT_PARAMETERS)}},
    }
    out["V2RequestedOutput"] = output
    request["properties"]["outputs"] = {
        "anyOf": [
            {
                "type": "array",
                "items": ref("V2RequestedOutput"),
                "maxItems": len(validator.outputs),
                # Each output at most once (a duplicate is a 400).
                "allOf": [
                    {
                        "contains": {"properties": {"name": {"const": name}}},
                        "minContains": 0,
                        "maxContains": 1,
                    }
                    for name in validator.outputs
                ],
            },
            {"type": "null"},
        ]
    }
    return out


def _renamed_refs(components: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The components with their ``$ref``s to each other prefixed with V2 (no clash with the
    JSON API's names)."""
    text = msgspec.json.encode(components).decode()
    for name in names:
        text = text.replace(
            f'"{REF_TEMPLATE.format(name=name)}"', f'"{REF_TEMPLATE.format(name="V2" + name)}"'
        )
    return msgspec.json.decode(text)


def _input_schema(
    base: dict[str, Any], name: str, datatype: str, values: dict[str, Any], max_batch: int
) -> dict[str, Any]:
    schema = copy.deepcopy(base)
    properties = schema["properties"]
    properties["name"] = {"const": name}
    properties["datatype"] = {"const": datatype}
    rows = {"type": "integer", "minimum": 1, "maximum": max_batch}
    properties["shape"] = {"type": "array", "prefixItems": [rows], "items": False, "minItems": 1}
    element = {k: v for k, v in values.items() if k not in ("description", "default")}
    properties["data"] = {"type": "array", "items": element, "minItems": 1, "maxItems": max_batch}
    properties["parameters"] = {
        "type": ["object", "null"],
        "propertyNames": {"not": {"enum": list(_REFUSED_INPUT_PARAMETERS)}},
    }
    schema["required"] = ["name", "shape", "datatype", "data"]
    schema["description"] = f"Input {name}: one value per row, shape [N]."
    return schema


def infer_answer(state: ServiceState, model: LoadedModel | None) -> Any:
    """The loaded model's answer to INFER_EXAMPLE; None without a model."""
    validator = state.infer_validator
    if model is None or validator is None or set(validator.inputs) != _example_inputs():
        return None  # no model, or one taking other inputs than the example's
    parsed = validator.parse(msgspec.json.encode(INFER_EXAMPLE))
    body, _ = infer_response(model, parsed, *model.score(parsed.columns))
    return body


def _example_inputs() -> set[str]:
    return {tensor["name"] for tensor in INFER_EXAMPLE["inputs"]}


def _content(
    description: str, schema: str | None = None, example: Any = None, binary_too: bool = False
) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if schema:
        content["schema"] = ref(schema)
    if example is not None:
        content["example"] = example
    media = {"application/json": content}
    if binary_too:
        media[binary.OCTET_STREAM] = {"schema": {"type": "string", "format": "binary"}}
    return {"description": description, "content": media}


def v2_paths(state: ServiceState, model: LoadedModel | None) -> dict[str, Any]:
    """OpenAPI path items of the protocol's routes (versioned forms included)."""
    error = _content("{'error': '...'}", "V2Error")
    errors = {"400": error, "404": _content("Unknown model or version", "V2Error")}
    unavailable = {"503": _content("No model loaded; the error says what kind of fault", "V2Error")}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    model_name = {
        "name": "model", "in": "path", "required": True, "schema": {"enum": [MODEL_NAME]}
    }  # fmt: skip
    paths: dict[str, Any] = {
        "/v2": {"get": {"summary": "V2 server metadata", "responses": {
            "200": _content("Server metadata", "V2ServerMetadata")}}},
        "/v2/health/live": {"get": {"summary": "V2 server live", "responses": {
            "200": _content("Live", "V2ServerLive")}}},
        "/v2/health/ready": {"get": {"summary": "V2 server ready (model loaded)", "responses": {
            "200": _content("Ready", "V2ServerReady"),
            str(NOT_READY): _content("Not ready (the protocol's 4xx for false)",
                                     "V2ServerReady")}}},
    }  # fmt: skip
    answer = infer_answer(state, model)
    for base, params in (
        ("/v2/models/{model}", [model_name]),
        ("/v2/models/{model}/versions/{version}", [model_name, version]),
    ):
        paths[base] = {"get": {
            "summary": "V2 model metadata",
            "parameters": params,
            "responses": {"200": _content("Model metadata", "V2ModelMetadata"),
                          **errors, **unavailable},
        }}  # fmt: skip
        paths[f"{base}/ready"] = {"get": {
            "summary": "V2 model ready",
            "parameters": params,
            "responses": {"200": _content("Ready", "V2ModelReady"),
                          "400": _content("Not ready, or a bad request", "V2ModelReady"),
                          "404": errors["404"]},
        }}  # fmt: skip
        paths[f"{base}/infer"] = {"post": {
            "summary": "V2 inference",
            "description": "Inputs: the model's raw fields (type BYTES, the others FP32), "
            f"shape [N] or [N, 1], 1 to {state.settings.max_batch} rows; each input's data "
            "holds shape[0] values and every input the same number of rows, in any order. "
            "Outputs: probability FP32, label INT64 (both by default); contributions FP32 "
            "[N, F+1] on request, for models exported with explanations. Binary tensor data "
            "extension: with an Inference-Header-Content-Length header, the body is this JSON "
            "header followed by each input's binary_data_size bytes (little-endian; BYTES "
            "elements 4-byte length-prefixed); binary outputs come back as "
            "application/octet-stream with the same header.",
            "parameters": params,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("V2InferenceRequest"), "example": INFER_EXAMPLE}}},
            "responses": {"200": _content("Inference response", "V2InferenceResponse", answer,
                                          binary_too=True),
                          **errors, "413": error, "415": error, **unavailable},
        }}  # fmt: skip
    return paths
