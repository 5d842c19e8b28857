"""The Starlette app factory: routes, JSON error handling and request logging, nothing global."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from service.api.explain import not_explainable
from service.api.routes import api_routes
from service.auth import ApiKeyMiddleware
from service.docs.openapi import docs_routes
from service.errors import Detail, InternalError, MethodNotAllowed, NotFound, ServiceError
from service.httpio import json_response
from service.model import LoadedModel, ModelLoadFailure
from service.model.errors import NotExplainable, ScoringError
from service.monitoring.decisions import with_drift_bins
from service.rollout.models import Rollout
from service.rollout.routes import rollout_routes
from service.settings import Settings
from service.state import ServiceState
from service.telemetry.request_log import REQUEST_LOGGER, RequestLogMiddleware, request_log
from service.telemetry.setup import Telemetry
from service.v2.routes import v2_routes


def create_app(
    settings: Settings,
    model: LoadedModel | ModelLoadFailure,
    telemetry: Telemetry | None = None,
    rollout: Rollout | None = None,
) -> Starlette:
    """Build the service for ``model``, a loaded model or the failure that explains its absence.

    ``telemetry`` (metrics recorder, decision log, e.g. ``GET /metrics``) comes from
    :func:`service.telemetry.setup.build_telemetry` in the entry points; None records nothing.

    Without a model every model-dependent route answers 503 with the failure's reason, so a
    bad deployment is visible from outside rather than a crash loop.
    """
    # ``rollout``: shadow and A/B models (service/rollout/models.py load_rollout; issue 16).
    state = ServiceState(settings=settings, model=model, rollout=rollout)
    # --- telemetry (issue 15): counts this start (and a failed model load) once ---
    telemetry = telemetry or Telemetry()
    telemetry.metrics.startup(model_loaded=isinstance(model, LoadedModel))
    # --- drift monitoring (issue 17): reference-bin indices in the decision log ---
    telemetry = with_drift_bins(telemetry, model)
    app = Starlette(
        routes=[
            *api_routes(state),
            *docs_routes(state),
            *v2_routes(state),
            *telemetry.routes,
            *rollout_routes(state),  # GET /model/golden (issue 16)
        ],
        middleware=[
            Middleware(
                RequestLogMiddleware, model_version=state.model_version, telemetry=telemetry
            ),
            # --- authentication (issue 13): inside the request log, so 401s are logged too ---
            *(
                [Middleware(ApiKeyMiddleware, digests=settings.api_keys_sha256)]
                if settings.api_keys_sha256
                else []
            ),
        ],
        exception_handlers={
            ServiceError: _service_error,
            NotExplainable: _model_error,
            ScoringError: _model_error,
            HTTPException: _http_error,
        },
    )
    # "/predict/" is a 404, not a redirect whose Location would miss an API Gateway stage prefix.
    app.router.redirect_slashes = False
    app.state.service = state
    return app


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    record = request_log(request)
    record.error_fields.extend(d.field for d in exc.details)
    if exc.status == 500:
        # A typed internal error is still a bug in the service or the model: keep its reason.
        logging.getLogger(REQUEST_LOGGER).error(
            "internal error: %s", exc.message, extra={"fields": {"request_id": record.request_id}}
        )
    body = exc.body()
    if exc.status >= 500:
        # Server faults say what kind they are and which request, so a client can report it;
        # their detail is in the log under the same request id (issue 13).
        if exc.status == 500:  # a bug's message may name internals: the log has it
            body = {"error": InternalError.default_message, "details": []}
        body["request_id"] = record.request_id
    return json_response(body, status_code=exc.status, headers=exc.headers)


async def _model_error(request: Request, exc: Exception) -> Response:
    """The model layer's own errors, as the HTTP errors they amount to."""
    if isinstance(exc, NotExplainable):
        return await _service_error(request, not_explainable())
    return await _service_error(request, InternalError(f"internal error: {exc}"))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown route or method) as JSON errors."""
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    error: ServiceError
    if exc.status_code == 404:
        error = NotFound(f"no route {where}", [Detail("path", "no such route; see GET /docs")])
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = MethodNotAllowed(
            f"method not allowed: {where}",
            [Detail("method", f"{request.method} is not allowed here; allowed: {allowed}")],
            headers=dict(exc.headers or {}),
        )
    else:
        return json_response(
            {"error": str(exc.detail), "details": []},
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )
    return json_response(error.body(), status_code=error.status, headers=error.headers)
