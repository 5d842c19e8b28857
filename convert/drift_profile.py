"""The drift reference profile, computed at convert time on the model's training rows.

For every raw input and engineered feature the model uses: 20 quantile bins (fewer where values
tie) and the training share per bin; category shares for ``type``; the same for the score. Time
is profiled as hour of day (``step`` modulo 24), never as ``step``, which only grows. One-hot
``type_*`` features are the ``type`` categories. The profile goes into the model metadata as
``drift_profile`` (service/monitoring/reference.py reads it); it is a few KB.

The training rows are re-derived from ``metrics.json``: the same data source (``synthetic:N``
with its seed, ``hf:NAME``, or the file, checked against its recorded sha256), split again as
fraud-train split it, train part only. ``fraud-convert --reference-data SOURCE`` profiles
another set of rows instead.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from convert.artifacts import Artifacts
from convert.errors import ArtifactsError
from service.monitoring.binning import hour_of_day
from service.monitoring.reference import SCORE, FeatureProfile, ReferenceProfile
from service.schema import TRANSACTION_TYPES
from train.features import ENGINEERED, PaySimFeatures

#: Quantile bins per numeric feature (the issue asks for 10-20; more bins see narrower shifts).
DEFAULT_BINS = 20
#: How fraud-train describes generated data in metrics.json["data"]["source"].
_SYNTHETIC = re.compile(r"^synthetic:(\d+) \(seed (\d+)\)$")


@dataclass(frozen=True)
class ReferenceRows:
    """The rows to profile, their weights and where they came from (for the convert log)."""

    frame: pd.DataFrame
    weights: np.ndarray | None
    description: str


def quantile_edges(
    values: np.ndarray, n_bins: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Float32 cut points at the 1/n .. (n-1)/n quantiles; ties merged, none at the maximum.

    Cut points are values of the data (inverted CDF), so a point mass such as a zero balance
    sits at a cut point and fills the bin below it (bins are ``edge[i-1] < x <= edge[i]``).
    """
    values = np.asarray(values, dtype=np.float32)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    w = np.ones(values.size) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    cumulative = np.cumsum(w) / w.sum()
    targets = np.arange(1, n_bins) / n_bins
    picks = np.minimum(np.searchsorted(cumulative, targets, side="left"), values.size - 1)
    edges = np.unique(ordered[picks])
    return edges[edges < ordered[-1]]


def bin_shares(bins: np.ndarray, n_bins: int, weights: np.ndarray | None) -> tuple[float, ...]:
    counts = np.bincount(bins, weights=weights, minlength=n_bins).astype(np.float64)
    return tuple(float(s) for s in counts / counts.sum())


def numeric_profile(
    name: str, source: str, values: np.ndarray, n_bins: int, weights: np.ndarray | None
) -> FeatureProfile:
    """Quantile edges and training shares of one numeric feature."""
    values = np.asarray(values, dtype=np.float32)
    edges = quantile_edges(values, n_bins, weights)
    # The bin rule shared with service/monitoring/binning.py: the number of edges below x.
    bins = np.searchsorted(edges, values, side="left")
    return FeatureProfile(
        name, source, bin_shares(bins, edges.size + 1, weights), tuple(map(float, edges))
    )


def profiled_features(artifacts: Artifacts) -> list[tuple[str, str]]:
    """(name, source) of every profiled entry but the score, in report order."""
    inputs = artifacts.inputs
    entries: list[tuple[str, str]] = []
    if "type" in inputs:
        entries.append(("type", "input"))
    entries += [(name, "input") for name in inputs if name not in ("type", "step")]
    if "step" in inputs:
        entries.append(("hour", "hour"))
    entries += [
        (name, "feature")
        for name in artifacts.feature_names
        if name in ENGINEERED and name != "hour" and name not in inputs
    ]
    return entries


