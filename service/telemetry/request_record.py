"""One request's record and the line written for it, with no web framework involved.

Routes fill in a :class:`RequestLog` (batch size, scoring time, decisions, error fields); once the
answer is sent, :class:`RequestLogWriter` writes the request's JSON log line and hands the request
to the app's telemetry (issue 15): one metrics observation (:mod:`service.telemetry.metrics`) and
the decision records the scoring routes attached (:mod:`service.telemetry.decision_log`). When
the line goes straight to stdout, the telemetry's stdout records (decision lines, the EMF record)
go with it: one encode, one write, and one clock reading for all of them (the per-request cost is
measured by benchmarks/telemetry_overhead.py).

Both the ASGI middleware (:mod:`service.telemetry.request_log`) and the Lambda fast path
(:mod:`service.lambda_app`) use these, so the two surfaces write the same line.

The request line carries ids, route, status, batch size, scoring time and model version, never
transaction values: a 422 lists the offending field *names* only. The request id comes from API
Gateway (``requestContext.requestId``) on Lambda, else from an ``X-Request-ID`` header, else it is
generated; it is echoed in the ``X-Request-ID`` response header.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import msgspec
import numpy as np

from service.telemetry.decision_log import DecisionBatch
from service.telemetry.emf import EmfRecorder
from service.telemetry.logs import REQUEST_LOGGER, direct_stream
from service.telemetry.metrics import NO_MODEL, UNMATCHED_ROUTE, Observation
from service.telemetry.setup import Telemetry
from service.telemetry.stdout import UtcStamps, flush_stdout, utf8_fd, write_fd, write_stdout

_SAFE_ID: Final = re.compile(r"^[A-Za-z0-9._:=/+-]{1,128}$")
_encode_lines = msgspec.json.Encoder().encode_lines
#: The members of a written request line that JsonFormatter adds itself (the logging path).
_HEAD: Final = frozenset({"ts", "level", "logger", "message"})


@dataclass(slots=True)
class RequestLog:
    """Per-request fields routes fill in; the writer writes them out after the answer."""

    request_id: str
    lambda_request_id: str | None = None
    batch_size: int | None = None
    scoring_us: int | None = None
    error_fields: list[str] = field(default_factory=list)
    # --- telemetry (issue 15): filled by scoring routes, written after the response ---
    #: set when the app records metrics or decisions (else routes skip that work)
    telemetry_on: bool = False
    #: transactions scored as fraud (set with batch_size by the scoring routes)
    flagged: int | None = None
    #: the request's decisions, for the decision log (service/telemetry/decision_log.py)
    decisions: DecisionBatch | None = None
    #: extension metrics: name -> (value summed over the request, CloudWatch unit)
    metrics: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add_metric(self, name: str, value: float, unit: str = "Count") -> None:
        """Add ``value`` to an extension metric of this request (service/telemetry/metrics.py)."""
        previous = self.metrics.get(name)
        self.metrics[name] = ((previous[0] if previous else 0) + value, unit)


def new_request_id() -> str:
    """A fresh request id: 32 random hex digits (as a uuid4's hex, without its version bits)."""
    return os.urandom(16).hex()


def request_ids(
    header_id: str | None, event: Any = None, context: Any = None
) -> tuple[str, str | None]:
    """(request id, Lambda invocation id or None): API Gateway's ``requestContext.requestId``,
    else a well-formed ``X-Request-ID`` header (``header_id``), else the Lambda invocation id,
    else a fresh one."""
    lambda_id = getattr(context, "aws_request_id", None) if context is not None else None
    if isinstance(event, dict):
        gateway_id = (event.get("requestContext") or {}).get("requestId")
        if isinstance(gateway_id, str) and gateway_id:
            return gateway_id, lambda_id
    if header_id is not None and _SAFE_ID.match(header_id):
        return header_id, lambda_id
    return lambda_id or new_request_id(), lambda_id


def record_decisions(
    log: RequestLog,
    *,
    model_version: str,
    threshold: float,
    probabilities: np.ndarray,
    labels: np.ndarray,
    columns: Mapping[str, np.ndarray],
    transaction_ids: Sequence[str | int | None] | None = None,
    contributions: list[dict[str, Any]] | None = None,
) -> DecisionBatch | None:
    """Note a scoring call's outcome for telemetry: the flagged count (metrics) and the decisions
    (decision log), both written after the answer. Every scoring route calls this once; the
    returned batch may still be extended (``batch.extra``, ``batch.fields``). None when the app
    records neither (no work is done then)."""
    if not log.telemetry_on:
        return None
    # One row is the common request: .item() is a fraction of count_nonzero's cost.
    log.flagged = int(labels.item()) if labels.size == 1 else int(np.count_nonzero(labels))
    batch = DecisionBatch(
        model_version, threshold, probabilities, labels, columns, transaction_ids, contributions
    )
    log.decisions = batch
    return batch


class RequestLogWriter:
    """Writes one request's log line and telemetry once it has been answered; built once per app.

    A telemetry fault is logged and swallowed: it must never turn an answer into an error.
    """

    def __init__(self, model_version: str | None, telemetry: Telemetry | None = None) -> None:
        self.model_version = model_version
        self.log = logging.getLogger(REQUEST_LOGGER)
        self.telemetry = telemetry or Telemetry()
        self.telemetry_on = self.telemetry.active
        # One reading per request, formatted once: the request line adds JsonFormatter's
        # "+00:00", the decision records their "Z".
        self._stamps = UtcStamps()
        self._clock = time.time
        # The stream the lines went to last and its file descriptor (-1: write through it).
        self._fd_stream: object = None
        self._fd = -1

    def start(self, request_id: str, lambda_request_id: str | None = None) -> RequestLog:
        """The record of a request that has just arrived."""
        return RequestLog(
            request_id=request_id,
            lambda_request_id=lambda_request_id,
            telemetry_on=self.telemetry_on,
        )

    def write(
        self, record: RequestLog, method: str | None, route: str | None, status: int, started: int
    ) -> None:
        """Write the request's line and telemetry. ``route`` is the matched route's template
        (None when no route matched); ``started`` is ``time.perf_counter_ns()`` at arrival."""
        now = self._clock()
        stamp = self._stamps.at(now)
        duration_us = (time.perf_counter_ns() - started) // 1000
        level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
        # The object JsonFormatter would write: its head (time, level, logger, message), then
        # the request's fields.
        line: dict[str, Any] = {
            "ts": stamp + "+00:00",
            "level": "error" if level == logging.ERROR else "info",
            "logger": REQUEST_LOGGER,
            "message": "request",
            "event": "request",
            "request_id": record.request_id,
            "method": method,
            "route": route,
            "status": status,
            "batch_size": record.batch_size,
            "scoring_us": record.scoring_us,
            "duration_us": duration_us,
            "model_version": self.model_version,
        }
        if record.lambda_request_id:
            line["lambda_request_id"] = record.lambda_request_id
        if record.error_fields:
            line["error_fields"] = record.error_fields[:20]
        enabled = self.log.isEnabledFor(level)
        stream = direct_stream(self.log) if enabled else None
        # When the line goes straight to stdout, so do the telemetry's stdout records, encoded
        # with it in one call and written with it in one write.
        joined = stream is not None and stream is sys.stdout
        lines: list[Any] = [line]
        if self.telemetry_on:
            route_name = route or UNMATCHED_ROUTE
            self._telemetry(route_name, record, status, duration_us, now, stamp, joined, lines)
        if stream is not None:
            try:
                data = _encode_lines(lines)
            except Exception:  # a record that does not encode: the request line alone
                self.log.exception(
                    "telemetry failed", extra={"fields": {"event": "telemetry_error"}}
                )
                data = _encode_lines(lines[:1])
            fd = self._fd if stream is self._fd_stream else self._stream_fd(stream)
            if fd >= 0:
                # The encoded bytes straight to the stream's file: the text layer would decode,
                # re-encode and buffer them first, copies that cost more per byte inside a
                # request than the write itself. Flushed first so that whatever else was
                # written to the stream (a print) keeps its place.
                stream.flush()
                write_fd(fd, data)
            else:
                stream.write(data.decode())
                stream.flush()
        elif enabled:  # someone else's handlers (e.g. pytest's caplog): go through logging
            fields = {name: value for name, value in line.items() if name not in _HEAD}
            self.log.log(level, "request", extra={"fields": fields})
        if self.telemetry_on and not (joined and self.telemetry.flush is flush_stdout):
            try:
                self.telemetry.flush()
            except Exception:
                self.log.exception(
                    "telemetry failed", extra={"fields": {"event": "telemetry_error"}}
                )

    def _stream_fd(self, stream: TextIO) -> int:
        """``stream``'s file descriptor for :meth:`write` (see :func:`utf8_fd`), kept until the
        lines go to another stream."""
        self._fd_stream, self._fd = stream, utf8_fd(stream)
        return self._fd

    def _telemetry(
        self,
        route: str,
        record: RequestLog,
        status: int,
        duration_us: int,
        now: float,
        stamp: str,
        joined: bool,
        lines: list[Any],
    ) -> None:
        """Metrics and decision records of the request, after its answer (issue 15), timed by
        the request line's clock reading (``now``, and ``stamp`` as formatted).

        When ``joined`` (the request line goes to stdout), the records of the recorders that
        write to stdout are added to ``lines`` as objects, to be encoded and written with it;
        the others write their own.
        """
        try:
            telemetry = self.telemetry
            decisions = telemetry.decisions
            if decisions is not None and record.decisions is not None and status < 400:
                if joined and decisions.write is write_stdout:
                    entry = decisions.entry(record.decisions, record.request_id, route, stamp)
                    if entry is not None:
                        lines.append(entry)
                else:
                    decisions.record(record.decisions, record.request_id, route, stamp)
            observation = Observation(
                route,
                status,
                duration_us / 1000,
                self.model_version or NO_MODEL,
                record.batch_size,
                record.scoring_us,
                record.flagged,
                record.metrics,
                now,
            )
            metrics = telemetry.metrics
            if joined and isinstance(metrics, EmfRecorder) and metrics.write is write_stdout:
                lines.append(metrics.record(observation))
            else:
                metrics.observe(observation)
        except Exception:
            self.log.exception("telemetry failed", extra={"fields": {"event": "telemetry_error"}})
