"""Per-browser-session access to the data folder, the settings and the store (Streamlit side)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.state import Settings, database_url, default_data_dir, load_settings, save_settings

# Someone is waiting at the screen: a locked database is retried for a few seconds (not a batch job's
# two minutes), then the page says so and stays usable.
STORE_RETRY_S = 3.0


def data_dir() -> Path:
    """The data folder of this dashboard (created on first use)."""
    if "data_dir" not in st.session_state:
        st.session_state["data_dir"] = str(default_data_dir())
    path = Path(st.session_state["data_dir"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings() -> Settings:
    if "dashboard_settings" not in st.session_state:
        st.session_state["dashboard_settings"] = load_settings(data_dir())
    value = st.session_state["dashboard_settings"]
    if not isinstance(value, Settings):  # the module was reloaded (development): read the file again
        value = st.session_state["dashboard_settings"] = load_settings(data_dir())
    return value


def update_settings(new: Settings) -> None:
    save_settings(data_dir(), new)
    st.session_state["dashboard_settings"] = new


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Any:
    # One store (one SQLAlchemy engine, which is thread-safe) per URL for the whole server.
    from sessions.store import open_store

    return open_store(url, max_retry_s=STORE_RETRY_S)


def store() -> Any | None:
    """The session store, or None when it cannot be opened (the page then says why)."""
    url = database_url(settings())
    try:
        found = _open_store(url)
    except Exception as e:  # a wrong URL or an unreachable server must not take the page down
        st.session_state["store_error"] = str(e)
        return None
    st.session_state.pop("store_error", None)
    return found


def store_error() -> str | None:
    err = st.session_state.get("store_error")
    return str(err) if err else None
