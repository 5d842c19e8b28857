"""Counts to the drift verdict: PSI and KS per profiled entry, watch and drifted lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drift.errors import DriftError
from service.monitoring.binning import Binner
from service.monitoring.records import BinCounter
from service.monitoring.reference import DRIFT_PSI, WATCH_PSI, ReferenceProfile
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
    binner: Binner,
    profile: ReferenceProfile,
    documents: Iterable[dict[str, Any]],
    model_version: str,
) -> tuple[np.ndarray, int]:
    """Sum live records (``drift_bins`` decision records, counts documents) into flat counts.

    Live records cover the live entries only (no engineered features); their counts go into
    the same places of ``binner``'s full layout. Records of another model are refused.
    Returns the counts and the number of rows the records cover.
    """
    documents = list(documents)
    total = np.zeros(binner.total_bins, dtype=np.int64)
    if not documents:
        return total, 0
    live = Binner.build(profile, binner.feature_names, with_features=False)
    counter = BinCounter(live, model_version)
    for document in documents:
        counter.add(document)
    if counter.other_models:
        raise DriftError(
            f"{counter.other_models} live record(s) are for another model than {model_version!r}"
        )
    if counter.malformed:
        raise DriftError(f"{counter.malformed} live record(s) do not match the reference's bins")
    for name, counts in live.split(counter.counts).items():
        i = binner.names().index(name)
        start = int(binner.offsets[i])
        total[start : start + len(counts)] += np.asarray(counts, dtype=np.int64)
    return total, counter.rows


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
