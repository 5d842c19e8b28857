"""Errors of the model layer, free of HTTP: the app maps them to answers (see service/app.py)."""

from __future__ import annotations


class ModelLoadError(Exception):
    """The model could not be fetched, verified or opened; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScoringError(Exception):
    """The model produced something it must not (wrong dtype or shape): a bug, answered 500."""


class NotExplainable(Exception):
    """Contributions were asked of a model exported without them (a client mistake, 422)."""
