"""One set of service metrics, the same names on every surface, and the recorder interface.

The metrics (CloudWatch name, unit; the Prometheus name is derived in
:mod:`service.telemetry.prometheus`) are declared once in :data:`METRICS`. A request contributes
one :class:`Observation`, built by the request-log writer from the per-request record that routes
fill in (:class:`service.telemetry.request_record.RequestLog`), and handed to a
:class:`MetricsRecorder`:

- :class:`service.telemetry.emf.EmfRecorder` on Lambda: one CloudWatch Embedded Metric Format
  record per invocation on stdout;
- :class:`service.telemetry.prometheus.PrometheusRecorder` under ``fraud-serve``: ``GET /metrics``;
- :class:`NullRecorder` when metrics are off (and in tests that do not ask for them).

Dimensions are bounded: ``ModelVersion`` (one per deployed model) and ``Route`` (the route
*template*, e.g. ``/v2/models/{model}/infer``, or ``unmatched``); never a transaction or request id.

Extension point (other issues add metrics here, e.g. shadow/A-B disagreement, drift bin counts):
code handling a request calls ``record.add_metric(name, value, unit)`` on its ``RequestLog``; the
value is summed per request, emitted in the same EMF record with the same dimensions, and exported
by Prometheus as a counter ``fraudlite_<snake_name>_total``. Declare the name as a ``Final`` string
constant next to your code and, if it deserves an alarm, give the alarm that exact name
(tests/test_template_observability.py checks template.yaml's alarms against :data:`METRIC_NAMES`
and the string constants the service declares).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple, Protocol

import msgspec

#: Default CloudWatch namespace (FRAUD_METRICS_NAMESPACE overrides it).
DEFAULT_NAMESPACE: Final = "fraudlite"

# Metric names: the contract with template.yaml's alarms and dashboard. Keep them exactly.
REQUESTS: Final = "Requests"
CLIENT_ERRORS: Final = "ClientErrors"
SERVER_ERRORS: Final = "ServerErrors"
REQUEST_LATENCY: Final = "RequestLatency"
SCORING_TIME: Final = "ScoringTime"
BATCH_SIZE: Final = "BatchSize"
TRANSACTIONS_SCORED: Final = "TransactionsScored"
TRANSACTIONS_FLAGGED: Final = "TransactionsFlagged"
MODEL_LOAD_FAILURES: Final = "ModelLoadFailures"
COLD_STARTS: Final = "ColdStarts"

# Dimension names.
MODEL_VERSION: Final = "ModelVersion"
ROUTE: Final = "Route"

#: ``Route`` of a request that matched no route (404s): one value, whatever the path was.
UNMATCHED_ROUTE: Final = "unmatched"
#: ``ModelVersion`` when no model is loaded.
NO_MODEL: Final = "none"


class MetricSpec(NamedTuple):
    """One metric: CloudWatch name and unit, and what it counts."""

    name: str
    unit: str
    help: str


#: Every metric the service emits, in dashboard order.
METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(REQUESTS, "Count", "HTTP requests answered"),
    MetricSpec(CLIENT_ERRORS, "Count", "requests answered with a 4xx status"),
    MetricSpec(SERVER_ERRORS, "Count", "requests answered with a 5xx status (503 included)"),
    MetricSpec(REQUEST_LATENCY, "Milliseconds", "time in the app, request in to response out"),
    MetricSpec(SCORING_TIME, "Microseconds", "time in the model for one scoring call"),
    MetricSpec(BATCH_SIZE, "Count", "transactions in one scoring request"),
    MetricSpec(TRANSACTIONS_SCORED, "Count", "transactions scored"),
    MetricSpec(TRANSACTIONS_FLAGGED, "Count", "transactions scored with is_fraud true"),
    MetricSpec(MODEL_LOAD_FAILURES, "Count", "model loads that failed (one per process)"),
    MetricSpec(COLD_STARTS, "Count", "processes that served their first request"),
)
METRIC_NAMES: Final = frozenset(spec.name for spec in METRICS)
UNITS: Final[Mapping[str, str]] = {spec.name: spec.unit for spec in METRICS}


class Observation(msgspec.Struct):
    """What one answered request contributes to the metrics.

    A msgspec Struct: built on every request, in C (a plain class or a dataclass would run a
    Python-level ``__init__`` there, and a dataclass compile its methods at every cold start).
    """

    route: str
    status: int
    latency_ms: float
    model_version: str
    batch_size: int | None = None  # set by scoring routes only
    scoring_us: int | None = None
    flagged: int | None = None
    #: extension metrics: name -> (value, unit)
    extra: dict[str, tuple[float, str]] = msgspec.field(default_factory=dict)
    #: when the request was answered (``time.time()``, read once for all of its lines); None:
    #: the recorder reads its own clock
    time: float | None = None

    @property
    def scored(self) -> bool:
        return self.batch_size is not None and self.flagged is not None


class MetricsRecorder(Protocol):
    """Where metrics go. Implementations must not raise on the request path and make no network
    call there: EMF writes one line, Prometheus updates in-memory counters."""

    def startup(self, model_loaded: bool) -> None:
        """Called once when the app is built: counts the cold start and a failed model load."""

    def observe(self, observation: Observation) -> None:
        """Record one answered request."""


class NullRecorder:
    """Metrics off: records nothing."""

    def startup(self, model_loaded: bool) -> None:
        pass

    def observe(self, observation: Observation) -> None:
        pass


def route_name(scope: Mapping[str, object]) -> str:
    """The bounded ``Route`` value of an ASGI scope: its route template, else ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE
