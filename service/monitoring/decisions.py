"""Reference-bin indices in the decision log: live drift without raw values.

:class:`DriftBinsLog` is the app's decision log with one more field per record, ``drift_bins``:
the index of the reference bin each live entry of the model's profile fell in (``type``, the
raw numeric inputs, hour of day, the score; engineered features are compared offline by
``fraud-drift``, see docs/drift.md). The indices are computed after the answer has been sent,
in the same pass that renders the decision lines, so they add nothing to a request's latency;
the cost per row is measured by benchmarks/drift_bins.py. A bin index says "amount between the
training's 35th and 40th percentile", not the amount.
"""

from __future__ import annotations

import contextlib

from service.model.core import LoadedModel
from service.monitoring.binning import BINS_FIELD, Binner
from service.monitoring.reference import ProfileError, profile_from_metadata
from service.telemetry.decision_log import DecisionBatch, DecisionLog
from service.telemetry.setup import Telemetry


class DriftBinsLog(DecisionLog):
    """A :class:`DecisionLog` whose records carry ``drift_bins`` for one model's profile.

    A row the reference cannot bin (an unknown category, a missing column) is logged without
    bins, never dropped; so is a row scored by another model (a shadow's or an arm's).
    """

    def __init__(self, inner: DecisionLog, binner: Binner, model_version: str) -> None:
        super().__init__(inner.write, inner.raw_fields, inner.clock)
        self.inner = inner
        self.binner = binner
        self.model_version = model_version

    def single_bins(self, batch: DecisionBatch, probability: float) -> list[int] | None:
        # The common request: the indices go straight into the one-call line, without the
        # list per row of the general renderer.
        if batch.model_version != self.model_version:
            return None
        try:
            return self.binner.one_row(batch.columns, probability)
        except (ValueError, KeyError, IndexError):
            return None

    def rows_extra(self, batch: DecisionBatch) -> None:
        if batch.model_version == self.model_version:
            with contextlib.suppress(ValueError, KeyError, IndexError):
                batch.extra[BINS_FIELD] = self.binner.bin_rows(batch.columns, batch.probabilities)


def live_binner(model: LoadedModel) -> Binner | None:
    """The binner of ``model``'s profile for live traffic (no engineered features), or None."""
    props = model.session.get_modelmeta().custom_metadata_map
    try:
        profile = profile_from_metadata(props)
    except ProfileError:
        return None  # a malformed profile disables live drift; the model still serves
    if profile is None:
        return None
    return Binner.build(profile, model.metadata.feature_names, with_features=False)


def with_drift_bins(telemetry: Telemetry, model: object) -> Telemetry:
    """``telemetry`` whose decision log adds ``drift_bins`` when the model carries a profile."""
    if telemetry.decisions is None or not isinstance(model, LoadedModel):
        return telemetry
    binner = live_binner(model)
    if binner is None:
        return telemetry
    telemetry.decisions = DriftBinsLog(telemetry.decisions, binner, model.version)
    return telemetry
