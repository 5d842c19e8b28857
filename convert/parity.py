"""Score the same rows with the pipeline (XGBoost) and the ONNX graph, and compare."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.pipeline import Pipeline

from convert.contributions import CONTRIBUTIONS, EXPLAIN_INPUT
from convert.errors import ParityInputError
from convert.features_graph import FEATURES_TENSOR
from convert.parity_explain import ExplainCheck, abs_diff
from service.schema import INPUT_TYPES, OUTPUT_LABEL, OUTPUT_PROBABILITY

DEFAULT_ATOL = 1e-6
#: Tolerance on contributions (log-odds) against XGBoost's approx_contribs.
DEFAULT_CONTRIB_ATOL = 1e-5
DEFAULT_BATCH = 100_000
Progress = Callable[[int, int], None]


def make_session(model: bytes | str, threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime CPU session for a model file path or serialized bytes.

    One intra-op thread by default, as the service runs (docs/onnx-session-options.md): the
    trees are then summed in XGBoost's order. ``threads=0`` lets onnxruntime choose.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Errors only: onnxruntime warns about every initializer that is also a graph input, which
    # the optional ``explain`` input is on purpose (failures still raise).
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_feed(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """The graph's inputs from a raw DataFrame, converted exactly as PaySimFeatures does."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ParityInputError(f"data has no column(s) {missing} needed by the model")
    feed: dict[str, np.ndarray] = {}
    for name in names:
        column = frame[name]
        if INPUT_TYPES.get(name) == "string":
            if isinstance(column.dtype, pd.CategoricalDtype):  # avoid a per-row str conversion
                categories = np.asarray(column.cat.categories, dtype=object)
                feed[name] = np.where(
                    column.cat.codes.to_numpy() < 0, None, categories[column.cat.codes.to_numpy()]
                )
            else:
                feed[name] = column.to_numpy(dtype=object)
        else:
            feed[name] = np.asarray(column, dtype=np.float32)
    return feed


def session_threshold(session: ort.InferenceSession) -> float:
    """The trained threshold recorded in the model's metadata."""
    meta = session.get_modelmeta().custom_metadata_map
    if "threshold" not in meta:
        raise ParityInputError(
            "the ONNX model has no 'threshold' metadata (not a fraudlite model?)"
        )
    return float(meta["threshold"])


@dataclass
class ParityReport:
    """Result of a parity check; ``to_dict()`` is the ``--json`` document."""

    rows: int
    max_abs_diff: float
    mean_abs_diff: float
    label_flips: int
    near_threshold: int
    near_threshold_flips: int
    threshold: float
    atol: float
    passed: bool
    seconds: float
    worst: list[dict[str, Any]] = field(default_factory=list)
    flips: list[dict[str, Any]] = field(default_factory=list)
    #: Whether the model has a ``contributions`` output and it was compared.
    contributions_checked: bool = False
    contributions_max_abs_diff: float | None = None
    contributions_mean_abs_diff: float | None = None
    contrib_atol: float = DEFAULT_CONTRIB_ATOL
    #: Largest contribution differences: row, column name, both values.
    contributions_worst: list[dict[str, Any]] = field(default_factory=list)
    #: Rows whose ``features`` output differs from the pipeline's features (None: no output).
    feature_mismatches: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        contributions = (
            f"contributions_max_abs_diff={self.contributions_max_abs_diff:.3g} "
            f"feature_mismatches={self.feature_mismatches} "
            if self.contributions_checked
            else "contributions=absent "
        )
        return (
            f"rows={self.rows} max_abs_diff={self.max_abs_diff:.3g} "
            f"mean_abs_diff={self.mean_abs_diff:.3g} label_flips={self.label_flips} "
            f"near_threshold={self.near_threshold} (flips {self.near_threshold_flips}) "
            f"{contributions}passed={self.passed}"
        )


def _row_records(frame: pd.DataFrame, index: np.ndarray, cols: dict[str, np.ndarray]) -> list[dict]:
    records = []
    for i in index:
        record: dict[str, Any] = {"row": int(i)}
        for name, value in frame.iloc[int(i)].items():
            record[name] = value.item() if isinstance(value, np.generic) else value
        record.update({k: v[i].item() for k, v in cols.items()})
        records.append(record)
    return records


