"""fraudlite's Streamlit client: try a transaction, score a file, read the model card.

Run with ``streamlit run client/app.py`` (or ``make client``). The API base URL comes from
``FRAUD_API_URL`` or the sidebar (default http://127.0.0.1:8000). The page talks to the scoring
service over HTTP only; it never loads a model.
"""

from __future__ import annotations

import os

import streamlit as st

from client import page_batch, page_model, page_single
from client.api import DEFAULT_URL, ApiError
from client.ui import API_URL_KEY, api_client


def sidebar() -> str:
    """The API URL input and the service's health; returns the URL to use."""
    # The one place the client reads its environment.
    st.session_state.setdefault(API_URL_KEY, os.environ.get("FRAUD_API_URL", "") or DEFAULT_URL)
    with st.sidebar:
        st.header("fraudlite")
        base_url = st.text_input(
            "API URL",
            key=API_URL_KEY,
            help="Base URL of the scoring API, e.g. http://127.0.0.1:8000 or an API Gateway "
            "stage URL such as https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
        ).strip()
        try:
            with api_client(base_url) as client:
                health = client.health()
        except ApiError as exc:
            st.error(f"API not ready: {exc.describe()}")
        else:
            version = health.get("model_version", "?")
            st.success(f"API ready · model {version}")
        st.caption("Scores come from the API; this page never loads a model.")
    return base_url


def main() -> None:
    """Lay out the page: sidebar, then one tab per task."""
    st.set_page_config(page_title="fraudlite client", page_icon=":material/shield:", layout="wide")
    base_url = sidebar()
    st.title("fraudlite: fraud scoring")
    names = {"single": "Single transaction", "batch": "Batch scoring", "model": "Model card"}
    # ``?tab=batch`` or ``?tab=model`` opens that tab (links, screenshots).
    default = names.get(str(st.query_params.get("tab", "single")), names["single"])
    single, files, card = st.tabs(list(names.values()), default=default)
    with single:
        page_single.render(base_url)
    with files:
        page_batch.render(base_url)
    with card:
        page_model.render(base_url)


main()
