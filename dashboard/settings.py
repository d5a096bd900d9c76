"""Page 5: where data is stored, what is kept (privacy), the camera and the detection thresholds."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import context
from dashboard.state import Settings, database_url


def render() -> None:
    st.title("Settings")
    current = context.settings()
    data_dir = context.data_dir()
    st.caption(f"Saved in {data_dir / 'settings.json'}")
    with st.form("settings"):
        st.subheader("Storage")
        st.write(f"Data folder: `{data_dir}` (set `HANDREHAB_DATA_DIR` to move it).")
        db = st.text_input(
            "Database URL",
            value=current.database_url,
            placeholder=database_url(Settings()),
            help="Empty: the embedded SQLite file in the data folder. A clinic or lab can use "
            "postgresql://user:password@host/db.",
        )
        st.subheader("Privacy")
        keep = st.toggle(
            "Keep raw videos after scoring",
            value=current.keep_raw_video,
            help="Off: a video is deleted as soon as it has been scored; only landmarks and results are stored.",
        )
        st.subheader("Camera")
        c1, c2, c3 = st.columns(3)
        width = c1.number_input("Width", 160, 3840, current.camera_width, 16)
        height = c2.number_input("Height", 120, 2160, current.camera_height, 16)
        fps = c3.number_input("Frames per second", 5, 60, current.camera_fps)
        mirror = st.toggle("Show the camera like a mirror", value=current.mirror_preview)
        turn = st.text_input(
            "TURN server (only when the dashboard runs on another machine)",
            value=current.turn_url,
            placeholder="turn:turn.example.org:3478",
        )
        c1, c2 = st.columns(2)
        turn_user = c1.text_input("TURN username", value=current.turn_username)
        turn_cred = c2.text_input("TURN password", value=current.turn_credential, type="password")
        st.subheader("Detection")
        complexity = st.radio(
            "Hand model",
            [0, 1],
            index=current.model_complexity,
            format_func=lambda m: "fast (lite)" if m == 0 else "accurate (full)",
            horizontal=True,
        )
        confidence = st.slider("Detection confidence", 0.05, 0.95, current.min_confidence, 0.05)
        dark = st.slider("Say 'Too dark' below this brightness (0–255)", 0, 120, int(current.dark_threshold))
        size = st.slider("Say 'Hand too far' below this hand size (fraction of frame)", 0.0, 0.2, current.min_hand_size)
        max_side = st.number_input(
            "Shrink recordings to this long side before tracking (pixels)", 64, 4096, current.max_side
        )
        saved = st.form_submit_button("Save settings", type="primary")
    if saved:
        new = replace(
            current,
            database_url=db.strip(),
            keep_raw_video=keep,
            camera_width=int(width),
            camera_height=int(height),
            camera_fps=int(fps),
            mirror_preview=mirror,
            turn_url=turn.strip(),
            turn_username=turn_user.strip(),
            turn_credential=turn_cred,
            model_complexity=int(complexity),
            min_confidence=float(confidence),
            dark_threshold=float(dark),
            min_hand_size=float(size),
            max_side=int(max_side),
        )
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
