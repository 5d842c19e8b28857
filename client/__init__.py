"""Streamlit client of the fraudlite scoring API: talks to the service over HTTP only."""
