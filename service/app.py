"""The Starlette app factory: routes, JSON error handling and request logging, nothing global."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from service.api.routes import api_routes
from service.auth import ApiKeyMiddleware
from service.docs.openapi import docs_routes
from service.errors import Detail, MethodNotAllowed, NotFound, ServiceError
from service.failures import as_service_error, error_body
from service.httpio import json_response
from service.model import LoadedModel, ModelLoadFailure
from service.model.errors import NotExplainable, ScoringError
from service.rollout.models import Rollout
from service.rollout.routes import rollout_routes
from service.runtime import ServiceRuntime, build_runtime
from service.settings import Settings
from service.telemetry.request_log import RequestLogMiddleware, request_log
from service.telemetry.setup import Telemetry
from service.v2.routes import v2_routes


def create_app(
    settings: Settings,
    model: LoadedModel | ModelLoadFailure,
    telemetry: Telemetry | None = None,
    rollout: Rollout | None = None,
    *,
    fast_predict: bool = True,
) -> Starlette:
    """Build the service for ``model``, a loaded model or the failure that explains its absence.

    ``telemetry`` (metrics recorder, decision log, e.g. ``GET /metrics``) comes from
    :func:`service.telemetry.setup.build_telemetry` in the entry points; None records nothing.
    ``rollout``: shadow and A/B models (service/rollout/models.py load_rollout; issue 16).

    Without a model every model-dependent route answers 503 with the failure's reason, so a
    bad deployment is visible from outside rather than a crash loop. ``fast_predict=False``
    sends POST /predict through Starlette's router too (the same answers; tests compare them).
    """
    return app_for(build_runtime(settings, model, telemetry, rollout), fast_predict=fast_predict)


def app_for(runtime: ServiceRuntime, *, fast_predict: bool = True) -> Starlette:
    """The Starlette app around an already built runtime (the Lambda entry builds the runtime at
    init and this app only when a route other than POST /predict is first asked for)."""
    state, settings = runtime.state, runtime.state.settings
    app = Starlette(
        routes=[
            *api_routes(state, runtime.endpoint),
            *docs_routes(state),
            *v2_routes(state),
            *runtime.telemetry.routes,
            *rollout_routes(state),  # GET /model/golden (issue 16)
        ],
        middleware=[
            Middleware(RequestLogMiddleware, runtime=runtime, fast_predict=fast_predict),
            # --- authentication (issue 13): inside the request log, so 401s are logged too ---
            *(
                [Middleware(ApiKeyMiddleware, digests=settings.api_keys_sha256)]
                if settings.api_keys_sha256
                else []
            ),
        ],
        exception_handlers={
            ServiceError: _service_error,
            NotExplainable: _service_error,
            ScoringError: _service_error,
            HTTPException: _http_error,
        },
    )
    # "/predict/" is a 404, not a redirect whose Location would miss an API Gateway stage prefix.
    app.router.redirect_slashes = False
    app.state.service = state
    return app


async def _service_error(request: Request, exc: Exception) -> Response:
    """Typed errors, and the model layer's own errors as the HTTP errors they amount to."""
    error = as_service_error(exc)
    if error is None:  # not registered for anything else
        raise exc
    body = error_body(error, request_log(request))
    return json_response(body, status_code=error.status, headers=error.headers)


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
