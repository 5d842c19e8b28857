"""The loaded model: an onnxruntime session whose metadata was checked against service/schema.py.

:meth:`LoadedModel.score` is the scoring core shared by every route and protocol: float32/str numpy
columns in, probabilities and labels out, one ``session.run`` per call. It knows nothing of HTTP:
it raises :class:`~service.model.errors.ScoringError` and
:class:`~service.model.errors.NotExplainable`, which the app maps to answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import onnxruntime as ort

from service import schema
from service.model.errors import FaultKind, NotExplainable, ScoringError
from service.model.explanation import ExplanationSpec
from service.model.metadata import ModelMetadata

_PROBABILITY_ONLY = [schema.OUTPUT_PROBABILITY]
#: A dtype instance, not the type: comparing with np.float32 builds a dtype on every call.
_FLOAT32 = np.dtype(np.float32)


@dataclass(frozen=True)
class ModelLoadFailure:
    """Why no model is being served.

    ``reason`` (with the bucket, key, path or hash involved) goes to one log line only; clients
    are told :attr:`public_reason`: the ``kind`` of fault, and for a configuration error the
    variable to fix (``variable``), never its value.
    """

    reason: str
    source: str | None = None
    kind: FaultKind = FaultKind.MODEL_UNAVAILABLE
    variable: str | None = None

    @property
    def public_reason(self) -> str:
        """What a 503 answer may say: the kind of fault (and the FRAUD_* variable at fault)."""
        return f"{self.kind}: {self.variable}" if self.variable else str(self.kind)


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
        (probabilities,) = self._run(_PROBABILITY_ONLY, feeds)
        return self._decide(probabilities, len(next(iter(feeds.values()))))

    @cached_property
    def _run(self) -> Callable[[list[str], dict[str, np.ndarray]], list[Any]]:
        """``session.run`` without its per-call Python checks (required input names, OrtValue
        ownership, WebGPU graph capture): the names were checked against the metadata at load,
        the feeds are CPU numpy arrays built by the service, and the session runs on the CPU
        provider alone. Those checks cost a few µs of a 30-40 µs run (issue 20,
        benchmarks/inprocess.py). The public ``run`` if this onnxruntime has no ``_sess``."""
        native = getattr(self.session, "_sess", None)
        if native is None or not hasattr(native, "run"):
            return self.session.run

        def run(outputs: list[str], feeds: dict[str, np.ndarray]) -> list[Any]:
            return native.run(outputs, feeds, None)  # type: ignore[no-any-return]

        return run

    def score_explained(
        self, columns: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`score` plus ``contributions`` float32[N, F+1] and ``features`` float32[N, F].

        Raises NotExplainable for a model exported without explanations.
        """
        if self.explanation is None:
            raise NotExplainable()
        feeds = {name: columns[name] for name in self.input_names}
        probabilities, contributions, features = self.explanation.run(self.session, feeds)
        return (*self._decide(probabilities, len(features)), contributions, features)

    def _decide(self, probabilities: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if probabilities.dtype != _FLOAT32 or probabilities.shape != (n,):
            raise ScoringError(
                f"model returned probabilities {probabilities.dtype}{probabilities.shape}, "
                f"expected float32[{n}]"
            )
        return probabilities, probabilities >= self._threshold32

    @cached_property  # the threshold never changes; np.float32(...) per call costs a µs
    def _threshold32(self) -> np.float32:
        return np.float32(self.threshold)

    def describe(self, expose_details: bool = False) -> dict[str, Any]:
        """The model's metadata as served by GET /model.

        The file's sha256, where it came from and the export's library versions are included
        only with ``expose_details`` (FRAUD_EXPOSE_MODEL_DETAILS=1): they help an attacker more
        than a client.
        """
        m = self.metadata
        private: dict[str, Any] = (
            {"sha256": self.sha256, "source": self.source, "versions": m.versions}
            if expose_details
            else {}
        )
        return {
            "model_version": m.model_version,
            "format": m.format,
            **private,
            "feature_set": m.feature_set,
            "feature_names": list(m.feature_names),
            "inputs": [{"name": i.name, "type": i.type} for i in m.inputs],
            "type_values": list(m.type_values),
            "input_schema": m.input_schema,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "model_threshold": m.threshold,
            "threshold_policy": m.threshold_policy,  # how model_threshold was chosen (issue 21)
            "metrics": m.metrics,
            "created_at": m.created_at,
            "extra_outputs": list(self.extra_outputs),
            "explanations": self.explanation.describe() if self.explanation else None,
        }
