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
# Where a template is cut for a number (EmfRecorder._template): text no record can contain.
_SLOT: Final = "\x00slot\x00"


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
        self._templates: dict[tuple[str, str, int, bool, bool], tuple[str, ...]] = {}

    def startup(self, model_loaded: bool) -> None:
        self._pending = {COLD_STARTS: 1}
        if not model_loaded:
            self._pending[MODEL_LOAD_FAILURES] = 1

    def observe(self, observation: Observation) -> None:
        self.write(self.render(observation) + "\n")

    def record(self, observation: Observation) -> msgspec.Raw:
        """The EMF record of one request as an object for msgspec to encode (pre-encoded JSON):
        the request-log writer encodes it in one call with the request's other lines."""
        return msgspec.Raw(self.render(observation).encode())

    def render(self, observation: Observation) -> str:
        """The EMF record of one request, as one line of JSON.

        Everything but the numbers repeats from request to request of the same kind (route,
        model version, status class, whether it scored): the common kinds render from a
        template encoded once, with only the timestamp and the numbers put in. The first record
        (cold start) and records with extension metrics take the general path.
        """
        if self._pending or observation.extra:
            return self.render_general(observation)
        status = observation.status
        scored = observation.batch_size is not None and observation.flagged is not None
        timed = scored and observation.scoring_us is not None
        key = (
            observation.route,
            observation.model_version,
            0 if status < 400 else 4 if status < 500 else 5,
            scored,
            timed,
        )
        template = self._templates.get(key)
        if template is None:
            template = self._template(observation, scored, timed)
            if len(self._templates) < _CACHE_LIMIT:
                self._templates[key] = template
        stamp = str(int(self._time(observation) * 1000))
        latency = _encode(observation.latency_ms).decode()
        if timed:
            a, b, c, d, e, f, g = template
            size = str(observation.batch_size)
            flagged, scoring = str(observation.flagged), str(observation.scoring_us)
            return "".join((a, stamp, b, latency, c, size, d, size, e, flagged, f, scoring, g))
        if scored:
            a, b, c, d, e, f = template
            size = str(observation.batch_size)
            return "".join((a, stamp, b, latency, c, size, d, size, e, str(observation.flagged), f))
        a, b, c = template
        return "".join((a, stamp, b, latency, c))

    def _template(self, observation: Observation, scored: bool, timed: bool) -> tuple[str, ...]:
        """:meth:`render_general`'s line for one kind of request, cut where the numbers go:
        the timestamp, the latency, then the counts (batch size twice, flagged, scoring time).

        Joining the pieces with the numbers costs less than ``%``-formatting the ~600 characters
        of the record, which scans every one of them.
        """
        values: dict[str, Any] = {REQUESTS: 1}
        if 400 <= observation.status < 500:
            values[CLIENT_ERRORS] = 1
        elif observation.status >= 500:
            values[SERVER_ERRORS] = 1
        values[REQUEST_LATENCY] = _SLOT
        if scored:
            values[BATCH_SIZE] = values[TRANSACTIONS_SCORED] = _SLOT
            values[TRANSACTIONS_FLAGGED] = _SLOT
            if timed:
                values[SCORING_TIME] = _SLOT
        slot = _encode(_SLOT).decode()
        return tuple(self._line(observation, values, (), slot).split(slot))

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
        key = (tuple(values), extra_units)
        directive = self._directives.get(key)
        if directive is None:
            units = {**UNITS, **dict(extra_units)}
            directive = _encode(
                [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": DIMENSION_SETS,
                        "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
                    }
                ]
            ).decode()
            if len(self._directives) < _CACHE_LIMIT:
                self._directives[key] = directive
        members_key = (observation.route, observation.model_version)
        members = self._members.get(members_key)
        if members is None:
            members = _encode(
                {
                    ROUTE: observation.route,
                    MODEL_VERSION: observation.model_version,
                    "event": "metrics",
                }
            ).decode()[1:-1]
            if len(self._members) < _CACHE_LIMIT:
                self._members[members_key] = members
        numbers = _encode(values).decode()[1:-1]
        stamp_text = stamp if isinstance(stamp, str) else str(stamp)
        head = f'{{"_aws":{{"Timestamp":{stamp_text},"CloudWatchMetrics":{directive}}}'
        return f"{head},{members},{numbers}}}"

    def _time(self, observation: Observation) -> float:
        """When the request was answered: the time its writer read, else the clock's now."""
        return self.clock() if observation.time is None else observation.time
