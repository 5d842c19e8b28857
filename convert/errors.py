"""Typed errors of the converter and the parity check, each carrying its process exit status."""

from __future__ import annotations


class ConvertError(Exception):
    """Base class: a problem the user can fix; ``status`` is the CLI exit code it maps to."""

    status: int = 2


class ArtifactsError(ConvertError):
    """The artifacts directory is missing a file, or its files are inconsistent."""


class UnsupportedModelError(ConvertError):
    """The pipeline holds something this converter cannot turn into ONNX exactly."""


class ParityInputError(ConvertError):
    """The parity check cannot start: missing model/pipeline file, bad data source, mismatch."""


class ParityFailure(ConvertError):
    """The exported graph does not reproduce the pipeline within tolerance."""

    status = 1
