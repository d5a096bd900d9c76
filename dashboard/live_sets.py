"""The end of a live set: score its landmarks with the library and save them to the patient's history.

A set ends when it reaches its target, when the camera stops sending frames (unplugged, laptop asleep,
tab closed) or when the stream is stopped. Whichever comes first ends it, on whatever thread noticed
(:class:`dashboard.live_processor.LiveProcessor` guarantees once per set), so nothing here calls
Streamlit: the page reads the :class:`SetOutcome` from the processor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

REASONS = {
    "target": "Set complete",
    "camera": "The camera stopped",
    "stopped": "Set stopped",
}


@dataclass(frozen=True)
class EndedSet:
    """What a set left behind when it ended.

    Attributes
    ----------
    set_id : int
        The processor's set number.
    reason : {'target', 'camera', 'stopped'}
        Why it ended (see :data:`REASONS`).
    live_count : int
        The count the patient saw.
    duration_s : float
        From the set's first analysed frame to its last.
    series : LandmarkSeries or None
        The set's landmarks (None when fewer than two frames were analysed).
    key : str
        Unique to this set of this stream: saving it twice stores it once.
    """

    set_id: int
    reason: str
    live_count: int
    duration_s: float
    series: Any
    key: str


@dataclass(frozen=True)
class SetOutcome:
    """What became of an ended set, for the page's summary.

    Attributes
    ----------
    ended : EndedSet
    result : SessionResult or None
        The library's analysis of the set's landmarks, when it could be made.
    session_id : int or None
        The stored session, when it was saved.
    note : str
        One sentence for the patient: where it was saved, or why it was not.
    failed : bool
        Saving was attempted and failed (the note says why); the page shows it as an error.
    """

    ended: EndedSet
    result: Any = None
    session_id: int | None = None
    note: str = ""
    failed: bool = False


@dataclass(frozen=True)
class SetSaver:
    """Saves ended sets of one stream to ``patient_id``'s history in ``store`` (a ``sessions.store.Store``).

    Callable from any thread: the store is thread-safe, and nothing here touches Streamlit.
    """

    store: Any
    exercise: str
    patient_id: str | None

    def __call__(self, ended: EndedSet) -> SetOutcome:
        return save_set(ended, exercise=self.exercise, store=self.store, patient_id=self.patient_id)


def save_set(ended: EndedSet, *, exercise: str, store: Any, patient_id: str | None) -> SetOutcome:
    """Score ``ended.series`` as ``exercise`` and save it for ``patient_id``; never raises.

    A set with no patient, no store or too few frames is summarised but not saved; a full disk or a
    locked database (``StoreError``, after the store's retries) gives an outcome with ``failed`` set.
    """
    if ended.series is None:
        return SetOutcome(ended, note="Not saved: too little was recorded to analyse.")
    from sessions.pipeline import score_series
    from sessions.store import StoreError
    from tracking.video import VideoInfo

    series = ended.series
    video = VideoInfo(
        path="live camera",
        fps=series.fps,
        frames=len(series),
        duration_s=float(series.t[-1]),
        width=series.width,
        height=series.height,
    )
    try:
        scored = score_series(series, video, exercise)
    except Exception as e:  # the patient still gets the count they saw
        log.exception("scoring the live set failed")
        return SetOutcome(ended, note=f"The set could not be analysed, so it was not saved: {e}", failed=True)
    if store is None:
        return SetOutcome(ended, scored.result, note="Not saved: the database cannot be opened (see Settings).")
    if patient_id is None:
        return SetOutcome(
            ended, scored.result, note="Not saved: choose a patient in the sidebar to keep sets in a history."
        )
    try:
        sid = store.save_scored(scored, patient_id=patient_id, source="live", idempotency_key=ended.key)
    except (StoreError, OSError) as e:
        log.warning("saving the live set failed: %s", e)
        return SetOutcome(ended, scored.result, note=f"The set was not saved: {_sentence(e)}", failed=True)
    return SetOutcome(ended, scored.result, sid, note=f"Saved to {patient_id}'s history (session {sid}).")


def _sentence(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if text.endswith(".") else text + "."
