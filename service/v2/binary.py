"""The binary tensor data extension of the Open Inference Protocol, as Triton defines it.

A request with the ``Inference-Header-Content-Length: H`` header carries a JSON inference header
in its first ``H`` bytes and raw tensor data after it: each input whose ``parameters`` hold
``binary_data_size: n`` takes the next ``n`` bytes, in the order of ``inputs``. Fixed-size
elements are little-endian (FP32: 4 bytes each); a BYTES element is a 4-byte little-endian length
followed by that many bytes. A response whose outputs are binary (an output's
``parameters.binary_data``, or the request's ``parameters.binary_data_output`` for the outputs
that do not say) has the same layout, ``application/octet-stream``, with the header length in
``Inference-Header-Content-Length``. Every inconsistency is a 400 naming the tensor.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from service.errors import BadRequest, Detail

#: The request and response header giving the length of the JSON part of the body.
HEADER_LENGTH: Final = "Inference-Header-Content-Length"
#: Parameter of a tensor sent or returned as raw bytes: its size in bytes.
SIZE_PARAMETER: Final = "binary_data_size"
#: Output parameter asking for that output in binary.
OUTPUT_PARAMETER: Final = "binary_data"
#: Request parameter asking for every output not saying otherwise in binary.
REQUEST_PARAMETER: Final = "binary_data_output"
#: Content type of a response with binary outputs (Triton's).
OCTET_STREAM: Final = "application/octet-stream"
#: numpy dtype of each fixed-size datatype the service reads or writes, little-endian.
FIXED_DTYPES: Final = {"FP32": np.dtype("<f4"), "INT64": np.dtype("<i8"), "FP64": np.dtype("<f8")}
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes | None]:
    """The JSON inference header and the binary section (None without the header)."""
    if header_length is None:
        return body, None
    try:
        size = int(header_length)
    except ValueError:
        size = -1
    if not 0 <= size <= len(body):
        raise BadRequest(
            f"invalid {HEADER_LENGTH} {_shown(header_length)}: must be an integer from 0 to the "
            f"body length ({len(body)} bytes)",
            [Detail(HEADER_LENGTH, "not an integer within the body length")],
        )
    return body[:size], body[size:]


def _shown(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "...")


def bad_tensor(name: str, problem: str) -> BadRequest:
    """The 400 of a tensor's binary data: the message names the input."""
    return BadRequest(
        f"invalid inference request: input {name!r}: {problem}", [Detail(name, problem)]
    )


class BinarySection:
    """Hands out consecutive slices of a request's binary section, one per binary input."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self.offset = 0
        self.last: str | None = None  # the last input that took bytes

    def take(self, name: str, size: Any) -> bytes:
        """The next ``size`` bytes, for input ``name``; 400 if they are not there."""
        if self.data is None:
            raise bad_tensor(
                name,
                f"{SIZE_PARAMETER} is set but the request has no {HEADER_LENGTH} header "
                "(no binary section)",
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad_tensor(name, f"{SIZE_PARAMETER} must be a non-negative integer")
        end = self.offset + size
        if end > len(self.data):
            left = len(self.data) - self.offset
            raise bad_tensor(
                name,
                f"{SIZE_PARAMETER} is {size} bytes but only {left} bytes of binary data are left "
                "(truncated body, or sizes that do not add up)",
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        self.last = name
        return chunk

    def finish(self) -> None:
        """400 when bytes are left over: the declared sizes do not add up to the section."""
        if self.data is None or self.offset == len(self.data):
            return
        extra = len(self.data) - self.offset
        where = self.last or "body"
        after = f"after input {self.last!r}, " if self.last else ""
        problem = (
            f"the binary section has {extra} bytes more than the inputs' {SIZE_PARAMETER} "
            f"add up to ({after}{self.offset} of {len(self.data)} bytes used)"
        )
        raise BadRequest(f"invalid inference request: {problem}", [Detail(where, problem)])


def decode_tensor(name: str, datatype: str, raw: bytes, count: int) -> list[Any]:
    """The ``count`` elements of input ``name`` from its raw bytes, as Python values.

    BYTES elements must be UTF-8 text (the model's string inputs); numbers come back as Python
    floats/ints so that they go through the same value checks as JSON data.
    """
    if datatype == "BYTES":
        return _decode_bytes(name, raw, count)
    dtype = FIXED_DTYPES.get(datatype)
    if dtype is None:
        raise bad_tensor(name, f"binary data of datatype {datatype} is not supported")
    if len(raw) != count * dtype.itemsize:
        raise bad_tensor(
            name,
            f"{SIZE_PARAMETER} is {len(raw)} bytes; shape needs {count} {datatype} elements of "
            f"{dtype.itemsize} bytes = {count * dtype.itemsize}",
        )
    return np.frombuffer(raw, dtype=dtype).tolist()


def _decode_bytes(name: str, raw: bytes, count: int) -> list[Any]:
    values: list[Any] = []
    offset = 0
    for index in range(count):
        if offset + _LENGTH.size > len(raw):
            raise bad_tensor(
                name,
                f"BYTES element {index}: its 4-byte length runs past the end of the tensor's "
                f"{len(raw)} bytes (shape needs {count} elements)",
            )
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise bad_tensor(
                name,
                f"BYTES element {index} declares {length} bytes, past the end of the tensor's "
                f"{len(raw)} bytes",
            )
        chunk = raw[offset : offset + length]
        offset += length
        try:
            values.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            raise bad_tensor(name, f"BYTES element {index} is not UTF-8 text") from None
    if offset != len(raw):
        raise bad_tensor(
            name,
            f"{len(raw) - offset} bytes left after the {count} BYTES elements the shape needs",
        )
    return values


def encode_tensor(datatype: str, values: np.ndarray) -> bytes:
    """The raw bytes of an output tensor (row-major, little-endian)."""
    if datatype == "BYTES":
        parts = []
        for item in values.ravel().tolist():
            data = item if isinstance(item, bytes) else str(item).encode("utf-8")
            parts.append(_LENGTH.pack(len(data)) + data)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=FIXED_DTYPES[datatype]).tobytes()


def binary_body(header: bytes, chunks: Sequence[bytes]) -> tuple[bytes, dict[str, str]]:
    """A binary response body and its headers (content type and header length)."""
    return b"".join([header, *chunks]), {
        HEADER_LENGTH: str(len(header)),
        "content-type": OCTET_STREAM,
    }
