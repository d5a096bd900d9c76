"""The live camera's frame processor: tracker + live detector per browser session, no Streamlit calls.

streamlit-webrtc runs :meth:`LiveProcessor.recv_queued` on its own worker thread with every frame
that arrived since the last call. Only the newest frame is processed (older ones are dropped, never
queued), so the overlay never falls behind the camera. The MediaPipe tracker and the exercise's live
detector are created and used on that worker thread only; the page reads a copy of the latest
state through :meth:`LiveProcessor.snapshot`, under a lock.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import av
import numpy as np
from streamlit_webrtc import VideoProcessorBase

from dashboard.guidance import framing_prompt
from exercises.base import FrameLandmarks, LiveDetector, LiveState
from tracking.series import N_LANDMARKS, LandmarkSeries

MAX_RECORDED_FRAMES = 60 * 60 * 10  # a set longer than ten minutes at 60 fps stops recording landmarks


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
    set_id: int = 0


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


class LiveProcessor(VideoProcessorBase):
    """One per browser session and stream: tracks the hand, counts reps, draws the overlay.

    Parameters
    ----------
    exercise : str
        Registered exercise name.
    hand : 'left' or 'right'
        The patient's exercising hand.
    target : SetTarget
        When the set ends.
    model_complexity, min_confidence : int, float
        MediaPipe settings.
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
    tracker_factory, detector_factory : callable, optional
        Make the tracker (``process(t, rgb) -> FrameLandmarks``, ``close()``) and the live detector;
        default: ``tracking.hands.HandTracker`` and the exercise's own detector.
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
        tracker_factory: Callable[[], Any] | None = None,
        detector_factory: Callable[[], LiveDetector] | None = None,
    ) -> None:
        self.exercise = exercise
        self.gauge_range = gauge_range
        self.value_target = value_target
        self.hand = hand
        self.target = target
        self._model_complexity = model_complexity
        self._min_confidence = min_confidence
        self._mirror = mirror_preview
        self._dark = dark_threshold
        self._min_size = min_hand_size
        self._pose = pose
        self._tracker_factory = tracker_factory or self._default_tracker
        self._detector_factory = detector_factory or (lambda: make_detector(exercise, hand=hand))
        self._lock = threading.Lock()
        self._snapshot = LiveSnapshot()
        self._recordings: dict[int, _Recording] = {0: _Recording()}
        self._restart_requested = False
        # The tracker is made (and its models loaded) on a warm-up thread while the WebRTC connection
        # is being set up, then handed to the frame thread, which alone uses it from then on.
        self._tracker: Any = None
        self._warmup: threading.Thread | None = threading.Thread(
            target=self._make_tracker, name="handrehab-tracker-warmup", daemon=True
        )
        self._warmup.start()
        self._detector: LiveDetector | None = None
        self._t0: float | None = None
        self._min_offset = math.inf
        self._set_t0: float | None = None
        self._rate: list[float] = []

    # -- worker thread --------------------------------------------------------------------------
    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Process only the newest frame; the older ones are dropped (not queued)."""
        with self._lock:
            self._snapshot = replace(self._snapshot, frames_seen=self._snapshot.frames_seen + len(frames))
        return [self.process_frame(frames[-1])]

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        return self.process_frame(frame)

    def process_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        rgb = frame.to_ndarray(format="rgb24")
        t = self._frame_time(frame)
        with self._lock:
            restart, self._restart_requested = self._restart_requested, False
            set_id = self._snapshot.set_id
        if self._detector is None or restart:
            self._detector = self._detector_factory()
            self._set_t0 = None
        if self._warmup is not None:
            self._warmup.join()
            self._warmup = None
        if self._tracker is None:  # the warm-up failed: try once more here, letting the error show
            self._tracker = self._tracker_factory()
        landmarks = self._tracker.process(t, rgb)
        if self._set_t0 is None:
            self._set_t0 = t
        state = self._detector.update(landmarks)
        framing = framing_prompt(rgb, landmarks.image, dark_threshold=self._dark, min_hand_size=self._min_size)
        self._publish(set_id, t, rgb.shape, landmarks, state, framing)
        return self._overlay(frame, rgb, landmarks)

    def _make_tracker(self) -> None:
        try:
            tracker = self._tracker_factory()
            tracker.process(-1.0, np.zeros((240, 320, 3), np.uint8))  # loads the models before the first frame
        except Exception:  # reported when the frame thread makes the tracker itself
            return
        self._tracker = tracker

    def _default_tracker(self) -> Any:
        from tracking.hands import HandTracker

        return HandTracker(
            hand=self.hand,  # type: ignore[arg-type]
            max_num_hands=1,
            model_complexity=self._model_complexity,
            min_confidence=self._min_confidence,
            pose=self._pose,
        )

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
    ) -> None:
        now = time.monotonic()
        self._rate = [x for x in self._rate if now - x < 2.0] + [now]
        # Delay: arrival clock minus stream clock, relative to the least-delayed frame seen so far.
        self._min_offset = min(self._min_offset, now - t)
        delay = (now - t) - self._min_offset
        assert self._set_t0 is not None
        elapsed = t - self._set_t0
        with self._lock:
            snap = self._snapshot
            if snap.set_id != set_id:  # a new set started while this frame was processed
                return
            if snap.done:  # the set is over: keep the overlay running, count nothing more
                self._snapshot = replace(snap, frames_processed=snap.frames_processed + 1, prompt=framing)
                return
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
            )

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

    def on_ended(self) -> None:
        """The stream stopped: release MediaPipe (called on the worker thread)."""
        if self._warmup is not None:
            self._warmup.join()
            self._warmup = None
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None

    # -- page thread ----------------------------------------------------------------------------
    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return self._snapshot

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
            self._snapshot = replace(LiveSnapshot(), set_id=set_id)
            self._restart_requested = True
