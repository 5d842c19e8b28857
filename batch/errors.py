"""Errors of a batch job: each stops the job with one clear sentence and an exit status."""

from __future__ import annotations


class BatchError(Exception):
    """A problem that stops the job before or while it runs (exit status 2: data or usage)."""

    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingColumns(BatchError):
    """An input file lacks a column the model needs: the job fails at once, naming it."""


class SourceError(BatchError):
    """SOURCE names nothing readable (no file, no matching object, unsupported type)."""


class OutputError(BatchError):
    """The output, rejects or summary cannot be written (exit status 1)."""

    exit_status = 1
