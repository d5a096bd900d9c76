"""The live camera's frame processor: tracker + live detector per browser session, no Streamlit calls.

streamlit-webrtc runs :meth:`LiveProcessor.recv_queued` on its own worker thread with every frame
that arrived since the last call. Only the newest frame is processed (older ones are dropped, never
queued), so the overlay never falls behind the camera. The MediaPipe tracker and the exercise's live
detector are created and used on that worker thread only; the page reads a copy of the latest
state through :meth:`LiveProcessor.snapshot`, under a lock.

A set ends once: at its target (frame thread), when frames stop arriving for ``stall_s`` (a watchdog
thread: the camera was unplugged, the laptop slept or the tab was closed, none of which streamlit-webrtc
reports) or when the stream ends (:meth:`LiveProcessor.on_ended`, or the page after STOP). The first of
these hands the set to ``on_set_end`` (see :mod:`dashboard.live_sets`) on a thread of its own, so the set
so far is saved even when no page is left to show it.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import av
import numpy as np
from streamlit_webrtc import VideoProcessorBase

from dashboard.guidance import framing_prompt
from dashboard.live_sets import EndedSet, SetOutcome
from exercises.base import FrameLandmarks, LiveDetector, LiveState
from tracking.series import N_LANDMARKS, LandmarkSeries

log = logging.getLogger(__name__)

MAX_RECORDED_FRAMES = 60 * 60 * 10  # a set longer than ten minutes at 60 fps stops recording landmarks
STALL_S = 3.0  # no frame for this long ends the set: the camera is gone (a busy machine still delivers some)


@dataclass(frozen=True)
class SetTarget:
    """When a set ends: after ``reps`` repetitions or ``seconds`` of exercise, whichever is set."""

    reps: int | None = 10
    seconds: float | None = None


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows; a copy, safe to read on the page's thread."""

    rep_count: int = 0
    value: float = math.nan
    unit: str = ""
    prompt: str | None = None
    last_rep: dict[str, Any] | None = None
    last_rep_at: float = -math.inf  # time.monotonic() of the last counted rep
    elapsed_s: float = 0.0  # since the set's first frame
    frames_seen: int = 0
    frames_processed: int = 0
    processing_fps: float = 0.0
    delay_s: float = 0.0  # how far the analysed frame lags behind real time (grows if frames queue upstream)
    width: int = 0
    height: int = 0
    done: bool = False
    end_reason: str | None = None  # why the set ended: 'target', 'camera' or 'stopped'
    set_id: int = 0
    first_frame_wall: float | None = None  # time.time() when the stream's first frame was analysed


@dataclass
class _Recording:
    frames: list[FrameLandmarks] = field(default_factory=list)

    def add(self, frame: FrameLandmarks) -> None:
        if len(self.frames) < MAX_RECORDED_FRAMES:
            self.frames.append(frame)


def make_detector(exercise: str, *, hand: str) -> LiveDetector:
    """The exercise's live detector, told the hand when it asks for it."""
    from exercises.registry import get_exercise

    ex = get_exercise(exercise)
    if "handedness" in inspect.signature(ex.live).parameters:
        return ex.live(handedness=hand)  # type: ignore[call-arg]
    return ex.live()


def series_from_frames(frames: list[FrameLandmarks], *, handedness: str, width: int, height: int) -> LandmarkSeries:
    """Stack the live frames of a set into a :class:`LandmarkSeries` (NaN where the hand was not in view)."""
    n = len(frames)
    t = np.array([f.t for f in frames], float)
    image = np.full((n, N_LANDMARKS, 3), np.nan)
    world = np.full((n, N_LANDMARKS, 3), np.nan)
    present = np.zeros(n, bool)
    forearm = np.full((n, 3), np.nan)
    any_forearm = False
    for i, f in enumerate(frames):
        if f.image is not None and f.world is not None:
            image[i], world[i], present[i] = f.image, f.world, True
        if f.forearm is not None:
            forearm[i], any_forearm = f.forearm, True
    return LandmarkSeries(
        t=t - t[0] if n else t,
        image=image,
        world=world,
        present=present,
        score=present.astype(float),
        handedness="left" if handedness == "left" else "right",
        width=width,
        height=height,
        forearm=forearm if any_forearm else None,
        meta={"source": "live camera"},
    )


def make_tracker(*, hand: str, model_complexity: int, min_confidence: float, pose: bool) -> Any:
    """The live camera's MediaPipe tracker (``process(t, rgb) -> FrameLandmarks``, ``close()``)."""
    from tracking.hands import HandTracker

    return HandTracker(
        hand=hand,  # type: ignore[arg-type]
        max_num_hands=1,
        model_complexity=model_complexity,
        min_confidence=min_confidence,
        pose=pose,
    )


