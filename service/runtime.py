"""One served model's runtime, built once per process: state, telemetry, the POST /predict
endpoint and the request-log writer.

Both surfaces share it: the Starlette app (:func:`service.app.create_app`) and the Lambda fast
path (:mod:`service.lambda_app`), which answers POST /predict from it without importing Starlette
or Mangum and builds the Starlette app around the *same* runtime only when another route is first
asked for. So the start is counted once, and both answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.api.predict import PredictEndpoint
from service.model import LoadedModel, ModelLoadFailure
from service.monitoring.decisions import with_drift_bins
from service.settings import Settings
from service.state import ServiceState
from service.telemetry.request_record import RequestLogWriter
from service.telemetry.setup import Telemetry

if TYPE_CHECKING:
    from service.rollout.models import Rollout


@dataclass(frozen=True)
class ServiceRuntime:
    """What every surface of one app instance needs; build it with :func:`build_runtime`."""

    state: ServiceState
    telemetry: Telemetry
    endpoint: PredictEndpoint
    writer: RequestLogWriter


def build_runtime(
    settings: Settings,
    model: LoadedModel | ModelLoadFailure,
    telemetry: Telemetry | None = None,
    rollout: Rollout | None = None,
) -> ServiceRuntime:
    """The runtime for ``model`` (a loaded model, or the failure that explains its absence).

    ``telemetry`` comes from :func:`service.telemetry.setup.build_telemetry` in the entry points;
    None records nothing. Counts this start (and a failed model load) in the metrics.
    """
    state = ServiceState(settings=settings, model=model, rollout=rollout)
    # --- telemetry (issue 15): counts this start (and a failed model load) once ---
    telemetry = telemetry or Telemetry()
    telemetry.metrics.startup(model_loaded=isinstance(model, LoadedModel))
    # --- drift monitoring (issue 17): reference-bin indices in the decision log ---
    if settings.drift_bins:
        telemetry = with_drift_bins(telemetry, model)
    return ServiceRuntime(
        state=state,
        telemetry=telemetry,
        endpoint=PredictEndpoint(state),
        writer=RequestLogWriter(state.model_version, telemetry),
    )
