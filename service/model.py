"""The loaded model: an onnxruntime session whose metadata was checked against service/schema.py.

:func:`load_model` never raises: it returns a :class:`LoadedModel` or a :class:`ModelLoadFailure`
carrying the reason, so the app can answer 503 with that reason instead of crash-looping.
:meth:`LoadedModel.score` is the scoring core shared by every route: float32/str numpy columns in,
probabilities and labels out, one ``session.run`` per call. :meth:`LoadedModel.score_explained`
also returns the per-feature contributions of models exported with explanations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import onnxruntime as ort

from service import schema
from service.errors import InternalError, ModelLoadError
from service.explain import not_explainable
from service.explain_model import ExplanationSpec, check_explained_warm_up
from service.metadata import ModelMetadata, parse_metadata
from service.model_store import FetchedModel, fetch_model
from service.settings import Settings

log = logging.getLogger("fraudlite.model")

_ONNX_TYPES = {"string": "tensor(string)", "float32": "tensor(float)"}
_OUTPUT_TYPES = {schema.OUTPUT_PROBABILITY: "tensor(float)", schema.OUTPUT_LABEL: "tensor(int64)"}
_EXECUTION_MODES = {
    "sequential": ort.ExecutionMode.ORT_SEQUENTIAL,
    "parallel": ort.ExecutionMode.ORT_PARALLEL,
}
_OPTIMIZATION = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


@dataclass(frozen=True)
class ModelLoadFailure:
    """Why no model is being served; ``reason`` goes into 503 answers and one log line."""

    reason: str
    source: str | None = None


@dataclass
class LoadedModel:
    """A verified, warmed-up model ready to score. Build it with :func:`open_model`."""

    session: ort.InferenceSession
    metadata: ModelMetadata
    threshold: float
    sha256: str
    source: str
    threshold_overridden: bool = False
    extra_outputs: tuple[str, ...] = field(default=())
    explanation: ExplanationSpec | None = None  # None: exported without explanations

    @property
    def version(self) -> str:
        return self.metadata.model_version

    @cached_property  # read on every scoring call; the metadata never changes
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.metadata.inputs)

    @property
    def threshold_source(self) -> str:
        return "FRAUD_THRESHOLD" if self.threshold_overridden else "model"

    def score(self, columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Score N rows in one ``session.run``.

        ``columns`` maps every model input to a 1-D array of length N (float32, or object/str for
        string inputs). Returns ``(probabilities float32[N], labels bool[N])`` where a label is
        ``probability >= threshold`` compared in float32, the precision the model works in.
        """
        # ``explain`` is not fed: it defaults to false, so the graph skips the contributions.
        feeds = {name: columns[name] for name in self.input_names}
        (probabilities,) = self.session.run([schema.OUTPUT_PROBABILITY], feeds)
        return self._decide(probabilities, len(next(iter(feeds.values()))))

    def score_explained(
        self, columns: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`score` plus ``contributions`` float32[N, F+1] and ``features`` float32[N, F].

        Raises ValidationFailed (422 naming ``explain``) for a model without explanations.
        """
        if self.explanation is None:
            raise not_explainable()
        feeds = {name: columns[name] for name in self.input_names}
        probabilities, contributions, features = self.explanation.run(self.session, feeds)
        return (*self._decide(probabilities, len(features)), contributions, features)

    def _decide(self, probabilities: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if probabilities.dtype != np.float32 or probabilities.shape != (n,):
            raise InternalError(
                f"model returned probabilities {probabilities.dtype}{probabilities.shape}, "
                f"expected float32[{n}]"
            )
        return probabilities, probabilities >= np.float32(self.threshold)

    def describe(self) -> dict[str, Any]:
        """The model's metadata as served by GET /model."""
        m = self.metadata
        return {
            "model_version": m.model_version,
            "format": m.format,
            "sha256": self.sha256,
            "feature_set": m.feature_set,
            "feature_names": list(m.feature_names),
            "inputs": [{"name": i.name, "type": i.type} for i in m.inputs],
            "type_values": list(m.type_values),
            "input_schema": m.input_schema,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "model_threshold": m.threshold,
            "metrics": m.metrics,
            "versions": m.versions,
            "created_at": m.created_at,
            "extra_outputs": list(self.extra_outputs),
            "explanations": self.explanation.describe() if self.explanation else None,
        }


def session_options(settings: Settings) -> ort.SessionOptions:
    """onnxruntime options from settings: thread counts, execution mode, graph optimisation."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.ort_intra_op_threads
    options.inter_op_num_threads = settings.ort_inter_op_threads
    options.execution_mode = _EXECUTION_MODES[settings.ort_execution_mode]
    options.graph_optimization_level = _OPTIMIZATION[settings.ort_graph_optimization]
    # Errors only: ORT warnings are not JSON and would break one-line-per-request logs.
    options.log_severity_level = 3
    return options


def open_model(fetched: FetchedModel, settings: Settings) -> LoadedModel:
    """Open, check and warm up a model from its bytes; raises ModelLoadError with the reason."""
    try:
        session = ort.InferenceSession(
            fetched.data, sess_options=session_options(settings), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises several pybind error types for unreadable files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{fetched.source} is not a loadable ONNX model: {first_line}"
        ) from None
    props = session.get_modelmeta().custom_metadata_map
    metadata = parse_metadata(props)
    extra_outputs = _check_session(session, metadata)
    threshold = settings.threshold if settings.threshold is not None else metadata.threshold
    model = LoadedModel(
        session=session,
        metadata=metadata,
        threshold=threshold,
        sha256=fetched.sha256,
        source=fetched.source,
        threshold_overridden=settings.threshold is not None,
        extra_outputs=extra_outputs,
        explanation=ExplanationSpec.from_session(session, props, metadata.feature_names),
    )
    _warm_up(model)
    return model


def load_model(settings: Settings) -> LoadedModel | ModelLoadFailure:
    """Fetch and open the model named by ``settings``; a failure is returned, never raised."""
    try:
        model = open_model(fetch_model(settings), settings)
    except ModelLoadError as exc:
        log.error("model not loaded: %s", exc.reason)
        return ModelLoadFailure(reason=exc.reason, source=settings.model_uri)
    log.info(
        "model %s loaded from %s (threshold %s from %s)",
        model.version,
        model.source,
        model.threshold,
        model.threshold_source,
    )
    return model


def _check_session(session: ort.InferenceSession, metadata: ModelMetadata) -> tuple[str, ...]:
    """The graph's real inputs/outputs must be exactly what its metadata declares."""
    declared = {i.name: _ONNX_TYPES[i.type] for i in metadata.inputs}
    actual = {i.name: i for i in session.get_inputs()}
    if set(actual) != set(declared):
        raise ModelLoadError(
            f"model inputs {sorted(actual)} do not match its input_schema {sorted(declared)}"
        )
    for name, expected in declared.items():
        arg = actual[name]
        if arg.type != expected:
            raise ModelLoadError(f"model input {name!r} is {arg.type}, its schema says {expected}")
        if arg.shape is not None and len(arg.shape) != 1:
            raise ModelLoadError(f"model input {name!r} has shape {arg.shape}, expected [N]")
    outputs = {o.name: o for o in session.get_outputs()}
    for name, expected in _OUTPUT_TYPES.items():
        if name not in outputs:
            raise ModelLoadError(f"model has no {name!r} output (outputs: {sorted(outputs)})")
        if outputs[name].type != expected:
            raise ModelLoadError(f"model output {name!r} is {outputs[name].type}, need {expected}")
    return tuple(sorted(set(outputs) - set(_OUTPUT_TYPES)))


def warm_up_columns(metadata: ModelMetadata) -> dict[str, np.ndarray]:
    """One plausible row per transaction type, used to warm the session and check its outputs."""
    n = max(len(metadata.type_values), 1)
    columns: dict[str, np.ndarray] = {}
    for spec in metadata.inputs:
        if spec.name == "type":
            columns[spec.name] = np.array(metadata.type_values, dtype=object)
        elif spec.type == "string":
            columns[spec.name] = np.array([f"C{i}" for i in range(n)], dtype=object)
        else:
            columns[spec.name] = np.linspace(0, 1000, n, dtype=np.float32)
    return columns


def _warm_up(model: LoadedModel) -> None:
    """Run the first inference now (init phase), not on the first client request."""
    columns = warm_up_columns(model.metadata)
    n = len(next(iter(columns.values()))) if columns else 0
    try:
        probabilities, labels = model.session.run(
            [schema.OUTPUT_PROBABILITY, schema.OUTPUT_LABEL], columns
        )
    except Exception as exc:
        raise ModelLoadError(f"warm-up inference failed: {exc}") from None
    if probabilities.shape != (n,) or labels.shape != (n,):
        raise ModelLoadError(
            f"model outputs have shapes {probabilities.shape} and {labels.shape}, expected ({n},)"
        )
    if not np.all(np.isfinite(probabilities)) or np.any((probabilities < 0) | (probabilities > 1)):
        raise ModelLoadError("model returned probabilities outside [0, 1] at warm-up")
    expected = (probabilities >= np.float32(model.metadata.threshold)).astype(np.int64)
    if not np.array_equal(labels, expected):
        raise ModelLoadError(
            "model's label output disagrees with probability >= its metadata threshold"
        )
    if model.explanation is not None:  # the explained path is warmed and checked too
        check_explained_warm_up(lambda: model.score_explained(columns), probabilities)
