"""POST /predict with no web framework: headers and body in, the JSON answer out.

The one implementation of /predict. Three surfaces call it: the Starlette route
(:mod:`service.api.routes`), the ASGI fast path in front of Starlette's routing
(:mod:`service.telemetry.request_log`) and the Lambda fast path that answers API Gateway events
without Mangum or Starlette (:mod:`service.lambda_app`). Each reads the body its own way and turns
the answer (or the typed error raised here) into bytes with :mod:`service.failures`.

Order of checks, the same everywhere: a model is loaded (503), the content type (415), the
declared length (400/413), the body's size (413), the JSON and its fields (400/422).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from service.api.requests import ParsedRequest
from service.api.scoring import prediction_body, score_parsed
from service.bodies import check_declared_length, check_json_content_type, too_large
from service.model import LoadedModel
from service.state import ServiceState
from service.telemetry.request_record import RequestLog, record_decisions

#: The route template of the endpoint, as the request log and metrics name it.
PREDICT_ROUTE = "/predict"


def score_request(
    model: LoadedModel, parsed: ParsedRequest, record: RequestLog
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]] | None]:
    """:func:`score_parsed`, noting batch size, scoring time, the flagged count and the decisions
    (for the decision log, written after the answer) in the request's record."""
    record.batch_size = parsed.size
    started = time.perf_counter_ns()
    # Inline, not in a thread pool: a small model scores in microseconds with one ORT thread, so
    # a thread hop would cost more than it frees. Batches are capped by FRAUD_MAX_BATCH.
    scored = score_parsed(model, parsed)
    record.scoring_us = (time.perf_counter_ns() - started) // 1000
    # --- telemetry (issue 15): metrics and decision log of the one scoring path of /predict ---
    probabilities, labels, explanations = scored
    record_decisions(
        record,
        model_version=model.version,
        threshold=model.threshold,
        probabilities=probabilities,
        labels=labels,
        columns=parsed.columns,
        transaction_ids=parsed.transaction_ids,
        contributions=explanations,
    )
    return scored


class PredictEndpoint:
    """POST /predict for one app's state; built once, called per request."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.max_body_bytes = state.settings.max_body_bytes

    def admit(self, content_type: str | None, content_length: str | None) -> None:
        """The checks made before reading a byte of the body: 503, 415, 400/413."""
        self.state.require_model()
        check_json_content_type(content_type)
        check_declared_length(content_length, self.max_body_bytes)

    def answer(self, body: bytes, record: RequestLog) -> dict[str, Any]:
        """The answer to an admitted request's whole ``body``; raises the typed error otherwise.

        Surfaces that read the body in chunks stop at the limit themselves (:meth:`too_large`);
        this checks the size again for those that get it whole (API Gateway events).
        """
        if len(body) > self.max_body_bytes:
            raise too_large(self.max_body_bytes)
        model, validator = self.state.require_model()
        parsed = validator.parse(body)
        # --- model rollout (issue 16): A/B arms; a shadow never changes the answer ---
        rollout = self.state.rollout
        if rollout is None:
            return prediction_body(model, parsed, *score_request(model, parsed, record))
        from service.rollout.ab import answer_ab  # only deployments with a rollout need these
        from service.rollout.shadow import observe_shadow

        if rollout.splits:
            return answer_ab(rollout, model, parsed, body, record)
        scored = score_request(model, parsed, record)
        observe_shadow(rollout, parsed, body, record, scored[0], scored[1])
        return prediction_body(model, parsed, *scored)

    def too_large(self) -> Exception:
        """The 413 to raise when a streamed body passes FRAUD_MAX_BODY_BYTES."""
        return too_large(self.max_body_bytes)
