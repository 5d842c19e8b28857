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
from typing import Final

import msgspec

from service.model.core import LoadedModel
from service.monitoring.binning import BINS_FIELD, Binner
from service.monitoring.reference import ProfileError, profile_from_metadata
from service.telemetry.decision_log import DecisionBatch, DecisionLog
from service.telemetry.setup import Telemetry

#: What precedes the indices in a single-row line.
_BINS_HEAD: Final = f',"{BINS_FIELD}":'
_encode = msgspec.json.Encoder().encode


class DriftBinsLog(DecisionLog):
    """A :class:`DecisionLog` whose records carry ``drift_bins`` for one model's profile."""

    def __init__(self, inner: DecisionLog, binner: Binner, model_version: str) -> None:
        super().__init__(inner.write, inner.raw_fields, inner.clock)
        self.inner = inner
        self.binner = binner
        self.model_version = model_version

    def render(self, batch: DecisionBatch, request_id: str, route: str) -> str:
        if batch.model_version != self.model_version:
            return super().render(batch, request_id, route)
        if batch.probabilities.size == 1 and self._plain(batch):
            # The common request: the indices go straight into the pre-encoded line, without
            # a list per row or a pass through the general renderer.
            try:
                bins = self.binner.one_row(batch.columns, batch.probabilities.item())
            except (ValueError, KeyError, IndexError):
                tail = ""  # a row the reference cannot bin is logged without bins, never dropped
            else:
                tail = _BINS_HEAD + _encode(bins).decode()
            return self.render_single(batch, request_id, route, tail)
        with contextlib.suppress(ValueError, KeyError, IndexError):  # as above: without bins
            batch.extra[BINS_FIELD] = self.binner.bin_rows(batch.columns, batch.probabilities)
        return super().render(batch, request_id, route)


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