def build_profile(
    artifacts: Artifacts, rows: ReferenceRows, n_bins: int = DEFAULT_BINS
) -> ReferenceProfile:
    """The reference profile of ``rows`` for the model in ``artifacts``."""
    frame, weights = rows.frame, rows.weights
    features = PaySimFeatures(artifacts.feature_set).fit(frame).transform(frame)
    names = list(artifacts.feature_names)
    scores = artifacts.pipeline.predict_proba(frame)[:, 1].astype(np.float32)
    entries = []
    for name, source in profiled_features(artifacts):
        if name == "type":
            types = frame["type"].astype(str).to_numpy()
            codes = np.searchsorted(np.array(TRANSACTION_TYPES), types)
            shares = bin_shares(codes, len(TRANSACTION_TYPES), weights)
            entries.append(FeatureProfile(name, source, shares, None, TRANSACTION_TYPES))
            continue
        if source == "hour":
            values = hour_of_day(frame["step"].to_numpy())
        elif source == "input":
            values = frame[name].to_numpy(dtype=np.float32)
        else:
            values = features[:, names.index(name)]
        entries.append(numeric_profile(name, source, values, n_bins, weights))
    score = numeric_profile(SCORE, "score", scores, n_bins, weights)
    return ReferenceProfile(rows=len(frame), features=tuple(entries), score=score)


def _legit_weights(frame: pd.DataFrame, legit_weight: float) -> np.ndarray | None:
    if legit_weight == 1:
        return None
    return np.where(frame["isFraud"].to_numpy() == 1, 1.0, float(legit_weight))


def training_rows(
    metrics: dict[str, Any], source: str | None = None, stream: TextIO | None = None
) -> ReferenceRows | None:
    """The rows to profile, or None when metrics.json does not say where training data is.

    ``source`` (``--reference-data``): all of its rows. Otherwise the train part of the data
    named in metrics.json, split again as fraud-train did. Raises ArtifactsError when that data
    is named but cannot be read or is not what the model was trained on.
    """
    from train.data import DataError, file_sha256, load_transactions
    from train.split import split_rows

    stream = stream or sys.stderr
    config = metrics.get("config") or {}
    seed = int(config.get("seed", 0))
    legit_weight = float(metrics.get("legit_weight", 1.0) or 1.0)
    try:
        if source is not None:
            loaded = load_transactions(source, seed=seed)
            frame = loaded.frame
            return ReferenceRows(
                frame, _legit_weights(frame, legit_weight), f"{loaded.source}, all rows"
            )
        data = metrics.get("data") or {}
        described = data.get("source")
        if not isinstance(described, str):
            return None
        match = _SYNTHETIC.match(described)
        if match:
            loaded = load_transactions(f"synthetic:{match[1]}", seed=int(match[2]))
        elif described.startswith("hf:"):
            loaded = load_transactions(described, seed=seed)
        else:
            if not Path(described).is_file():
                raise ArtifactsError(
                    f"training data {described} (metrics.json) not found: pass "
                    "--reference-data SOURCE or --no-profile"
                )
            recorded = data.get("sha256")
            if recorded and file_sha256(Path(described)) != recorded:
                raise ArtifactsError(
                    f"training data {described} changed since training (sha256 differs): "
                    "pass --reference-data SOURCE or --no-profile"
                )
            loaded = load_transactions(described, seed=seed)
    except DataError as exc:
        raise ArtifactsError(f"cannot read reference rows: {exc}") from None
    split = split_rows(
        loaded.frame,
        config.get("split", "step"),
        float(config.get("test_size", 0.2)),
        float(config.get("validation_size", 0.2)),
        seed,
    )
    frame = loaded.frame.iloc[split.train].reset_index(drop=True)
    expected = (metrics.get("rows") or {}).get("train", {}).get("rows")
    if expected is not None and expected != len(frame):
        raise ArtifactsError(
            f"re-split of {loaded.source} gives {len(frame):,} training rows, metrics.json "
            f"says {expected:,}: pass --reference-data SOURCE or --no-profile"
        )
    description = f"{loaded.source}, train part of the {split.kind} split ({len(frame):,} rows)"
    return ReferenceRows(frame, _legit_weights(frame, legit_weight), description)
