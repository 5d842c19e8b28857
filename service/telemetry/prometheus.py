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

import math
import re
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
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
    UNITS,
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

#: Observations queued before they are counted (and always counted before a scrape). 64 keeps
#: the fold to tens of microseconds, run after a request's answer has been sent.
FOLD_EVERY: Final = 64

# Upper bounds (``le``), as floats: prometheus_client's Histogram labels them the same way.
_LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_SCORING_BUCKETS: Final = (2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2)
_BATCH_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)


def _family(cloudwatch_name: str) -> str:
    """The name prometheus_client wants: counters without their ``_total`` suffix."""
    return PROMETHEUS_NAMES[cloudwatch_name].removesuffix("_total")


def snake_case(name: str) -> str:
    """``ShadowDisagreements`` -> ``shadow_disagreements``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class _Histogram:
    """One histogram series: counts per bucket (not cumulative; the last is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "created", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.created = time.time()


class _Series:
    """What one kind of request (route, status, model version) updates: its cells, shared with
    the other kinds that share their labels. ``scoring`` is filled on its first scoring call,
    so a route that never scores exports no scoring series."""

    __slots__ = ("errors", "latency", "requests", "scoring")

    def __init__(
        self, requests: list[float], errors: list[float] | None, latency: _Histogram
    ) -> None:
        self.requests = requests
        self.errors = errors
        self.latency = latency
        self.scoring: tuple[_Histogram, list[float], list[float], _Histogram] | None = None


class PrometheusRecorder:
    """Keeps the service's counters and histograms as plain numbers, exported at scrape time.

    The counters are Python ints and floats (a histogram's bucket found with ``bisect``), not
    prometheus_client's locked metric children, which cost microseconds per update. A request
    does not even update them: :meth:`observe` queues its observation, and the queue is folded
    into the counters :data:`FOLD_EVERY` at a time and before every scrape (:meth:`collect`),
    so a scrape always sees every answered request. Folded in one loop, the counting code stays
    in the CPU's caches; run once per request between onnxruntime's and msgspec's work, the
    same code costs several times as much (benchmarks/telemetry_overhead.py). :meth:`collect`
    turns the numbers into the same metric families, names, labels and samples (``_created``
    included) that prometheus_client's Counter and Histogram export; it is registered in a
    registry of the recorder's own.

    Not locked: ``observe`` and the scrape both run on the server's event-loop thread (the
    request log writes after the answer, in the ASGI middleware), so they never interleave.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Counters are [value, created]; keyed by their label values in family order.
        self.requests: dict[tuple[str, str], list[float]] = {}
        self.client_errors: dict[tuple[str], list[float]] = {}
        self.server_errors: dict[tuple[str], list[float]] = {}
        self.latency: dict[tuple[str], _Histogram] = {}
        self.scoring: dict[tuple[str], _Histogram] = {}
        self.batch: dict[tuple[str], _Histogram] = {}
        self.scored: dict[tuple[str, str], list[float]] = {}
        self.flagged: dict[tuple[str, str], list[float]] = {}
        self.extra: dict[str, dict[tuple[str, str], list[float]]] = {}
        self._series: dict[tuple[str, int, str], _Series] = {}
        self._queue: list[Observation] = []
        # Only counted at start: prometheus_client's own counters are cheap enough there.
        self.load_failures = Counter(
            _family(MODEL_LOAD_FAILURES), "failed model loads", registry=self.registry
        )
        self.cold_starts = Counter(_family(COLD_STARTS), "process starts", registry=self.registry)
        self.registry.register(self)  # type: ignore[arg-type]  # collect() below

    def startup(self, model_loaded: bool) -> None:
        self.cold_starts.inc()
        if not model_loaded:
            self.load_failures.inc()

    def observe(self, o: Observation) -> None:
        queue = self._queue
        queue.append(o)
        if len(queue) >= FOLD_EVERY:
            self.fold()

    def fold(self) -> None:
        """Count the queued observations (done by :meth:`observe` and :meth:`collect`)."""
        queue, self._queue = self._queue, []
        for observation in queue:
            self._count(observation)

    def _count(self, o: Observation) -> None:
        series = self._series.get((o.route, o.status, o.model_version))
        if series is None:
            series = self._new_series(o.route, o.status, o.model_version)
        series.requests[0] += 1
        if series.errors is not None:
            series.errors[0] += 1
        histogram = series.latency
        seconds = o.latency_ms / 1000
        histogram.counts[bisect_left(histogram.bounds, seconds)] += 1
        histogram.total += seconds
        if o.batch_size is not None and o.flagged is not None:
            cells = series.scoring
            if cells is None:
                cells = series.scoring = self._scoring_cells(o.route, o.model_version)
            batch, scored, flagged, scoring = cells
            size = o.batch_size
            batch.counts[bisect_left(batch.bounds, size)] += 1
            batch.total += size
            scored[0] += size
            flagged[0] += o.flagged
            if o.scoring_us is not None:
                seconds = o.scoring_us / 1e6
                scoring.counts[bisect_left(scoring.bounds, seconds)] += 1
                scoring.total += seconds
        if o.extra:
            labels = (o.route, o.model_version)
            for name, (value, _unit) in o.extra.items():
                counter = self.extra.setdefault(name, {}).get(labels)
                if counter is None:
                    counter = self.extra[name][labels] = _counter()
                counter[0] += value

    def _new_series(self, route: str, status: int, version: str) -> _Series:
        errors = None
        if 400 <= status < 500:
            errors = _cell(self.client_errors, (route,))
        elif status >= 500:
            errors = _cell(self.server_errors, (route,))
        latency = self.latency.get((route,))
        if latency is None:
            latency = self.latency[(route,)] = _Histogram(_LATENCY_BUCKETS)
        series = _Series(_cell(self.requests, (route, str(status))), errors, latency)
        self._series[(route, status, version)] = series
        return series

    def _scoring_cells(
        self, route: str, version: str
    ) -> tuple[_Histogram, list[float], list[float], _Histogram]:
        batch = self.batch.get((route,))
        if batch is None:
            batch = self.batch[(route,)] = _Histogram(_BATCH_BUCKETS)
        scoring = self.scoring.get((route,))
        if scoring is None:
            scoring = self.scoring[(route,)] = _Histogram(_SCORING_BUCKETS)
        labels = (route, version)
        return batch, _cell(self.scored, labels), _cell(self.flagged, labels), scoring

    def collect(self) -> Iterator[Metric]:
        """The families prometheus_client's Counter and Histogram would export (scrape time)."""
        self.fold()
        route = ["route"]
        by_version = ["route", "model_version"]
        yield _counters(REQUESTS, "HTTP requests answered", ["route", "status"], self.requests)
        yield _counters(CLIENT_ERRORS, "4xx answers", route, self.client_errors)
        yield _counters(SERVER_ERRORS, "5xx answers", route, self.server_errors)
        yield _histograms(REQUEST_LATENCY, "time in the app per request", self.latency)
        yield _histograms(SCORING_TIME, "time in the model per scoring call", self.scoring)
        yield _histograms(BATCH_SIZE, "transactions per scoring request", self.batch)
        yield _counters(TRANSACTIONS_SCORED, "transactions scored", by_version, self.scored)
        yield _counters(
            TRANSACTIONS_FLAGGED, "transactions scored as fraud", by_version, self.flagged
        )
        for name, cells in list(self.extra.items()):
            if name in UNITS:
                continue  # an extension may not pose as a core metric
            family = CounterMetricFamily(
                f"fraudlite_{snake_case(name)}", f"extension metric {name}", labels=by_version
            )
            for labels, (value, created) in list(cells.items()):
                family.add_metric(labels, value, created=created)
            yield family

    def routes(self) -> list[Route]:
        """``GET /metrics`` in the Prometheus text exposition format."""

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return [Route(METRICS_PATH, metrics, methods=["GET"])]


def _counter() -> list[float]:
    """A counter cell: [value, created (epoch seconds)]."""
    return [0.0, time.time()]


def _cell(cells: dict[Any, list[float]], labels: tuple[str, ...]) -> list[float]:
    cell = cells.get(labels)
    if cell is None:
        cell = cells[labels] = _counter()
    return cell


def _counters(
    metric: str, documentation: str, labels: list[str], cells: dict[Any, list[float]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(_family(metric), documentation, labels=labels)
    for values, (value, created) in list(cells.items()):
        family.add_metric(values, value, created=created)
    return family


def _histograms(
    metric: str, documentation: str, series: dict[tuple[str], _Histogram]
) -> HistogramMetricFamily:
    name = _family(metric)
    family = HistogramMetricFamily(name, documentation, labels=["route"])
    for (route,), histogram in list(series.items()):
        cumulative, buckets = 0, []
        for bound, count in zip((*histogram.bounds, math.inf), histogram.counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        family.add_metric([route], buckets, histogram.total)
        family.samples.append(Sample(f"{name}_created", {"route": route}, histogram.created))
    return family
