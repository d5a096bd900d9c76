"""Page 4: bundled sample videos, so a first-time user without a camera sees every part work."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.results import ScoredItem, score_file, show_item

ITEMS = "sample_items"


def samples_dir() -> Path:
    """``sample_videos/`` beside ``app.py`` (``HANDREHAB_SAMPLES`` overrides it)."""
    env = os.environ.get("HANDREHAB_SAMPLES")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "sample_videos"


@st.cache_data(show_spinner=False)
def sample_truth(path: str, mtime: float) -> dict[str, Any]:
    """The few truth fields the page shows (the synth truth JSON beside each clip)."""
    truth = Path(path).with_name(Path(path).stem + ".truth.json")
    try:
        doc = json.loads(truth.read_text())
    except (OSError, ValueError):
        return {}
    return {k: doc.get(k) for k in ("exercise", "hand", "rep_count")}


def list_samples() -> list[Path]:
    folder = samples_dir()
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def render() -> None:
    st.title("Samples")
    st.write(
        "Short rendered videos of a hand doing each exercise, with the true number of repetitions. "
        "Open one to see what scoring a recording gives, without a camera."
    )
    samples = list_samples()
    if not samples:
        st.warning(f"No sample videos found in {samples_dir()}. Run `make samples` to render them.")
        return
    from exercises.registry import exercise_names

    known = set(exercise_names())
    name = st.selectbox("Sample", [p.name for p in samples], key="sample_choice")
    path = next(p for p in samples if p.name == name)
    truth = sample_truth(str(path), path.stat().st_mtime)
    exercise = truth.get("exercise") or path.stem
    c1, c2 = st.columns([1, 1])
    with c1:
        st.video(str(path))
    with c2:
        if truth.get("rep_count") is not None:
            st.metric("True repetitions in this clip", truth["rep_count"])
        st.write(f"Exercise: **{exercise.replace('_', ' ')}** · hand: **{truth.get('hand') or 'auto'}**")
        if exercise not in known:
            st.info("This exercise is not available in this installation yet; it will be recognised automatically.")
        go = st.button("Score this sample", type="primary", key="sample_go")
    if go:
        item = score_file(
            path,
            name=path.name,
            exercise=exercise if exercise in known else "auto",
            hand=truth.get("hand") or "auto",
            patient_id=None,
            owned=False,  # a bundled file, never deleted
            keep_video=False,
        )
        st.session_state[ITEMS] = [item] if item is not None else []
    items: list[ScoredItem] = st.session_state.get(ITEMS, [])
    for item in items:
        st.divider()
        show_item(item)
