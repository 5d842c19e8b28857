"""What the scoring API answers, as typed values, and the parsing of its JSON into them.

Parsing is strict where the page relies on a value (probability, decision, threshold: a wrong one
is :class:`~client.api_errors.ApiBadResponse`) and lenient for optional extras (explanations).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from client.api_errors import ApiBadResponse


@dataclass(frozen=True)
class Contribution:
    """One feature's push on the log-odds (positive: towards fraud)."""

    name: str
    contribution: float
    value: Any = None


@dataclass(frozen=True)
class Explanation:
    """Per-feature contributions of one score (the API's ``"contributions"``), plus the bias."""

    features: tuple[Contribution, ...]
    bias: float | None = None


@dataclass(frozen=True)
class Prediction:
    """One scored transaction as the API answered it."""

    probability: float
    is_fraud: bool
    threshold: float
    model_version: str
    transaction_id: Any = None
    explanation: Explanation | None = None


@dataclass(frozen=True)
class SingleResult:
    """The answer to a single-transaction request, with the measured round-trip time."""

    prediction: Prediction
    roundtrip_ms: float


@dataclass(frozen=True)
class BatchResult:
    """The answer to a batch request: predictions in request order."""

    predictions: tuple[Prediction, ...]
    model_version: str
    roundtrip_ms: float


@dataclass(frozen=True)
class ModelCard:
    """``GET /model``: the served model's metadata. ``raw`` keeps everything the API sent."""

    version: str
    threshold: float | None
    metrics: dict[str, Any]
    created_at: str | None
    max_batch: int | None
    raw: dict[str, Any] = field(default_factory=dict)


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else :class:`ApiBadResponse` naming ``what`` it was."""
    if not isinstance(value, Mapping):
        raise ApiBadResponse(f"the {what} is not a JSON object")
    return value


def number(value: Any, name: str) -> float:
    """``value`` as a float if it is a finite JSON number, else :class:`ApiBadResponse`."""
    # bool is an int subclass; a true/false where a number belongs is a protocol error.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiBadResponse(f"`{name}` should be a finite JSON number, got {value!r}")
    return float(value)


def parse_prediction(
    item: Mapping[str, Any], envelope: Mapping[str, Any] | None = None
) -> Prediction:
    """Parse one prediction; batch items may leave the model version to the envelope."""
    is_fraud = item.get("is_fraud")
    if not isinstance(is_fraud, bool):
        raise ApiBadResponse(f"`is_fraud` should be true or false, got {is_fraud!r}")
    version = item.get("model_version", (envelope or {}).get("model_version", ""))
    threshold = item.get("threshold", (envelope or {}).get("threshold"))
    return Prediction(
        probability=number(item.get("probability_fraud"), "probability_fraud"),
        is_fraud=is_fraud,
        threshold=number(threshold, "threshold"),
        model_version=str(version),
        transaction_id=item.get("transaction_id"),
        explanation=parse_explanation(item.get("contributions")),
    )


def parse_explanation(value: Any) -> Explanation | None:
    """Read the API's ``"contributions"``: a list of entries (a ``bias`` entry allowed) or an
    object with ``features``/``top`` and ``bias``. Unknown shapes give None, never an error:
    explanations are an optional extra of the page."""
    if value is None:
        return None
    bias: float | None = None
    entries: Any = value
    if isinstance(value, Mapping):
        raw_bias = value.get("bias")
        if isinstance(raw_bias, int | float) and not isinstance(raw_bias, bool):
            bias = float(raw_bias)
        entries = value.get("features", value.get("top", ()))
    if not isinstance(entries, list):
        return None
    features: list[Contribution] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name", entry.get("feature"))
        amount = entry.get("contribution")
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            continue
        if name == "bias":
            bias = float(amount)
            continue
        features.append(Contribution(str(name), float(amount), entry.get("value")))
    return Explanation(tuple(features), bias)


def find_max_batch(card: Mapping[str, Any]) -> int | None:
    """The service's batch limit, if GET /model exposes it (top level or under ``limits``)."""
    for holder in (card, card.get("limits"), card.get("service")):
        if isinstance(holder, Mapping):
            value = holder.get("max_batch")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