class WarmTracker:
    """A tracker whose models load on a background thread now, handed later to exactly one frame thread.

    The live page makes one before START, so that connecting the camera and loading MediaPipe overlap
    and the first frame that arrives is analysed at once. The tracker is used by one thread at a time
    (made here, then only by whoever :meth:`take` s it).

    Parameters
    ----------
    factory : callable, optional
        Makes the tracker; default :func:`make_tracker` with ``settings``.
    **settings
        Keyword arguments of :func:`make_tracker`; they also tell whether a spare still fits.
    """

    def __init__(self, factory: Callable[[], Any] | None = None, **settings: Any) -> None:
        self.settings = settings
        self._factory = factory or (lambda: make_tracker(**settings))
        self._lock = threading.Lock()
        self._tracker: Any = None
        self._taken = False
        self._closed = False
        self._thread = threading.Thread(target=self._load, name="handrehab-tracker-warmup", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            tracker = self._factory()
            tracker.process(-1.0, np.zeros((240, 320, 3), np.uint8))  # loads the models before the first frame
        except Exception:  # take() tries again on the frame thread, letting the error show
            log.debug("warming the tracker failed", exc_info=True)
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._tracker = tracker
        if closed:  # released while loading
            tracker.close()

    @property
    def taken(self) -> bool:
        """Taken by a stream or closed: no longer a spare."""
        return self._taken

    def take(self) -> Any:
        """The loaded tracker (waits for it; makes one here if loading failed)."""
        self._thread.join()
        with self._lock:
            if self._taken:
                raise RuntimeError("this tracker was already taken")
            self._taken = True
            tracker, self._tracker = self._tracker, None
        return tracker if tracker is not None else self._factory()

    def close(self) -> None:
        """Release the tracker unless a stream took it (without waiting for it to finish loading)."""
        with self._lock:
            if self._taken and not self._closed:
                return  # a stream owns it
            self._taken = self._closed = True
            tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.close()


class LiveProcessor(VideoProcessorBase):
    """One per browser session and stream: tracks the hand, counts reps, draws the overlay, ends sets.

    Parameters
    ----------
    exercise : str
        Registered exercise name.
    hand : 'left' or 'right'
        The patient's exercising hand.
    target : SetTarget
        When the set ends.
    model_complexity, min_confidence : int, float
        MediaPipe settings (for the default tracker).
    mirror_preview : bool
        Flip the returned frame so the patient sees a mirror (analysis uses the unflipped frame).
    dark_threshold, min_hand_size : float
        Framing-prompt thresholds (see :func:`dashboard.guidance.framing_prompt`).
    pose : bool
        Also track the arm (exercises that need the forearm).
    gauge_range : (low, high), optional
        Range of the gauge drawn on the video (the exercise's normal range).
    value_target : float, optional
        The patient's target value, marked on the gauge.
    tracker : WarmTracker, optional
        The tracker, already loading (the page makes it before START); default: one made now.
    tracker_factory : callable, optional
        Makes the tracker when ``tracker`` is not given (default :func:`make_tracker`).
    detector_factory : callable, optional
        Makes the live detector; default: the exercise's own.
    on_set_end : callable, optional
        Called once per ended set with its :class:`~dashboard.live_sets.EndedSet`, on a thread of its own;
        returns the :class:`~dashboard.live_sets.SetOutcome` the page shows (e.g. a
        :class:`~dashboard.live_sets.SetSaver`). Without it nothing is saved.
    stall_s : float, optional
        A set with at least one rep ends (and is handed to ``on_set_end``) when no frame arrives for this long
        (default :data:`STALL_S`).
    """

    def __init__(
        self,
        *,
        exercise: str,
        hand: str,
        target: SetTarget,
        model_complexity: int = 0,
        min_confidence: float = 0.5,
        mirror_preview: bool = True,
        dark_threshold: float = 40.0,
        min_hand_size: float = 0.06,
        pose: bool = False,
        gauge_range: tuple[float, float] | None = None,
        value_target: float | None = None,
        tracker: WarmTracker | None = None,
        tracker_factory: Callable[[], Any] | None = None,
        detector_factory: Callable[[], LiveDetector] | None = None,
        on_set_end: Callable[[EndedSet], SetOutcome] | None = None,
        stall_s: float | None = None,
    ) -> None:
        self.exercise = exercise
        self.gauge_range = gauge_range
        self.value_target = value_target
        self.hand = hand
        self.target = target
        self._mirror = mirror_preview
        self._dark = dark_threshold
        self._min_size = min_hand_size
        self._detector_factory = detector_factory or (lambda: make_detector(exercise, hand=hand))
        self._on_set_end = on_set_end
        self._stall_s = STALL_S if stall_s is None else stall_s
        self._stream_key = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)  # notified when a set's outcome is ready
        self._snapshot = LiveSnapshot()
        self._recordings: dict[int, _Recording] = {0: _Recording()}
        self._outcomes: dict[int, SetOutcome | None] = {}  # set id -> outcome (None while it is being saved)
        self._restart_requested = False
        # Loading started before the WebRTC connection (or now): the frame thread takes it at its first frame.
        self._warm = tracker or WarmTracker(
            tracker_factory,
            hand=hand,
            model_complexity=model_complexity,
            min_confidence=min_confidence,
            pose=pose,
        )
        self._tracker: Any = None
        self._detector: LiveDetector | None = None
        self._t0: float | None = None
        self._min_offset = math.inf
        self._set_t0: float | None = None
        self._rate: list[float] = []
        self._last_frame_at = math.inf  # time.monotonic() of the last frame received
        self._closed = threading.Event()
        self._watchdog: threading.Thread | None = None

    # -- worker thread --------------------------------------------------------------------------
    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Process only the newest frame; the older ones are dropped (not queued)."""
        with self._lock:
            self._snapshot = replace(self._snapshot, frames_seen=self._snapshot.frames_seen + len(frames))
        return [self.process_frame(frames[-1])]

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        return self.process_frame(frame)

    def process_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        self._last_frame_at = time.monotonic()
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="handrehab-live-watchdog", daemon=True)
            self._watchdog.start()
        rgb = frame.to_ndarray(format="rgb24")
        t = self._frame_time(frame)
        with self._lock:
            restart, self._restart_requested = self._restart_requested, False
            set_id = self._snapshot.set_id
        if self._detector is None or restart:
            self._detector = self._detector_factory()
            self._set_t0 = None
        if self._tracker is None:
            self._tracker = self._warm.take()
        landmarks = self._tracker.process(t, rgb)
        if self._set_t0 is None:
            self._set_t0 = t
        state = self._detector.update(landmarks)
        framing = framing_prompt(rgb, landmarks.image, dark_threshold=self._dark, min_hand_size=self._min_size)
        if self._publish(set_id, t, rgb.shape, landmarks, state, framing):
            self._end_set(set_id, "target")
        return self._overlay(frame, rgb, landmarks)

    def _frame_time(self, frame: av.VideoFrame) -> float:
        # The stream's own timestamps (capture clock) when present; else the arrival time.
        ft = frame.time
        now = float(ft) if ft is not None else time.monotonic()
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def _publish(
        self,
        set_id: int,
        t: float,
        shape: tuple[int, ...],
        landmarks: FrameLandmarks,
        state: LiveState,
        framing: str | None,
    ) -> bool:
        """Record the frame and update the snapshot; True when this frame reached the set's target."""
        now = time.monotonic()
        self._rate = [x for x in self._rate if now - x < 2.0] + [now]
        # Delay: arrival clock minus stream clock, relative to the least-delayed frame seen so far.
        self._min_offset = min(self._min_offset, now - t)
        delay = (now - t) - self._min_offset
        assert self._set_t0 is not None
        elapsed = t - self._set_t0
        with self._lock:
            snap = self._snapshot
            first = snap.first_frame_wall if snap.first_frame_wall is not None else time.time()
            if snap.set_id != set_id:  # a new set started while this frame was processed
                return False
            if snap.done:  # the set is over: keep the overlay running, count nothing more
                self._snapshot = replace(snap, frames_processed=snap.frames_processed + 1, prompt=framing)
                return False
            self._recordings.setdefault(snap.set_id, _Recording()).add(landmarks)
            count = state.rep_count
            done = (self.target.reps is not None and count >= self.target.reps) or (
                self.target.seconds is not None and elapsed >= self.target.seconds
            )
            self._snapshot = replace(
                snap,
                rep_count=count,
                value=state.value,
                unit=state.unit,
                prompt=framing or state.prompt,
                last_rep=state.last_rep if state.last_rep is not None else snap.last_rep,
                last_rep_at=now if state.rep_completed else snap.last_rep_at,
                elapsed_s=elapsed,
                delay_s=delay,
                frames_processed=snap.frames_processed + 1,
                processing_fps=(len(self._rate) - 1) / max(now - self._rate[0], 1e-6) if len(self._rate) > 1 else 0.0,
                width=shape[1],
                height=shape[0],
                done=done,
                end_reason="target" if done else None,
                first_frame_wall=first,
            )
            return done

    def _overlay(self, frame: av.VideoFrame, rgb: np.ndarray, landmarks: FrameLandmarks) -> av.VideoFrame:
        from tracking.draw import draw_counter, draw_gauge, draw_hand

        out = rgb.copy()
        if landmarks.image is not None:
            draw_hand(out, landmarks.image)
        if self._mirror:  # text and gauge are drawn after the flip so they read normally
            out = np.ascontiguousarray(out[:, ::-1])
        snap = self.snapshot()
        draw_counter(out, snap.rep_count, flash=time.monotonic() - snap.last_rep_at < 0.5)
        if self.gauge_range is not None:
            lo, hi = self.gauge_range
            draw_gauge(out, snap.value, lo=lo, hi=hi, target=self.value_target)
        new = av.VideoFrame.from_ndarray(out, format="rgb24")
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    def _watch(self) -> None:
        """End the set when frames stop coming (nothing else tells the server the camera is gone)."""
        while not self._closed.wait(min(0.5, self._stall_s / 4)):
            if time.monotonic() - self._last_frame_at > self._stall_s:
                self.end_set("camera")

    def on_ended(self) -> None:
        """The stream stopped: end the set so far, release MediaPipe (called on a streamlit-webrtc thread)."""
        self._closed.set()
        self.end_set("stopped")
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.close()
        else:
            self._warm.close()

    # -- ending a set (any thread) ---------------------------------------------------------------
    def end_set(self, reason: str) -> None:
        """End the current set early (``'camera'`` or ``'stopped'``) if any rep was counted; once per set."""
        with self._lock:
            snap = self._snapshot
            if snap.done or snap.rep_count == 0:
                return
            self._snapshot = replace(snap, done=True, end_reason=reason)
        self._end_set(snap.set_id, reason)

    def _end_set(self, set_id: int, reason: str) -> None:
        with self._lock:
            if set_id in self._outcomes or self._snapshot.set_id != set_id:
                return  # already ended (by whichever thread came first), or superseded
            self._outcomes[set_id] = None
            snap = self._snapshot
            rec = self._recordings.get(set_id)
            frames = list(rec.frames) if rec is not None else []
        series = (
            series_from_frames(frames, handedness=self.hand, width=snap.width, height=snap.height)
            if len(frames) >= 2
            else None
        )
        ended = EndedSet(
            set_id=set_id,
            reason=reason,
            live_count=snap.rep_count,
            duration_s=snap.elapsed_s,
            series=series,
            key=f"live:{self._stream_key}:{set_id}",
        )
        # Not a daemon: a server shutting down still finishes saving the set.
        threading.Thread(target=self._hand_over, args=(ended,), name="handrehab-live-set-end").start()

    def _hand_over(self, ended: EndedSet) -> None:
        try:
            outcome = self._on_set_end(ended) if self._on_set_end is not None else SetOutcome(ended, note="Not saved.")
        except Exception as e:  # the outcome must always arrive, or the page would wait for nothing
            log.exception("ending the live set failed")
            outcome = SetOutcome(ended, note=f"The set was not saved: {e}", failed=True)
        with self._ended:
            self._outcomes[ended.set_id] = outcome
            self._ended.notify_all()

    # -- page thread ----------------------------------------------------------------------------
    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return self._snapshot

    def wait_closed(self, *, timeout_s: float) -> bool:
        """Wait for the stream to end (:meth:`on_ended`); True when it has."""
        return self._closed.wait(timeout_s)

    def outcome(self, set_id: int, *, timeout_s: float = 0.0) -> SetOutcome | None:
        """The outcome of set ``set_id`` once it has ended and been handed over (waits up to ``timeout_s``)."""
        with self._ended:
            self._ended.wait_for(lambda: self._outcomes.get(set_id) is not None, timeout=timeout_s)
            return self._outcomes.get(set_id)

    def recorded_series(self, set_id: int) -> LandmarkSeries | None:
        """The landmarks of set ``set_id`` as a series (None when nothing was recorded)."""
        with self._lock:
            rec = self._recordings.get(set_id)
            frames = list(rec.frames) if rec is not None else []
            snap = self._snapshot
        if len(frames) < 2:
            return None
        return series_from_frames(frames, handedness=self.hand, width=snap.width, height=snap.height)

    def start_new_set(self) -> None:
        """Reset the counter for the next set (applied by the worker at its next frame)."""
        with self._lock:
            set_id = self._snapshot.set_id + 1
            self._recordings = {set_id: _Recording()}
            first = self._snapshot.first_frame_wall
            self._snapshot = replace(LiveSnapshot(), set_id=set_id, first_frame_wall=first)
            self._restart_requested = True
