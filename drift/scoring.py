"""The model as fraud-drift uses it: its reference profile, and raw rows to reference bin counts.

Raw rows are scored by the model itself (onnxruntime), so the score compared is the served one;
engineered features come from the graph's ``features`` output when the model has it (exported
with explanations), else from train/features.py, which computes the same float32 values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from drift.errors import DriftError
from service import schema
from service.model.errors import ModelLoadError
from service.model.metadata import ModelMetadata, parse_metadata
from service.monitoring.binning import Binner, BinningError
from service.monitoring.reference import ProfileError, ReferenceProfile, profile_from_metadata

#: Rows scored per session.run (bounds memory on large files).
CHUNK_ROWS = 200_000
FEATURES_OUTPUT = "features"


@dataclass
class DriftModel:
    """A model file opened for drift: session, checked metadata, reference profile, binner."""

    session: ort.InferenceSession
    metadata: ModelMetadata
    profile: ReferenceProfile
    binner: Binner
    has_features_output: bool

    @classmethod
    def open(cls, path: str) -> DriftModel:
        """Open ``path``; raises DriftError when it is no fraudlite model or has no profile."""
        if not Path(path).is_file():
            raise DriftError(f"model {path}: no such file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises several pybind error types
            raise DriftError(
                f"model {path}: not a loadable ONNX model ({type(exc).__name__})"
            ) from None
        props = session.get_modelmeta().custom_metadata_map
        try:
            metadata = parse_metadata(props)
            profile = profile_from_metadata(props)
        except (ModelLoadError, ProfileError) as exc:
            raise DriftError(f"model {path}: {exc}") from None
        if profile is None:
            raise DriftError(
                f"model {path} carries no drift reference profile: re-export it with "
                "fraud-convert (--reference-data SOURCE if its training data is elsewhere)"
            )
        has_features = FEATURES_OUTPUT in {o.name for o in session.get_outputs()}
        binner = Binner.build(profile, metadata.feature_names)
        return cls(session, metadata, profile, binner, has_features)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.metadata.inputs)

    def counts(self, frame: pd.DataFrame) -> np.ndarray:
        """Flat reference-bin counts of raw rows (every profiled entry, score included)."""
        total = np.zeros(self.binner.total_bins, dtype=np.int64)
        for start in range(0, len(frame), CHUNK_ROWS):
            total += self._chunk_counts(frame.iloc[start : start + CHUNK_ROWS])
        return total

    def _chunk_counts(self, chunk: pd.DataFrame) -> np.ndarray:
        columns = self.columns(chunk)
        unknown = sorted(set(columns["type"]) - set(self.metadata.type_values))
        if unknown:
            raise DriftError(f"unknown transaction type(s) {[str(u)[:40] for u in unknown[:5]]}")
        probabilities, features = self.score(columns)
        try:
            return self.binner.counts(self.binner.values(columns, probabilities, features))
        except BinningError as exc:
            raise DriftError(str(exc)) from None

    def columns(self, chunk: pd.DataFrame) -> dict[str, np.ndarray]:
        """Model inputs as the graph takes them: ``type`` strings, float32 numbers."""
        out: dict[str, np.ndarray] = {}
        for name in self.inputs:
            if schema.INPUT_TYPES[name] == "string":
                out[name] = chunk[name].astype(str).to_numpy(dtype=object)
            else:
                try:
                    out[name] = chunk[name].to_numpy(dtype=np.float32)
                except (TypeError, ValueError):
                    raise DriftError(f"column {name!r} is not numeric") from None
        return out

    def score(self, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities float32[N] and engineered features float32[N, F]."""
        if self.has_features_output:
            probabilities, features = self.session.run(
                [schema.OUTPUT_PROBABILITY, FEATURES_OUTPUT], columns
            )
            return probabilities, features
        (probabilities,) = self.session.run([schema.OUTPUT_PROBABILITY], columns)
        # A model exported without explanations: the training code computes the same features.
        from train.features import PaySimFeatures

        frame = pd.DataFrame(columns)
        features = PaySimFeatures(self.metadata.feature_set).fit(frame).transform(frame)
        return probabilities, features
