"""Small Streamlit helpers shared by the pages: the API client and error messages."""

from __future__ import annotations

import streamlit as st

from client.api import ApiError, ApiUnreachable, FraudApiClient
from client.auth import ApiAuth

#: Session-state key of the API base URL (the sidebar's text input).
API_URL_KEY = "api_url"
#: Session-state key of the authentication (client/auth.py), set from the environment.
API_AUTH_KEY = "api_auth"


def api_client(base_url: str) -> FraudApiClient:
    """A fresh client for one page run: cheap, and no connection outlives a rerun."""
    auth = st.session_state.get(API_AUTH_KEY)
    return FraudApiClient(base_url, auth=auth if isinstance(auth, ApiAuth) else None)


def show_api_error(error: ApiError, action: str) -> None:
    """Show an API failure as a message in the page (never a traceback), with the API's reason."""
    if isinstance(error, ApiUnreachable):
        st.error(
            f"**{action} failed: the API is unreachable.** {error.reason}. Is the service running?"
        )
        return
    st.error(f"**{action} failed.** The API answered {error.describe()}")
