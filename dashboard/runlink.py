"""The ``run`` key of the address bar: ``?run=<token>`` names the session's run in the store.

Only this key is read or written here; every other query key (the setup, lesson flags) is
left as it is.
"""
from __future__ import annotations

import streamlit as st

KEY = "run"


def get() -> str | None:
    """The token in the address bar, or None (only its first value if repeated)."""
    value = st.query_params.get_all(KEY)
    return value[0] if value else None


def put(token: str):
    """Make the address bar carry ``token`` (no change if it already does)."""
    if st.query_params.get_all(KEY) != [token]:
        st.query_params[KEY] = token

