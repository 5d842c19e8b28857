"""The model card page: GET /model shown readably."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from client.api import ApiError
from client.ui import api_client, show_api_error

_METRIC_LABELS = {
    "pr_auc": "PR AUC",
    "roc_auc": "ROC AUC",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
}


def render(base_url: str) -> None:
    """Draw the served model's metadata: version, threshold, metrics, inputs."""
    st.subheader("Model card")
    try:
        with api_client(base_url) as client:
            card = client.model_card()
    except ApiError as exc:
        show_api_error(exc, "Reading the model card")
        return
    raw = card.raw
    cols = st.columns(3)
    cols[0].metric("Model version", card.version)
    cols[1].metric("Threshold", f"{card.threshold:.4f}" if card.threshold is not None else "?")
    cols[2].metric("Max batch", f"{card.max_batch:,}" if card.max_batch else "?")
    facts = {
        "created": card.created_at,
        "feature set": raw.get("feature_set"),
        "format": raw.get("format"),
    }
    st.caption(" · ".join(f"{k}: {v}" for k, v in facts.items() if v))
    known = {k: v for k, v in card.metrics.items() if k in _METRIC_LABELS}
    if known:
        st.markdown("**Test metrics at training time**")
        metric_cols = st.columns(len(known))
        for column, (name, value) in zip(metric_cols, known.items(), strict=True):
            column.metric(_METRIC_LABELS[name], _fmt(value))
    others = {k: v for k, v in card.metrics.items() if k not in _METRIC_LABELS}
    if others:
        st.dataframe(
            pd.DataFrame({"metric": list(others), "value": [_fmt(v) for v in others.values()]}),
            hide_index=True,
            key="model_other_metrics",
        )
    inputs = _inputs(raw)
    if inputs is not None:
        st.markdown("**Inputs**")
        st.dataframe(inputs, hide_index=True, key="model_inputs")
    with st.expander("Raw GET /model answer"):
        st.json(raw)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _inputs(raw: dict[str, Any]) -> pd.DataFrame | None:
    """The input schema as a table, whether the API sends it as an object or as JSON text."""
    schema = {"inputs": raw["inputs"]} if isinstance(raw.get("inputs"), list) else None
    schema = schema or raw.get("input_schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            return None
    if not isinstance(schema, dict) or not isinstance(schema.get("inputs"), list):
        return None
    rows = [i for i in schema["inputs"] if isinstance(i, dict)]
    return pd.DataFrame(
        {"name": [r.get("name") for r in rows], "type": [r.get("type") for r in rows]}
    )
