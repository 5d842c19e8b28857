"""Errors of fraud-drift; each carries the exit status the command ends with."""

from __future__ import annotations


class DriftError(Exception):
    """A usage or input problem (bad model, no reference, unreadable source): exit status 2."""

    status = 2
