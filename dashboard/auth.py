"""Password gate: nothing about a patient is shown until the user has logged in, when a password is set.

The dashboard listens on localhost only (``.streamlit/config.toml``). To expose it, set
``HANDREHAB_PASSWORD`` or put ``password = "..."`` in ``.streamlit/secrets.toml``; a dashboard
listening on another address without a password refuses to show anything.
"""

from __future__ import annotations

import hmac
import os
import time

import streamlit as st

# Unset means every interface (Streamlit binds 0.0.0.0 then), so it does not count as local.
_LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def configured_password() -> str | None:
    """The login password from ``HANDREHAB_PASSWORD`` or the secrets file, if any."""
    env = os.environ.get("HANDREHAB_PASSWORD")
    if env:
        return env
    try:
        secret = st.secrets.get("password")
    except Exception:  # no secrets file is the normal local case
        return None
    return str(secret) if secret else None


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so the time taken does not leak the password."""
    return hmac.compare_digest(given.encode(), expected.encode())


def listening_address() -> str:
    return str(st.get_option("server.address") or "")


def require_login() -> None:
    """Stop the page here unless the user may see patient data."""
    password = configured_password()
    if password is None:
        if listening_address() not in _LOCAL_ADDRESSES:
            st.error(
                "This dashboard is reachable from other machines but has no password. "
                "Set HANDREHAB_PASSWORD (or `password` in .streamlit/secrets.toml) and restart."
            )
            st.stop()
        return
    if st.session_state.get("authenticated"):
        with st.sidebar:
            if st.button("Log out", key="logout"):
                st.session_state.clear()
                st.rerun()
        return
    st.title("handrehab")
    st.write("Log in to see patient data.")
    with st.form("login"):
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if password_matches(given, password):
            st.session_state["authenticated"] = True
            st.session_state.pop("login_password", None)
            st.rerun()
        time.sleep(1.0)  # slow down guessing
        st.error("Wrong password.")
    st.stop()
