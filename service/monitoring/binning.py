"""Values to reference bin indices: every profiled entry of a batch in a few numpy calls.

A :class:`Binner` pads every entry's cut points into one ``[E, B-1]`` float32 matrix (``+inf``
past an entry's own edges), so the bin of each value of an ``[N, E]`` matrix is one broadcast
comparison and a sum: the cost per call hardly depends on the number of features, which is what
keeps live counting within a few microseconds per row (benchmarks/drift_counts.py).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import numpy as np

from service.monitoring.reference import FeatureProfile, ReferenceProfile

#: The decision-log field with a record's reference-bin indices (service/monitoring/decisions.py
#: writes it; records.py and drift/ read it). Here, not in records.py, so that writing it does
#: not import the readers (gzip, live counts) on the scoring cold path.
BINS_FIELD: Final = "drift_bins"

#: Batches up to this size are binned in plain Python (see :meth:`Binner.bin_rows`).
SMALL_BATCH = 16
# Kinds of entry in Binner._row_plan, in the order one_row tests them (raw inputs are most).
_INPUT, _CATEGORY, _HOUR, _SCORE, _FEATURE = range(5)
#: Hours in a day: ``step`` is an hour counter, compared as hour of day.
HOURS_PER_DAY = np.float32(24)


class BinningError(ValueError):
    """Values that cannot be binned against the profile (a missing column, an unknown category)."""


def hour_of_day(step: np.ndarray) -> np.ndarray:
    """``step`` modulo 24 in float32: the ``hour`` feature, as train/features.py computes it."""
    return np.fmod(np.asarray(step, dtype=np.float32), HOURS_PER_DAY)


@dataclass(frozen=True)
class Binner:  # frozen, yet cached_property works: it writes the instance __dict__
    """Bins for a chosen subset of a profile's entries (e.g. those the service can see live)."""

    entries: tuple[FeatureProfile, ...]
    feature_names: tuple[str, ...]
    edges: np.ndarray  # float32 [E, max_edges], +inf padded
    offsets: np.ndarray  # int64 [E]: start of each entry in the flat count vector
    total_bins: int

    @classmethod
    def build(
        cls,
        profile: ReferenceProfile,
        feature_names: Sequence[str] = (),
        *,
        with_features: bool = True,
    ) -> Binner:
        """A binner for ``profile``; without ``with_features`` the ``feature`` entries are left out.

        ``feature_names`` are the model's engineered feature names, in the column order of its
        ``features`` output (needed for ``feature`` entries).
        """
        entries = tuple(e for e in profile.entries if with_features or e.source != "feature")
        for entry in entries:
            if entry.source == "feature" and entry.name not in feature_names:
                raise BinningError(f"profiled feature {entry.name!r} is not a model feature")
        width = max(1, max(e.n_bins - 1 for e in entries))
        edges = np.full((len(entries), width), np.inf, dtype=np.float32)
        for row, entry in enumerate(entries):
            cuts = (
                np.arange(entry.n_bins - 1, dtype=np.float32) + np.float32(0.5)
                if entry.categorical  # category codes 0, 1, ... fall between these cuts
                else entry.edges_array()
            )
            edges[row, : cuts.size] = cuts
        sizes = np.array([e.n_bins for e in entries], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(entries, tuple(feature_names), edges, offsets, int(sizes.sum()))

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def values(
        self,
        columns: Mapping[str, np.ndarray],
        probabilities: np.ndarray,
        features: np.ndarray | None = None,
    ) -> np.ndarray:
        """The float32 ``[N, E]`` matrix of each entry's values (category codes for categories).

        ``columns``: raw inputs by name (numeric float32, ``type`` strings); ``probabilities``
        float32 [N]; ``features`` the graph's float32 [N, F] output, when ``feature`` entries
        are binned.
        """
        n = len(probabilities)
        out = np.empty((n, len(self.entries)), dtype=np.float32)
        for j, entry in enumerate(self.entries):
            if entry.source == "score":
                out[:, j] = probabilities
            elif entry.source == "hour":
                out[:, j] = hour_of_day(_column(columns, "step"))
            elif entry.source == "feature":
                if features is None:
                    raise BinningError(f"feature {entry.name!r} needs the model's features output")
                out[:, j] = features[:, self.feature_names.index(entry.name)]
            elif entry.categorical:
                out[:, j] = category_codes(_column(columns, entry.name), entry)
            else:
                out[:, j] = _column(columns, entry.name)
        return out

    def bins(self, values: np.ndarray) -> np.ndarray:
        """Bin index per value of an ``[N, E]`` matrix: the number of cut points below it."""
        return np.count_nonzero(values[:, :, None] > self.edges[None, :, :], axis=2)

    def bin_rows(
        self,
        columns: Mapping[str, np.ndarray],
        probabilities: np.ndarray,
        features: np.ndarray | None = None,
    ) -> list[list[int]]:
        """Bin indices per row as lists (what the decision log writes), the fastest way.

        Up to :data:`SMALL_BATCH` rows, plain Python (``bisect`` on the cut points as floats:
        float32 values and edges compare exactly as doubles, and ``fmod`` is exact), because a
        numpy call costs about a microsecond whatever its size; larger batches use numpy.
        """
        n = len(probabilities)
        if n > SMALL_BATCH or (features is None and self._needs_features):
            return self.bins(self.values(columns, probabilities, features)).tolist()
        if n == 1:
            return [self._one_row(columns, probabilities, features)]
        rows: list[list[int]] = [[] for _ in range(n)]
        for kind, key, cuts, lookup in self._plan:
            if kind == "score":
                values = probabilities.tolist()
            elif kind == "hour":
                values = [math.fmod(v, 24.0) for v in _column(columns, "step").tolist()]
            elif kind == "feature":
                assert features is not None and isinstance(key, int)
                values = features[:, key].tolist()
            else:
                # tolist(): iterating a numpy array element by element costs far more.
                values = _column(columns, str(key)).tolist()
            if lookup is not None:
                try:
                    for row, value in zip(rows, values, strict=True):
                        row.append(lookup[value])
                except KeyError:
                    raise BinningError(f"{key!r} has a value outside the reference") from None
            else:
                for row, value in zip(rows, values, strict=True):
                    row.append(bisect_left(cuts, value))
        return rows

    def _one_row(
        self,
        columns: Mapping[str, np.ndarray],
        probabilities: np.ndarray,
        features: np.ndarray | None,
    ) -> list[int]:
        """:meth:`bin_rows` of a single row (the common request): scalars, no lists."""
        row = []
        try:
            for kind, key, cuts, lookup in self._plan:
                if kind == "score":
                    value = float(probabilities[0])
                elif kind == "hour":
                    value = math.fmod(float(columns["step"][0]), 24.0)
                elif kind == "feature":
                    assert features is not None and isinstance(key, int)
                    value = float(features[0, key])
                elif lookup is not None:
                    row.append(lookup[columns[str(key)][0]])
                    continue
                else:
                    value = float(columns[str(key)][0])
                row.append(bisect_left(cuts, value))
        except KeyError as exc:
            raise BinningError(f"cannot bin {exc.args[0]!r} against the reference") from None
        return row

    def one_row(self, columns: Mapping[str, np.ndarray], probability: float) -> list[int]:
        """Bin indices of a single row, for binners without engineered features (the live
        decision log's): ``columns`` hold one value each, ``probability`` is the row's score.

        The request path's version of :meth:`bin_rows`: ``.item()`` turns each one-value column
        into a Python float (float32 widens exactly, as in :meth:`bin_rows`) without creating
        a numpy scalar, and ``bisect`` finds the bin. Raises BinningError (a ValueError) for a
        value or column the reference does not know.
        """
        row: list[int] = []
        append = row.append
        try:
            for code, key, cuts, lookup in self._row_plan:
                if code == _INPUT:
                    append(bisect_left(cuts, columns[key].item()))
                elif code == _CATEGORY:
                    append(lookup[columns[key].item()])
                elif code == _HOUR:
                    append(bisect_left(cuts, math.fmod(columns["step"].item(), 24.0)))
                elif code == _SCORE:
                    append(bisect_left(cuts, probability))
                else:
                    raise BinningError(f"feature {key!r} needs the model's features output")
        except KeyError as exc:
            raise BinningError(f"cannot bin {exc.args[0]!r} against the reference") from None
        return row

    @cached_property
    def _row_plan(self) -> list[tuple[int, str, list[float], dict[str, int]]]:
        """:attr:`_plan` with the kinds as small ints, most frequent first (:meth:`one_row`)."""
        codes = {"score": _SCORE, "hour": _HOUR, "feature": _FEATURE}
        return [
            (
                _CATEGORY if lookup is not None else codes.get(kind, _INPUT),
                str(key),
                cuts,
                lookup or {},
            )
            for kind, key, cuts, lookup in self._plan
        ]

    @cached_property
    def _needs_features(self) -> bool:
        return any(e.source == "feature" for e in self.entries)

    @cached_property
    def _plan(self) -> list[tuple[str, str | int, list[float], dict[str, int] | None]]:
        """Per entry: where its values come from, its cut points as floats, its category codes."""
        plan: list[tuple[str, str | int, list[float], dict[str, int] | None]] = []
        for e in self.entries:
            key: str | int = e.name
            if e.source == "feature":
                key = self.feature_names.index(e.name)
            lookup = (
                {name: code for code, name in enumerate(e.categories)} if e.categories else None
            )
            plan.append((e.source, key, [float(c) for c in e.edges_array()], lookup))
        return plan

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Flat int64 counts (entry after entry, ``total_bins`` long) of an ``[N, E]`` matrix."""
        flat = self.bins(values) + self.offsets[None, :]
        return np.bincount(flat.ravel(), minlength=self.total_bins)

    def split(self, flat: np.ndarray) -> dict[str, list[int]]:
        """Flat counts back to ``{entry name: counts per bin}``."""
        ends = [*self.offsets[1:], self.total_bins]
        return {
            e.name: [int(c) for c in flat[start:end]]
            for e, start, end in zip(self.entries, self.offsets, ends, strict=True)
        }


def category_codes(values: np.ndarray, entry: FeatureProfile) -> np.ndarray:
    """Index of each value in ``entry.categories``; an unknown value raises BinningError."""
    lookup = {name: code for code, name in enumerate(entry.categories or ())}
    # A dict lookup per value: elementwise == on object arrays costs microseconds per category.
    codes = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    if (codes < 0).any():
        unknown = sorted({str(v)[:40] for v in np.asarray(values, dtype=object)[codes < 0][:5]})
        raise BinningError(f"{entry.name!r} has value(s) outside the reference: {unknown}")
    return codes


def _column(columns: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    try:
        return columns[name]
    except KeyError:
        raise BinningError(f"no column {name!r} to bin") from None
