"""fraudlite's Streamlit client: try a transaction, score a file, read the model card.

Run with ``streamlit run client/app.py`` (or ``make client``). The API base URL comes from
``FRAUD_API_URL`` or the sidebar (default http://127.0.0.1:8000); authentication from
``FRAUD_API_AUTH`` = none | iam | jwt | apikey with ``FRAUD_API_TOKEN`` / ``FRAUD_API_KEY`` /
``FRAUD_API_REGION`` (client/auth.py). The page talks to the scoring service over HTTP only; it
never loads a model.
"""

from __future__ import annotations

import os

import streamlit as st

from client import page_batch, page_model, page_single
from client.api import DEFAULT_URL, ApiError
from client.auth import ApiAuth, AuthConfigError
from client.ui import API_AUTH_KEY, API_URL_KEY, api_client


def sidebar() -> str:
    """The API URL input and the service's health; returns the URL to use."""
    # The one place the client reads its environment.
    st.session_state.setdefault(API_URL_KEY, os.environ.get("FRAUD_API_URL", "") or DEFAULT_URL)
    auth_problem = None
    if API_AUTH_KEY not in st.session_state:
        try:
            st.session_state[API_AUTH_KEY] = ApiAuth.from_env(os.environ)
        except AuthConfigError as exc:  # names the variable, never a secret
            auth_problem = str(exc)
    with st.sidebar:
        st.header("fraudlite")
        if auth_problem:
            st.error(f"Authentication setting unusable: {auth_problem}")
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
        auth = st.session_state.get(API_AUTH_KEY)
        st.caption(
            f"Authentication: {auth.mode if isinstance(auth, ApiAuth) else 'none'} "
            "(FRAUD_API_AUTH). Scores come from the API; this page never loads a model."
        )
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
