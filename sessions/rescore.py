"""Re-score stored sessions from their landmark series with the current analysis (no video needed).

After a change of thresholds or of an exercise's code, ``rescore`` runs ``sessions.pipeline.score_series``
on each stored series and stores the outcome as a new 'rescored' version; the older versions are kept.
Reps a therapist set by hand (a correction) are kept by default: only their metrics are recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sessions.result import _clean
from sessions.store import Store, exercise_params


@dataclass(frozen=True)
class Rescored:
    """What happened to one session."""

    session_id: int
    exercise: str
    old_version: int
    new_version: int | None  # None when nothing was stored (unchanged, or skipped)
    rep_count_before: int
    rep_count_after: int | None
    skipped: str | None = None  # why the session could not be re-scored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rescore_session(
    store: Store,
    session_id: int,
    *,
    author: str = "rescore",
    note: str = "",
    keep_manual_reps: bool = True,
    only_if_changed: bool = True,
    params: Mapping[str, Any] | None = None,
) -> Rescored:
    """Re-score one stored session; see :func:`rescore`."""
    from sessions.pipeline import score_series

    record = store.get_session(session_id)
    info, current = record.info, record.version
    before = current.result.rep_count

    def skip(reason: str) -> Rescored:
        return Rescored(session_id, info.exercise, current.version, None, before, None, reason)

    series = store.get_series(session_id)
    if series is None:
        return skip("no landmarks were stored with this session")
    manual = current.manual_reps if keep_manual_reps else None
    reps = [(float(a), float(b)) for a, b in manual] if manual is not None else None
    try:
        scored = score_series(
            series, current.result.video, info.exercise, reps=reps, warnings=info.tracking_warnings or ()
        )
    except KeyError as e:  # the exercise is not registered in this installation
        return skip(str(e.args[0]) if e.args else f"unknown exercise {info.exercise!r}")
    new_params = _clean(dict(params)) if params is not None else exercise_params(info.exercise)
    after = scored.result.rep_count
    if only_if_changed and scored.result.to_dict() == current.result.to_dict() and new_params == current.params:
        return Rescored(session_id, info.exercise, current.version, None, before, after)
    version = store.add_version(
        session_id, scored.result, kind="rescored", author=author, note=note, params=new_params, manual_reps=manual
    )
    return Rescored(session_id, info.exercise, current.version, version, before, after)


def rescore(
    store: Store,
    *,
    patient_id: str | None = None,
    exercise: str | None = None,
    since: datetime | date | str | None = None,
    session_ids: Sequence[int] | None = None,
    author: str = "rescore",
    note: str = "",
    keep_manual_reps: bool = True,
    only_if_changed: bool = True,
) -> list[Rescored]:
    """Re-score the stored sessions that match the filters with the analysis as it is now.

    Parameters
    ----------
    store : Store
    patient_id, exercise, since, session_ids
        Which sessions (all when none is given); ``since`` is inclusive.
    author, note : str
        Recorded with each new version.
    keep_manual_reps : bool
        Keep rep intervals a therapist set in a correction (metrics are recomputed on them); False detects
        reps afresh.
    only_if_changed : bool
        Store a new version only when the result or the thresholds differ from the current version.

    Returns
    -------
    list of Rescored
        One per matching session, oldest first; sessions without stored landmarks are reported as skipped.
    """
    found = store.list_sessions(patient_id=patient_id, exercise=exercise, since=since, ids=session_ids)
    return [
        rescore_session(
            store,
            info.id,
            author=author,
            note=note,
            keep_manual_reps=keep_manual_reps,
            only_if_changed=only_if_changed,
        )
        for info in found
    ]
