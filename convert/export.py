"""Build model.onnx from the training artifacts: features + trees + head, one graph."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from convert.artifacts import Artifacts, load_artifacts
from convert.errors import ParityFailure
from convert.features_graph import build_features
from convert.graph import GraphBuilder
from convert.metadata import (
    attach_metadata,
    build_metadata,
    export_versions,
    model_version,
    threshold_float32,
)
from convert.trees import TREE_INPUT, TREE_PROBABILITIES, convert_trees
from service.schema import OUTPUT_LABEL, OUTPUT_PROBABILITY

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
#: Tolerance of the self-check run on crafted edge rows before a model is written.
VERIFY_ATOL = 1e-6


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


def build_graph(artifacts: Artifacts) -> onnx.ModelProto:
    """The whole inference graph (no metadata): raw inputs -> probability, label."""
    builder = GraphBuilder(f"fraudlite_{artifacts.feature_set}")
    features = build_features(builder, artifacts.feature_set)
    trees = convert_trees(artifacts.model, len(artifacts.feature_names))
    tree_outputs = builder.embed(trees, {TREE_INPUT: features}, prefix="xgb/")
    add_head(builder, tree_outputs[TREE_PROBABILITIES], artifacts.threshold)
    return builder.model("fraudlite.convert", export_versions()["fraudlite"] or "0")


def build_model(artifacts: Artifacts, created_at: datetime | None = None) -> onnx.ModelProto:
    """The graph with its contract metadata attached."""
    model = build_graph(artifacts)
    attach_metadata(model, build_metadata(artifacts, model_version(model), created_at))
    return model


def export_model(
    artifacts_dir: Path | str, out_path: Path | str | None = None, *, verify: bool = True
) -> Path:
    """Export ``ARTIFACTS_DIR/pipeline.joblib`` to ONNX; return the written path.

    With ``verify`` (the default) the model is first scored on crafted edge rows (every type,
    zero/huge balances, float32 rounding edges, every split threshold of the trees) and
    compared with the pipeline; :class:`ParityFailure` is raised instead of writing a model
    that disagrees.
    """
    artifacts_dir = Path(artifacts_dir)
    artifacts = load_artifacts(artifacts_dir)
    out = Path(out_path) if out_path is not None else artifacts_dir / MODEL_FILE
    model = build_model(artifacts)
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
    onnx.save_model(model, tmp)
    tmp.replace(out)
    return out
