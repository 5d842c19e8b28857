"""The batch page: upload a PaySim CSV, score it through the API, inspect and download."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from client import batch, charts
from client.api import ApiError
from client.ui import api_client, show_api_error

RESULT_KEY = "batch_result"


@dataclass(frozen=True)
class ScoredFile:
    """What the page keeps between reruns: which file, the scored table and the outcome."""

    digest: str
    name: str
    scored: pd.DataFrame
    outcome: batch.BatchOutcome
    max_batch: int


def _max_batch(base_url: str) -> int:
    """The service's batch limit from GET /model, else its documented default."""
    try:
        with api_client(base_url) as client:
            return client.model_card().max_batch or batch.DEFAULT_MAX_BATCH
    except ApiError:
        return batch.DEFAULT_MAX_BATCH  # the scoring call itself will report the problem


def score_file(base_url: str, name: str, data: bytes, frame: pd.DataFrame) -> ScoredFile:
    """Score every row of ``frame`` with a progress bar; the result goes to session state."""
    max_batch = _max_batch(base_url)
    transactions = batch.transactions_from(frame)
    bar = st.progress(0.0, text=f"Scoring {len(frame):,} rows in batches of {max_batch:,}…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scored {done:,} of {total:,} rows")

    with api_client(base_url) as client:
        outcome = batch.score_transactions(
            client, transactions, max_batch=max_batch, progress=progress
        )
    result = ScoredFile(
        hashlib.sha256(data).hexdigest(),
        name,
        batch.scored_frame(frame, outcome),
        outcome,
        max_batch,
    )
    st.session_state[RESULT_KEY] = result
    return result


def render(base_url: str) -> None:
    """Draw the page: uploader, score button, then the results of the last scored file."""
    st.subheader("Score a file")
    st.caption(
        "A CSV with the PaySim columns (type, step, amount, oldbalanceOrg, newbalanceOrig, "
        "oldbalanceDest, newbalanceDest); other columns such as nameOrig or isFraud are kept "
        "in the output but not sent."
    )
    uploaded = st.file_uploader("PaySim CSV", type=["csv"], key="batch_file")
    if uploaded is None:
        return
    data = uploaded.getvalue()
    try:
        frame = batch.read_csv(data)
    except batch.CsvError as exc:
        st.error(f"**Cannot score {uploaded.name}**: {exc}")
        return
    digest = hashlib.sha256(data).hexdigest()
    if st.button(f"Score {len(frame):,} rows", key="batch_score", type="primary"):
        score_file(base_url, uploaded.name, data, frame)
    result: ScoredFile | None = st.session_state.get(RESULT_KEY)
    if result is not None and result.digest == digest:
        show_result(result)


def show_result(result: ScoredFile) -> None:
    """The outcome of a scored file: counts, rejected rows, histogram, table, download."""
    outcome = result.outcome
    if outcome.error is not None:
        show_api_error(outcome.error, f"Scoring stopped after {outcome.scored:,} rows")
    cols = st.columns(4)
    cols[0].metric("Rows", f"{outcome.rows:,}")
    cols[1].metric("Scored", f"{outcome.scored:,}")
    cols[2].metric("Flagged as fraud", f"{outcome.flagged:,}")
    cols[3].metric("Rejected", f"{len(outcome.rejected_rows):,}")
    st.caption(
        f"model {outcome.model_version or '?'} · threshold {outcome.threshold} · "
        f"{outcome.requests} request(s), at most {result.max_batch:,} rows each"
    )
    if outcome.rejections:
        st.warning(
            f"{len(outcome.rejected_rows):,} row(s) were not scored; the reasons "
            "(row 1 is the first data row, line counts the header):"
        )
        st.dataframe(batch.rejections_frame(outcome), hide_index=True, key="batch_rejections")
    _label_summary(result.scored)
    probabilities = result.scored[batch.PROBABILITY_COLUMN].dropna().tolist()
    if probabilities and outcome.threshold is not None:
        st.altair_chart(
            charts.probability_histogram(probabilities, outcome.threshold), width="stretch"
        )
    st.dataframe(batch.display_frame(result.scored), hide_index=True, key="batch_table")
    st.download_button(
        "Download scored CSV",
        result.scored.to_csv(index=False).encode(),
        file_name=result.name.removesuffix(".csv") + "_scored.csv",
        mime="text/csv",
        key="batch_download",
        on_click="ignore",
    )


def _label_summary(scored: pd.DataFrame) -> None:
    """When the file has PaySim's isFraud labels, say how many the model caught."""
    if "isFraud" not in scored.columns:
        return
    labelled = scored["isFraud"].str.strip() == "1"
    decided = scored[batch.DECISION_COLUMN].fillna(False).astype(bool)
    caught = int((labelled & decided).sum())
    false_alarms = int((~labelled & decided).sum())
    st.info(
        f"The file labels {int(labelled.sum()):,} row(s) as fraud: {caught:,} flagged; "
        f"{false_alarms:,} flagged row(s) are labelled legitimate."
    )
