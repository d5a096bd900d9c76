"""Choosing (and adding) the patient a page works for; the choice follows the user across pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

_CURRENT = "patient_id"
_SIDES = {"": "not recorded", "left": "left", "right": "right", "both": "both"}


def current_patient() -> str | None:
    value = st.session_state.get(_CURRENT)
    return str(value) if value else None


def set_current_patient(patient_id: str | None) -> None:
    st.session_state[_CURRENT] = patient_id


def patient_picker(store: Any, *, key: str, allow_none: bool = False) -> str | None:
    """A patient selector with an "add a patient" form; returns the chosen id (None when there is none).

    Parameters
    ----------
    store : sessions.store.Store
        Where patients live.
    key : str
        Unique widget key prefix for this page.
    allow_none : bool
        Offer "no patient" (results are then not saved to anyone's history).
    """
    patients = store.list_patients()
    names = {p.id: f"{p.display_name} ({p.id})" for p in patients}
    # "" stands for "no patient": a None option would show as an empty selectbox.
    options: list[str] = [*([""] if allow_none else []), *names]
    current = current_patient() or ""
    if current not in options:
        current = options[0] if options else ""
        set_current_patient(current or None)
    chosen: str | None = None
    if options:
        widget = f"{key}_patient_select"
        if st.session_state.get(widget, "\0") != current:
            st.session_state[widget] = current  # follow a choice made on another page
        chosen = st.selectbox(
            "Patient",
            options,
            format_func=lambda pid: names.get(pid, "no patient (not saved to a history)"),
            key=widget,
        )
        chosen = chosen or None
        set_current_patient(chosen)
    else:
        st.info("No patients yet: add one below.")
    with st.expander("Add a patient", expanded=not patients):
        _add_patient_form(store, key=key)
    return chosen


def _add_patient_form(store: Any, *, key: str) -> None:
    with st.form(f"{key}_add_patient", clear_on_submit=True):
        name = st.text_input("Display name or pseudonym", help="Avoid full names: a pseudonym is enough.")
        pid = st.text_input("Patient id (optional)", help="Left empty, an id like p-1a2b3c4d is generated.")
        side = st.selectbox("Affected side", list(_SIDES), format_func=_SIDES.__getitem__)
        if st.form_submit_button("Add patient"):
            from sessions.store import StoreError

            try:
                new_id = store.add_patient(name.strip(), patient_id=pid.strip() or None, affected_side=side or None)
            except StoreError as e:
                st.error(str(e).capitalize())
            else:
                set_current_patient(new_id)
                st.rerun()
