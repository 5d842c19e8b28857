"""Build model.onnx from the training artifacts: features + trees + head, one graph."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from convert.artifacts import Artifacts, load_artifacts
from convert.contributions import CONTRIBUTIONS, add_gated_contributions
from convert.drift_profile import ReferenceRows, build_profile
from convert.errors import ParityFailure
from convert.features_graph import FEATURES_TENSOR, build_features
from convert.golden import golden_metadata
from convert.graph import GraphBuilder
from convert.metadata import (
    attach_metadata,
    build_metadata,
    export_versions,
    stamp_version,
    threshold_float32,
)
from convert.trees import TREE_INPUT, TREE_PROBABILITIES, convert_trees
from service.model.identity import verify_version
from service.monitoring.reference import PROFILE_KEY
from service.schema import OUTPUT_LABEL, OUTPUT_PROBABILITY

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
#: Tolerance of the self-check run on crafted edge rows before a model is written.
VERIFY_ATOL = 1e-6
#: Whether model.onnx carries the explanation outputs unless told otherwise (fraud-convert
#: --explain / --no-explain); measured cost in docs/explanations.md.
DEFAULT_EXPLAIN = True
#: Graph output exposing the engineered features (the tensor the trees read).
FEATURES_OUTPUT = FEATURES_TENSOR


def add_head(builder: GraphBuilder, probabilities: str, threshold: float) -> None:
    """Outputs from the trees' [N, 2] probabilities: ``probability`` [N] and ``label`` [N]."""
    # Column 1 is P(fraud); a scalar index gives a [N] tensor.
    positive = builder.op(
        "Gather", [probabilities, builder.const("fraud_column", 1, np.int64)], axis=1
    )
    cut = builder.const("threshold", threshold_float32(threshold), np.float32)
    label = builder.op(
        "Cast", [builder.op("GreaterOrEqual", [positive, cut])], to=TensorProto.INT64
    )
    builder.output(positive, OUTPUT_PROBABILITY, TensorProto.FLOAT, ["N"])
    builder.output(label, OUTPUT_LABEL, TensorProto.INT64, ["N"])


def build_graph(artifacts: Artifacts, explain: bool = DEFAULT_EXPLAIN) -> onnx.ModelProto:
    """The whole inference graph (no metadata): raw inputs -> probability, label.

    With ``explain``, two more outputs: ``contributions`` [N, F+1] (per-feature log-odds and
    the bias, convert/contributions.py) and ``features`` [N, F] (the engineered values they
    explain). onnxruntime computes only the nodes a ``run`` asks for, so a caller fetching
    ``probability`` and ``label`` alone does not pay for them (docs/explanations.md).
    """
    builder = GraphBuilder(f"fraudlite_{artifacts.feature_set}")
    features = build_features(builder, artifacts.feature_set)
    n_features = len(artifacts.feature_names)
    trees = convert_trees(artifacts.model, n_features)
    tree_outputs = builder.embed(trees, {TREE_INPUT: features}, prefix="xgb/")
    add_head(builder, tree_outputs[TREE_PROBABILITIES], artifacts.threshold)
    if explain:
        contributions = add_gated_contributions(builder, features, artifacts.model, n_features)
        # [N, F+1] when ``explain`` is fed true, [0, F+1] otherwise.
        builder.output(contributions, CONTRIBUTIONS, TensorProto.FLOAT, ["M", n_features + 1])
        builder.output(features, FEATURES_OUTPUT, TensorProto.FLOAT, ["N", n_features])
    return builder.model("fraudlite.convert", export_versions()["fraudlite"] or "0")


def build_model(
    artifacts: Artifacts, created_at: datetime | None = None, explain: bool = DEFAULT_EXPLAIN
) -> onnx.ModelProto:
    """The graph with its contract metadata attached."""
    model = build_graph(artifacts, explain)
    attach_metadata(model, build_metadata(artifacts, created_at, explain))  # + model_version
    # --- golden transactions (issue 16): rows and outputs a deployment re-checks ---
    attach_metadata(model, golden_metadata(model, artifacts.inputs, artifacts.threshold))
    return model


def export_model(
    artifacts_dir: Path | str,
    out_path: Path | str | None = None,
    *,
    verify: bool = True,
    explain: bool = DEFAULT_EXPLAIN,
    reference: ReferenceRows | None = None,
) -> Path:
    """Export ``ARTIFACTS_DIR/pipeline.joblib`` to ONNX; return the written path.

    With ``verify`` (the default) the model is first scored on crafted edge rows (every type,
    zero/huge balances, float32 rounding edges, every split threshold of the trees) and
    compared with the pipeline; :class:`ParityFailure` is raised instead of writing a model
    that disagrees; with ``explain`` the contributions are checked against XGBoost's
    approximate contributions on the same rows. ``reference``: rows whose drift profile
    (convert/drift_profile.py) goes into the metadata as ``drift_profile``.
    """
    artifacts_dir = Path(artifacts_dir)
    artifacts = load_artifacts(artifacts_dir)
    out = Path(out_path) if out_path is not None else artifacts_dir / MODEL_FILE
    model = build_model(artifacts, explain=explain)
    # --- drift reference profile (issue 17) ---
    if reference is not None:
        profile = build_profile(artifacts, reference)
        attach_metadata(model, {PROFILE_KEY: profile.to_json()})
    if verify:
        # Imported here: onnxruntime is only needed for the check, not to build the graph.
        from convert.edge_rows import edge_frame
        from convert.parity import check_parity, make_session

        report = check_parity(
            make_session(model.SerializeToString()),
            artifacts.pipeline,
            edge_frame(artifacts.model, artifacts.feature_set),
            atol=VERIFY_ATOL,
        )
        log.info("edge-row parity: %s", report.summary())
        if not report.passed:
            raise ParityFailure(f"exported graph disagrees with the pipeline: {report.summary()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    # The version is derived from the final content (after every metadata key was attached) and
    # checked on the bytes written, exactly as the service will check it (issue 13).
    version = stamp_version(model)
    data = model.SerializeToString()
    if verify_version(data) != version:
        raise ValueError("model_version does not verify on the serialized model")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
