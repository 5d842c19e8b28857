"""AWS Lambda entry point: ``service.lambda_handler.handler``.

The only module that does work at import, which Lambda runs once per container (init phase):
read settings, load and warm up the model, build the app. A configuration or model failure is
caught and logged once; the function then answers 503 with the reason instead of crash-looping.
Warm invocations reuse everything built here.
"""

from __future__ import annotations

import logging
import os

from mangum import Mangum

from service.app import create_app
from service.logging import configure_logging
from service.model import ModelLoadFailure, load_model
from service.settings import Settings, SettingsError

try:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    model = load_model(settings)
except SettingsError as exc:
    settings = Settings()
    configure_logging(settings.log_level)
    logging.getLogger("fraudlite.model").error("invalid configuration: %s", exc)
    model = ModelLoadFailure(reason=f"invalid configuration: {exc}")

app = create_app(settings, model)
# lifespan="off": Mangum would otherwise run startup/shutdown on every invocation.
handler = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path)
