"""Prometheus metrics for ``fraud-serve``: the same metrics as EMF, served at ``GET /metrics``.

Imported only by the local server's telemetry setup (prometheus_client is in the ``server`` extra,
not in the Lambda image). Names follow Prometheus conventions (snake case, base units, ``_total``
for counters); :data:`PROMETHEUS_NAMES` maps each CloudWatch name to its Prometheus family:

=====================  ==========================================  ==========================
CloudWatch             Prometheus                                  labels
=====================  ==========================================  ==========================
Requests               fraudlite_requests_total                    route, status
ClientErrors           fraudlite_client_errors_total               route
ServerErrors           fraudlite_server_errors_total               route
RequestLatency         fraudlite_request_duration_seconds (hist.)  route
ScoringTime            fraudlite_scoring_time_seconds (hist.)      route
BatchSize              fraudlite_batch_size (histogram)            route
TransactionsScored     fraudlite_transactions_scored_total         route, model_version
TransactionsFlagged    fraudlite_transactions_flagged_total        route, model_version
ModelLoadFailures      fraudlite_model_load_failures_total
ColdStarts             fraudlite_cold_starts_total
=====================  ==========================================  ==========================

Each app gets its own registry (no process-global state; tests build many apps). Extension
metrics added with ``RequestLog.add_metric`` become counters ``fraudlite_<snake_case>_total``
labelled by route and model_version.
"""

from __future__ import annotations

import re
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.telemetry.metrics import (
    BATCH_SIZE,
    CLIENT_ERRORS,
    COLD_STARTS,
    MODEL_LOAD_FAILURES,
    REQUEST_LATENCY,
    REQUESTS,
    SCORING_TIME,
    SERVER_ERRORS,
    TRANSACTIONS_FLAGGED,
    TRANSACTIONS_SCORED,
    Observation,
)

#: Where the metrics are served under fraud-serve (not mounted on Lambda).
METRICS_PATH: Final = "/metrics"

PROMETHEUS_NAMES: Final[dict[str, str]] = {
    REQUESTS: "fraudlite_requests_total",
    CLIENT_ERRORS: "fraudlite_client_errors_total",
    SERVER_ERRORS: "fraudlite_server_errors_total",
    REQUEST_LATENCY: "fraudlite_request_duration_seconds",
    SCORING_TIME: "fraudlite_scoring_time_seconds",
    BATCH_SIZE: "fraudlite_batch_size",
    TRANSACTIONS_SCORED: "fraudlite_transactions_scored_total",
    TRANSACTIONS_FLAGGED: "fraudlite_transactions_flagged_total",
    MODEL_LOAD_FAILURES: "fraudlite_model_load_failures_total",
    COLD_STARTS: "fraudlite_cold_starts_total",
}

_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_SCORING_BUCKETS: Final = (2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2)
_BATCH_BUCKETS: Final = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


def _family(cloudwatch_name: str) -> str:
    """The name prometheus_client wants: counters without their ``_total`` suffix."""
    return PROMETHEUS_NAMES[cloudwatch_name].removesuffix("_total")


def snake_case(name: str) -> str:
    """``ShadowDisagreements`` -> ``shadow_disagreements``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class PrometheusRecorder:
    """Keeps the service's counters and histograms in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            _family(REQUESTS), "HTTP requests answered", ["route", "status"], registry=r
        )
        self.client_errors = Counter(_family(CLIENT_ERRORS), "4xx answers", ["route"], registry=r)
        self.server_errors = Counter(_family(SERVER_ERRORS), "5xx answers", ["route"], registry=r)
        self.latency = Histogram(
            _family(REQUEST_LATENCY),
            "time in the app per request",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.scoring = Histogram(
            _family(SCORING_TIME),
            "time in the model per scoring call",
            ["route"],
            buckets=_SCORING_BUCKETS,
            registry=r,
        )
        self.batch = Histogram(
            _family(BATCH_SIZE),
            "transactions per scoring request",
            ["route"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        labels = ["route", "model_version"]
        self.scored = Counter(
            _family(TRANSACTIONS_SCORED), "transactions scored", labels, registry=r
        )
        self.flagged = Counter(
            _family(TRANSACTIONS_FLAGGED), "transactions scored as fraud", labels, registry=r
        )
        self.load_failures = Counter(_family(MODEL_LOAD_FAILURES), "failed model loads", registry=r)
        self.cold_starts = Counter(_family(COLD_STARTS), "process starts", registry=r)
        self.extra: dict[str, Counter] = {}
        self._children: dict[tuple[Any, ...], Any] = {}
        self._series_cache: dict[tuple[str, int, str], list[Any]] = {}

    def startup(self, model_loaded: bool) -> None:
        self.cold_starts.inc()
        if not model_loaded:
            self.load_failures.inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        # .labels() costs microseconds (validation, locking): children are looked up once.
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _series(self, route: str, status: int, version: str) -> list[Any]:
        """The children one kind of request updates: [requests, errors, latency] now, and
        [batch, scored, flagged, scoring] on its first scoring (so /health exports none)."""
        key = (route, status, version)
        series = self._series_cache.get(key)
        if series is None:
            errors = None
            if 400 <= status < 500:
                errors = self._child(self.client_errors, route)
            elif status >= 500:
                errors = self._child(self.server_errors, route)
            requests = self._child(self.requests, route, str(status))
            series = [requests, errors, self._child(self.latency, route), None]
            self._series_cache[key] = series
        return series

    def observe(self, o: Observation) -> None:
        series = self._series(o.route, o.status, o.model_version)
        series[0].inc()
        if series[1] is not None:
            series[1].inc()
        series[2].observe(o.latency_ms / 1000)
        if o.scored:
            assert o.batch_size is not None and o.flagged is not None
            if series[3] is None:
                route, version = o.route, o.model_version
                series[3] = (
                    self._child(self.batch, route),
                    self._child(self.scored, route, version),
                    self._child(self.flagged, route, version),
                    self._child(self.scoring, route),
                )
            batch, scored, flagged, scoring = series[3]
            batch.observe(o.batch_size)
            scored.inc(o.batch_size)
            flagged.inc(o.flagged)
            if o.scoring_us is not None:
                scoring.observe(o.scoring_us / 1e6)
        for name, (value, _unit) in o.extra.items():
            counter = self.extra.get(name)
            if counter is None:
                counter = self.extra[name] = Counter(
                    f"fraudlite_{snake_case(name)}",
                    f"extension metric {name}",
                    ["route", "model_version"],
                    registry=self.registry,
                )
            self._child(counter, o.route, o.model_version).inc(value)

    def routes(self) -> list[Route]:
        """``GET /metrics`` in the Prometheus text exposition format."""

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return [Route(METRICS_PATH, metrics, methods=["GET"])]
