"""The fraudlite JSON API: POST /predict, GET /health, GET /model and an index at GET /.

POST /predict itself is :class:`service.api.predict.PredictEndpoint` (framework-free, shared with
the fast paths); other protocols (e.g. KServe V2) add their own route module on the same core.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.api.predict import PredictEndpoint
from service.httpio import json_response, read_body
from service.state import ServiceState
from service.telemetry.request_log import request_log


def api_routes(state: ServiceState, endpoint: PredictEndpoint | None = None) -> list[Route]:
    """Routes of the JSON API, bound to ``state`` (and its POST /predict ``endpoint``)."""
    predictor = endpoint or PredictEndpoint(state)

    async def predict(request: Request) -> Response:
        # Reached when the fast path is off (create_app(fast_predict=False)); the same endpoint.
        headers = request.headers
        predictor.admit(headers.get("content-type"), headers.get("content-length"))
        body = await read_body(request, predictor.max_body_bytes)
        return json_response(predictor.answer(body, request_log(request)))

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
