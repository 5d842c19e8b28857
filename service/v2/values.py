"""Element checks of V2 input tensors: the same rules and wording as POST /predict.

A column whose values are all valid is checked with numpy in one pass; only a column with a
problem goes element by element, so that each problem names its index and says what is wrong
in service/api/problems.py's words.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np

from service.api.problems import F32_MAX, STEP_MAX, describe_problem, semantic_problems
from service.errors import Detail


def column(
    name: str, element: str, values: list[Any], type_values: tuple[str, ...], problems: list[Detail]
) -> np.ndarray:
    """The model's column for input ``name`` (element type ``string`` or ``float32``); appends
    one detail per offending value to ``problems``."""
    fast = _fast_column(name, element, values, type_values)
    if fast is not None:
        return fast
    for index, value in enumerate(values):
        problem = _problem(name, element, value, type_values)
        if problem is not None:
            problems.append(Detail(name, f"input {name!r} data[{index}]: {problem}"))
    if element == "string":
        return np.array(values, dtype=object)
    return np.array(values, dtype=np.float32) if not problems else np.empty(0, np.float32)


def _fast_column(
    name: str, element: str, values: list[Any], type_values: tuple[str, ...]
) -> np.ndarray | None:
    """The column when every value is valid, or None to take the wording path."""
    if element == "string":
        valid = set(type_values) if name == "type" else None
        if valid is not None and all(type(v) is str and v in valid for v in values):
            return np.array(values, dtype=object)
        return None
    # bool is a subclass of int, hence the exact type test.
    if not all(type(v) is float or type(v) is int for v in values):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        return None
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(array) & (array >= 0) & (array <= F32_MAX)
        if name == "step":
            ok &= (array <= STEP_MAX) & (array == np.floor(array))
    # float64 -> float32 rounds to nearest, as POST /predict's np.array(floats, float32) does.
    return array.astype(np.float32) if ok.all() else None


def _problem(name: str, element: str, value: Any, type_values: tuple[str, ...]) -> str | None:
    if element == "string" and name == "type":
        if isinstance(value, str) and value in type_values:
            return None
        return describe_problem("type", value, "", type_values)
    if element == "string":  # account names (nameOrig/nameDest), as POST /predict takes them
        if isinstance(value, str) and 1 <= len(value) <= 256:
            return None
        return f"expected a string of 1 to 256 characters, got {kind(value)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {kind(value)}"
    number = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
    if not math.isfinite(number) or number < 0 or number > F32_MAX:
        return describe_problem(name, value, "", type_values)
    if name == "step":
        if number > STEP_MAX:
            return describe_problem(name, value, "", type_values)
        whole = semantic_problems(lambda k: number if k == "step" else msgspec.UNSET, False, "")
        return whole[0].problem if whole else None
    return None


def kind(value: Any) -> str:
    """What a JSON value is, for problem texts."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), repr(value))
