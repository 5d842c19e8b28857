"""Build the Lambda handler: settings, model and app wrapped by Mangum for API Gateway events.

Nothing here may fail the init phase (a failed init is retried on every request: a crash loop).
A configuration error answers 503 naming the variable to fix; a model failure answers 503 saying
what kind of fault it is; the detail is logged once. :mod:`service.lambda_handler` calls this at
import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mangum import Mangum
from starlette.applications import Starlette

from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.model.errors import FaultKind
from service.rollout.models import Rollout, load_rollout
from service.settings import Settings, SettingsError
from service.telemetry.request_log import configure_logging
from service.telemetry.setup import Telemetry, build_telemetry

log = logging.getLogger("fraudlite.model")


def build_handler(environ: Mapping[str, str], *, setup_logging: bool = True) -> Mangum:
    """Settings from ``environ``, the model, the app, wrapped for API Gateway v1/v2 events.

    ``setup_logging=False`` leaves logging as it is (tests keep pytest's log capture).
    """
    problem: SettingsError | None = None
    try:
        settings = Settings.from_env(environ)
        # Telemetry (issue 15): EMF metrics and decision records on stdout. An unusable decision
        # log (e.g. an unwritable FRAUD_DECISION_LOG path) is a SettingsError like any other.
        telemetry: Telemetry = build_telemetry(settings, "lambda")
    except SettingsError as exc:
        settings, problem = Settings(), exc
        telemetry = build_telemetry(settings, "lambda")
    if setup_logging:
        configure_logging(settings.log_level)
    model: LoadedModel | ModelLoadFailure
    if problem is None:
        model = load_model(settings)
    else:
        log.error("invalid configuration: %s", problem)
        model = ModelLoadFailure(
            reason=f"invalid configuration: {problem}",
            kind=FaultKind.CONFIGURATION_ERROR,
            variable=problem.variable,
        )
    # Shadow and A/B models beside the primary (issue 16); their failures never fail init.
    rollout = load_rollout(settings, model) if problem is None else None
    # lifespan="off": Mangum would otherwise run startup/shutdown on every invocation.
    # api_gateway_base_path strips a stage or custom-domain mapping prefix such as /prod.
    return Mangum(
        _app(settings, model, telemetry, rollout),
        lifespan="off",
        api_gateway_base_path=settings.api_base_path,
    )


def _app(
    settings: Settings,
    model: LoadedModel | ModelLoadFailure,
    telemetry: Telemetry,
    rollout: Rollout | None = None,
) -> Starlette:
    """The app for ``model``; if building it fails for a loaded model, the app without it."""
    try:
        return create_app(settings, model, telemetry, rollout)
    except Exception as exc:  # a bug, but init must still succeed and answer 503
        if isinstance(model, ModelLoadFailure):
            raise
        log.exception("model not served: building the app failed")
        failure = ModelLoadFailure(
            reason=f"building the app failed: {type(exc).__name__}: {exc}",
            source=settings.model_uri,
            kind=FaultKind.INCOMPATIBLE_MODEL,
        )
        return create_app(settings, failure, telemetry)
