"""Counts to the drift verdict: PSI and KS per profiled entry, watch and drifted lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drift.errors import DriftError
from service.monitoring.binning import Binner
from service.monitoring.live import COUNTS_FORMAT
from service.monitoring.profile import DRIFT_PSI, WATCH_PSI
from service.monitoring.stats import EntryDrift, compare


@dataclass(frozen=True)
class DriftReport:
    """Every entry compared with the reference; ``watch``/``drifted`` by PSI thresholds."""

    rows: int
    entries: tuple[EntryDrift, ...]
    watch_threshold: float
    drift_threshold: float

    @property
    def watch(self) -> list[str]:
        return [
            e.name for e in self.entries if self.watch_threshold <= e.psi < self.drift_threshold
        ]

    @property
    def drifted(self) -> list[str]:
        return [e.name for e in self.entries if e.psi >= self.drift_threshold]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "rows": self.rows,
            "psi": {e.name: round(e.psi, 6) for e in self.entries},
            "ks": {e.name: round(e.ks, 6) for e in self.entries if e.ks is not None},
            "watch": self.watch,
            "drifted": self.drifted,
            "thresholds": {"watch": self.watch_threshold, "drift": self.drift_threshold},
            "counts": {e.name: list(e.counts) for e in self.entries},
        }


def add_documents(
    binner: Binner, documents: Iterable[dict[str, Any]], model_version: str
) -> tuple[np.ndarray, int]:
    """Sum live counts documents into flat counts; refuse another model's counts.

    Returns the counts and the number of rows the documents cover. Entries a document lacks
    (engineered features not counted live) stay at zero for its rows.
    """
    total = np.zeros(binner.total_bins, dtype=np.int64)
    rows = 0
    ends = [*binner.offsets[1:], binner.total_bins]
    for document in documents:
        if document.get("format") != COUNTS_FORMAT:
            raise DriftError(f"not a counts document: format {document.get('format')!r}")
        version = document.get("model_version")
        if version != model_version:
            raise DriftError(
                f"live counts are for model {str(version)[:40]!r}, not {model_version!r}"
            )
        counts = document.get("counts")
        if not isinstance(counts, dict):
            raise DriftError("counts document has no 'counts' object")
        for entry, start, end in zip(binner.entries, binner.offsets, ends, strict=True):
            values = counts.get(entry.name)
            if values is None:
                continue
            if (
                not isinstance(values, list)
                or len(values) != end - start
                or not all(isinstance(v, int) and v >= 0 for v in values)
            ):
                raise DriftError(
                    f"counts for {entry.name!r} do not match the reference's {end - start} bins"
                )
            total[start:end] += np.asarray(values, dtype=np.int64)
        rows += int(document.get("rows", 0))
    return total, rows


def build_report(
    binner: Binner, flat: np.ndarray, rows: int, watch: float = WATCH_PSI, drift: float = DRIFT_PSI
) -> DriftReport:
    """Compare flat counts with the reference; entries with no observations are left out."""
    ends = [*binner.offsets[1:], binner.total_bins]
    entries = []
    for entry, start, end in zip(binner.entries, binner.offsets, ends, strict=True):
        counts: Sequence[int] = flat[start:end]
        if int(np.sum(counts)) > 0:
            entries.append(compare(entry, counts))
    if not entries:
        raise DriftError("no rows to compare with the reference")
    return DriftReport(rows, tuple(entries), watch, drift)
