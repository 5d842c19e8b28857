"""Shadow scoring: the shadow model scores every transaction the answer was computed for, in the
same request, and only the telemetry learns what it said.

Per request, into the decision log (the request record's ``decisions``, issue 15's extension
point): ``shadow_model_version`` and, per transaction, ``shadow_probability``,
``shadow_is_fraud``, ``shadow_abs_dp`` (|shadow - answered probability|) and ``shadow_flip``
(the decisions differ); or ``shadow_error`` (the kind of failure). Metrics (extension metrics,
summed per request): :data:`SHADOW_SCORED`, :data:`SHADOW_FLIPS`, :data:`SHADOW_ABS_DELTA`
(sum of |dp|: divide by ShadowScored for the mean) and :data:`SHADOW_ERRORS` (transactions the
shadow could not score, a shadow that failed to load included).

A shadow whose inputs are among the request's columns reuses them. One that needs others (e.g.
``nameDest``) reads them from the same body with its own validator; a request without them is
counted as a shadow error (``shadow inputs missing``), never refused. Nothing here raises.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np

from service.api.requests import ParsedRequest, RequestValidator
from service.errors import ServiceError
from service.model import LoadedModel
from service.rollout.models import Rollout, public_reason
from service.telemetry.request_record import RequestLog

log = logging.getLogger("fraudlite.rollout")

SHADOW_SCORED: Final = "ShadowScored"
SHADOW_FLIPS: Final = "ShadowFlips"
SHADOW_ABS_DELTA: Final = "ShadowAbsDelta"
SHADOW_ERRORS: Final = "ShadowErrors"
#: Extension metric names (service/telemetry/metrics.py) this module emits.
SHADOW_METRICS: Final = (SHADOW_SCORED, SHADOW_FLIPS, SHADOW_ABS_DELTA, SHADOW_ERRORS)


def shadow_columns(
    shadow: LoadedModel, parsed: ParsedRequest, body: bytes, validator: RequestValidator | None
) -> dict[str, np.ndarray] | None:
    """The shadow's input columns for this request, None when the request lacks some."""
    if all(name in parsed.columns for name in shadow.input_names):
        return {name: parsed.columns[name] for name in shadow.input_names}
    if validator is None:
        return None
    try:
        return validator.parse(body).columns
    except ServiceError:
        return None


def observe_shadow(
    rollout: Rollout,
    parsed: ParsedRequest,
    body: bytes,
    record: RequestLog,
    probabilities: np.ndarray,
    labels: np.ndarray,
) -> None:
    """Score the shadow on the request and record how it compares with the answer given."""
    if rollout.shadow is None:
        return
    batch = record.decisions
    n = len(probabilities)
    try:
        outcome = _score(rollout, parsed, body)
    except Exception as exc:  # a broken shadow must never reach the answer
        log.warning(
            "shadow scoring failed: %s: %s",
            type(exc).__name__,
            str(exc)[:300],
            extra={"fields": {"request_id": record.request_id}},
        )
        outcome = "scoring failed"
    if isinstance(outcome, str):
        record.add_metric(SHADOW_ERRORS, n)
        if batch is not None:
            batch.fields["shadow_error"] = outcome
        return
    model, shadow_p, shadow_labels = outcome
    # Python lists, not numpy: requests are mostly one row, where numpy's per-call cost dominates.
    shadow_list, answered = shadow_p.tolist(), probabilities.tolist()
    shadow_flags, answered_flags = shadow_labels.tolist(), labels.tolist()
    dp = [abs(s - a) for s, a in zip(shadow_list, answered, strict=True)]
    flips = [s != a for s, a in zip(shadow_flags, answered_flags, strict=True)]
    record.add_metric(SHADOW_SCORED, n)
    record.add_metric(SHADOW_FLIPS, sum(flips))
    record.add_metric(SHADOW_ABS_DELTA, sum(dp), "None")
    if batch is not None:
        batch.fields["shadow_model_version"] = model.version
        batch.extra["shadow_probability"] = shadow_list
        batch.extra["shadow_is_fraud"] = shadow_flags
        batch.extra["shadow_abs_dp"] = dp
        batch.extra["shadow_flip"] = flips


def _score(
    rollout: Rollout, parsed: ParsedRequest, body: bytes
) -> tuple[LoadedModel, np.ndarray, np.ndarray] | str:
    model = rollout.shadow_model
    if model is None:
        assert rollout.shadow is not None and not isinstance(rollout.shadow, LoadedModel)
        return f"not loaded: {public_reason(rollout.shadow)}"
    columns = shadow_columns(model, parsed, body, rollout.shadow_validator)
    if columns is None:
        return "shadow inputs missing"
    probabilities, labels = model.score(columns)
    return model, probabilities, labels
