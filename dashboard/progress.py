"""Page 3: a patient's metrics over sessions, the latest against the first and against normal values."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import context, raw_video
from dashboard.charts import history_figure
from dashboard.patients import patient_picker
from dashboard.results import ScoredItem, item_from_store, show_item

# Smoothness is reported for every exercise that measures it; shown after the exercise's key metrics.
EXTRA_METRICS = ("sparc_mean",)
REVIEW = "progress_review"


def comparison_frame(history: pd.DataFrame, keys: list[str], normals: dict[str, float]) -> pd.DataFrame:
    """First vs latest session for each metric, with the change and the normal value where one exists."""
    from sessions.report import format_change, format_value, metric_label

    first, last = history.iloc[0], history.iloc[-1]
    rows = []
    for k in keys:
        a, b = _plain(first.get(k)), _plain(last.get(k))
        rows.append(
            {
                "metric": "Repetitions" if k == "rep_count" else metric_label(k),
                "first": format_value(a),
                "latest": format_value(b),
                "change": format_change(a, b),
                "normal": format_value(normals[k]) if k in normals else "",
            }
        )
    return pd.DataFrame(rows)


def _plain(x: Any) -> Any:
    if x is None:
        return None
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def render() -> None:
    st.title("Progress")
    store = context.store()
    if store is None:
        st.error(f"The database cannot be opened. {context.store_error() or ''}")
        return
    with st.sidebar:
        patient_id = patient_picker(store, key="progress")
    if patient_id is None:
        st.info("Add a patient and score some sessions to see their progress here.")
        return
    history_all = store.history(patient_id)
    if history_all.empty:
        st.info("This patient has no sessions yet: score a recording or do a live set first.")
        return
    from exercises.registry import get_exercise
    from sessions.report import NORMAL_ROM_DEG, key_metrics, metric_label

    exercises = list(dict.fromkeys(history_all["exercise"]))
    exercise = st.selectbox("Exercise", exercises, format_func=_title, key="progress_exercise")
    hist = store.history(patient_id, exercise)
    latest = store.get_session(int(hist["session_id"].iloc[-1]))
    keys = [k for k in key_metrics(exercise, latest.result.metrics) if k in hist.columns and k != "duration_s"][:6]
    keys += [k for k in EXTRA_METRICS if k in hist.columns and k not in keys]
    normals = {k: v for k, (_, v) in NORMAL_ROM_DEG.get(exercise, {}).items()}
    st.caption(f"{len(hist)} session(s) of {_title(exercise)}; the latest analysis version of each.")

    st.subheader("Latest compared with the first session")
    if len(hist) >= 2:
        st.dataframe(comparison_frame(hist, ["rep_count", *keys], normals), hide_index=True)
    else:
        st.write("One session so far: the comparison appears after the next one.")

    dates = pd.to_datetime(hist["recorded_at"])
    columns = st.columns(2)
    for i, k in enumerate(["rep_count", *keys]):
        values = pd.to_numeric(hist[k], errors="coerce")
        if values.notna().sum() == 0:
            continue
        band = (0.0, normals[k]) if k in normals else None
        label = "Repetitions" if k == "rep_count" else metric_label(k)
        with columns[i % 2]:
            st.plotly_chart(history_figure(dates, values.tolist(), label=label, normal_range=band), key=f"progress_{k}")
    ex_range = get_exercise(exercise).normal_range if exercise in _known() else None
    if ex_range is not None:
        st.caption(
            f"Normal range of the main signal ({get_exercise(exercise).value_label}): {ex_range[0]}–{ex_range[1]}"
        )

    st.subheader("Sessions")
    shown = hist[["session_id", "recorded_at", "version", "kind", "rep_count", "detection_rate", *keys]]
    st.dataframe(shown, hide_index=True)
    st.download_button(
        "Download progress report (PDF)",
        _progress_pdf_maker(store, patient_id, exercise),
        file_name=f"progress_{patient_id}_{exercise}.pdf",
        mime="application/pdf",
        key="progress_pdf",
        on_click="ignore",
    )
    _review(store, hist)


def _review(store: Any, hist: pd.DataFrame) -> None:
    """Open one past session: its reps, plots and video, and the therapist's correction (a new version)."""
    st.subheader("Review or correct a session")
    rows = {int(r["session_id"]): r for r in hist.to_dict("records")}
    chosen = st.selectbox(
        "Session",
        list(rows)[::-1],  # the latest first
        index=None,
        format_func=lambda sid: (
            f"{pd.Timestamp(rows[sid]['recorded_at']):%Y-%m-%d %H:%M} · {rows[sid]['rep_count']} reps · "
            f"version {rows[sid]['version']} ({rows[sid]['kind']}) · session {sid}"
        ),
        placeholder="Choose a session to see its repetitions and correct them",
        key="progress_review_session",
    )
    current = st.session_state.get(REVIEW)
    if chosen is None or (isinstance(current, ScoredItem) and current.session_id != chosen):
        _end_review()
    if chosen is None:
        return
    item = st.session_state.get(REVIEW)
    if not isinstance(item, ScoredItem):
        found = item_from_store(store, chosen)
        if isinstance(found, str):
            st.info(found)
            return
        item = st.session_state[REVIEW] = found
    show_item(item)


def _end_review() -> None:
    """Forget the open review; a raw video copied for it from the store is deleted."""
    item = st.session_state.pop(REVIEW, None)
    if isinstance(item, ScoredItem) and item.raw is not None and raw_video.find(item.session_id or -1) is not item.raw:
        item.raw.release()


def _known() -> set[str]:
    from exercises.registry import exercise_names

    return set(exercise_names())


def _title(name: str) -> str:
    if name in _known():
        from exercises.registry import get_exercise

        return get_exercise(name).title
    return name.replace("_", " ")


def _progress_pdf_maker(store: Any, patient_id: str, exercise: str) -> Any:
    data_dir = context.data_dir()

    def make() -> bytes:
        from sessions.report import progress_report

        out = data_dir / "reports" / f"{uuid.uuid4().hex}.pdf"
        try:
            progress_report(store, patient_id, out, exercise=exercise)
            return out.read_bytes()
        finally:
            out.unlink(missing_ok=True)

    return make
