"""Errors of the model layer, free of HTTP: the app maps them to answers (see service/app.py)."""

from __future__ import annotations

from enum import StrEnum


class FaultKind(StrEnum):
    """What kind of fault keeps a model from being served: the only part a client is told.

    The detail (bucket, key, paths, hashes, IAM hints) goes to the log, never into an answer.
    """

    MODEL_UNAVAILABLE = "model unavailable"  # fetching failed: S3, network, file, cache dir
    CHECKSUM_MISMATCH = "checksum mismatch"  # the bytes are not the pinned FRAUD_MODEL_SHA256
    INCOMPATIBLE_MODEL = "incompatible model"  # not ONNX, contract, identity or warm-up failure
    CONFIGURATION_ERROR = "configuration error"  # a FRAUD_* setting is unusable


class ModelLoadError(Exception):
    """The model could not be fetched, verified or opened; ``reason`` says why (for the log),
    ``kind`` says what kind of fault it is (for clients)."""

    def __init__(self, reason: str, kind: FaultKind = FaultKind.INCOMPATIBLE_MODEL) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class ScoringError(Exception):
    """The model produced something it must not (wrong dtype or shape): a bug, answered 500."""


class NotExplainable(Exception):
    """Contributions were asked of a model exported without them (a client mistake, 422)."""
