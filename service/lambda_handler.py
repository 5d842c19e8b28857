"""AWS Lambda entry point: ``service.lambda_handler.handler``.

The only module that does work at import, which Lambda runs once per container (init phase):
read settings, load and warm up the model, build the runtime that answers POST /predict (the
Starlette app for the other routes is built on their first request). Warm invocations reuse all of
it.
"""

from __future__ import annotations

import os

from service.lambda_app import build_handler

handler = build_handler(os.environ)
