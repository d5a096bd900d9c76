"""Saving an ended live set with the library (no Streamlit: it runs on whichever thread ended the set)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dashboard_fakes import tapping_series

from dashboard.live_sets import EndedSet, SetSaver, save_set
from sessions.store import open_store


def ended(*, key: str = "live:abc:0", series: object = "taps") -> EndedSet:
    return EndedSet(
        set_id=0,
        reason="camera",
        live_count=5,
        duration_s=4.0,
        series=tapping_series(taps=5) if series == "taps" else series,
        key=key,
    )


def test_a_set_is_scored_and_saved_once_however_often_it_is_handed_over(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db")
    store.add_patient("Ada", patient_id="p1")
    saver = SetSaver(store=store, exercise="finger_tapping", patient_id="p1")
    first, again = saver(ended()), saver(ended())
    assert first.session_id is not None and again.session_id == first.session_id
    assert first.result.rep_count == 5 and not first.failed
    assert first.note == f"Saved to p1's history (session {first.session_id})."
    (info,) = store.list_sessions(patient_id="p1")
    assert (info.source, info.rep_count) == ("live", 5)
    assert store.get_series(info.id) is not None  # kept for re-scoring later


def test_a_set_without_a_patient_or_store_or_frames_is_summarised_not_saved(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db")
    no_patient = save_set(ended(), exercise="finger_tapping", store=store, patient_id=None)
    assert no_patient.result is not None and no_patient.session_id is None
    assert no_patient.note.startswith("Not saved: choose a patient")
    assert save_set(ended(), exercise="finger_tapping", store=None, patient_id="p1").note.startswith(
        "Not saved: the database cannot be opened"
    )
    nothing = save_set(ended(series=None), exercise="finger_tapping", store=store, patient_id=None)
    assert nothing.result is None and nothing.note == "Not saved: too little was recorded to analyse."
    assert store.list_sessions() == []


def test_a_store_that_cannot_save_gives_a_failed_outcome_not_an_exception(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db", max_retry_s=0.2)
    store.add_patient("Ada", patient_id="p1")
    holder = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        outcome = save_set(ended(), exercise="finger_tapping", store=store, patient_id="p1")
    finally:
        holder.rollback()
        holder.close()
    assert outcome.failed and outcome.session_id is None and outcome.result is not None
    assert outcome.note.startswith("The set was not saved: could not save the session: the database is locked")
    assert store.list_sessions() == []


def test_an_unknown_exercise_is_reported(tmp_path: Path) -> None:
    outcome = save_set(ended(), exercise="no_such_exercise", store=None, patient_id=None)
    assert outcome.failed and outcome.note.startswith("The set could not be analysed, so it was not saved:")
