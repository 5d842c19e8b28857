"""Decode and check Open Inference Protocol (KServe V2) inference requests for the loaded model.

The tensors are the model's raw fields: ``type`` as BYTES, the numeric fields as FP32, each of
shape ``[N]`` (what the model declares) or ``[N, 1]`` (a column; flattened), data flat or nested.
Values follow the same rules as POST /predict (service/api/problems.py wording): finite, non-negative,
at most the largest float32, whole-number steps up to 2**24, ``type`` one of the model's values,
1 to ``max_batch`` rows. Every mistake is a :class:`BadRequest` (400, the protocol's status)
whose message names the input and the problem; its details name the fields for the request log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NoReturn

import numpy as np

from service.api.requests import decode_json
from service.errors import BadRequest, Detail
from service.model.metadata import InputSpec
from service.v2.values import column, kind

#: V2 datatype of each model input element type (service/schema.py INPUT_TYPES).
DATATYPES: Final = {"string": "BYTES", "float32": "FP32"}
#: Problems spelled out in one error message; the rest are counted.
SHOWN_PROBLEMS: Final = 5
_REQUEST_KEYS: Final = ("id", "parameters", "inputs", "outputs")
_INPUT_KEYS: Final = ("name", "shape", "datatype", "parameters", "data")
_OUTPUT_KEYS: Final = ("name", "parameters")
_UNSUPPORTED: Final = {
    "binary_data_size": "binary tensor data is not supported (no binary extension): send the "
    "values in 'data' (tritonclient: set_data_from_numpy(..., binary_data=False))",
    "shared_memory_region": "shared memory is not supported: send the values in 'data'",
    "classification": "the classification extension is not supported",
}


@dataclass(frozen=True)
class InferRequest:
    """A checked inference request: model-ready columns, the outputs to return, the id to echo."""

    id: str | None
    columns: dict[str, np.ndarray]
    size: int
    outputs: tuple[str, ...]


class InferValidator:
    """Checks V2 inference request bodies against one model's inputs and outputs."""

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

    def parse(self, body: bytes) -> InferRequest:
        """Validate a raw body; raises MalformedJSON or BadRequest (both 400)."""
        document = decode_json(body)
        if not isinstance(document, dict):
            _fail([Detail("body", "the body must be a JSON object (an inference request)")])
        _no_unknown_keys(document, _REQUEST_KEYS, "body", "an inference request")
        request_id = document.get("id")
        if request_id is not None and not isinstance(request_id, str):
            _fail([Detail("id", f"id must be a string, got {kind(request_id)}")])
        if not isinstance(document.get("parameters", {}), dict):
            _fail([Detail("parameters", "parameters must be an object")])
        outputs = self._outputs(document.get("outputs"))
        raw = self._tensors(document.get("inputs"))
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
        return InferRequest(id=request_id, columns=columns, size=size, outputs=outputs)

    def _outputs(self, requested: Any) -> tuple[str, ...]:
        if requested is None or requested == []:
            return self.default_outputs
        if not isinstance(requested, list):
            _fail([Detail("outputs", "outputs must be a list of {'name': ...} objects")])
        names: list[str] = []
        for index, item in enumerate(requested):
            where = f"outputs[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                _fail([Detail(where, f"{where} must be an object with a string 'name'")])
            _no_unknown_keys(item, _OUTPUT_KEYS, where, "a requested output")
            _check_parameters(item.get("parameters"), f"output {item['name']!r}")
            if item["name"] not in self.outputs:
                allowed = ", ".join(self.outputs)
                _fail(
                    [
                        Detail(
                            where,
                            f"unknown output {item['name']!r}; the model's outputs are {allowed}",
                        )
                    ]
                )
            if item["name"] in names:
                _fail([Detail(where, f"output {item['name']!r} is requested twice")])
            names.append(item["name"])
        return tuple(names)

    def _tensors(self, inputs: Any) -> dict[str, list[Any]]:
        """Each model input's flat values, after name, datatype and shape checks."""
        if not isinstance(inputs, list) or not inputs:
            _fail([Detail("inputs", "inputs must be a non-empty list of input tensors")])
        found: dict[str, list[Any]] = {}
        for index, tensor in enumerate(inputs):
            if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
                where = f"inputs[{index}]"
                _fail([Detail(where, f"{where} must be an object with a string 'name'")])
            name = tensor["name"]
            where = f"input {name!r}"
            _no_unknown_keys(tensor, _INPUT_KEYS, f"inputs[{index}]", "an input tensor")
            if name not in self.inputs:
                allowed = ", ".join(self.inputs)
                _fail(
                    [
                        Detail(
                            f"inputs[{index}]",
                            f"unknown input {name!r}; the model's inputs are {allowed}",
                        )
                    ]
                )
            if name in found:
                _fail([Detail(name, f"{where} is given twice")])
            missing = [key for key in ("shape", "datatype", "data") if key not in tensor]
            if missing:
                _fail([Detail(name, f"{where} lacks {', '.join(missing)}")])
            _check_parameters(tensor.get("parameters"), where)
            expected = DATATYPES[self.inputs[name].type]
            if tensor["datatype"] != expected:
                got = tensor["datatype"]
                _fail([Detail(name, f"{where} has datatype {got!r}; the model takes {expected}")])
            found[name] = _flatten(name, tensor["shape"], tensor["data"])
        missing = [name for name in self.inputs if name not in found]
        if missing:
            _fail([Detail(name, f"required input {name!r} is missing") for name in missing])
        return found


def _flatten(name: str, shape: Any, data: Any) -> list[Any]:
    """Row-major values of a [N] or [N, 1] tensor given flat or nested, checked against shape."""
    where = f"input {name!r}"
    valid = isinstance(shape, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    )
    if not valid:
        _fail([Detail(name, f"{where}: shape must be a list of non-negative integers")])
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        _fail([Detail(name, f"{where} has shape {shape}; the model takes [N] (or [N, 1])")])
    if not isinstance(data, list):
        _fail([Detail(name, f"{where}: data must be a list")])
    rows = shape[0]
    if len(shape) == 2 and data and all(isinstance(item, list) for item in data):
        if len(data) != rows or any(len(item) != 1 for item in data):
            _fail([Detail(name, f"{where}: nested data does not match shape {shape}")])
        data = [item[0] for item in data]
    if len(data) != rows:
        _fail([Detail(name, f"{where} has {len(data)} values; shape {shape} needs {rows}")])
    return data


def _check_parameters(parameters: Any, where: str) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        _fail([Detail(where, f"{where}: parameters must be an object")])
    for key, problem in _UNSUPPORTED.items():
        if key in parameters:
            _fail([Detail(where, f"{where}: {problem}")])


def _no_unknown_keys(obj: dict[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = [key for key in obj if key not in allowed]
    if unknown:
        keys = ", ".join(allowed)
        _fail([Detail(where, f"unknown field {unknown[0]!r} in {where} ({what} has {keys})")])


def _fail(problems: list[Detail]) -> NoReturn:
    """Raise the 400: the message carries the first problems (the protocol has only 'error');
    each problem is a sentence that names its place, the details keep field names for the log."""
    shown = [p.problem for p in problems[:SHOWN_PROBLEMS]]
    more = len(problems) - SHOWN_PROBLEMS
    message = "invalid inference request: " + "; ".join(shown)
    if more > 0:
        message += f" (and {more} more)"
    raise BadRequest(message, problems[:50])
