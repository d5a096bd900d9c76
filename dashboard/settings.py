"""Page 5: where data is stored, what is kept (privacy), the camera and the detection thresholds."""

from __future__ import annotations

from dataclasses import asdict, fields, replace

import streamlit as st

from dashboard import context
from dashboard.state import Settings, database_url


def _key(field: str) -> str:
    return f"setting_{field}"


def _seed_widgets(current: Settings) -> None:
    """Give each form widget the saved value once; from then on the widget keeps what the user typed.

    Widgets are identified by key alone (no ``value=``), so saving, which changes the saved values,
    never swaps a widget for a new one and loses the user's next edit.
    """
    for name, value in asdict(current).items():
        st.session_state.setdefault(_key(name), value)


def render() -> None:
    st.title("Settings")
    current = context.settings()
    data_dir = context.data_dir()
    _seed_widgets(current)
    st.caption(f"Saved in {data_dir / 'settings.json'}")
    with st.form("settings_form"):
        st.subheader("Storage")
        st.write(f"Data folder: `{data_dir}` (set `HANDREHAB_DATA_DIR` to move it).")
        st.text_input(
            "Database URL",
            key=_key("database_url"),
            placeholder=database_url(Settings()),
            help="Empty: the embedded SQLite file in the data folder. A clinic or lab can use "
            "postgresql://user:password@host/db.",
        )
        st.subheader("Privacy")
        st.toggle(
            "Keep raw videos after scoring",
            key=_key("keep_raw_video"),
            help="Off: a video is deleted as soon as it has been scored; only landmarks and results are stored.",
        )
        st.subheader("Camera")
        c1, c2, c3 = st.columns(3)
        c1.number_input("Width", 160, 3840, step=16, key=_key("camera_width"))
        c2.number_input("Height", 120, 2160, step=16, key=_key("camera_height"))
        c3.number_input("Frames per second", 5, 60, key=_key("camera_fps"))
        st.toggle("Show the camera like a mirror", key=_key("mirror_preview"))
        st.text_input(
            "TURN server (only when the dashboard runs on another machine)",
            key=_key("turn_url"),
            placeholder="turn:turn.example.org:3478",
        )
        c1, c2 = st.columns(2)
        c1.text_input("TURN username", key=_key("turn_username"))
        c2.text_input("TURN password", type="password", key=_key("turn_credential"))
        st.subheader("Detection")
        st.radio(
            "Hand model",
            [0, 1],
            format_func=lambda m: "fast (lite)" if m == 0 else "accurate (full)",
            horizontal=True,
            key=_key("model_complexity"),
        )
        st.slider("Detection confidence", 0.05, 0.95, step=0.05, key=_key("min_confidence"))
        st.slider("Say 'Too dark' below this brightness (0–255)", 0.0, 120.0, step=1.0, key=_key("dark_threshold"))
        st.slider(
            "Say 'Hand too far' below this hand size (fraction of frame)",
            0.0,
            0.2,
            step=0.01,
            key=_key("min_hand_size"),
        )
        st.number_input("Shrink recordings to this long side before tracking (pixels)", 64, 4096, key=_key("max_side"))
        saved = st.form_submit_button("Save settings", type="primary")
    if saved:
        _save(current)


def _save(current: Settings) -> None:
    values = {f.name: st.session_state[_key(f.name)] for f in fields(Settings)}
    for name in ("database_url", "turn_url", "turn_username"):
        values[name] = str(values[name]).strip()
    new = replace(current, **values)
    problems = new.validate()
    if problems:
        for p in problems:
            st.error(p)
        return
    context.update_settings(new)
    if context.store() is None:
        st.warning(f"Settings saved, but the database cannot be opened: {context.store_error()}")
    else:
        st.success("Settings saved.")
