"""Open Inference Protocol (KServe V2) answers as msgspec types, for the OpenAPI document
(service/v2/openapi.py); the protocol's ``$..._response`` objects, specialised to fraudlite."""

from __future__ import annotations

from typing import Any

import msgspec


class ServerMetadata(msgspec.Struct, forbid_unknown_fields=True):
    """``$metadata_server_response``; ``extensions`` lists binary_tensor_data."""

    name: str
    version: str
    extensions: list[str]


class ServerLive(msgspec.Struct, forbid_unknown_fields=True):
    """``$live_server_response``."""

    live: bool


class ServerReady(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``$ready_server_response``; false (a 400) says why."""

    ready: bool
    error: str | msgspec.UnsetType = msgspec.UNSET


class ModelReady(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``$ready_model_response``; false (a 400) says why."""

    name: str
    ready: bool
    error: str | msgspec.UnsetType = msgspec.UNSET


class MetadataTensor(msgspec.Struct, forbid_unknown_fields=True):
    """``$metadata_tensor``: -1 for a dynamic dimension."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(msgspec.Struct, forbid_unknown_fields=True):
    """``$metadata_model_response``: the inputs and outputs as the ONNX graph declares them."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class OutputTensor(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``$response_output``: ``data`` in JSON, or ``parameters.binary_data_size`` bytes after
    the JSON header of an application/octet-stream answer (binary tensor data extension)."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    data: list[Any] | msgspec.UnsetType = msgspec.UNSET


class InferenceResponse(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``$inference_response``; ``parameters.threshold`` is the threshold behind ``label``."""

    model_name: str
    model_version: str
    id: str | msgspec.UnsetType = msgspec.UNSET
    parameters: dict[str, Any]
    outputs: list[OutputTensor]


class Error(msgspec.Struct, forbid_unknown_fields=True):
    """The protocol's error object."""

    error: str


#: The answer types, in the order the OpenAPI document lists them.
ANSWER_TYPES: tuple[type, ...] = (
    ServerMetadata,
    ServerLive,
    ServerReady,
    ModelReady,
    ModelMetadata,
    InferenceResponse,
    Error,
)
