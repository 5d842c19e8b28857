"""Telemetry of one app: its metrics recorder, its decision log and any routes they serve.

Built by the entry points from :class:`~service.settings.Settings` with :func:`build_telemetry`
(``surface="lambda"``: EMF on stdout; ``"server"``: Prometheus at ``GET /metrics``) and passed to
``create_app``. ``Telemetry()`` (the default) records nothing, so tests and tools that build an app
directly opt in explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from starlette.routing import BaseRoute

from service.settings import Settings
from service.telemetry.decision_log import DecisionLog, DecisionLogError, open_decision_log
from service.telemetry.emf import EmfRecorder
from service.telemetry.metrics import MetricsRecorder, NullRecorder
from service.telemetry.stdout import flush_stdout

Surface = Literal["lambda", "server", "none"]
SURFACES: Final = ("lambda", "server", "none")

__all__ = ["DecisionLogError", "Surface", "Telemetry", "build_telemetry"]


@dataclass
class Telemetry:
    """Where an app's metrics and decisions go; all off by default.

    ``flush`` runs once per request after the writes (stdout writers buffer their lines).
    """

    metrics: MetricsRecorder = field(default_factory=NullRecorder)
    decisions: DecisionLog | None = None
    routes: list[BaseRoute] = field(default_factory=list)
    flush: Callable[[], None] = flush_stdout

    @property
    def active(self) -> bool:
        """Whether anything is recorded; when not, requests skip all telemetry work."""
        return self.decisions is not None or not isinstance(self.metrics, NullRecorder)


def build_telemetry(settings: Settings, surface: Surface) -> Telemetry:
    """Metrics for ``surface`` (unless ``FRAUD_METRICS=off``) and the decision log.

    Raises :class:`DecisionLogError` (naming the variable) when the decision log cannot be
    opened: the entry points turn it into a start-up error (503 with the reason on Lambda).
    """
    decisions = open_decision_log(settings.decision_log, settings.decision_log_fields)
    if not settings.metrics or surface == "none":
        return Telemetry(decisions=decisions)
    if surface == "lambda":
        return Telemetry(metrics=EmfRecorder(settings.metrics_namespace), decisions=decisions)
    # Local server only: prometheus_client is in the `server` extra, not in the Lambda image.
    from service.telemetry.prometheus import PrometheusRecorder

    recorder = PrometheusRecorder()
    return Telemetry(metrics=recorder, decisions=decisions, routes=list(recorder.routes()))
