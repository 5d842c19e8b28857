"""The tables shown and offered for download after a batch run: scored rows and rejections."""

from __future__ import annotations

import math
from typing import Final

import pandas as pd

from client.batch_outcome import BatchOutcome
from client.presets import NUMERIC_FIELDS

#: Columns appended to the input table.
PROBABILITY_COLUMN: Final = "probability_fraud"
DECISION_COLUMN: Final = "is_fraud"
REASON_COLUMN: Final = "rejected_reason"


def scored_frame(frame: pd.DataFrame, outcome: BatchOutcome) -> pd.DataFrame:
    """The input table with probability, decision and rejection-reason columns appended."""
    result = frame.copy()
    rows = range(len(frame))
    result[PROBABILITY_COLUMN] = [
        outcome.predictions[i].probability if i in outcome.predictions else math.nan for i in rows
    ]
    result[DECISION_COLUMN] = pd.array(
        [outcome.predictions[i].is_fraud if i in outcome.predictions else None for i in rows],
        dtype="boolean",
    )
    reasons: dict[int, list[str]] = {}
    for rejection in outcome.rejections:
        text = f"{rejection.field}: {rejection.problem}" if rejection.field else rejection.problem
        reasons.setdefault(rejection.row - 1, []).append(text)
    result[REASON_COLUMN] = ["; ".join(reasons.get(i, [])) for i in rows]
    return result


def rejections_frame(outcome: BatchOutcome) -> pd.DataFrame:
    """The rejected rows, one line per problem; ``line`` is the line number in the file."""
    return pd.DataFrame(
        {
            "row": [r.row for r in outcome.rejections],
            "line": [r.row + 1 for r in outcome.rejections],
            "field": [r.field for r in outcome.rejections],
            "problem": [r.problem for r in outcome.rejections],
        }
    )


def display_frame(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored table for the screen: results first, numeric columns as numbers (sortable)."""
    results = [PROBABILITY_COLUMN, DECISION_COLUMN, REASON_COLUMN]
    shown = scored[results + [c for c in scored.columns if c not in results]].copy()
    for spec in NUMERIC_FIELDS:
        shown[spec.name] = pd.to_numeric(shown[spec.name], errors="coerce")
    return shown
