"""Live drift counts: how many scored rows fell in each reference bin, per feature, in memory.

No transaction value is kept: only one integer per reference bin. :meth:`LiveCounts.observe` is
called with each scored batch; :meth:`LiveCounts.drain` hands the counts over as a document
(:data:`COUNTS_FORMAT`) and starts afresh. ``fraud-drift`` and the scheduled drift job read
these documents (from a JSON log line, a file or S3) and compute the same PSI as from the raw
transactions, because the bins are the reference's own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np

from service.monitoring.binning import Binner, BinningError
from service.monitoring.reference import ReferenceProfile

#: Layout version of a counts document.
COUNTS_FORMAT: Final = "fraudlite-drift-counts/1"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LiveCounts:
    """Per-bin counts of scored traffic for one model; thread-safe, cheap per row."""

    def __init__(
        self,
        profile: ReferenceProfile,
        model_version: str,
        feature_names: tuple[str, ...] = (),
        *,
        with_features: bool = False,
    ) -> None:
        self.binner = Binner.build(profile, feature_names, with_features=with_features)
        self.model_version = model_version
        self._lock = threading.Lock()
        self._counts = np.zeros(self.binner.total_bins, dtype=np.int64)
        self._rows = 0
        self._since = _now()

    @property
    def needs_features(self) -> bool:
        """Whether :meth:`observe` wants the graph's ``features`` output."""
        return any(e.source == "feature" for e in self.binner.entries)

    @property
    def rows(self) -> int:
        return self._rows

    def observe(
        self,
        columns: Mapping[str, np.ndarray],
        probabilities: np.ndarray,
        features: np.ndarray | None = None,
    ) -> None:
        """Count one scored batch. Never raises: monitoring must not fail a scoring call."""
        try:
            counts = self.binner.counts(self.binner.values(columns, probabilities, features))
        except (BinningError, ValueError, IndexError):
            return  # a batch the reference cannot bin is left out, not turned into a 500
        with self._lock:
            self._counts += counts
            self._rows += len(probabilities)

    def snapshot(self) -> dict[str, Any]:
        """The counts so far as a document, without resetting them."""
        with self._lock:
            return self._document(self._counts.copy(), self._rows, self._since)

    def drain(self) -> dict[str, Any]:
        """The counts so far as a document; the counts start again from zero."""
        with self._lock:
            counts, rows, since = self._counts, self._rows, self._since
            self._counts = np.zeros_like(counts)
            self._rows, self._since = 0, _now()
        return self._document(counts, rows, since)

    def _document(self, counts: np.ndarray, rows: int, since: str) -> dict[str, Any]:
        return {
            "format": COUNTS_FORMAT,
            "model_version": self.model_version,
            "since": since,
            "until": _now(),
            "rows": rows,
            "counts": self.binner.split(counts),
        }
