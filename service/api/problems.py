"""Field kinds, numeric bounds, the few rules msgspec types cannot express, and problem wording.

msgspec decides whether a value has the right type and range; this module adds cross-field and
whole-number rules and turns a rejection into a sentence a client can act on ("must not be
negative" rather than "Expected `float` >= 0.0").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final

import msgspec

from service import schema
from service.errors import Detail

#: Largest finite float32: the model scores float32, so larger values cannot be represented.
F32_MAX: Final = 3.4028234663852886e38
#: Integers above 2**24 are not all exact in float32; a step beyond that would be altered.
STEP_MAX: Final = 2**24

_NUMERIC_KINDS: Final = frozenset({"money", "step", "flag", "ratio", "label"})
_LIBRARY_NOISE = re.compile(r" - at `[^`]*`$")
_TYPE_WORDS = {
    "`float`": "a number",
    "`int`": "an integer",
    "`str`": "a string",
    "`bool`": "a boolean",
    "`null`": "null",
    "`array`": "a list",
    "`object`": "an object",
}


def kind_of(name: str) -> str:
    """The validation kind of a known request field."""
    if name == "type":
        return "type"
    if name == "step":
        return "step"
    if name in schema.NUMERIC_FIELDS:
        return "money"
    if name in schema.NAME_FIELDS:
        return "name"
    if name in schema.LABEL_FIELDS:
        return "label"
    if name in schema.LEGACY_ONE_HOT:
        return "flag"
    if name in schema.LEGACY_DERIVED:
        return "ratio"
    if name == "transaction_id":
        return "id"
    raise KeyError(name)


def describe_problem(
    name: str, value: Any, library_message: str, type_values: tuple[str, ...]
) -> str:
    """Why ``value`` was rejected for field ``name``, in plain words."""
    kind = kind_of(name)
    if kind in _NUMERIC_KINDS and isinstance(value, bool):
        return "expected a number, got a boolean"
    if kind in _NUMERIC_KINDS and isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (NaN and Infinity are not allowed)"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and kind == "money":
        if value < 0:
            return f"must not be negative, got {value}"
        if value > F32_MAX:
            return f"must be at most {F32_MAX:.8g} (the largest float32; the model scores float32)"
    if number and kind == "step":
        if value < 0:
            return f"must not be negative, got {value}"
        if value > STEP_MAX:
            return f"must be at most {STEP_MAX} (larger steps are not exact in float32)"
    if number and kind in ("flag", "label") and not 0 <= value <= 1:
        return f"must be 0 or 1, got {value}"
    if kind == "type":
        allowed = ", ".join(type_values)
        if isinstance(value, str):
            shown = value if len(value) <= 40 else value[:40] + "..."
            return f"unknown transaction type {shown!r}; expected one of {allowed}"
        return f"expected a string, one of {allowed}"
    return plain_message(library_message)


def plain_message(message: str) -> str:
    """msgspec's message without its JSON path and backticks."""
    text = _LIBRARY_NOISE.sub("", message)
    for token, words in _TYPE_WORDS.items():
        text = text.replace(token, words)
    text = text.replace("`", "")
    return text[:1].lower() + text[1:]


def semantic_problems(get: Callable[[str], Any], legacy: bool, prefix: str) -> list[Detail]:
    """Rules msgspec types cannot say: whole-number steps, one-hot flags 0/1 and exclusive.

    ``get`` returns a field's converted value, or UNSET when it is absent or already invalid.
    """
    out: list[Detail] = []

    def where(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    step = get("step")
    if step is not msgspec.UNSET and not float(step).is_integer():
        out.append(Detail(where("step"), f"must be a whole number of hours, got {step}"))
    for key in schema.LABEL_FIELDS:
        value = get(key)
        if value is not msgspec.UNSET and value not in (0, 1):
            out.append(Detail(where(key), f"must be 0 or 1, got {value}"))
    tx_id = get("transaction_id")
    if isinstance(tx_id, float) and not tx_id.is_integer():
        problem = f"must be a string or a whole number, got {tx_id}"
        out.append(Detail(where("transaction_id"), problem))
    if legacy:
        set_flags = []
        for key in schema.LEGACY_ONE_HOT:
            value = get(key)
            if value is msgspec.UNSET:
                continue
            if value not in (0, 1):
                out.append(Detail(where(key), f"must be 0 or 1, got {value}"))
            elif value:
                set_flags.append(key)
        if len(set_flags) > 1:
            out.append(
                Detail(
                    where(set_flags[1]),
                    f"more than one type flag is set ({', '.join(set_flags)}); at most one may be",
                )
            )
    return out


def unknown_field_problem(key: str, legacy: bool) -> str:
    if not legacy and (key in schema.LEGACY_ONE_HOT or key in schema.LEGACY_DERIVED):
        return "legacy field: send either 'type' or the type_* one-hot fields, not both"
    return "unknown field"


def add_semantic_rules(component: dict[str, Any], legacy: bool) -> None:
    """Write :func:`semantic_problems`' rules into a transaction's JSON Schema, in place: whole
    steps; labels 0 or 1 (or a boolean); whole-number ids; legacy flags exactly 0 or 1 (or a
    boolean), at most one of them set."""
    properties = component.get("properties", {})
    if "step" in properties:
        properties["step"] = {**properties["step"], "multipleOf": 1}
    for key in schema.LABEL_FIELDS:
        if key in properties:
            properties[key] = {"enum": [0, 1, False, True], "description": "label; ignored"}
    if "transaction_id" in properties:
        properties["transaction_id"] = {
            "anyOf": [{"type": "string", "maxLength": 256}, {"type": "integer"}],
            "description": "echoed back",
        }
    if not legacy:
        return
    flags = [key for key in schema.LEGACY_ONE_HOT if key in properties]
    for key in flags:
        properties[key] = {"enum": [0, 1, False, True], "description": "one-hot type flag"}
    is_set = {"enum": [1, True]}
    pairs = [
        {"properties": {a: is_set, b: is_set}, "required": [a, b]}
        for i, a in enumerate(flags)
        for b in flags[i + 1 :]
    ]
    if pairs:
        component["not"] = {"anyOf": pairs}
