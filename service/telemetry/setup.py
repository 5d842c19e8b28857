"""Telemetry of one app: its metrics recorder, its decision log and any routes they serve.

Built by the entry points from :class:`~service.settings.Settings` with :func:`build_telemetry`
(``surface="lambda"``: EMF on stdout; ``"server"``: Prometheus at ``GET /metrics``) and passed to
``create_app``. ``Telemetry()`` (the default) records nothing, so tests and tools that build an app
directly opt in explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

from service.settings import Settings
from service.telemetry.decision_log import DecisionLog, DecisionLogError, open_decision_log
from service.telemetry.emf import EmfRecorder
from service.telemetry.metrics import MetricsRecorder, NullRecorder
from service.telemetry.stdout import flush_stdout

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

Surface = Literal["lambda", "server", "none"]
SURFACES: Final = ("lambda", "server", "none")

__all__ = ["DecisionLogError", "Surface", "Telemetry", "build_telemetry"]


class Telemetry:
    """Where an app's metrics and decisions go; all off by default.

    ``flush`` runs once per request after the writes (stdout writers buffer their lines).
    """

    def __init__(
        self,
        metrics: MetricsRecorder | None = None,
        decisions: DecisionLog | None = None,
        routes: list[BaseRoute] | None = None,
        flush: Callable[[], None] = flush_stdout,
    ) -> None:
        self.metrics: MetricsRecorder = metrics if metrics is not None else NullRecorder()
        self.decisions = decisions
        self.routes: list[BaseRoute] = routes if routes is not None else []
        self.flush = flush

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
