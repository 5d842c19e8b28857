"""CloudWatch Embedded Metric Format (EMF): one metrics record per request, written to stdout.

On Lambda one invocation is one HTTP request, so this is one EMF record per invocation; a batch is
one request, aggregated (``BatchSize`` N, ``TransactionsScored`` N, ``TransactionsFlagged`` k).
CloudWatch Logs extracts the metrics from the function's log group: no AWS call, no agent.

The record follows the EMF specification: ``_aws.Timestamp`` in epoch milliseconds;
``_aws.CloudWatchMetrics`` holds one directive with ``Namespace``, ``Dimensions`` (arrays of
dimension names) and ``Metrics`` (``Name``, ``Unit``); every metric and dimension named there is
a top-level member of the record. Three dimension sets: ``[]`` (service-wide, what the alarms
read), ``[Route]`` and ``[ModelVersion]``. Only metrics the request produced are declared, so a
``GET /health`` creates no scoring-time data point.

Written directly (msgspec, already a runtime dependency) rather than with aws-embedded-metrics or
Powertools: both libraries cost more to import than this module (docs/operations.md, "Why EMF by
hand"), and this is the whole of what they would do here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from service.telemetry.metrics import (
    BATCH_SIZE,
    CLIENT_ERRORS,
    COLD_STARTS,
    MODEL_LOAD_FAILURES,
    MODEL_VERSION,
    REQUEST_LATENCY,
    REQUESTS,
    ROUTE,
    SCORING_TIME,
    SERVER_ERRORS,
    TRANSACTIONS_FLAGGED,
    TRANSACTIONS_SCORED,
    UNITS,
    Observation,
)
from service.telemetry.stdout import write_stdout

#: Dimension sets of every record: service-wide, per route, per model version.
DIMENSION_SETS: Final[list[list[str]]] = [[], [ROUTE], [MODEL_VERSION]]

_UNIT_NONE: Final = "None"
_encode = msgspec.json.Encoder().encode
# Bounds the caches of encoded fragments (combinations of metrics, routes and versions).
_CACHE_LIMIT: Final = 256
# Members the record's own keys could collide with: an extension metric may not take them.
_RESERVED: Final = frozenset({"_aws", ROUTE, MODEL_VERSION, "event"})
_EVENT: Final = "metrics"


class _Aws(msgspec.Struct, gc=False):
    """A record's ``_aws`` member: its time (epoch ms) and its encoded directive."""

    Timestamp: int
    CloudWatchMetrics: msgspec.Raw


class _Record(msgspec.Struct, gc=False):
    """A record with the core metrics only: the common one, built and encoded in C. The text
    template it replaced, filled in Python, cost about twice as much inside a request
    (benchmarks/telemetry_overhead.py). Members in :meth:`EmfRecorder.render_general`'s order;
    an UNSET metric is left out, as the general path leaves it out. The member names are the
    metric and dimension names of service/telemetry/metrics.py (a test checks they agree)."""

    aws: _Aws = msgspec.field(name="_aws")
    Route: str
    ModelVersion: str
    event: str
    Requests: int
    ClientErrors: int | UnsetType = UNSET
    ServerErrors: int | UnsetType = UNSET
    RequestLatency: float | UnsetType = UNSET
    BatchSize: int | UnsetType = UNSET
    TransactionsScored: int | UnsetType = UNSET
    TransactionsFlagged: int | UnsetType = UNSET
    ScoringTime: int | UnsetType = UNSET


