"""Installed versions of Python and named packages, for reports that must say what made them.

Standard library only, so the benchmark processes can use it without importing the training
stack (xgboost's threads would skew their timings).
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from collections.abc import Iterable


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """``{"python": ..., name: version}`` for each of ``names`` that is installed."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return found
