"""schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

One rule of the Open Inference Protocol is beyond JSON Schema: a tensor's ``data`` holds
``shape[0]`` values, and every input has the same number of rows. The document says it in words
(service/v2/openapi.py); this hook makes the generated schema-valid (positive) inference requests
follow it, by cutting every input to the shortest one's rows and setting the shapes to match.
Negative cases are left alone, so the service must still reject each of them.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Positive V2 inference cases: rows agree across inputs and with each shape."""
    meta = case.meta
    if not case.operation.path.endswith("/infer") or meta is None:
        return case
    if not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    inputs = case.body.get("inputs")
    if not isinstance(inputs, list):
        return case
    tensors = [t for t in inputs if isinstance(t, dict) and isinstance(t.get("data"), list)]
    if not tensors or len(tensors) != len(inputs):
        return case
    rows = min(len(t["data"]) for t in tensors)
    for tensor in tensors:
        tensor["data"] = tensor["data"][:rows]
        tensor["shape"] = [rows]
    return case
