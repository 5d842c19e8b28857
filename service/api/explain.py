"""Per-feature explanations in the JSON API: the request options and the answer entries.

:func:`pop_options` takes ``"explain"``/``"top_k"`` off a request body (a transaction or a batch);
:func:`explanation_entries` turns a model's ``contributions``/``features`` outputs (checked by
:mod:`service.model.explanation`) into the ``"contributions"`` object of each prediction: the top
features by |contribution|, the one-hot ``type_*`` columns merged into one ``type`` entry, the sum
of the features not listed, and the bias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from service.errors import Detail, ValidationFailed
from service.model.explanation import TYPE_ENTRY, ExplanationSpec

EXPLAIN_FIELD: Final = "explain"
TOP_K_FIELD: Final = "top_k"
OPTION_FIELDS: Final = (EXPLAIN_FIELD, TOP_K_FIELD)
DEFAULT_TOP_K: Final = 5


@dataclass(frozen=True)
class ExplainOptions:
    """What a request asked for: explanations or not, and how many entries per prediction."""

    explain: bool = False
    top_k: int = DEFAULT_TOP_K


#: Requests without ``explain`` (the default of ParsedRequest).
NO_EXPLAIN: Final = ExplainOptions()


def pop_options(
    document: dict[str, Any], batch: bool, errors: list[Detail]
) -> tuple[dict[str, Any], ExplainOptions]:
    """Take the top-level ``explain``/``top_k`` off a body (a transaction or a batch).

    They apply to the whole request. Inside a batch item they are reported (they belong next to
    ``transactions``) and removed, so the item's own fields are still checked. Returns the body
    without them (a copy; the caller's dict is untouched) and the options.
    """
    body = {k: v for k, v in document.items() if k not in OPTION_FIELDS}
    if batch and isinstance(body.get("transactions"), list):
        items = body["transactions"] = list(body["transactions"])
        for i, item in enumerate(items):
            if isinstance(item, dict) and any(key in item for key in OPTION_FIELDS):
                for key in OPTION_FIELDS:
                    if key in item:
                        errors.append(Detail(f"transactions[{i}].{key}", _MISPLACED))
                items[i] = {k: v for k, v in item.items() if k not in OPTION_FIELDS}
    explain = document.get(EXPLAIN_FIELD, False)
    if not isinstance(explain, bool):
        errors.append(Detail(EXPLAIN_FIELD, f"must be true or false, got {_show(explain)}"))
        explain = False
    top_k = document.get(TOP_K_FIELD, DEFAULT_TOP_K)
    if isinstance(top_k, float) and top_k.is_integer():
        top_k = int(top_k)  # 3.0 is the integer 3 in JSON, as the OpenAPI schema says
    if TOP_K_FIELD in document:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            errors.append(Detail(TOP_K_FIELD, f"must be a whole number >= 1, got {_show(top_k)}"))
            top_k = DEFAULT_TOP_K
        elif document.get(EXPLAIN_FIELD) is not True:
            errors.append(Detail(TOP_K_FIELD, 'applies only with "explain": true'))
    return body, ExplainOptions(explain=explain, top_k=top_k)


_MISPLACED: Final = (
    "set explain/top_k once at the top level of the batch body, next to 'transactions' "
    "(they apply to the whole batch)"
)


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or np.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def not_explainable() -> ValidationFailed:
    """The 422 for ``"explain": true`` sent to a model exported without explanations."""
    problem = (
        "this model was exported without explanations (fraud-convert --no-explain): it cannot "
        "explain scores; send the request without 'explain' or serve a model exported with them"
    )
    return ValidationFailed(
        f"invalid request: explain: {problem}", [Detail(EXPLAIN_FIELD, problem)]
    )


#: From this many rows on, ranking is vectorised with numpy (about 2.5 us a row, against 5 us in
#: plain Python); below it, plain Python (a single row in ~6 us, against ~60 us of numpy calls).
VECTOR_ROWS: Final = 16

Ranked = tuple[list[list[int]], list[list[float]], list[list[Any]]]


def explanation_entries(
    spec: ExplanationSpec,
    contributions: np.ndarray,
    features: np.ndarray,
    types: np.ndarray | None,
    top_k: int,
) -> list[dict[str, Any]]:
    """The ``"contributions"`` object of each row.

    ``{"features": [{"name", "value", "contribution"}, ...], "other": x, "bias": b}``: at most
    ``top_k`` entries by descending |contribution| (ties keep the model's feature order),
    ``other`` the sum of the entries left out, so that sum(listed) + other + bias is the row's
    log-odds. ``type``'s value is the transaction type (``types``), the others' the engineered
    feature value (float32, NaN/infinity become null in JSON). Sums are float64.
    """
    k = min(top_k, len(spec.entries))
    rank = rank_rows if len(contributions) < VECTOR_ROWS else rank_batch
    orders, ranked, values = rank(spec, contributions, features)
    kinds = types.tolist() if types is not None else [None] * len(contributions)
    type_index = spec.entries.index(TYPE_ENTRY) if TYPE_ENTRY in spec.entries else None
    names = spec.entries
    out = []
    for order, amounts, row_values, kind, bias in zip(
        orders, ranked, values, kinds, contributions[:, -1].tolist(), strict=True
    ):
        if type_index is not None:
            row_values[type_index] = kind
        listed = [
            {"name": names[j], "value": row_values[j], "contribution": amount}
            for j, amount in zip(order[:k], amounts, strict=False)
        ]
        out.append({"features": listed, "other": sum(amounts[k:], 0.0), "bias": bias})
    return out


def rank_rows(spec: ExplanationSpec, contributions: np.ndarray, features: np.ndarray) -> Ranked:
    """Per row: entry indices by descending |contribution|, their float64 contributions in that
    order, and the entries' feature values (each entry's first column), in plain Python."""
    first = [cols[0] for cols in spec.columns]
    merged_columns = [(i, cols) for i, cols in enumerate(spec.columns) if len(cols) > 1]
    indices = range(len(spec.entries))
    orders, ranked = [], []
    for row in contributions.tolist():
        merged = [row[j] for j in first]
        for i, cols in merged_columns:
            merged[i] = sum([row[j] for j in cols])
        # sorted() is stable, also with reverse=True: ties keep the model's order.
        order = sorted(indices, key=list(map(abs, merged)).__getitem__, reverse=True)
        orders.append(order)
        ranked.append([merged[j] for j in order])
    return orders, ranked, features[:, first].tolist()


def rank_batch(spec: ExplanationSpec, contributions: np.ndarray, features: np.ndarray) -> Ranked:
    """:func:`rank_rows` vectorised; the same float64 sums and order, bit for bit (tested)."""
    first = [cols[0] for cols in spec.columns]
    merged = contributions[:, first].astype(np.float64)
    for i, cols in enumerate(spec.columns):
        if len(cols) > 1:  # a left-to-right float64 sum of a few columns, as sum() does
            merged[:, i] = contributions[:, list(cols)].astype(np.float64).sum(axis=1)
    order = np.argsort(-np.abs(merged), axis=1, kind="stable")
    ranked = np.take_along_axis(merged, order, axis=1)
    return order.tolist(), ranked.tolist(), features[:, first].tolist()
