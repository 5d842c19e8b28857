"""The JSON API's scoring core and answer shape, shared by /predict and the A/B rollout path.

:func:`score_parsed` scores (and explains, when asked) a parsed request with one model;
:func:`prediction_body` turns the result into the JSON answer. Both live here, not in routes.py,
so that service/rollout/ab.py can use them without importing the routes (which import it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.api.explain import explanation_entries
from service.api.requests import ParsedRequest
from service.model import LoadedModel


def score_parsed(
    model: LoadedModel, parsed: ParsedRequest
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]] | None]:
    """Probabilities, labels and, when the request asked to ``explain``, the ``contributions``
    entry of each prediction (None otherwise: the model then skips computing them)."""
    if not parsed.options.explain:
        return (*model.score(parsed.columns), None)
    probabilities, labels, contributions, features = model.score_explained(parsed.columns)
    assert model.explanation is not None  # score_explained refuses models without it
    entries = explanation_entries(
        model.explanation, contributions, features, parsed.columns.get("type"), parsed.options.top_k
    )
    return probabilities, labels, entries


def prediction_body(
    model: LoadedModel,
    parsed: ParsedRequest,
    probabilities: np.ndarray,
    labels: np.ndarray,
    explanations: Sequence[Any] | None = None,
    decided_by: Sequence[LoadedModel] | None = None,
) -> dict[str, Any]:
    """The JSON answer: one prediction object, or ``{"predictions": [...]}`` in request order;
    each prediction has its ``contributions`` when ``explanations`` are given.

    ``model`` gives the answer's ``threshold`` and ``model_version``. With ``decided_by`` (the
    model that scored each row, A/B rollout) every prediction also carries its own
    ``threshold`` and ``model_version``; a batch's top-level ones stay ``model``'s.
    """
    items = []
    for index, (tx_id, probability, label) in enumerate(
        zip(parsed.transaction_ids, probabilities.tolist(), labels.tolist(), strict=True)
    ):
        item: dict[str, Any] = {} if tx_id is None else {"transaction_id": tx_id}
        item["probability_fraud"] = probability
        item["is_fraud"] = label
        if explanations is not None:
            item["contributions"] = explanations[index]
        if decided_by is not None:
            item["threshold"] = decided_by[index].threshold
            item["model_version"] = decided_by[index].version
        items.append(item)
    if parsed.batch:
        return {
            "predictions": items,
            "threshold": model.threshold,
            "model_version": model.version,
        }
    if decided_by is not None:
        return items[0]
    return {**items[0], "threshold": model.threshold, "model_version": model.version}
