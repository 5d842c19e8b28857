"""The single-transaction page: a form of raw fields, presets, and the scored answer."""

from __future__ import annotations

from typing import Any

import streamlit as st

from client import charts
from client.api import ApiError, ApiRejected, SingleResult
from client.presets import (
    FRAUD,
    NUMERIC_FIELDS,
    PRESETS,
    TRANSACTION_TYPES,
    Preset,
    transaction_from_values,
)
from client.ui import api_client, show_api_error

RESULT_KEY = "single_result"
ERROR_KEY = "single_error"
NOTE_KEY = "single_note"
_SCORE_NOW = "single_score_now"
_LINK_DONE = "single_link_preset_done"


def _key(name: str) -> str:
    return f"txn_{name}"


def _fill(preset: Preset) -> None:
    """Button callback: put a preset in the form and score it on this rerun."""
    for name, value in preset.values.items():
        st.session_state[_key(name)] = value
    st.session_state[_SCORE_NOW] = True


def _preset_from_link() -> None:
    """``?preset=fraud`` in the URL fills and scores that preset once per session (shareable
    links, and the README screenshot); ``&explain=1`` also asks for the contributions."""
    wanted = st.query_params.get("preset")
    if wanted is None or st.session_state.get(_LINK_DONE):
        return
    st.session_state[_LINK_DONE] = True
    if st.query_params.get("explain") in ("1", "true"):
        st.session_state["txn_explain"] = True
    for preset in PRESETS:
        if preset.key == wanted:
            _fill(preset)


def _form_values() -> dict[str, Any]:
    return {
        name: st.session_state[_key(name)] for name in ("type", *(f.name for f in NUMERIC_FIELDS))
    }


def _score(base_url: str, explain: bool) -> None:
    """Call the API and keep the answer (or the error) in session state for later reruns."""
    st.session_state.pop(RESULT_KEY, None)
    st.session_state.pop(ERROR_KEY, None)
    st.session_state.pop(NOTE_KEY, None)
    transaction = transaction_from_values(_form_values())
    with api_client(base_url) as client:
        try:
            try:
                result = client.predict(transaction, explain=explain)
            except ApiRejected as exc:
                if not explain or not any("explain" in d.field for d in exc.details):
                    raise
                # The service or its model has no explanations: score without, and say so.
                result = client.predict(transaction)
                st.session_state[NOTE_KEY] = f"No explanation available: {exc.describe()}"
        except ApiError as exc:
            st.session_state[ERROR_KEY] = exc
            return
    st.session_state[RESULT_KEY] = result


def render(base_url: str) -> None:
    """Draw the page; scores when the form is submitted or a preset button is pressed."""
    for name, value in PRESETS[0].values.items():
        st.session_state.setdefault(_key(name), value)
    _preset_from_link()
    st.subheader("Score one transaction")
    st.caption(
        "Start from a preset or enter the raw PaySim fields; amounts in the file's currency."
    )
    for column, preset in zip(st.columns(len(PRESETS)), PRESETS, strict=True):
        column.button(
            f"Preset: {preset.name}",
            key=f"preset_{preset.key}",
            help=preset.description,
            on_click=_fill,
            args=(preset,),
            type="primary" if preset is FRAUD else "secondary",
            width="stretch",
        )
    # Outside the form, so that it applies to the preset buttons too.
    explain = st.checkbox(
        "Explain the score",
        key="txn_explain",
        help="Ask the API for per-feature contributions (models exported with explanations).",
    )
    with st.form("transaction"):
        # Three columns: what and when, the sender's balances, the recipient's balances.
        columns = st.columns(3)
        columns[0].selectbox("Type", TRANSACTION_TYPES, key=_key("type"))
        for i, spec in enumerate(NUMERIC_FIELDS):
            column = columns[0] if i < 2 else columns[1 + (i - 2) // 2]
            column.number_input(
                spec.label,
                min_value=int(spec.min_value) if spec.integer else float(spec.min_value),
                max_value=int(spec.max_value) if spec.integer else float(spec.max_value),
                step=int(spec.step) if spec.integer else float(spec.step),
                format="%d" if spec.integer else "%.2f",
                key=_key(spec.name),
                help=spec.help,
            )
        submitted = st.form_submit_button("Score transaction", type="primary")
    if submitted or st.session_state.pop(_SCORE_NOW, False):
        _score(base_url, bool(explain))
    if ERROR_KEY in st.session_state:
        show_api_error(st.session_state[ERROR_KEY], "Scoring")
    if RESULT_KEY in st.session_state:
        _show_result(st.session_state[RESULT_KEY])


def _show_result(result: SingleResult) -> None:
    prediction = result.prediction
    probability = prediction.probability
    if prediction.is_fraud:
        st.error(
            f"**Flagged as fraud**: probability {probability:.2%} ≥ threshold",
            icon=":material/flag:",
        )
    else:
        st.success(
            f"**Not flagged**: probability {probability:.2%} < threshold",
            icon=":material/check_circle:",
        )
    cols = st.columns(3)
    cols[0].metric("Fraud probability", f"{probability * 100:.2f} %")
    cols[1].metric("Threshold", f"{prediction.threshold * 100:.2f} %")
    cols[2].metric("Round trip", f"{result.roundtrip_ms:.1f} ms")
    st.altair_chart(charts.probability_bar(probability, prediction.threshold), width="stretch")
    # The exact values too: the metric rounds, and the version does not fit in a metric.
    st.caption(
        f"model version `{prediction.model_version}` · probability_fraud = {probability!r} · "
        f"threshold = {prediction.threshold!r}"
    )
    if NOTE_KEY in st.session_state:
        st.info(st.session_state[NOTE_KEY])
    if prediction.explanation is not None and prediction.explanation.features:
        st.markdown("**Why**: contributions to the log-odds (red pushes towards fraud, blue away)")
        st.altair_chart(charts.contributions_chart(prediction.explanation), width="stretch")
        if prediction.explanation.bias is not None:
            st.caption(f"bias (base log-odds) = {prediction.explanation.bias:+.4f}")
