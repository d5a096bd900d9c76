"""Page 2, for the therapist: upload recordings, score them, correct the reps, download the results."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import context
from dashboard.patients import patient_picker
from dashboard.results import ScoredItem, score_file, show_item
from dashboard.state import VIDEO_TYPES
from dashboard.uploads import UPLOADS, UploadRejectedError, discard, save_upload

ITEMS = "score_items"
STALE_UPLOAD_S = 3600.0


def render() -> None:
    st.title("Score a recording")
    settings = context.settings()
    store = context.store()
    if store is None:
        st.error(f"The database cannot be opened, so results will not be saved. {context.store_error() or ''}")
    from exercises.registry import exercise_names, get_exercise

    with st.sidebar:
        patient_id = patient_picker(store, key="score", allow_none=True) if store is not None else None
    max_mb = int(st.get_option("server.maxUploadSize"))
    files = st.file_uploader(
        "Recordings of the exercise",
        type=list(VIDEO_TYPES),
        accept_multiple_files=True,
        help="The video is analysed on this computer and not kept afterwards unless Settings say so.",
        key="score_files",
    )
    st.caption(f"Up to {max_mb} MB per file · formats: {', '.join(VIDEO_TYPES)}")
    c1, c2 = st.columns([2, 1])
    exercise = c1.selectbox(
        "Exercise",
        ["auto", *exercise_names()],
        format_func=lambda n: "recognise it from the movement" if n == "auto" else get_exercise(n).title,
        key="score_exercise",
    )
    hand = c2.radio("Hand", ["auto", "left", "right"], horizontal=True, key="score_hand")
    if st.button("Score", type="primary", disabled=not files, key="score_go"):
        for old in st.session_state.pop(ITEMS, []):  # a new review replaces the old one and its raw videos
            if old.raw is not None:
                old.raw.release()
        _sweep_stale_uploads()
        items: list[ScoredItem] = []
        for f in files or []:
            try:
                path = save_upload(context.data_dir(), f.name, f.getvalue(), max_bytes=max_mb << 20)
            except UploadRejectedError as e:
                st.error(str(e))
                continue
            except OSError as e:  # e.g. the disk is full
                st.error(f"{f.name} could not be stored for scoring: {e.strerror or e}.")
                continue
            item = score_file(
                path,
                name=f.name,
                exercise=exercise,
                hand=hand,
                patient_id=patient_id,
                owned=True,  # deleted when this review ends; the store keeps its own copy if Settings say so
                keep_video=settings.keep_raw_video,
            )
            if item is not None:
                items.append(item)
        st.session_state[ITEMS] = items
    for item in st.session_state.get(ITEMS, []):
        st.divider()
        show_item(item)


def _sweep_stale_uploads() -> None:
    """Delete raw uploads left behind by a browser session that ended before its video was drawn."""
    folder = context.data_dir() / UPLOADS
    if not folder.is_dir():
        return
    now = time.time()
    for path in folder.iterdir():
        if path.is_file() and now - path.stat().st_mtime > STALE_UPLOAD_S:
            discard(path, data_dir=context.data_dir())
