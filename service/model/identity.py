"""A model's identity, derived from its bytes: ``model_version`` is verified, not believed.

``model_version`` is the first 16 hex digits of the sha256 of the serialized model *without* its
``model_version`` metadata entry (every other byte counts: graph, weights, threshold, all other
metadata). ``fraud-convert`` writes it (convert/metadata.py ``stamp_version``) and the service
recomputes it at load and refuses a file whose version does not match (kind: incompatible model).

The service has no ``onnx`` package, so this reads the protobuf wire format directly: a
``ModelProto`` is a sequence of top-level fields; ``metadata_props`` is field 14, each entry a
``StringStringEntryProto`` (``key`` = field 1, ``value`` = field 2). Dropping one top-level
record from a serialized message gives exactly the serialization of the message without it.
"""

from __future__ import annotations

import hashlib
from typing import Final

from service.model.errors import ModelLoadError

VERSION_KEY: Final = "model_version"
VERSION_HEX_DIGITS: Final = 16
_METADATA_PROPS: Final = 14
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ModelLoadError("model file is not a well-formed ONNX protobuf (bad varint)")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _records(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """Top-level records as (field, wire type, start, payload start, end) offsets."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        payload = pos
        if wire == _VARINT:
            _, pos = _varint(data, pos)
        elif wire == _FIXED64:
            pos += 8
        elif wire == _FIXED32:
            pos += 4
        elif wire == _LENGTH:
            length, payload = _varint(data, pos)
            pos = payload + length
        else:
            raise ModelLoadError(f"model file has an unsupported protobuf wire type {wire}")
        if field == 0 or pos > len(data):
            raise ModelLoadError("model file is not a well-formed ONNX protobuf (truncated)")
        out.append((field, wire, start, payload, pos))
    return out


def _entry(data: bytes) -> tuple[str | None, str | None]:
    """(key, value) of a serialized StringStringEntryProto."""
    found: dict[int, str] = {}
    for field, wire, _, payload, end in _records(data):
        if wire == _LENGTH and field in (1, 2):
            found[field] = data[payload:end].decode("utf-8", errors="replace")
    return found.get(1), found.get(2)


def split_version(data: bytes) -> tuple[bytes, str | None]:
    """(the model's bytes without its ``model_version`` entry, the version it claims or None).

    Raises ModelLoadError if the bytes are not a protobuf or claim more than one version.
    """
    kept: list[bytes] = []
    claimed: list[str] = []
    for field, wire, start, payload, end in _records(data):
        if field == _METADATA_PROPS and wire == _LENGTH:
            key, value = _entry(data[payload:end])
            if key == VERSION_KEY:
                claimed.append(value or "")
                continue
        kept.append(data[start:end])
    if len(claimed) > 1:
        raise ModelLoadError(f"model metadata has {len(claimed)} 'model_version' entries")
    return b"".join(kept), (claimed[0] if claimed else None)


def content_version(data: bytes) -> str:
    """The version ``data`` should carry: a sha256 prefix of its bytes minus the version entry."""
    stripped, _ = split_version(data)
    return hashlib.sha256(stripped).hexdigest()[:VERSION_HEX_DIGITS]


def verify_version(data: bytes) -> str:
    """The model's version, after checking it is derived from the bytes; else ModelLoadError."""
    stripped, claimed = split_version(data)
    derived = hashlib.sha256(stripped).hexdigest()[:VERSION_HEX_DIGITS]
    if claimed is None:
        raise ModelLoadError("model metadata lacks required key(s): model_version")
    if claimed != derived:
        raise ModelLoadError(
            f"model_version {claimed[:64]!r} does not match the model's content (derived "
            f"{derived}): the file was changed after export, or its version was forged"
        )
    return derived
