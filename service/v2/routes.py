"""Open Inference Protocol (KServe V2) REST routes, on the same model and scoring core as /predict.

Routes: ``GET /v2`` (server metadata), ``GET /v2/health/live``, ``GET /v2/health/ready``, and for
the one model, ``fraudlite``, ``GET /v2/models/fraudlite[/versions/{v}]`` (metadata),
``GET .../ready`` and ``POST .../infer``. A versioned path answers for the loaded model's
``model_version`` only. Errors take the protocol's form ``{"error": "..."}``: 400 for a bad
request, 404 for an unknown model or version, 413/415 for body size and type, 503 (with
``Retry-After``) when no model is loaded. Health probes answer 200 for true and, as the protocol
says, a 4xx (400) for false. Mapping and decisions: docs/kserve-v2.md.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import schema
from service.errors import Detail, NotFound, ServiceError, UnsupportedMediaType
from service.httpio import check_json_content_type, json_response, read_body
from service.model import LoadedModel
from service.state import ServiceState
from service.telemetry.request_log import request_log
from service.telemetry.request_record import record_decisions
from service.v2 import binary
from service.v2.requests import CONTRIBUTIONS, InferRequest, served_outputs

#: The name the model is served under.
MODEL_NAME: Final = "fraudlite"
#: The fraudlite distribution's version (pyproject.toml; a test keeps them equal). A constant
#: because the Lambda image copies service/ without installing the distribution.
SERVER_VERSION: Final = "0.1.0"
#: Protocol extensions served, as Triton names them in server metadata.
EXTENSIONS: Final = ("binary_tensor_data",)
#: Triton's platform name for an ONNX model run by onnxruntime.
PLATFORM: Final = "onnxruntime_onnx"
#: Status of a health probe answering false: the protocol says 4xx (Triton answers 400).
NOT_READY: Final = 400
#: V2 datatype of each ONNX tensor type the model may declare.
DATATYPES: Final = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}

Handler = Callable[[Request], Awaitable[Response]]


def tensor_metadata(name: str, onnx_type: str, shape: list[Any] | None) -> dict[str, Any]:
    """A protocol ``$metadata_tensor``: symbolic (dynamic) dimensions become -1."""
    dims = [d if isinstance(d, int) and d >= 0 else -1 for d in (shape or [None])]
    return {"name": name, "datatype": DATATYPES.get(onnx_type, onnx_type), "shape": dims}


def model_metadata(model: LoadedModel) -> dict[str, Any]:
    """``$metadata_model_response``: the inputs and outputs as the ONNX graph declares them."""
    graph_outputs = {o.name: o for o in model.session.get_outputs()}
    return {
        "name": MODEL_NAME,
        "versions": [model.version],
        "platform": PLATFORM,
        "inputs": [tensor_metadata(i.name, i.type, i.shape) for i in model.session.get_inputs()],
        "outputs": [
            tensor_metadata(name, graph_outputs[name].type, graph_outputs[name].shape)
            for name in served_outputs(model)
        ],
    }


def infer_response(
    model: LoadedModel,
    request: InferRequest,
    probabilities: np.ndarray,
    labels: np.ndarray,
    contributions: np.ndarray | None = None,
) -> tuple[dict[str, Any], list[bytes]]:
    """``$inference_response`` with the requested outputs, in the order they were requested,
    and the raw bytes of those asked for in binary (their ``parameters.binary_data_size``).

    ``label`` is the service's decision (``probability >= threshold`` in float32, the threshold
    POST /predict uses, FRAUD_THRESHOLD included), reported in ``parameters.threshold``.
    ``contributions`` (when requested) is flattened row-major with its shape [N, F+1].
    """
    n = request.size
    tensors = {
        schema.OUTPUT_PROBABILITY: ("FP32", [n], probabilities),
        schema.OUTPUT_LABEL: ("INT64", [n], labels.astype(np.int64)),
    }
    if contributions is not None:
        tensors[CONTRIBUTIONS] = ("FP32", list(contributions.shape), contributions)
    body: dict[str, Any] = {"model_name": MODEL_NAME, "model_version": model.version}
    if request.id is not None:
        body["id"] = request.id
    body["parameters"] = {"threshold": model.threshold}
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name in request.outputs:
        kind, shape, values = tensors[name]
        tensor: dict[str, Any] = {"name": name, "datatype": kind, "shape": shape}
        if name in request.binary_outputs:
            chunks.append(binary.encode_tensor(kind, values))
            tensor["parameters"] = {binary.SIZE_PARAMETER: len(chunks[-1])}
        else:
            tensor["data"] = values.ravel().tolist()
        outputs.append(tensor)
    body["outputs"] = outputs
    return body, chunks


def infer_answer(body: dict[str, Any], chunks: list[bytes]) -> Response:
    """JSON, or with binary outputs the extension's octet-stream body and header length."""
    if not chunks:
        return json_response(body)
    content, headers = binary.binary_body(msgspec.json.encode(body), chunks)
    return Response(content, headers=headers)


