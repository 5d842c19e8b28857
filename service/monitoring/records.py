"""Decision-log records to reference-bin counts: the live side of drift, without raw values.

The service writes each scored row's reference-bin indices into its decision-log record
(``drift_bins``, :mod:`service.monitoring.decisions`), one index per *live* entry of the
profile (every entry but the engineered features, in profile order). This module reads such
logs back, in whichever shape they reach storage:

- JSON lines, optionally after a prefix (a log line's timestamp and request id);
- CloudWatch Logs subscription envelopes (``{"messageType": "DATA_MESSAGE", "logEvents": [...]}``),
  as Firehose delivers them to S3, several concatenated without a separator;
- live counts documents (``"format": "fraudlite-drift-counts/1"``, :mod:`service.monitoring.live`).

Only records of the model being compared count (``model_version``); the rest are skipped.
Used by ``fraud-drift`` and by the scheduled drift job (service/aws/drift_job.py), which runs
in the service image: standard library and numpy only.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from service.monitoring.binning import BINS_FIELD, Binner
from service.monitoring.live import COUNTS_FORMAT

_GZIP_MAGIC: Final = b"\x1f\x8b"
_decoder = json.JSONDecoder()


def decode_bytes(data: bytes) -> str:
    """Object bytes as text, gunzipped when they are gzip (Firehose may compress)."""
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def iter_records(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``text``: one per line or concatenated; envelopes unpacked."""
    position, end = 0, len(text)
    while position < end:
        start = text.find("{", position)
        if start < 0:
            return
        try:
            value, position = _decoder.raw_decode(text, start)
        except ValueError:
            # Not JSON from here: skip to the next line (a plain-text log line).
            newline = text.find("\n", start)
            position = end if newline < 0 else newline + 1
            continue
        if isinstance(value, dict):
            yield from _unpack(value)


def _unpack(value: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if value.get("messageType") == "DATA_MESSAGE" and isinstance(value.get("logEvents"), list):
        for event in value["logEvents"]:
            message = event.get("message") if isinstance(event, dict) else None
            if isinstance(message, str):
                yield from iter_records(message)
    elif value.get("messageType") == "CONTROL_MESSAGE":
        return
    else:
        yield value


@dataclass
class BinCounter:
    """Sums ``drift_bins`` rows and counts documents of one model into flat counts."""

    binner: Binner  # the live binner: Binner.build(profile, with_features=False)
    model_version: str
    counts: np.ndarray = field(init=False)
    rows: int = 0
    other_models: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.binner.total_bins, dtype=np.int64)
        self._sizes = [e.n_bins for e in self.binner.entries]
        self._index = {e.name: i for i, e in enumerate(self.binner.entries)}

    def add(self, record: dict[str, Any]) -> bool:
        """Count one record; returns whether it carried drift information."""
        if record.get("format") == COUNTS_FORMAT:
            return self._add_document(record)
        bins = record.get(BINS_FIELD)
        if bins is None:
            return False
        if record.get("model_version") != self.model_version:
            self.other_models += 1
            return False
        if (
            not isinstance(bins, list)
            or len(bins) != len(self._sizes)
            or not all(
                isinstance(b, int) and 0 <= b < size
                for b, size in zip(bins, self._sizes, strict=True)
            )
        ):
            self.malformed += 1
            return False
        self.counts[self.binner.offsets + np.asarray(bins, dtype=np.int64)] += 1
        self.rows += 1
        return True

    def add_text(self, text: str) -> int:
        """Count every record in ``text``; returns how many carried drift information."""
        return sum(self.add(record) for record in iter_records(text))

    def _add_document(self, document: dict[str, Any]) -> bool:
        if document.get("model_version") != self.model_version:
            self.other_models += 1
            return False
        counts = document.get("counts")
        if not isinstance(counts, dict):
            self.malformed += 1
            return False
        for name, values in counts.items():
            i = self._index.get(name)
            if i is None:
                continue  # e.g. an engineered feature counted elsewhere
            if (
                not isinstance(values, list)
                or len(values) != self._sizes[i]
                or not all(isinstance(v, int) and v >= 0 for v in values)
            ):
                self.malformed += 1
                return False
        for name, values in counts.items():
            i = self._index.get(name)
            if i is not None:
                start = int(self.binner.offsets[i])
                self.counts[start : start + self._sizes[i]] += np.asarray(values, dtype=np.int64)
        self.rows += int(document.get("rows", 0))
        return True
