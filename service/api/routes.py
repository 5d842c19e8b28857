"""The fraudlite JSON API: POST /predict, GET /health, GET /model and an index at GET /.

Scoring goes validated columns -> ``LoadedModel.score`` (one ``session.run``) -> response; other
protocols (e.g. KServe V2) can add their own route module on the same core.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.api.requests import ParsedRequest
from service.api.scoring import prediction_body, score_parsed
from service.httpio import json_response, read_json_body
from service.model import LoadedModel
from service.rollout.ab import answer_ab
from service.rollout.shadow import observe_shadow
from service.state import ServiceState
from service.telemetry.request_log import record_decisions, request_log


def score_request(model: LoadedModel, parsed: ParsedRequest, request: Request) -> Any:
    """:func:`score_parsed`, recording batch size, scoring time, the flagged count and the
    decisions (for the decision log, written after the answer) in the request's record."""
    log = request_log(request)
    log.batch_size = parsed.size
    started = time.perf_counter_ns()
    # Inline, not in a thread pool: a small model scores in microseconds with one ORT thread, so
    # a thread hop would cost more than it frees. Batches are capped by FRAUD_MAX_BATCH.
    scored = score_parsed(model, parsed)
    log.scoring_us = (time.perf_counter_ns() - started) // 1000
    # --- telemetry (issue 15): metrics and decision log of the one scoring path of /predict ---
    probabilities, labels, explanations = scored
    record_decisions(
        request,
        model_version=model.version,
        threshold=model.threshold,
        probabilities=probabilities,
        labels=labels,
        columns=parsed.columns,
        transaction_ids=parsed.transaction_ids,
        contributions=explanations,
    )
    return scored


def api_routes(state: ServiceState) -> list[Route]:
    """Routes of the JSON API, bound to ``state``."""

    async def predict(request: Request) -> Response:
        model, validator = state.require_model()
        body = await read_json_body(request, state.settings.max_body_bytes)
        parsed = validator.parse(body)
        # --- model rollout (issue 16): A/B arms; a shadow never changes the answer ---
        rollout = state.rollout
        if rollout is not None and rollout.splits:
            return json_response(answer_ab(rollout, model, parsed, body, request))
        scored = score_request(model, parsed, request)
        if rollout is not None:
            observe_shadow(rollout, parsed, body, request, scored[0], scored[1])
        return json_response(prediction_body(model, parsed, *scored))

    async def health(request: Request) -> Response:
        model, _ = state.require_model()
        if state.rollout is not None:  # every model's status (issue 16)
            return json_response(
                {
                    "status": "ok",
                    "model_version": model.version,
                    "models": state.rollout.describe(model),
                }
            )
        return json_response({"status": "ok", "model_version": model.version})

    async def model_info(request: Request) -> Response:
        model, _ = state.require_model()
        return json_response(
            {
                # Hashes, sources and library versions only when FRAUD_EXPOSE_MODEL_DETAILS=1.
                **model.describe(expose_details=state.settings.expose_model_details),
                "max_batch": state.settings.max_batch,
                "max_body_bytes": state.settings.max_body_bytes,
                # every loaded model with its role and version (issue 16)
                **({"models": state.rollout.describe(model)} if state.rollout else {}),
            }
        )

    async def index(request: Request) -> Response:
        return json_response(
            {
                "service": "fraudlite",
                "model_version": state.model_version,
                "endpoints": {
                    "POST /predict": "score one transaction or {'transactions': [...]}",
                    "GET /health": "200 when the model is loaded, 503 with the reason if not",
                    "GET /model": "model metadata and the threshold in use",
                    "GET /openapi.json": "OpenAPI 3.1 description",
                    "GET /docs": "human-readable API documentation",
                    "/v2/...": "Open Inference Protocol (KServe V2) routes, docs/kserve-v2.md",
                },
            }
        )

    return [
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/model", model_info, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ]
