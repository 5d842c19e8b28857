"""The decision log: one JSON line per scored transaction, the audit trail of what was decided.

A record::

    {"event": "decision", "timestamp": "2026-11-29T07:01:02.345Z", "request_id": "...",
     "transaction_id": "tx-42", "model_version": "48ce...", "route": "/predict",
     "probability": 0.997, "is_fraud": true, "threshold": 0.995,
     "contributions": [{"name": "amount", "contribution": 3.1}, ...]}

``transaction_id`` only when the client sent one; ``contributions`` only when the request asked for
an explanation (names and log-odds only: a feature *value* can be a raw amount). Raw transaction
values (type, step, amount, balances) are written only for the fields named in
``FRAUD_DECISION_LOG_FIELDS`` (opt-in: they are personal data). Account names are never kept by
the service (they are not model inputs), so they cannot be logged.

Destinations (``FRAUD_DECISION_LOG``): ``stdout`` (default; on Lambda the log group's subscription
filter ships ``{$.event = "decision"}`` lines to S3 through Firehose, see template.yaml), a file
path (JSON lines, appended), or ``off``. Nothing here calls AWS.

Extension point: a route attaches a :class:`DecisionBatch` to the request record
(``RequestLog.decisions``); until the writer writes it after the response, other
code may add optional per-row fields to ``batch.extra`` (e.g. ``{"arm": [...],
"shadow_probability": [...]}``) or request-wide ones to ``batch.fields``. ``None`` values are left
out of the record. Names must not collide with the core fields (they are dropped if they do).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Final

import msgspec
import numpy as np

from service import schema
from service.settings import SettingsError
from service.telemetry.stdout import UtcStamps, write_fd, write_stdout

DECISION_EVENT: Final = "decision"
STDOUT: Final = "stdout"
OFF: Final = "off"

#: Raw fields FRAUD_DECISION_LOG_FIELDS may name: the model inputs the service holds.
LOGGABLE_FIELDS: Final[tuple[str, ...]] = schema.MODEL_INPUTS

_CORE: Final = frozenset(
    {
        "event",
        "timestamp",
        "request_id",
        "transaction_id",
        "model_version",
        "route",
        "probability",
        "is_fraud",
        "threshold",
        "contributions",
    }
)
_encode = msgspec.json.Encoder().encode
_encode_lines = msgspec.json.Encoder().encode_lines


class DecisionLogError(SettingsError):
    """The decision log cannot be opened; raised at start, never per request. A SettingsError,
    so the entry points treat it as any unusable setting (503 naming the variable on Lambda)."""


class DecisionBatch(msgspec.Struct):
    """The decisions of one scoring request, written once the response has been sent.

    A msgspec Struct: built on every scored request, and a Struct is built in C, without the
    Python-level ``__init__`` call a plain class or a dataclass costs there. ``extra`` holds
    optional per-row fields, ``fields`` optional request-wide ones.
    """

    model_version: str
    threshold: float
    probabilities: np.ndarray
    labels: np.ndarray
    #: raw model inputs, read only for opted-in fields (and by the drift-bins log)
    columns: Mapping[str, np.ndarray]
    transaction_ids: Sequence[str | int | None] | None = None
    #: the API's explanation entries
    contributions: list[dict[str, Any]] | None = None
    extra: dict[str, Sequence[Any]] = msgspec.field(default_factory=dict)
    fields: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.probabilities)


class DecisionLine(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The record of a one-transaction request with only the core fields: the common line.

    Built by :meth:`DecisionLog.single_line` and encoded in one call, its members in
    :meth:`DecisionLog.render_rows`' order; ``transaction_id`` and ``drift_bins`` are left out
    when None. ``drift_bins`` is the drift-bins log's field (``BINS_FIELD`` in
    service/monitoring/binning.py; tests compare this line with the general path's).
    """

    event: str
    timestamp: str
    request_id: str
    model_version: str
    route: str
    threshold: float
    transaction_id: str | int | None = None
    probability: float
    is_fraud: bool
    drift_bins: list[int] | None = None