def check_parity(
    session: ort.InferenceSession,
    pipeline: Pipeline,
    frame: pd.DataFrame,
    *,
    threshold: float | None = None,
    atol: float = DEFAULT_ATOL,
    contrib_atol: float = DEFAULT_CONTRIB_ATOL,
    batch_size: int = DEFAULT_BATCH,
    worst: int = 10,
    progress: Progress | None = None,
) -> ParityReport:
    """Compare P(fraud) and labels of ``pipeline`` and ``session`` on every row of ``frame``.

    A label flip is a row where the ONNX ``label`` differs from ``predict_proba >= threshold``;
    flips of rows whose pipeline probability lies within ``atol`` of the threshold are counted
    apart (``near_threshold_flips``) since a difference within tolerance may legitimately cross
    it. When the model has a ``contributions`` output, it is compared with XGBoost's
    ``pred_contribs=True, approx_contribs=True`` on the same rows (tolerance ``contrib_atol``,
    log-odds), and its ``features`` output with the pipeline's features (exactly). Passes when
    ``max_abs_diff <= atol``, ``label_flips == 0`` and, if checked, the contributions are
    within ``contrib_atol`` and no feature differs.
    """
    if batch_size < 1:
        raise ParityInputError(f"batch size must be >= 1, got {batch_size}")
    threshold = session_threshold(session) if threshold is None else threshold
    names = [i.name for i in session.get_inputs()]
    outputs = {o.name for o in session.get_outputs()}
    explain = CONTRIBUTIONS in outputs and FEATURES_TENSOR in outputs
    fetch = [OUTPUT_PROBABILITY, OUTPUT_LABEL]
    switch: dict[str, np.ndarray] = {}
    if explain:
        fetch += [CONTRIBUTIONS, FEATURES_TENSOR]
        if EXPLAIN_INPUT in {i.name for i in session.get_overridable_initializers()}:
            switch[EXPLAIN_INPUT] = np.array(True)
    n = len(frame)
    p_pipe = np.empty(n, dtype=np.float32)
    p_onnx = np.empty(n, dtype=np.float32)
    l_onnx = np.empty(n, dtype=np.int64)
    check = ExplainCheck(pipeline, n, worst) if explain else None
    start = time.perf_counter()
    for lo in range(0, n, batch_size):
        batch = frame.iloc[lo : lo + batch_size]
        p_pipe[lo : lo + len(batch)] = pipeline.predict_proba(batch)[:, 1]
        got = session.run(fetch, {**onnx_feed(batch, names), **switch})
        p_onnx[lo : lo + len(batch)], l_onnx[lo : lo + len(batch)] = got[0], got[1]
        if check is not None:
            check.add(lo, batch, got[2], got[3])
        if progress is not None:
            progress(lo + len(batch), n)
    seconds = time.perf_counter() - start

    diff = abs_diff(p_onnx, p_pipe)
    # The pipeline's decision as train.evaluate makes it: float32 proba >= float32 threshold.
    l_pipe = (p_pipe >= np.float32(threshold)).astype(np.int64)
    near = np.abs(p_pipe.astype(np.float64) - threshold) <= atol
    flipped = l_pipe != l_onnx
    label_flips = int(np.count_nonzero(flipped & ~near))
    max_diff = float(diff.max()) if n else 0.0
    passed = max_diff <= atol and label_flips == 0
    contrib: dict[str, Any] = {"contrib_atol": contrib_atol}
    if check is not None:
        contrib_max = float(check.row_max.max()) if n else 0.0
        contrib.update(
            contributions_checked=True,
            contributions_max_abs_diff=contrib_max,
            contributions_mean_abs_diff=check.total / max(n * len(check.columns), 1),
            contributions_worst=check.worst(worst),
            feature_mismatches=check.mismatches,
        )
        passed = passed and contrib_max <= contrib_atol and check.mismatches == 0
    cols = {
        "p_pipeline": p_pipe,
        "p_onnx": p_onnx,
        "abs_diff": diff,
        "label_pipeline": l_pipe,
        "label_onnx": l_onnx,
    }
    order = np.argsort(-diff, kind="stable")[: min(worst, n)]
    return ParityReport(
        rows=n,
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()) if n else 0.0,
        label_flips=label_flips,
        near_threshold=int(np.count_nonzero(near)),
        near_threshold_flips=int(np.count_nonzero(flipped & near)),
        threshold=threshold,
        atol=atol,
        passed=bool(passed),
        seconds=round(seconds, 3),
        worst=_row_records(frame, order, cols),
        flips=_row_records(frame, np.flatnonzero(flipped)[:worst], cols),
        **contrib,
    )