class EmfRecorder:
    """Writes one EMF record per observed request through ``write`` (stdout by default, flushed
    once per request by the middleware), or hands it to the request-log writer (:meth:`record`)
    to go out with the request line.

    The first record of the process also carries ``ColdStarts`` 1 and, when the model failed to
    load, ``ModelLoadFailures`` 1: one record per invocation, even for the first one.
    """

    def __init__(
        self,
        namespace: str,
        write: Callable[[str], None] = write_stdout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.write = write
        self.clock = clock
        self._pending: dict[str, int] = {}
        self._directives: dict[tuple[Any, ...], str] = {}
        self._members: dict[tuple[str, str], str] = {}
        self._kinds: dict[tuple[int, bool, bool], msgspec.Raw] = {}

    def startup(self, model_loaded: bool) -> None:
        self._pending = {COLD_STARTS: 1}
        if not model_loaded:
            self._pending[MODEL_LOAD_FAILURES] = 1

    def observe(self, observation: Observation) -> None:
        self.write(self.render(observation) + "\n")

    def record(self, observation: Observation) -> _Record | msgspec.Raw:
        """The EMF record of one request as an object for msgspec to encode: the request-log
        writer encodes it in one call with the request's other lines."""
        if self._pending or observation.extra:
            return msgspec.Raw(self.render_general(observation).encode())
        return self._core(observation)

    def render(self, observation: Observation) -> str:
        """The EMF record of one request, as one line of JSON."""
        if self._pending or observation.extra:
            return self.render_general(observation)
        return _encode(self._core(observation)).decode()

    def _core(self, observation: Observation) -> _Record:
        """The record of a request with the core metrics only (every request but the first and
        those with extension metrics), as a :class:`_Record` msgspec encodes in C: its members
        are :meth:`render_general`'s, in the same order, byte for byte."""
        status = observation.status
        size, flagged = observation.batch_size, observation.flagged
        scored = size is not None and flagged is not None
        scoring = observation.scoring_us if scored else None
        kind = (0 if status < 400 else 4 if status < 500 else 5, scored, scoring is not None)
        directive = self._kinds.get(kind)
        if directive is None:
            directive = self._kind_directive(kind)
        return _Record(
            _Aws(int(self._time(observation) * 1000), directive),
            observation.route,
            observation.model_version,
            _EVENT,
            1,
            1 if kind[0] == 4 else UNSET,
            1 if kind[0] == 5 else UNSET,
            observation.latency_ms,
            size if scored else UNSET,
            size if scored else UNSET,
            flagged if scored else UNSET,
            UNSET if scoring is None else scoring,
        )

    def _kind_directive(self, kind: tuple[int, bool, bool]) -> msgspec.Raw:
        """The encoded directive of one kind of core record (status class, scored, timed)."""
        status, scored, timed = kind
        names = [REQUESTS]
        if status == 4:
            names.append(CLIENT_ERRORS)
        elif status == 5:
            names.append(SERVER_ERRORS)
        names.append(REQUEST_LATENCY)
        if scored:
            names += [BATCH_SIZE, TRANSACTIONS_SCORED, TRANSACTIONS_FLAGGED]
            if timed:
                names.append(SCORING_TIME)
        directive = msgspec.Raw(self._directive(tuple(names), ()).encode())
        self._kinds[kind] = directive  # at most 3 x 2 x 2 kinds
        return directive

    def render_general(self, observation: Observation) -> str:
        """The EMF record of any request (first record, extension metrics), as one line."""
        values: dict[str, Any] = {REQUESTS: 1}
        if 400 <= observation.status < 500:
            values[CLIENT_ERRORS] = 1
        elif observation.status >= 500:
            values[SERVER_ERRORS] = 1
        values[REQUEST_LATENCY] = observation.latency_ms
        if observation.scored:
            values[BATCH_SIZE] = observation.batch_size
            values[TRANSACTIONS_SCORED] = observation.batch_size
            values[TRANSACTIONS_FLAGGED] = observation.flagged
            if observation.scoring_us is not None:
                values[SCORING_TIME] = observation.scoring_us
        if self._pending:
            values.update(self._pending)
            self._pending = {}
        extra_units: tuple[tuple[str, str], ...] = ()
        if observation.extra:
            extras = [
                (name, value, unit or _UNIT_NONE)
                for name, (value, unit) in observation.extra.items()
                # an extension may not overwrite a core metric or a dimension
                if name not in _RESERVED and name not in UNITS
            ]
            values.update((name, value) for name, value, _ in extras)
            extra_units = tuple((name, unit) for name, _, unit in extras)
        return self._line(observation, values, extra_units, int(self._time(observation) * 1000))

    def _line(
        self,
        observation: Observation,
        values: dict[str, Any],
        extra_units: tuple[tuple[str, str], ...],
        stamp: int | str,
    ) -> str:
        """The record of ``values`` (metric name -> number), directive and dimensions cached."""
        directive = self._directive(tuple(values), extra_units)
        members_key = (observation.route, observation.model_version)
        members = self._members.get(members_key)
        if members is None:
            members = _encode(
                {
                    ROUTE: observation.route,
                    MODEL_VERSION: observation.model_version,
                    "event": _EVENT,
                }
            ).decode()[1:-1]
            if len(self._members) < _CACHE_LIMIT:
                self._members[members_key] = members
        numbers = _encode(values).decode()[1:-1]
        stamp_text = stamp if isinstance(stamp, str) else str(stamp)
        head = f'{{"_aws":{{"Timestamp":{stamp_text},"CloudWatchMetrics":{directive}}}'
        return f"{head},{members},{numbers}}}"

    def _directive(self, names: tuple[str, ...], extra_units: tuple[tuple[str, str], ...]) -> str:
        """The ``CloudWatchMetrics`` array declaring ``names`` (cached)."""
        key = (names, extra_units)
        directive = self._directives.get(key)
        if directive is None:
            units = {**UNITS, **dict(extra_units)}
            directive = _encode(
                [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": DIMENSION_SETS,
                        "Metrics": [{"Name": name, "Unit": units[name]} for name in names],
                    }
                ]
            ).decode()
            if len(self._directives) < _CACHE_LIMIT:
                self._directives[key] = directive
        return directive

    def _time(self, observation: Observation) -> float:
        """When the request was answered: the time its writer read, else the clock's now."""
        return self.clock() if observation.time is None else observation.time
