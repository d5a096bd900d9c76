"""Scoring a video file and showing its result: shared by the "Score a recording", "Samples" and "Progress" pages.

Everything measured comes from ``sessions.pipeline``; corrections re-score with ``score_series`` and
are saved by the store as a new version; the PDF comes from ``sessions.report``. A save that fails
(full disk, database locked past the store's retries) is said on the page, which stays usable.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import context, raw_video
from dashboard.charts import rep_extents, rep_range_figure, signal_figure
from dashboard.raw_video import RawVideo
from dashboard.tables import headline_metrics, metrics_frame, reps_frame
from dashboard.uploads import annotated_path, discard

log = logging.getLogger(__name__)


@dataclass
class ScoredItem:
    """One scored video as the page holds it (in this browser session's memory).

    ``raw`` is the raw video for as long as the review lasts (the annotated video is drawn from it,
    again after each correction); ``video`` is the annotated MP4 of revision ``video_revision``,
    kept in memory only.
    """

    key: str
    name: str
    scored: Any  # sessions.pipeline.Scored (current: after corrections)
    session_id: int | None
    raw: RawVideo | None = None
    tracking_warnings: list[str] = field(default_factory=list)  # kept through corrections
    video: bytes | None = None
    video_revision: int = -1
    video_note: str | None = None
    added: list[tuple[float, float]] = field(default_factory=list)
    revision: int = 0
    message: str | None = None
    error: str | None = None

    @classmethod
    def new(
        cls, name: str, scored: Any, *, session_id: int | None, raw: RawVideo | None = None, key: str | None = None
    ) -> ScoredItem:
        """A freshly scored video (``key``, the prefix of its widgets' keys, is random by default)."""
        own = set(scored.analysis.warnings)
        tracking = [w for w in scored.result.warnings if w not in own]
        return cls(key or uuid.uuid4().hex[:12], name, scored, session_id, raw, tracking)


def progress_callback(bar: Any, label: str, *, every_s: float = 0.2) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` for the pipeline that redraws ``bar`` at most every ``every_s``."""
    last = [0.0]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s and done != total:
            return
        last[0] = now
        frac = min(done / total, 1.0) if total else 0.0
        bar.progress(frac, text=f"{label}: frame {done} of {total or '?'}")

    return update


def score_file(
    path: Path,
    *,
    name: str,
    exercise: str,
    hand: str,
    patient_id: str | None,
    owned: bool,
    keep_video: bool,
) -> ScoredItem | None:
    """Score ``path`` with a progress bar and save it to the store; None (after an error message) if unusable.

    ``owned``: ``path`` is an upload of this review, deleted when the review ends (or now if unusable).
    """
    from sessions.pipeline import score_video
    from tracking.video import UnusableInputError

    bar = st.progress(0.0, text=f"Tracking {name}")
    try:
        scored = score_video(
            path, exercise, hand=hand, max_side=context.settings().max_side, progress=progress_callback(bar, name)
        )
    except Exception as e:  # the raw video must not outlive a failed scoring either
        bar.empty()
        if owned:
            discard(path, data_dir=context.data_dir())
        if isinstance(e, UnusableInputError):
            st.error(f"{name}: {e}")
        else:
            log.exception("scoring %s failed", name)
            st.error(f"{name} could not be scored: {e}")
        return None
    bar.empty()
    raw = RawVideo(path, data_dir=context.data_dir(), owned=owned)
    item = ScoredItem.new(name, scored, session_id=None, raw=raw)
    store = context.store()
    if store is None:
        item.error = f"Not saved: the database cannot be opened. {context.store_error() or ''}".strip()
        return item
    from sessions.store import StoreError

    try:
        item.session_id = store.save_scored(
            scored, patient_id=patient_id, source="upload", video_path=path, keep_video=keep_video
        )
    except (StoreError, OSError) as e:
        item.error = f"The result was not saved: {_sentence(e)} It is shown here only."
    else:
        raw_video.remember(item.session_id, raw)
    return item


def item_from_store(store: Any, session_id: int) -> ScoredItem | str:
    """A stored session as a reviewable item (its current version), or why it cannot be reviewed.

    The stored numbers are shown as they are; the signals for the plots are recomputed from the stored
    landmarks on the stored reps. The raw video is this browser session's upload if it still has it,
    else a copy of the video the store kept (Settings, privacy), else none.
    """
    from sessions.pipeline import Scored, score_series

    record = store.get_session(session_id)
    result = record.result
    series = store.get_series(session_id) if record.has_series else None
    if series is None:
        return "This session was saved without its landmarks, so it cannot be re-scored or corrected here."
    warnings = list(record.info.tracking_warnings or ())
    reps = [(float(r["start_s"]), float(r["end_s"])) for r in result.reps]
    try:
        fresh = score_series(series, result.video, result.exercise, reps=reps, warnings=warnings)
    except KeyError:
        return f"The exercise {result.exercise!r} is not available in this installation."
    raw = raw_video.find(session_id)
    if raw is None and record.has_video:
        from dashboard.uploads import save_upload

        data = store.get_video(session_id)
        if data:
            raw = RawVideo(save_upload(context.data_dir(), "kept.mp4", data), data_dir=context.data_dir(), owned=True)
    item = ScoredItem(
        f"s{session_id}v{record.version.version}",
        f"Session {session_id}",
        Scored(result, series, fresh.analysis),
        session_id,
        raw,
        warnings,
    )
    if raw is None:
        item.video_note = NO_RAW_VIDEO
    return item


NO_RAW_VIDEO = (
    "No annotated video: the raw video is not available (it is kept only while its review is open, "
    "unless Settings keep raw videos)."
)


def _sentence(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def show_item(item: ScoredItem) -> None:
    """The whole result of one video: numbers, plots, annotated video, corrections and downloads."""
    from exercises.registry import get_exercise

    result, analysis = item.scored.result, item.scored.analysis
    ex = get_exercise(result.exercise)
    st.subheader(f"{item.name} — {ex.title}")
    v = result.video
    st.caption(
        f"{result.hand} hand · {v.duration_s:.1f} s, {v.frames} frames at {v.fps:.0f} fps ({v.width}×{v.height}) · "
        f"hand tracked in {result.detection_rate:.0%} of frames"
        + (f" · saved as session {item.session_id}" if item.session_id is not None else "")
    )
    if item.message:
        st.success(item.message)
    if item.error:
        st.error(item.error)
    cols = st.columns(5)
    cols[0].metric("Repetitions", result.rep_count)
    for col, (label, text) in zip(cols[1:], headline_metrics(result.exercise, result.metrics), strict=False):
        col.metric(label, text)
    for w in result.warnings:
        st.warning(w)

    rejected = st.session_state.get(f"{item.key}_reject_{item.revision}", [])
    left, right = st.columns([3, 2])
    with left:
        if analysis.signals:
            st.plotly_chart(
                signal_figure(
                    analysis.signals[0],
                    result.reps,
                    normal_range=ex.normal_range,
                    rejected=rejected,
                    title=ex.value_label,
                ),
                key=f"{item.key}_signal_{item.revision}",
            )
            if result.reps:
                main = analysis.signals[0]
                st.plotly_chart(
                    rep_range_figure(
                        rep_extents(main, result.reps),
                        label=main.name.replace("_", " "),
                        unit=main.unit,
                        normal_range=ex.normal_range,
                    ),
                    key=f"{item.key}_rom_{item.revision}",
                )
    with right:
        _show_video(item)
        st.dataframe(metrics_frame(result.metrics), hide_index=True, height=260)
    st.markdown("**Repetitions**")
    st.dataframe(reps_frame(result.reps), hide_index=True)
    _correction_form(item)
    _downloads(item)


def _show_video(item: ScoredItem) -> None:
    """The annotated video of the result as it is now: drawn again after a correction, never a stale one."""
    if item.video_revision != item.revision:
        item.video, item.video_revision = None, item.revision
        if item.raw is not None and item.raw.available():
            _make_annotated_video(item, item.raw.path)
        elif item.raw is not None or item.revision > 0:
            item.video_note = NO_RAW_VIDEO
    if item.video is not None:
        st.video(item.video, format="video/mp4")
    elif item.video_note:
        st.caption(item.video_note)


def _make_annotated_video(item: ScoredItem, src: Path) -> None:
    """Draw the current result on the raw video (the MP4 is kept in memory only)."""
    out = annotated_path(context.data_dir())
    try:
        from sessions.annotate import annotate_video
    except ImportError:
        item.video_note = "The annotated video is not available in this installation."
        return
    try:
        with st.spinner("Drawing the skeleton on the video…"):
            annotate_video(src, item.scored, out, max_side=context.settings().max_side)
        item.video, item.video_note = out.read_bytes(), None
    except Exception as e:  # the numbers are still valid without the video
        item.video_note = f"The annotated video could not be made: {e}"
    finally:
        out.unlink(missing_ok=True)


def _correction_form(item: ScoredItem) -> None:
    result = item.scored.result
    duration = float(result.video.duration_s)
    with st.container(border=True):
        st.markdown("**Correct the repetitions**")
        st.caption("Reject a mis-detected repetition, or add one the detector missed; the metrics are recomputed.")
        st.multiselect(
            "Reject repetitions",
            list(range(1, result.rep_count + 1)),
            key=f"{item.key}_reject_{item.revision}",
            placeholder="numbers as in the plot",
        )
        c1, c2, c3 = st.columns([1, 1, 1])
        start = c1.number_input("Missed rep starts (s)", 0.0, duration, 0.0, 0.05, key=f"{item.key}_add_start")
        end = c2.number_input("and ends (s)", 0.0, duration, min(1.0, duration), 0.05, key=f"{item.key}_add_end")
        if c3.button("Add this repetition", key=f"{item.key}_add"):
            if end > start:
                item.added.append((float(start), float(end)))
            else:
                st.error("A repetition must end after it starts.")
        if item.added:
            st.write("To add: " + ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in item.added))
        author_key = f"{item.key}_author"
        st.session_state.setdefault(author_key, st.session_state.get("therapist_name", "therapist"))
        author = st.text_input("Your name (kept with the correction)", key=author_key)
        rejected = st.session_state.get(f"{item.key}_reject_{item.revision}", [])
        if st.button(
            "Re-score with these corrections",
            key=f"{item.key}_apply_{item.revision}",
            type="primary",
            disabled=not (rejected or item.added),
        ):
            st.session_state["therapist_name"] = author  # the default for the next correction
            apply_correction(item, rejected=rejected, author=author or "therapist")
            st.rerun()


def apply_correction(item: ScoredItem, *, rejected: list[int], author: str) -> None:
    """Re-score with the kept and added reps, and save the correction as a new version of the session.

    When the new version cannot be saved the item stays as it was (the store still holds the old
    version) and says why, so the therapist can simply try again.
    """
    from sessions.pipeline import score_series
    from sessions.store import StoreError

    scored = item.scored
    keep = [(float(r["start_s"]), float(r["end_s"])) for i, r in enumerate(scored.result.reps, 1) if i not in rejected]
    reps = sorted(keep + item.added)
    new = score_series(
        scored.series, scored.result.video, scored.result.exercise, reps=reps, warnings=item.tracking_warnings
    )
    note = "; ".join(
        part
        for part in (
            f"rejected rep(s) {', '.join(map(str, sorted(rejected)))}" if rejected else "",
            f"added {len(item.added)} rep(s)" if item.added else "",
        )
        if part
    )
    store = context.store()
    message = f"Re-scored: {new.result.rep_count} repetitions ({note})."
    if store is not None and item.session_id is not None:
        try:
            version = store.add_correction(item.session_id, new.result, author=author, note=note)
        except (StoreError, OSError) as e:
            item.error = f"The correction was not saved, so nothing changed: {_sentence(e)} Try again."
            return
        message += f" Saved as version {version} of session {item.session_id}."
    else:
        message += " Not saved: this result is not in the database."
    item.scored, item.added, item.revision, item.message, item.error = new, [], item.revision + 1, message, None


def _downloads(item: ScoredItem) -> None:
    result = item.scored.result
    stem = Path(item.name).stem or "session"
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Download JSON",
        result.to_json(),
        file_name=f"{stem}.json",
        mime="application/json",
        key=f"{item.key}_json_{item.revision}",
        on_click="ignore",
    )
    c2.download_button(
        "Download CSV (one row per rep)",
        reps_frame(result.reps).to_csv(index=False),
        file_name=f"{stem}_reps.csv",
        mime="text/csv",
        key=f"{item.key}_csv_{item.revision}",
        on_click="ignore",
    )
    if item.session_id is not None:
        c3.download_button(
            "Download PDF report",
            _pdf_maker(item.session_id),
            file_name=f"{stem}_report.pdf",
            mime="application/pdf",
            key=f"{item.key}_pdf_{item.revision}",
            on_click="ignore",
        )
    else:
        c3.caption("The PDF report needs the session to be saved (the database could not be opened).")


def _pdf_maker(session_id: int) -> Callable[[], bytes]:
    """Make the PDF only when the button is clicked (it renders plots, which takes a moment)."""
    store, data_dir = context.store(), context.data_dir()
    assert store is not None

    def make() -> bytes:
        from sessions.report import session_report

        out = data_dir / "reports" / f"{uuid.uuid4().hex}.pdf"
        try:
            session_report(store, session_id, out)
            return out.read_bytes()
        finally:
            out.unlink(missing_ok=True)

    return make
