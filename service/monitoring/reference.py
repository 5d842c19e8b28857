"""The reference profile: what the training rows looked like, in the model's metadata.

``convert/drift_profile.py`` computes it at export time and writes it as the JSON metadata value
``drift_profile``; the service and ``fraud-drift`` parse it here. Each entry is one feature as the
model knows it:

- numeric: ``edges`` (sorted float32 cut points; bin ``i`` holds ``edges[i-1] < x <= edges[i]``,
  so ``len(edges) + 1`` bins) and ``shares`` (training share per bin);
- categorical (``type``): ``categories`` and their ``shares``.

``source`` says where a value comes from: ``input`` (a raw request field), ``hour`` (``step``
modulo 24: time is compared as hour of day, never as the ever-growing step), ``feature`` (an
engineered feature, column of the graph's ``features`` output) or ``score`` (the probability).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

#: Metadata key holding the profile (JSON).
PROFILE_KEY: Final = "drift_profile"
#: Layout version of the profile JSON.
PROFILE_FORMAT: Final = "fraudlite-drift/1"
#: Name of the score entry (the probability output).
SCORE: Final = "score"
#: Where a feature's values come from.
SOURCES: Final = ("input", "hour", "feature", "score")
#: Conventional PSI thresholds: < 0.1 stable, 0.1-0.25 watch, >= 0.25 drifted.
WATCH_PSI: Final = 0.1
DRIFT_PSI: Final = 0.25


class ProfileError(ValueError):
    """A reference profile that is missing or malformed; the message names the problem."""


@dataclass(frozen=True)
class FeatureProfile:
    """One profiled feature: numeric (``edges``) or categorical (``categories``)."""

    name: str
    source: str
    shares: tuple[float, ...]
    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None

    @property
    def categorical(self) -> bool:
        return self.categories is not None

    @property
    def n_bins(self) -> int:
        return len(self.shares)

    def edges_array(self) -> np.ndarray:
        """The cut points as float32 (the precision features and scores are computed in)."""
        return np.asarray(self.edges or (), dtype=np.float32)

    def bin_labels(self) -> list[str]:
        """Human-readable bin names, for reports and plots."""
        if self.categories is not None:
            return list(self.categories)
        edges = [_short(e) for e in self.edges or ()]
        if not edges:
            return ["all"]
        inner = (f"({a}, {b}]" for a, b in itertools.pairwise(edges))
        return [f"<= {edges[0]}", *inner, f"> {edges[-1]}"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        else:
            out["edges"] = [_short(e) for e in self.edges or ()]
        out["shares"] = [round(s, 6) for s in self.shares]
        return out


@dataclass(frozen=True)
class ReferenceProfile:
    """The features (in report order) and the score, with the number of training rows."""

    rows: int
    features: tuple[FeatureProfile, ...]
    score: FeatureProfile

    @property
    def entries(self) -> tuple[FeatureProfile, ...]:
        """Every profiled entry, features first, the score last."""
        return (*self.features, self.score)

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    def to_json(self) -> str:
        """Compact JSON, as stored in the model metadata."""
        document = {
            "format": PROFILE_FORMAT,
            "rows": self.rows,
            "features": [f.to_json() for f in self.features],
            "score": self.score.to_json(),
        }
        return json.dumps(document, separators=(",", ":"))


def _short(value: float) -> str:
    """Shortest text that reads back as the same float32 (edges are float32 values)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def parse_profile(text: str) -> ReferenceProfile:
    """Parse and check profile JSON; raises :class:`ProfileError` naming the bad part."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ProfileError(f"{PROFILE_KEY} is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"{PROFILE_KEY} format is not {PROFILE_FORMAT!r}")
    rows = document.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ProfileError(f"{PROFILE_KEY} 'rows' must be a positive integer")
    entries = document.get("features")
    if not isinstance(entries, list) or not entries:
        raise ProfileError(f"{PROFILE_KEY} has no 'features' list")
    features = tuple(_entry(e) for e in entries)
    names = [f.name for f in features]
    if len(set(names)) != len(names) or SCORE in names:
        raise ProfileError(f"{PROFILE_KEY} repeats a feature name or uses {SCORE!r}: {names}")
    score = _entry(document.get("score"))
    if score.name != SCORE or score.source != "score" or score.categorical:
        raise ProfileError(f"{PROFILE_KEY} 'score' entry must be the numeric score")
    return ReferenceProfile(rows=rows, features=features, score=score)


def profile_from_metadata(props: Mapping[str, str]) -> ReferenceProfile | None:
    """The profile in a model's metadata, or None for a model exported without one."""
    text = props.get(PROFILE_KEY)
    return None if text is None else parse_profile(text)


def _entry(raw: Any) -> FeatureProfile:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ProfileError(f"{PROFILE_KEY} entry {str(raw)[:80]!r} has no name")
    name, source = raw["name"], raw.get("source")
    if source not in SOURCES:
        raise ProfileError(f"{PROFILE_KEY} entry {name!r}: source {source!r} not in {SOURCES}")
    shares = raw.get("shares")
    if (
        not isinstance(shares, list)
        or not shares
        or not all(isinstance(s, int | float) and math.isfinite(s) and s >= 0 for s in shares)
        or not math.isclose(sum(shares), 1.0, abs_tol=1e-3)
    ):
        raise ProfileError(f"{PROFILE_KEY} entry {name!r}: shares must be >= 0 and sum to 1")
    if "categories" in raw:
        categories = raw["categories"]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ProfileError(f"{PROFILE_KEY} entry {name!r}: categories must be strings")
        if len(categories) != len(shares):
            raise ProfileError(f"{PROFILE_KEY} entry {name!r}: one share per category expected")
        return FeatureProfile(name, source, tuple(map(float, shares)), None, tuple(categories))
    edges_raw = raw.get("edges")
    try:
        edges = [float(e) for e in edges_raw] if isinstance(edges_raw, list) else None
    except (TypeError, ValueError):
        edges = None
    if edges is None or not all(math.isfinite(e) for e in edges):
        raise ProfileError(f"{PROFILE_KEY} entry {name!r}: edges must be a list of numbers")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ProfileError(f"{PROFILE_KEY} entry {name!r}: edges must be strictly increasing")
    if len(shares) != len(edges) + 1:
        raise ProfileError(f"{PROFILE_KEY} entry {name!r}: len(shares) must be len(edges) + 1")
    return FeatureProfile(name, source, tuple(map(float, shares)), tuple(edges), None)
