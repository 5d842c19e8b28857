"""Altair charts of the client: the probability bar, the batch histogram, the contributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import altair as alt
import pandas as pd

from client.api import Explanation

FRAUD_RED: Final = "#d62728"
SAFE_BLUE: Final = "#1f77b4"
THRESHOLD_COLOR: Final = "#222222"


def _threshold_rule(threshold: float) -> alt.Chart:
    rule = pd.DataFrame({"threshold": [threshold]})
    return (
        alt.Chart(rule)
        .mark_rule(color=THRESHOLD_COLOR, strokeDash=[4, 3], size=2)
        .encode(x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=".4f")])
    )


def probability_bar(probability: float, threshold: float) -> alt.LayerChart:
    """A 0-100 % bar filled to ``probability``, with the decision threshold marked."""
    color = FRAUD_RED if probability >= threshold else SAFE_BLUE
    data = pd.DataFrame({"label": ["P(fraud)"], "probability": [probability]})
    scale = alt.Scale(domain=[0, 1])
    track = (
        alt.Chart(pd.DataFrame({"label": ["P(fraud)"], "full": [1.0]}))
        .mark_bar(color="#e8e8e8", size=28)
        .encode(
            x=alt.X("full:Q", scale=scale, axis=alt.Axis(format="%", title=None)),
            y=alt.Y("label:N", title=None),
        )
    )
    fill = (
        alt.Chart(data)
        .mark_bar(color=color, size=28)
        .encode(
            x=alt.X("probability:Q", scale=scale),
            y="label:N",
            tooltip=[alt.Tooltip("probability:Q", format=".4%")],
        )
    )
    return (track + fill + _threshold_rule(threshold)).properties(height=70)


def probability_histogram(probabilities: Sequence[float], threshold: float) -> alt.LayerChart:
    """Histogram of batch probabilities (log-scaled counts: frauds are rare) with the threshold."""
    data = pd.DataFrame({"probability": list(probabilities)})
    data["decision"] = ["flagged" if p >= threshold else "not flagged" for p in data["probability"]]
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "probability:Q",
                bin=alt.Bin(extent=[0, 1], step=0.025),
                title="fraud probability",
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("count():Q", title="transactions", scale=alt.Scale(type="symlog")),
            color=alt.Color(
                "decision:N",
                scale=alt.Scale(domain=["not flagged", "flagged"], range=[SAFE_BLUE, FRAUD_RED]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[alt.Tooltip("count():Q", title="transactions")],
        )
    )
    return (bars + _threshold_rule(threshold)).properties(height=260)


def contributions_chart(explanation: Explanation) -> alt.Chart:
    """Horizontal bars of log-odds contributions: red pushes towards fraud, blue away."""
    data = pd.DataFrame(
        {
            "feature": [c.name for c in explanation.features],
            "contribution": [c.contribution for c in explanation.features],
            "value": [str(c.value) if c.value is not None else "" for c in explanation.features],
        }
    )
    data["direction"] = [
        "towards fraud" if c > 0 else "away from fraud" for c in data["contribution"]
    ]
    order = data.reindex(data["contribution"].abs().sort_values(ascending=False).index)["feature"]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title="contribution (log-odds)"),
            y=alt.Y("feature:N", sort=list(order), title=None),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(
                    domain=["towards fraud", "away from fraud"], range=[FRAUD_RED, SAFE_BLUE]
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=["feature:N", "value:N", alt.Tooltip("contribution:Q", format="+.4f")],
        )
        .properties(height=alt.Step(28))  # one 28 px band per feature, whatever the count
    )
