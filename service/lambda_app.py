"""Build the Lambda handler: settings, model and runtime; POST /predict answered directly, every
other request through the Starlette app wrapped by Mangum, built on first use.

Why two paths: importing Starlette, Mangum and asyncio costs about 84 ms of a cold start (issue 20,
docs/performance.md), a third of it, and a scoring function gets POST /predict almost only. So
the handler reads API Gateway events for that one route itself (:mod:`service.aws.gateway`) and
answers from the same runtime the app uses (:mod:`service.runtime`): the same endpoint, errors,
request line, EMF record and decision records, byte for byte (tests compare both paths on real
event payloads). Any other route, method or event kind imports Mangum and the app on its first
request and is answered by them, as before.

Nothing here may fail the init phase (a failed init is retried on every request: a crash loop).
A configuration error answers 503 naming the variable to fix; a model failure answers 503 saying
what kind of fault it is; the detail is logged once. :mod:`service.lambda_handler` calls this at
import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from service.auth import API_KEY_HEADER, require_key
from service.aws.gateway import GatewayRequest, gateway_response, parse_event
from service.errors import BadRequest, Detail
from service.failures import failure_answer, json_answer
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.model.errors import FaultKind
from service.runtime import ServiceRuntime, build_runtime
from service.settings import Settings, SettingsError
from service.telemetry.logs import configure_logging
from service.telemetry.request_record import RequestLog, request_ids
from service.telemetry.setup import Telemetry, build_telemetry

if TYPE_CHECKING:
    from service.rollout.models import Rollout

log = logging.getLogger("fraudlite.model")
_PREDICT = "/predict"
_API_KEY = API_KEY_HEADER.lower()

LambdaResult = dict[str, Any]


def build_handler(environ: Mapping[str, str], *, setup_logging: bool = True) -> LambdaHandler:
    """Settings from ``environ``, the model and its runtime, as a handler of API Gateway v1/v2
    events (and of anything else Mangum handles, through it).

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
    rollout = None
    if problem is None and (
        settings.shadow_model_uri is not None or settings.ab_model_uri is not None
    ):
        from service.rollout.models import load_rollout  # only deployments with a rollout

        rollout = load_rollout(settings, model)
    return LambdaHandler(_runtime(settings, model, telemetry, rollout))


def _runtime(
    settings: Settings,
    model: LoadedModel | ModelLoadFailure,
    telemetry: Telemetry,
    rollout: Rollout | None = None,
) -> ServiceRuntime:
    """The runtime for ``model``; if building it fails for a loaded model, the one without it."""
    try:
        return build_runtime(settings, model, telemetry, rollout)
    except Exception as exc:  # a bug, but init must still succeed and answer 503
        if isinstance(model, ModelLoadFailure):
            raise
        log.exception("model not served: building the service failed")
        failure = ModelLoadFailure(
            reason=f"building the service failed: {type(exc).__name__}: {exc}",
            source=settings.model_uri,
            kind=FaultKind.INCOMPATIBLE_MODEL,
        )
        return build_runtime(settings, failure, telemetry)


class LambdaHandler:
    """The function's handler: ``handler(event, context)`` as the Lambda runtime calls it."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.base_path = runtime.state.settings.api_base_path
        self.digests = runtime.state.settings.api_keys_sha256
        self._mangum: Callable[[Any, Any], LambdaResult] | None = None

    def __call__(self, event: Any, context: Any) -> LambdaResult:
        request = parse_event(event, self.base_path)
        if request is None or request.method != "POST" or request.path != _PREDICT:
            return self.mangum(event, context)
        return self._predict(request, context)

    def mangum(self, event: Any, context: Any) -> LambdaResult:
        """The event through Mangum and the Starlette app (built on the first such event)."""
        if self._mangum is None:
            self._mangum = self._build_mangum()
        return self._mangum(event, context)

    def _build_mangum(self) -> Callable[[Any, Any], LambdaResult]:
        from mangum import Mangum

        from service.app import app_for

        # lifespan="off": Mangum would otherwise run startup/shutdown on every invocation.
        # api_gateway_base_path strips a stage or custom-domain mapping prefix such as /prod.
        return Mangum(app_for(self.runtime), lifespan="off", api_gateway_base_path=self.base_path)

    def _predict(self, request: GatewayRequest, context: Any) -> LambdaResult:
        started = time.perf_counter_ns()
        writer = self.runtime.writer
        headers = request.headers
        request_id, lambda_id = request_ids(headers.get("x-request-id"), request.event, context)
        record = writer.start(request_id, lambda_id)
        status, extra, content = self._answer(request, record)
        body, response_headers = json_answer(content, extra, request_id)
        result = gateway_response(request, status, response_headers, body)
        writer.write(record, "POST", _PREDICT, status, started)
        return result

    def _answer(self, request: Any, record: RequestLog) -> tuple[int, dict[str, str] | None, Any]:
        endpoint = self.runtime.endpoint
        headers = request.headers
        try:
            if self.digests:
                key = headers.get(_API_KEY)
                require_key(None if key is None else key.encode("latin-1"), self.digests)
            endpoint.admit(headers.get("content-type"), headers.get("content-length"))
            try:
                body = request.body()
            except ValueError:
                raise BadRequest(
                    "invalid body encoding", [Detail("body", "isBase64Encoded but not base64")]
                ) from None
            return 200, None, endpoint.answer(body, record)
        except Exception as exc:  # typed errors answered as such; a bug logged and answered 500
            return failure_answer(exc, record)
