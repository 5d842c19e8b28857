"""Where fraudlite's cold start goes, step by step, in one fresh interpreter.

``python -m benchmarks.cold_steps BODY_JSON`` (model path in ``FRAUD_MODEL_URI``) does what
``import service.lambda_handler`` does (service/lambda_app.py ``build_handler`` and
service/model/loading.py ``open_model``), one step at a time, with a clock between steps, then
answers one API Gateway v2 event. It prints one line (``COLD_PROBE`` then JSON): seconds per step,
their sum, the status and probability answered (which must equal the real entry's answer: the
tests check it). It mirrors the entry rather than calling it, so a change to build_handler or
open_model must be mirrored here; benchmarks/cold_start.py reports the real entry's wall time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

MARKER = "COLD_PROBE "


class Clock:
    """Seconds per named step, in order."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def step(self, name: str, work: Callable[[], Any]) -> Any:
        """Run ``work``, record its seconds under ``name``, return its result."""
        started = time.perf_counter()
        result = work()
        self.steps[name] = time.perf_counter() - started
        return result


def main(argv: list[str]) -> int:
    """Time each init step and the first invoke; exit 1 if the answer is not a 200 with a score."""
    import os

    clock = Clock()
    body = json.loads(argv[0])
    # Imports, in the order the entry pulls them in: the model runtime, msgspec, the rest. The
    # web stack (Starlette, Mangum, asyncio) is not imported: POST /predict is answered without
    # it (service/lambda_app.py, issue 20).
    clock.step("import numpy+onnxruntime", lambda: __import__("onnxruntime"))
    clock.step("import msgspec", lambda: __import__("msgspec"))
    clock.step("import service.lambda_app (service modules)", _import_service)

    import onnxruntime as ort

    from service.lambda_app import LambdaHandler
    from service.model.core import LoadedModel
    from service.model.explanation import ExplanationSpec
    from service.model.identity import verify_version
    from service.model.loading import _check_session, _warm_up, session_options
    from service.model.metadata import parse_metadata
    from service.model.store import fetch_model
    from service.runtime import build_runtime
    from service.settings import Settings
    from service.telemetry.logs import configure_logging
    from service.telemetry.setup import build_telemetry

    settings = clock.step("settings (Settings.from_env)", lambda: Settings.from_env(os.environ))
    telemetry = clock.step(
        "telemetry (build_telemetry)", lambda: build_telemetry(settings, "lambda")
    )
    clock.step("logging (configure_logging)", lambda: configure_logging(settings.log_level))
    fetched = clock.step("model fetch (read + sha256)", lambda: fetch_model(settings))
    session = clock.step(
        "session creation (ort.InferenceSession)",
        lambda: ort.InferenceSession(
            fetched.data,
            sess_options=session_options(settings),
            providers=["CPUExecutionProvider"],
        ),
    )

    def check() -> LoadedModel:
        props = session.get_modelmeta().custom_metadata_map
        metadata = parse_metadata(props)
        extra = _check_session(session, metadata)
        if verify_version(fetched.data) != metadata.model_version:
            raise RuntimeError("model_version differs from the file's")
        return LoadedModel(
            session=session,
            metadata=metadata,
            threshold=metadata.threshold if settings.threshold is None else settings.threshold,
            sha256=fetched.sha256,
            source=fetched.source,
            threshold_overridden=settings.threshold is not None,
            extra_outputs=extra,
            explanation=ExplanationSpec.from_session(session, props, metadata.feature_names),
        )

    model = clock.step("metadata checks + identity (sha256 of graph)", check)
    clock.step("warm-up (one run per transaction type)", lambda: _warm_up(model))
    # No rollout configured here (FRAUD_SHADOW/AB_MODEL_URI unset): the entry skips it too.
    runtime = clock.step(
        "runtime build (state, validator, telemetry, drift bins)",
        lambda: build_runtime(settings, model, telemetry),
    )
    handler = clock.step("handler (LambdaHandler)", lambda: LambdaHandler(runtime))
    from benchmarks.events import LambdaContext, http_api_v2_event

    event = http_api_v2_event(body)
    answer = clock.step("first invoke (one v2 event)", lambda: handler(event, LambdaContext()))
    payload = json.loads(answer.get("body") or "null")
    status = int(answer.get("statusCode", 0))
    probability = payload.get("probability_fraud") if isinstance(payload, dict) else None
    line = {
        "steps_s": clock.steps,
        "total_s": sum(clock.steps.values()),
        "status": status,
        "probability_fraud": probability,
    }
    print(MARKER + json.dumps(line), flush=True)
    return 0 if status == 200 and probability is not None else 1


def _import_service() -> None:
    import service.lambda_app  # noqa: F401


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
