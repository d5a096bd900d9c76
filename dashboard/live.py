"""Page 1, for the patient: exercise in front of the camera with a skeleton, a rep counter and a ROM gauge."""

from __future__ import annotations

import html
import io
import time
import wave
from functools import cache
from typing import Any

import numpy as np
import streamlit as st

from dashboard import context
from dashboard.charts import gauge_html
from dashboard.live_processor import LiveProcessor, LiveSnapshot, SetTarget, WarmTracker
from dashboard.live_sets import REASONS, SetSaver
from dashboard.patients import patient_picker
from dashboard.state import load_value_target, save_value_target
from dashboard.tables import metrics_frame

REFRESH_S = 0.3  # how often the counter and gauge are redrawn while the camera runs
COUNTER_ID = "rep-counter"
SPARE_TRACKER = "live_spare_tracker"
LAST_PROCESSOR = "live_processor"
STREAM_END_WAIT_S = 3.0
OUTCOME_WAIT_S = 20.0  # scoring a set takes a moment; saving it, at most the store's retry budget


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

    spare = _spare_tracker(
        hand=hand,
        model_complexity=settings.model_complexity,
        min_confidence=settings.min_confidence,
        pose=bool(getattr(ex, "needs_pose", False)),
    )
    saver = SetSaver(store=store, exercise=exercise, patient_id=patient_id)

    def factory() -> LiveProcessor:
        return LiveProcessor(
            exercise=exercise,
            hand=hand,
            target=target,
            mirror_preview=settings.mirror_preview,
            dark_threshold=settings.dark_threshold,
            min_hand_size=settings.min_hand_size,
            gauge_range=ex.normal_range,
            value_target=value_target,
            model_complexity=settings.model_complexity,
            min_confidence=settings.min_confidence,
            pose=bool(getattr(ex, "needs_pose", False)),
            tracker=spare if not spare.taken else None,  # else (a second stream of this run) one made now
            on_set_end=saver,
        )

    left, right = st.columns([3, 2])
    with left:
        # A change of patient, exercise, hand or target starts a fresh stream (fresh tracker and detector);
        # the set of the stream it replaces is saved by that stream's processor.
        webrtc = webrtc_streamer(
            key=f"live-{patient_id}-{exercise}-{hand}-{target.reps}-{target.seconds}",
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


def _spare_tracker(**settings: Any) -> WarmTracker:
    """The tracker for this browser session's next START, loading now so the first frame need not wait."""
    spare = st.session_state.get(SPARE_TRACKER)
    if isinstance(spare, WarmTracker) and not spare.taken and spare.settings == settings:
        return spare
    if isinstance(spare, WarmTracker):
        spare.close()  # other settings: release its models (a no-op once a stream took it)
    spare = st.session_state[SPARE_TRACKER] = WarmTracker(**settings)
    return spare


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
    interrupts the loop and reruns the page. When the set ends (target reached, camera gone) the loop
    ends with the set's summary and a button for the next set; after STOP the summary of the set so far.
    """
    proc = webrtc.video_processor if webrtc.state.playing else None
    if not isinstance(proc, LiveProcessor):
        st.markdown(counter_html(0, target=target.reps, flash=False), unsafe_allow_html=True)
        st.write("Press **START** and allow the camera. Nothing leaves this computer.")
        last = st.session_state.get(LAST_PROCESSOR)
        if isinstance(last, LiveProcessor):
            # After STOP streamlit-webrtc ends the stream as this run starts: its processor ends the set so
            # far (on_ended), whose summary is shown here.
            last.wait_closed(timeout_s=STREAM_END_WAIT_S)
            _show_outcome(last)
        return
    st.session_state[LAST_PROCESSOR] = proc
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
    _show_outcome(proc)
    st.button("Start a new set", key="live_new_set", type="primary", on_click=proc.start_new_set)


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
        f"<div id='live-health' data-first-frame='{snap.first_frame_wall or 0:.3f}' "
        f"style='font-size:0.8rem;color:#7f8c8d'>camera {snap.width}×{snap.height} · "
        f"{snap.processing_fps:.0f} frames/s analysed ({snap.frames_processed} of {snap.frames_seen} received) · "
        f"delay {snap.delay_s:.1f} s</div>"
    )
    gauge = gauge_html(
        snap.value, label=ex.value_label, unit=snap.unit, normal_range=ex.normal_range, target=value_target
    )
    return counter_html(snap.rep_count, target=target.reps, flash=flash) + progress + prompt + gauge + health


def _show_outcome(proc: LiveProcessor) -> None:
    """The summary of the processor's current set once it has ended (waiting while it is being saved)."""
    snap = proc.snapshot()
    if not snap.done:
        return
    outcome = proc.outcome(snap.set_id)
    if outcome is None:
        with st.spinner("Saving the set…"):
            outcome = proc.outcome(snap.set_id, timeout_s=OUTCOME_WAIT_S)
    if outcome is None:
        st.warning("The set is still being saved; its summary will be in Progress.")
        return
    ended = outcome.ended
    st.subheader(REASONS[ended.reason])
    done = f"{ended.live_count} repetitions in {ended.duration_s:.0f} s."
    if ended.reason == "target":
        st.success(f"{done} Well done!")
    elif ended.reason == "camera":
        st.warning(f"The camera stopped sending pictures. {done}")
    else:
        st.info(done)
    if outcome.result is not None:
        st.dataframe(metrics_frame(outcome.result.metrics), hide_index=True)
        for w in outcome.result.warnings:
            st.caption(w)
    if outcome.failed:
        st.error(outcome.note)
    else:
        st.caption(outcome.note)