def score_infer(
    model: LoadedModel, parsed: InferRequest, request: Request
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The one scoring path of V2 inference: probabilities, labels and, when requested,
    contributions; records batch size and scoring time in the request log."""
    log = request_log(request)
    log.batch_size = parsed.size
    started = time.perf_counter_ns()
    contributions = None
    if CONTRIBUTIONS in parsed.outputs:
        probabilities, labels, contributions, _ = model.score_explained(parsed.columns)
    else:
        probabilities, labels = model.score(parsed.columns)
    log.scoring_us = (time.perf_counter_ns() - started) // 1000
    # Telemetry (issue 15): flagged count and decision records, written after the answer.
    # V2 tensors carry no transaction ids; contributions stay out of the log (raw arrays).
    record_decisions(
        log,
        model_version=model.version,
        threshold=model.threshold,
        probabilities=probabilities,
        labels=labels,
        columns=parsed.columns,
    )
    return probabilities, labels, contributions


def protocol_errors(handler: Handler) -> Handler:
    """Answer typed client errors (and 503) as ``{"error": "..."}``; bugs still go to the app."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ServiceError as exc:
            if exc.status == 500:
                raise
            request_log(request).error_fields.extend(d.field for d in exc.details)
            return json_response({"error": exc.message}, exc.status, exc.headers)

    return wrapped


async def read_infer_body(request: Request, max_bytes: int) -> tuple[bytes, str | None]:
    """The body and its Inference-Header-Content-Length (binary extension), if any.

    Content-Type may be absent (tritonclient sends none); else JSON (UTF-8), or
    ``application/octet-stream`` for a body with binary tensors.
    """
    header_length = request.headers.get(binary.HEADER_LENGTH)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {_bounded(encoding)} is not supported: send the body uncompressed",
            [Detail("Content-Encoding", "not supported")],
        )
    content_type = request.headers.get("content-type")
    octets = content_type is not None and content_type.split(";")[0].strip().lower() == (
        binary.OCTET_STREAM
    )
    if content_type is not None and not (octets and header_length is not None):
        check_json_content_type(request)
    return await read_body(request, max_bytes), header_length


def _bounded(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def v2_routes(state: ServiceState) -> list[Route]:
    """The protocol's routes, bound to ``state``."""
    model = state.model if isinstance(state.model, LoadedModel) else None

    def not_loaded() -> str:
        return f"model not loaded: {state.unavailable_reason}"

    def check_name(request: Request) -> None:
        name = request.path_params["model"]
        if name != MODEL_NAME:
            raise NotFound(
                f"unknown model {name!r}; this server serves {MODEL_NAME!r}",
                [Detail("model", "unknown model")],
            )

    def check_version(request: Request, loaded: LoadedModel) -> None:
        version = request.path_params.get("version")
        # Shadow and A/B models answer under their own version too (issue 16).
        other = state.rollout.by_version(version) if state.rollout and version else None
        if version is not None and version != loaded.version and other is None:
            raise NotFound(
                f"model {MODEL_NAME!r} has no version {version!r}; "
                f"the loaded version is {loaded.version!r}",
                [Detail("version", "unknown version")],
            )

    def loaded_model(request: Request) -> LoadedModel:
        check_name(request)
        loaded, _ = state.require_model()  # 503 with the reason and Retry-After
        check_version(request, loaded)
        version = request.path_params.get("version")
        if state.rollout is not None and version is not None and version != loaded.version:
            role_model = state.rollout.by_version(version)  # a shadow or A/B model (issue 16)
            assert role_model is not None  # check_version let only known versions through
            return role_model[1]
        return loaded

    async def server_metadata(request: Request) -> Response:
        return json_response(
            {"name": MODEL_NAME, "version": SERVER_VERSION, "extensions": list(EXTENSIONS)}
        )

    async def server_live(request: Request) -> Response:
        return json_response({"live": True})

    async def server_ready(request: Request) -> Response:
        if model is not None:
            return json_response({"ready": True})
        return json_response({"ready": False, "error": not_loaded()}, NOT_READY)

    @protocol_errors
    async def model_ready(request: Request) -> Response:
        check_name(request)
        if model is None:
            body = {"name": MODEL_NAME, "ready": False, "error": not_loaded()}
            return json_response(body, NOT_READY)
        check_version(request, model)
        return json_response({"name": MODEL_NAME, "ready": True})

    @protocol_errors
    async def metadata(request: Request) -> Response:
        return json_response(model_metadata(loaded_model(request)))

    @protocol_errors
    async def infer(request: Request) -> Response:
        loaded = loaded_model(request)
        validator = state.infer_validator
        if loaded is not state.model and state.rollout is not None:  # issue 16
            validator = state.rollout.infer_validator(loaded, state.settings.max_batch)
        assert validator is not None  # built with the model (service/state.py)
        body, header_length = await read_infer_body(request, state.settings.max_body_bytes)
        parsed = validator.parse(body, header_length)
        scored = score_infer(loaded, parsed, request)
        return infer_answer(*infer_response(loaded, parsed, *scored))

    model_path = "/v2/models/{model}"
    versioned = "/v2/models/{model}/versions/{version}"
    return [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", server_live, methods=["GET"]),
        Route("/v2/health/ready", server_ready, methods=["GET"]),
        *(Route(path, metadata, methods=["GET"]) for path in (model_path, versioned)),
        *(Route(f"{path}/ready", model_ready, methods=["GET"]) for path in (model_path, versioned)),
        *(Route(f"{path}/infer", infer, methods=["POST"]) for path in (model_path, versioned)),
    ]
