"""Open Inference Protocol (KServe V2) inference requests: msgspec types, decoding and checks.

A request decodes like POST /predict (service/api/requests.py ``decode_json``) and converts into
:class:`InferenceRequest` (the protocol's ``$inference_request``, msgspec Structs that also give
the OpenAPI schema, service/docs/document.py). Then each tensor is checked against the loaded
model: the tensors are the model's raw fields, ``type`` as BYTES, the numeric fields as FP32,
each of shape ``[N]`` (what the model declares) or ``[N, 1]`` (a column; flattened), data flat
or nested in JSON, or raw bytes with the binary tensor extension (service/v2/binary.py). Values
follow the same rules and wording as POST /predict (service/api/problems.py): finite,
non-negative, at most the largest float32, whole-number steps up to 2**24, ``type`` one of the
model's values, 1 to ``max_batch`` rows. Every mistake is a :class:`BadRequest` (400, the
protocol's status) whose message names the input and the problem; its details name the fields
for the request log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, NoReturn

import msgspec
import numpy as np

from service import schema
from service.api.problems import plain_message
from service.api.requests import decode_json
from service.errors import BadRequest, Detail
from service.model import LoadedModel
from service.model.explanation import OUTPUT_CONTRIBUTIONS
from service.model.metadata import InputSpec
from service.v2 import binary
from service.v2.values import column, kind

#: Outputs an inference returns when the request names none, in this order.
OUTPUTS: Final = (schema.OUTPUT_PROBABILITY, schema.OUTPUT_LABEL)
#: Per-feature log-odds [N, F+1] of models exported with explanations; only when requested,
#: since computing them costs a second tree ensemble (docs/explanations.md).
CONTRIBUTIONS: Final = OUTPUT_CONTRIBUTIONS
#: V2 datatype of each model input element type (service/schema.py INPUT_TYPES).
DATATYPES: Final = {"string": "BYTES", "float32": "FP32"}
#: Problems spelled out in one error message; the rest are counted.
SHOWN_PROBLEMS: Final = 5
_UNSUPPORTED: Final = {
    "shared_memory_region": "shared memory is not supported: send the values in 'data' or as "
    "binary data",
    "classification": "the classification extension is not supported",
}

Parameters = dict[str, Any]


class InputTensor(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``$request_input``: one input tensor; ``data`` in JSON, or absent when its
    ``parameters.binary_data_size`` bytes are in the binary section."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    shape: list[Annotated[int, msgspec.Meta(ge=0)]]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | msgspec.UnsetType = msgspec.UNSET


class RequestedOutput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``$request_output``: an output to return; ``parameters.binary_data`` asks for raw bytes."""

    name: str
    parameters: Parameters | None = None


class InferenceRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``$inference_request``. ``parameters.binary_data_output`` asks for every output in raw
    bytes; other parameters are accepted and ignored."""

    inputs: Annotated[list[InputTensor], msgspec.Meta(min_length=1)]
    id: str | None = None
    parameters: Parameters | msgspec.UnsetType = msgspec.UNSET
    outputs: list[RequestedOutput] | None = None


@dataclass(frozen=True)
class InferRequest:
    """A checked inference request: model-ready columns, the outputs to return (each with
    whether it goes in binary), the id to echo."""

    id: str | None
    columns: dict[str, np.ndarray]
    size: int
    outputs: tuple[str, ...]
    binary_outputs: frozenset[str] = frozenset()


class InferValidator:
    """Checks V2 inference requests against one model's inputs and outputs; built once per
    model (service/state.py)."""

    def __init__(
        self,
        inputs: tuple[InputSpec, ...],
        type_values: tuple[str, ...],
        max_batch: int,
        outputs: tuple[str, ...],
        default_outputs: tuple[str, ...] | None = None,
    ) -> None:
        self.inputs = {spec.name: spec for spec in inputs}
        self.type_values = type_values
        self.max_batch = max_batch
        self.outputs = outputs
        self.default_outputs = outputs if default_outputs is None else default_outputs

    @classmethod
    def for_model(cls, model: LoadedModel, max_batch: int) -> InferValidator:
        """The validator of ``model``: its inputs, and ``contributions`` among the outputs a
        request may select when the model has them (never a default: they cost a second pass)."""
        return cls(
            model.metadata.inputs,
            model.metadata.type_values,
            max_batch,
            served_outputs(model),
            default_outputs=OUTPUTS,
        )

    def parse(self, body: bytes, header_length: str | None = None) -> InferRequest:
        """Validate a raw body (``header_length``: the Inference-Header-Content-Length header,
        when the body carries binary tensors); raises MalformedJSON or BadRequest (both 400)."""
        header, section = binary.split_body(body, header_length)
        request = decode_request(header)
        outputs, binary_outputs = self._outputs(request)
        raw = self._tensors(request.inputs, binary.BinarySection(section))
        sizes = {name: len(values) for name, values in raw.items()}
        if len(set(sizes.values())) > 1:
            shown = ", ".join(f"{name}: {n}" for name, n in sizes.items())
            _fail([Detail("inputs", f"inputs must have the same number of rows, got {shown}")])
        size = next(iter(sizes.values()))
        if not 1 <= size <= self.max_batch:
            _fail([Detail("inputs", f"inputs must hold 1 to {self.max_batch} rows, got {size}")])
        problems: list[Detail] = []
        columns = {
            name: column(name, spec.type, raw[name], self.type_values, problems)
            for name, spec in self.inputs.items()
        }
        if problems:
            _fail(problems)
        return InferRequest(request.id, columns, size, outputs, binary_outputs)

    def _outputs(self, request: InferenceRequest) -> tuple[tuple[str, ...], frozenset[str]]:
        """The outputs to return, in order, and those to return as raw bytes."""
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        all_binary = _flag(parameters, binary.REQUEST_PARAMETER, "parameters")
        if not request.outputs:
            names = self.default_outputs
            return names, frozenset(names if all_binary else ())
        names_list: list[str] = []
        in_binary: set[str] = set()
        for index, item in enumerate(request.outputs):
            where = f"outputs[{index}]"
            _check_parameters(item.parameters, f"output {item.name!r}")
            if item.name not in self.outputs:
                allowed = ", ".join(self.outputs)
                problem = f"unknown output {_shown(item.name)}; the model's outputs are {allowed}"
                _fail([Detail(where, problem)])
            if item.name in names_list:
                _fail([Detail(where, f"output {item.name!r} is requested twice")])
            names_list.append(item.name)
            own = _flag(item.parameters or {}, binary.OUTPUT_PARAMETER, f"output {item.name!r}")
            if own if own is not None else all_binary:
                in_binary.add(item.name)
        return tuple(names_list), frozenset(in_binary)

    def _tensors(
        self, inputs: list[InputTensor], section: binary.BinarySection
    ) -> dict[str, list[Any]]:
        """Each model input's flat values, after name, datatype, shape and binary checks."""
        found: dict[str, list[Any]] = {}
        for index, tensor in enumerate(inputs):
            name = tensor.name
            where = f"input {name!r}"
            if name not in self.inputs:
                allowed = ", ".join(self.inputs)
                problem = f"unknown input {_shown(name)}; the model's inputs are {allowed}"
                _fail([Detail(f"inputs[{index}]", problem)])
            if name in found:
                _fail([Detail(name, f"{where} is given twice")])
            parameters = tensor.parameters or {}
            _check_parameters(parameters, where)
            expected = DATATYPES[self.inputs[name].type]
            if tensor.datatype != expected:
                got = _shown(tensor.datatype)
                _fail([Detail(name, f"{where} has datatype {got}; the model takes {expected}")])
            rows = _rows(name, tensor.shape)
            if binary.SIZE_PARAMETER in parameters:
                if tensor.data is not msgspec.UNSET:
                    problem = f"{where} has both 'data' and {binary.SIZE_PARAMETER}: send one"
                    _fail([Detail(name, problem)])
                chunk = section.take(name, parameters[binary.SIZE_PARAMETER])
                found[name] = binary.decode_tensor(name, expected, chunk, rows)
            elif tensor.data is msgspec.UNSET:
                _fail([Detail(name, f"{where} lacks data (or {binary.SIZE_PARAMETER})")])
            else:
                found[name] = _flatten(name, tensor.shape, tensor.data)
        section.finish()
        missing = [name for name in self.inputs if name not in found]
        if missing:
            _fail([Detail(name, f"required input {name!r} is missing") for name in missing])
        return found


def served_outputs(model: LoadedModel) -> tuple[str, ...]:
    """The outputs a request may select: ``contributions`` too when the model has them."""
    return OUTPUTS + ((CONTRIBUTIONS,) if model.explanation is not None else ())


def decode_request(body: bytes) -> InferenceRequest:
    """The JSON inference request as :class:`InferenceRequest` (fast path: one conversion);
    when it does not convert, the first problem in words (slow path)."""
    document = decode_json(body)
    try:
        return msgspec.convert(document, InferenceRequest)
    except msgspec.ValidationError as exc:
        _explain(document)
        _fail([Detail("body", f"invalid inference request: {plain_message(str(exc))}")])


_REQUEST_KEYS: Final = tuple(InferenceRequest.__struct_fields__)
_INPUT_KEYS: Final = tuple(InputTensor.__struct_fields__)
_OUTPUT_KEYS: Final = tuple(RequestedOutput.__struct_fields__)