class DecisionLog:
    """Renders :class:`DecisionBatch` es as JSON lines and hands them to ``write`` in one call."""

    def __init__(
        self,
        write: Callable[[str], None],
        raw_fields: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = [name for name in raw_fields if name not in LOGGABLE_FIELDS]
        if unknown:
            raise DecisionLogError("FRAUD_DECISION_LOG_FIELDS", f"unknown field(s) {unknown}")
        self.write = write
        self.raw_fields = tuple(raw_fields)
        self.clock = clock
        self._stamps = UtcStamps(clock)

    def record(
        self, batch: DecisionBatch, request_id: str, route: str, stamp: str | None = None
    ) -> None:
        """Write one line per transaction of ``batch``.

        ``stamp`` is the request's time as :class:`~service.telemetry.stdout.UtcStamps` formats
        it (the request-log writer's, so the request's lines agree to the
        millisecond and the time is formatted once); None reads the clock.
        """
        self.write(self.render(batch, request_id, route, stamp))

    def render(
        self, batch: DecisionBatch, request_id: str, route: str, stamp: str | None = None
    ) -> str:
        """The lines of ``batch``, each ending in a newline."""
        line = self.single_line(batch, request_id, route, stamp)
        if line is not None:
            return _encode_lines((line,)).decode()
        return self.render_rows(batch, request_id, route, stamp)

    def entry(
        self, batch: DecisionBatch, request_id: str, route: str, stamp: str | None = None
    ) -> DecisionLine | msgspec.Raw | None:
        """``batch``'s lines as one object for msgspec to encode as lines (the request-log
        writer encodes it in one call with the request's other lines); None for no rows."""
        line = self.single_line(batch, request_id, route, stamp)
        if line is not None:
            return line
        lines = self.render_rows(batch, request_id, route, stamp)
        return msgspec.Raw(lines[:-1].encode()) if lines else None

    def single_line(
        self, batch: DecisionBatch, request_id: str, route: str, stamp: str | None = None
    ) -> DecisionLine | None:
        """The record of a one-transaction batch with only the core fields (the common
        request); None for any other batch, which :meth:`render_rows` writes."""
        if batch.probabilities.size != 1 or (
            batch.extra or batch.fields or self.raw_fields or batch.contributions
        ):
            return None
        probability = batch.probabilities.item()
        ids = batch.transaction_ids
        return DecisionLine(
            event=DECISION_EVENT,
            timestamp=(self._stamps.now() if stamp is None else stamp) + "Z",
            request_id=request_id,
            model_version=batch.model_version,
            route=route,
            threshold=batch.threshold,
            transaction_id=ids[0] if ids else None,
            probability=probability,
            is_fraud=bool(batch.labels.item()),
            drift_bins=self.single_bins(batch, probability),
        )

    def single_bins(self, batch: DecisionBatch, probability: float) -> list[int] | None:
        """Drift-bin indices of a one-transaction batch; None (none kept) here. The drift-bins
        log (service/monitoring/decisions.py) overrides this and :meth:`rows_extra`."""
        return None

    def rows_extra(self, batch: DecisionBatch) -> None:
        """Add per-row fields to ``batch.extra`` before :meth:`render_rows` writes it; nothing
        here (see :meth:`single_bins`)."""

    def render_rows(
        self, batch: DecisionBatch, request_id: str, route: str, stamp: str | None = None
    ) -> str:
        """The lines of any batch, each ending in a newline.

        The fields every line of the request shares are encoded once; each line adds its own.
        """
        self.rows_extra(batch)
        common: dict[str, Any] = {
            "event": DECISION_EVENT,
            "timestamp": (self._stamps.now() if stamp is None else stamp) + "Z",
            "request_id": request_id,
            "model_version": batch.model_version,
            "route": route,
            "threshold": batch.threshold,
        }
        if batch.fields:
            for name, value in batch.fields.items():
                if name not in _CORE and value is not None:
                    common[name] = value
        n = batch.size
        head = _encode(common)[:-1] + b","  # '{...,' : each line's own fields follow
        ids = batch.transaction_ids or [None] * n
        probabilities = batch.probabilities.tolist()
        labels = batch.labels.tolist()
        raw = (
            {
                name: _raw_values(batch.columns[name])
                for name in self.raw_fields
                if name in batch.columns
            }
            if self.raw_fields
            else {}
        )
        extras = (
            {k: v for k, v in batch.extra.items() if k not in _CORE and len(v) == n}
            if batch.extra
            else {}
        )
        lines = []
        for i in range(n):
            item: dict[str, Any] = {} if ids[i] is None else {"transaction_id": ids[i]}
            item["probability"] = probabilities[i]
            item["is_fraud"] = bool(labels[i])
            if batch.contributions is not None:
                item["contributions"] = _named_contributions(batch.contributions[i])
            for name, values in raw.items():
                item[name] = values[i]
            for name, values in extras.items():
                if values[i] is not None:
                    item[name] = values[i]
            lines.append(head + _encode(item)[1:])
        return b"\n".join(lines).decode() + "\n" if lines else ""


def _raw_values(column: np.ndarray) -> list[Any]:
    """A column as JSON values; float32 as the shortest decimal that round-trips (12345.67)."""
    if column.dtype == np.float32:
        return [float(str(v)) for v in column]
    return column.tolist()


def _named_contributions(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Top contributions by name and log-odds only: the ``value`` may be a raw amount."""
    return [
        {"name": item["name"], "contribution": item["contribution"]}
        for item in entry.get("features", [])
    ]


class FileLines:
    """Appends decision lines to a JSON-lines file: one request's lines, one ``write`` call.

    The text goes straight to the file descriptor (opened for appending), not through the text
    and buffer layers of a Python file object that would be flushed after every request anyway:
    the same single system call, without their per-call work.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream: IO[str] = open_for_append(path)
        self._fd = self.stream.fileno()

    def __call__(self, text: str) -> None:
        write_fd(self._fd, text.encode())

    def close(self) -> None:
        self.stream.close()


def open_for_append(path: str) -> io.TextIOWrapper:
    """Open ``path`` for appending; :class:`DecisionLogError` with the OS's reason, not a crash."""
    if os.path.isdir(path):
        raise DecisionLogError("FRAUD_DECISION_LOG", "names a directory, expected a file path")
    try:
        return open(path, "a", encoding="utf-8")  # kept open for the process
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DecisionLogError(
            "FRAUD_DECISION_LOG", f"cannot open the decision log file for appending ({reason})"
        ) from None


def open_decision_log(destination: str, raw_fields: Sequence[str] = ()) -> DecisionLog | None:
    """The decision log for ``FRAUD_DECISION_LOG`` (``stdout``, ``off`` or a file path).

    Raises :class:`DecisionLogError` at start for an unknown field or an unwritable path.
    """
    if destination == OFF:
        if raw_fields:
            DecisionLog(write_stdout, raw_fields)  # still reject unknown names
        return None
    if destination == STDOUT:
        return DecisionLog(write_stdout, raw_fields)
    log = DecisionLog(write_stdout, raw_fields)  # check the fields before creating a file
    log.write = FileLines(destination)
    return log
