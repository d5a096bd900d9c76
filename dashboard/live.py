"""Page 1, for the patient: exercise in front of the camera with a skeleton, a rep counter and a ROM gauge."""

from __future__ import annotations

import html
import io
import logging
import time
import wave
from functools import cache
from typing import Any

import numpy as np
import streamlit as st

from dashboard import context
from dashboard.charts import gauge_html
from dashboard.live_processor import LiveProcessor, LiveSnapshot, SetTarget
from dashboard.patients import patient_picker
from dashboard.state import load_value_target, save_value_target
from dashboard.tables import metrics_frame

log = logging.getLogger(__name__)

REFRESH_S = 0.3  # how often the counter and gauge are redrawn while the camera runs
COUNTER_ID = "rep-counter"


@cache
def tick_sound(variant: int = 0) -> bytes:
    """A short soft beep (WAV) played when a rep is counted.

    Two variants (880 and 882 Hz, indistinguishable) alternate so that consecutive ticks are different
    media files: the browser then starts a fresh player for each one.
    """
    rate = 22050
    t = np.arange(int(0.12 * rate)) / rate
    tone = np.sin(2 * np.pi * (880 + 2 * (variant % 2)) * t) * np.hanning(len(t)) * 0.4
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((tone * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def counter_html(count: int, *, target: int | None, flash: bool) -> str:
    """The big rep counter (its element id lets the browser tests read it)."""
    of = f"<span style='font-size:2.2rem;color:#7f8c8d'> / {target}</span>" if target else ""
    color = "#27ae60" if flash else "#2c3e50"
    return (
        f"<div id='{COUNTER_ID}' data-count='{count}' style='font-size:6rem;font-weight:700;line-height:1;"
        f"color:{color};transition:color .3s'>{count}{of}</div>"
        "<div style='font-size:1.2rem;color:#7f8c8d'>repetitions</div>"
    )


def render() -> None:
    st.title("Live exercise")
    settings = context.settings()
    store = context.store()
    from exercises.registry import exercise_names, get_exercise

    names = exercise_names()
    with st.sidebar:
        patient_id = patient_picker(store, key="live", allow_none=True) if store is not None else None
    c1, c2, c3 = st.columns([2, 1, 2])
    exercise = c1.selectbox("Exercise", names, format_func=lambda n: get_exercise(n).title, key="live_exercise")
    hand = c2.radio("Hand", ["right", "left"], horizontal=True, key="live_hand")
    mode = c3.radio("Set ends after", ["repetitions", "time"], horizontal=True, key="live_mode")
    ex = get_exercise(exercise)
    c1, c2, c3 = st.columns([2, 1, 2])
    if mode == "repetitions":
        target = SetTarget(reps=int(c1.number_input("Repetitions", 1, 200, 10, key="live_reps")), seconds=None)
    else:
        target = SetTarget(reps=None, seconds=float(c1.number_input("Seconds", 5, 1800, 60, key="live_secs")))
    value_target = _value_target_input(c3, ex, patient_id=patient_id)
    sound = c2.toggle("Sound per rep", value=False, key="live_sound")
    st.info(ex.instructions, icon=":material/back_hand:")

    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    def factory() -> LiveProcessor:
        return LiveProcessor(
            exercise=exercise,
            hand=hand,
            target=target,
            model_complexity=settings.model_complexity,
            min_confidence=settings.min_confidence,
            mirror_preview=settings.mirror_preview,
            dark_threshold=settings.dark_threshold,
            min_hand_size=settings.min_hand_size,
            pose=bool(getattr(ex, "needs_pose", False)),
            gauge_range=ex.normal_range,
            value_target=value_target,
        )

    left, right = st.columns([3, 2])
    with left:
        # A change of exercise, hand or target starts a fresh stream (and a fresh tracker and detector).
        webrtc = webrtc_streamer(
            key=f"live-{exercise}-{hand}-{target.reps}-{target.seconds}",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=settings.rtc_configuration(),
            media_stream_constraints={
                "video": {
                    "width": {"ideal": settings.camera_width},
                    "height": {"ideal": settings.camera_height},
                    "frameRate": {"ideal": settings.camera_fps},
                },
                "audio": False,
            },
            video_processor_factory=factory,
            async_processing=True,
        )
    with right:
        live_panel(webrtc, exercise=exercise, target=target, value_target=value_target, sound=sound)


def _value_target_input(slot: Any, ex: Any, *, patient_id: str | None) -> float | None:
    """The patient's target on the gauge, remembered per patient and exercise."""
    if ex.normal_range is None:
        return None
    lo, hi = ex.normal_range
    data_dir = context.data_dir()
    saved = load_value_target(data_dir, patient_id=patient_id, exercise=ex.name)
    key = f"live_target_{patient_id}_{ex.name}"
    st.session_state.setdefault(key, saved if saved is not None else float(lo + 0.75 * (hi - lo)))

    def remember() -> None:
        save_value_target(data_dir, patient_id=patient_id, exercise=ex.name, value=float(st.session_state[key]))

    step = 1.0 if hi - lo > 5 else 0.05
    return float(slot.number_input(f"Target: {ex.value_label}", step=step, key=key, on_change=remember))


def live_panel(webrtc: Any, *, exercise: str, target: SetTarget, value_target: float | None, sound: bool) -> None:
    """Counter, gauge and prompt redrawn from the processor's latest snapshot while the camera runs.

    The page script polls (it never blocks the frame thread): a click anywhere (STOP, a widget)
    interrupts the loop and reruns the page. When the set's target is reached the loop ends with
    the set's summary and a button for the next set.
    """
    proc = webrtc.video_processor if webrtc.state.playing else None
    if not isinstance(proc, LiveProcessor):
        st.markdown(counter_html(0, target=target.reps, flash=False), unsafe_allow_html=True)
        st.write("Press **START** and allow the camera. Nothing leaves this computer.")
        _show_summary(st.session_state.get("live_summary"))
        return
    from exercises.registry import get_exercise

    ex = get_exercise(exercise)
    proc.value_target = value_target  # a changed target shows on the video's gauge too
    panel, sound_slot = st.empty(), st.empty()
    seen = (proc.snapshot().set_id, proc.snapshot().rep_count)
    while True:
        snap = proc.snapshot()
        new_reps = (snap.set_id, snap.rep_count) > seen and snap.set_id == seen[0]
        seen = (snap.set_id, snap.rep_count)
        panel.markdown(
            live_html(snap, ex=ex, target=target, value_target=value_target, flash=new_reps), unsafe_allow_html=True
        )
        if new_reps and sound:
            sound_slot.audio(tick_sound(snap.rep_count), format="audio/wav", autoplay=True)
        if snap.done:
            break
        time.sleep(REFRESH_S)
    _finish_set(proc, snap, exercise=exercise)
    _show_summary(st.session_state.get("live_summary"))
    st.button("Start a new set", key="live_new_set", type="primary", on_click=_new_set, args=(proc,))


def _new_set(proc: LiveProcessor) -> None:
    proc.start_new_set()
    st.session_state.pop("live_summary", None)


def live_html(snap: LiveSnapshot, *, ex: Any, target: SetTarget, value_target: float | None, flash: bool) -> str:
    """Counter, set progress, prompt, gauge and stream health as one HTML block (one element per redraw)."""
    if target.reps:
        done, text = min(snap.rep_count / target.reps, 1.0), ""
    elif target.seconds:
        done, text = min(snap.elapsed_s / target.seconds, 1.0), f"{snap.elapsed_s:.0f} / {target.seconds:.0f} s"
    else:
        done, text = 0.0, ""
    progress = (
        "<div style='height:8px;border-radius:4px;background:#eaecee;margin:0.4rem 0'>"
        f"<div style='height:8px;border-radius:4px;background:#2e86de;width:{100 * done:.0f}%'></div></div>"
        f"<div style='font-size:0.85rem;color:#7f8c8d'>{text}</div>"
    )
    prompt = (
        f"<div id='live-prompt' style='font-size:1.4rem;margin:0.5rem 0'>{html.escape(snap.prompt)}</div>"
        if snap.prompt and not snap.done
        else ""
    )
    health = (
        f"<div id='live-health' style='font-size:0.8rem;color:#7f8c8d'>camera {snap.width}×{snap.height} · "
        f"{snap.processing_fps:.0f} frames/s analysed ({snap.frames_processed} of {snap.frames_seen} received) · "
        f"delay {snap.delay_s:.1f} s</div>"
    )
    gauge = gauge_html(
        snap.value, label=ex.value_label, unit=snap.unit, normal_range=ex.normal_range, target=value_target
    )
    return counter_html(snap.rep_count, target=target.reps, flash=flash) + progress + prompt + gauge + health


def _finish_set(proc: LiveProcessor, snap: LiveSnapshot, *, exercise: str) -> None:
    """Score the finished set once with the library and save it to the patient's history."""
    done_key = (id(proc), snap.set_id)
    if st.session_state.get("live_summary_for") == done_key:
        return
    st.session_state["live_summary_for"] = done_key
    series = proc.recorded_series(snap.set_id)
    summary: dict[str, Any] = {"live_count": snap.rep_count, "duration_s": snap.elapsed_s, "exercise": exercise}
    if series is not None:
        from sessions.pipeline import score_series
        from tracking.video import VideoInfo

        video = VideoInfo(
            path="live camera",
            fps=series.fps,
            frames=len(series),
            duration_s=float(series.t[-1]) if len(series) else 0.0,
            width=series.width,
            height=series.height,
        )
        try:
            scored = score_series(series, video, exercise)
        except Exception as e:  # the patient still gets the count they saw
            log.exception("scoring the live set failed")
            summary["saved"] = f"The set could not be analysed, so it was not saved: {e}"
        else:
            summary["result"] = scored.result
            summary["saved"] = _save_live(scored)
    st.session_state["live_summary"] = summary


def _save_live(scored: Any) -> str | None:
    from dashboard.patients import current_patient

    store, patient_id = context.store(), current_patient()
    if store is None or patient_id is None:
        return None
    sid = store.save_scored(scored, patient_id=patient_id, source="live")
    return f"Saved to {patient_id}'s history (session {sid})."


def _show_summary(summary: dict[str, Any] | None) -> None:
    if not summary:
        return
    st.subheader("Set complete")
    st.success(f"{summary['live_count']} repetitions in {summary['duration_s']:.0f} s. Well done!")
    result = summary.get("result")
    if result is not None:
        st.dataframe(metrics_frame(result.metrics), hide_index=True)
        for w in result.warnings:
            st.caption(w)
    st.caption(summary.get("saved") or "Not saved: choose a patient in the sidebar to keep sets in a history.")
