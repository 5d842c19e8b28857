"""Open a model: fetch its bytes, start a session, check it against its metadata, verify its
identity (service/model/identity.py), warm it up.

:func:`load_model` never raises: it returns a :class:`LoadedModel` or a :class:`ModelLoadFailure`
carrying the kind of fault and the reason, so the app answers 503 instead of crash-looping.
"""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort

from service import schema
from service.model.core import LoadedModel, ModelLoadFailure
from service.model.errors import FaultKind, ModelLoadError
from service.model.explanation import ExplanationSpec, check_explained_warm_up
from service.model.identity import verify_version
from service.model.metadata import ModelMetadata, parse_metadata
from service.model.store import FetchedModel, fetch_model
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
    # The identity the model claims must be the one its bytes give (a forged version: refused).
    if verify_version(fetched.data) != metadata.model_version:
        raise ModelLoadError("model_version in the session's metadata differs from the file's")
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
        log.error("model not loaded: %s: %s", exc.kind, exc.reason)
        return ModelLoadFailure(reason=exc.reason, source=settings.model_uri, kind=exc.kind)
    except Exception as exc:  # anything unforeseen must still end as a 503, not a failed init
        reason = f"unexpected {type(exc).__name__} while loading the model: {exc}"
        log.exception("model not loaded: %s", reason)
        return ModelLoadFailure(
            reason=reason, source=settings.model_uri, kind=FaultKind.MODEL_UNAVAILABLE
        )
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
