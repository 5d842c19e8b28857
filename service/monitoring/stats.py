"""Population stability index and a binned two-sample KS statistic against the reference.

PSI = sum over bins of (current - reference) * ln(current / reference), shares floored at
:data:`EPSILON` so an empty bin costs a large but finite amount. KS is the largest gap between
the reference and current cumulative shares at the reference cut points: the two-sample KS
statistic of the binned distributions (a lower bound of the KS of the raw values, which the
reference does not keep).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.monitoring.reference import DRIFT_PSI, WATCH_PSI, FeatureProfile

#: Share floor: an empty bin counts as 1 in 10,000 rows (the usual PSI smoothing).
EPSILON = 1e-4


def shares(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """Counts to shares (all zeros stay zeros)."""
    array = np.asarray(counts, dtype=np.float64)
    total = array.sum()
    return array / total if total > 0 else array


def psi(reference: Sequence[float] | np.ndarray, counts: Sequence[int] | np.ndarray) -> float:
    """Population stability index of ``counts`` against ``reference`` shares."""
    expected = np.maximum(np.asarray(reference, dtype=np.float64), EPSILON)
    actual = np.maximum(shares(counts), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def binned_ks(reference: Sequence[float] | np.ndarray, counts: Sequence[int] | np.ndarray) -> float:
    """Largest gap between the cumulative reference and current shares."""
    gap = np.cumsum(np.asarray(reference, dtype=np.float64)) - np.cumsum(shares(counts))
    return float(np.max(np.abs(gap)))


def level(value: float, watch: float = WATCH_PSI, drift: float = DRIFT_PSI) -> str:
    """``stable``, ``watch`` or ``drifted`` for a PSI value."""
    return "drifted" if value >= drift else "watch" if value >= watch else "stable"


@dataclass(frozen=True)
class EntryDrift:
    """One feature (or the score) compared with its reference."""

    name: str
    rows: int
    psi: float
    ks: float | None  # None for categorical features
    counts: tuple[int, ...]
    reference: tuple[float, ...]


def compare(entry: FeatureProfile, counts: Sequence[int] | np.ndarray) -> EntryDrift:
    """PSI (and KS for numeric entries) of ``counts`` binned against ``entry``."""
    if len(counts) != entry.n_bins:
        raise ValueError(f"{entry.name}: {len(counts)} counts for {entry.n_bins} bins")
    return EntryDrift(
        name=entry.name,
        rows=int(np.sum(counts)),
        psi=psi(entry.shares, counts),
        ks=None if entry.categorical else binned_ks(entry.shares, counts),
        counts=tuple(int(c) for c in counts),
        reference=entry.shares,
    )
