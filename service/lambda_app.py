"""Build the Lambda handler: settings, model and app wrapped by Mangum for API Gateway events.

A configuration or model failure is caught and logged once; the function then answers 503 with
the reason instead of crash-looping. :mod:`service.lambda_handler` calls this at import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mangum import Mangum

from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings, SettingsError
from service.telemetry.request_log import configure_logging
from service.telemetry.setup import Telemetry, build_telemetry


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
        logging.getLogger("fraudlite.model").error("invalid configuration: %s", problem)
        model = ModelLoadFailure(reason=f"invalid configuration: {problem}")
    # lifespan="off": Mangum would otherwise run startup/shutdown on every invocation.
    # api_gateway_base_path strips a stage or custom-domain mapping prefix such as /prod.
    return Mangum(
        create_app(settings, model, telemetry),
        lifespan="off",
        api_gateway_base_path=settings.api_base_path,
    )