def _explain(document: Any) -> None:
    """Raise the 400 naming what keeps ``document`` from being an :class:`InferenceRequest`."""
    if not isinstance(document, dict):
        _fail([Detail("body", "the body must be a JSON object (an inference request)")])
    _no_unknown_keys(document, _REQUEST_KEYS, "body", "an inference request")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        _fail([Detail("id", f"id must be a string, got {kind(request_id)}")])
    if not isinstance(document.get("parameters", {}), dict):
        _fail([Detail("parameters", "parameters must be an object")])
    outputs = document.get("outputs")
    if outputs is not None and not isinstance(outputs, list):
        _fail([Detail("outputs", "outputs must be a list of {'name': ...} objects")])
    for index, item in enumerate(outputs or []):
        where = f"outputs[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            _fail([Detail(where, f"{where} must be an object with a string 'name'")])
        _no_unknown_keys(item, _OUTPUT_KEYS, where, "a requested output")
        if item.get("parameters") is not None and not isinstance(item["parameters"], dict):
            _fail([Detail(where, f"output {item['name']!r}: parameters must be an object")])
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        _fail([Detail("inputs", "inputs must be a non-empty list of input tensors")])
    for index, tensor in enumerate(inputs):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            _fail([Detail(where, f"{where} must be an object with a string 'name'")])
        _no_unknown_keys(tensor, _INPUT_KEYS, where, "an input tensor")
        name = tensor["name"]
        if not name:
            _fail([Detail(where, f"{where}: the input name must not be empty")])
        missing = [key for key in ("shape", "datatype") if key not in tensor]
        if missing:
            _fail([Detail(name, f"input {name!r} lacks {', '.join(missing)}")])
        if tensor.get("parameters") is not None and not isinstance(tensor["parameters"], dict):
            _fail([Detail(name, f"input {name!r}: parameters must be an object")])
        if not isinstance(tensor["datatype"], str):
            _fail([Detail(name, f"input {name!r}: datatype must be a string")])
        _rows(name, tensor["shape"])
        if "data" in tensor and not isinstance(tensor["data"], list):
            _fail([Detail(name, f"input {name!r}: data must be a list")])


def _rows(name: str, shape: Any) -> int:
    """N of a [N] or [N, 1] shape; 400 for any other."""
    where = f"input {name!r}"
    valid = isinstance(shape, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    )
    if not valid:
        _fail([Detail(name, f"{where}: shape must be a list of non-negative integers")])
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        _fail([Detail(name, f"{where} has shape {shape}; the model takes [N] (or [N, 1])")])
    return shape[0]


def _flatten(name: str, shape: list[int], data: list[Any]) -> list[Any]:
    """Row-major values of a [N] or [N, 1] tensor given flat or nested, checked against shape."""
    where = f"input {name!r}"
    rows = shape[0]
    if len(shape) == 2 and data and all(isinstance(item, list) for item in data):
        if len(data) != rows or any(len(item) != 1 for item in data):
            _fail([Detail(name, f"{where}: nested data does not match shape {shape}")])
        data = [item[0] for item in data]
    if len(data) != rows:
        _fail([Detail(name, f"{where} has {len(data)} values; shape {shape} needs {rows}")])
    return data


def _flag(parameters: Parameters, key: str, where: str) -> bool | None:
    """A boolean parameter (None when absent); 400 when it is not a boolean."""
    value = parameters.get(key)
    if value is None or isinstance(value, bool):
        return value
    _fail([Detail(key, f"{where}: {key} must be true or false, got {kind(value)}")])


def _check_parameters(parameters: Parameters | None, where: str) -> None:
    for key, problem in _UNSUPPORTED.items():
        if parameters and key in parameters:
            _fail([Detail(where, f"{where}: {problem}")])


def _shown(text: str) -> str:
    """A client-chosen name, bounded, for an error message."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _no_unknown_keys(obj: dict[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = [key for key in obj if key not in allowed]
    if unknown:
        keys = ", ".join(allowed)
        problem = f"unknown field {_shown(unknown[0])} in {where} ({what} has {keys})"
        _fail([Detail(where, problem)])


def _fail(problems: list[Detail]) -> NoReturn:
    """Raise the 400: the message carries the first problems (the protocol has only 'error');
    each problem is a sentence that names its place, the details keep field names for the log."""
    shown = [p.problem for p in problems[:SHOWN_PROBLEMS]]
    more = len(problems) - SHOWN_PROBLEMS
    message = "invalid inference request: " + "; ".join(shown)
    if more > 0:
        message += f" (and {more} more)"
    raise BadRequest(message, problems[:50])
