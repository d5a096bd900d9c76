from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from dashboard_fakes import FPS, ScriptedTracker, hand_frame, video_frame

from dashboard.live_processor import LiveProcessor, SetTarget, WarmTracker, series_from_frames
from dashboard.live_sets import EndedSet, SetOutcome
from exercises.base import FrameLandmarks
from sessions.pipeline import score_series
from tracking.video import VideoInfo


def make(taps: int, target: SetTarget, **kw: object) -> tuple[LiveProcessor, ScriptedTracker]:
    tracker = ScriptedTracker(taps, **kw)
    proc = LiveProcessor(
        exercise="finger_tapping",
        hand="right",
        target=target,
        min_hand_size=0.0,
        tracker_factory=lambda: tracker,
        gauge_range=(0.0, 1.2),
        value_target=0.9,
    )
    return proc, tracker


def feed(proc: LiveProcessor, frames: range) -> None:
    for i in frames:
        proc.process_frame(video_frame(i))


def test_counts_each_tap_once_and_agrees_with_the_offline_analysis() -> None:
    proc, _ = make(7, SetTarget(reps=None, seconds=None))
    feed(proc, range(int(6.0 * FPS)))
    snap = proc.snapshot()
    assert snap.rep_count == 7
    assert snap.frames_processed == int(6.0 * FPS)
    series = proc.recorded_series(snap.set_id)
    assert series is not None and len(series) == snap.frames_processed
    video = VideoInfo("live", FPS, len(series), float(series.t[-1]), 64, 48)
    assert score_series(series, video, "finger_tapping").result.rep_count == snap.rep_count


def test_set_ends_at_the_target_and_counts_nothing_more() -> None:
    proc, _ = make(10, SetTarget(reps=4))
    feed(proc, range(int(7.0 * FPS)))
    snap = proc.snapshot()
    assert snap.done
    assert snap.rep_count == 4
    series = proc.recorded_series(snap.set_id)
    assert series is not None
    assert series.t[-1] < 3.0  # recording stopped with the fourth tap (0.5 s + 4 taps at 2 Hz)


def test_timed_set_ends_after_its_seconds() -> None:
    proc, _ = make(10, SetTarget(reps=None, seconds=2.0))
    feed(proc, range(int(3.0 * FPS)))
    snap = proc.snapshot()
    assert snap.done
    assert 2.0 <= snap.elapsed_s < 2.0 + 2 / FPS


def test_new_set_restarts_the_counter_and_the_recording() -> None:
    proc, _ = make(10, SetTarget(reps=2))
    feed(proc, range(int(2.0 * FPS)))
    assert proc.snapshot().done
    proc.start_new_set()
    snap = proc.snapshot()
    assert (snap.rep_count, snap.done, snap.set_id) == (0, False, 1)
    feed(proc, range(int(2.0 * FPS), int(2.0 * FPS) + 5))
    assert proc.snapshot().frames_processed == 5
    series = proc.recorded_series(1)
    assert series is not None and len(series) == 5 and series.t[0] == 0.0


def test_only_the_newest_queued_frame_is_processed() -> None:
    proc, tracker = make(3, SetTarget(reps=None))
    # In a thread of its own: an earlier test's browser driver may leave an event loop running here.
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(asyncio.run, proc.recv_queued([video_frame(i) for i in range(5)])).result()
    assert len(out) == 1 and out[0].pts == 4
    assert len([t for t in tracker.calls if t >= 0]) == 1  # the other call is the warm-up before any frame
    snap = proc.snapshot()
    assert (snap.frames_seen, snap.frames_processed) == (5, 1)


def test_prompts_when_the_hand_leaves_or_the_room_is_dark() -> None:
    proc, _ = make(3, SetTarget(reps=None), hidden=(0.2, 0.4))
    feed(proc, range(int(0.3 * FPS)))
    assert proc.snapshot().prompt == "Move your hand into view"
    proc.process_frame(video_frame(int(0.5 * FPS), brightness=5))
    prompt = proc.snapshot().prompt
    assert prompt is not None and prompt.startswith("Too dark")


def test_overlay_is_mirrored_and_keeps_timestamps() -> None:
    proc, _ = make(3, SetTarget(reps=None))
    src = video_frame(12)
    out = proc.process_frame(src)
    assert (out.pts, out.time_base) == (src.pts, src.time_base)
    assert out.to_ndarray(format="rgb24").shape == (48, 64, 3)


def test_snapshot_is_safe_to_read_from_another_thread() -> None:
    proc, _ = make(20, SetTarget(reps=None))
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(proc.snapshot().rep_count)

    th = threading.Thread(target=reader)
    th.start()
    feed(proc, range(int(5.0 * FPS)))
    stop.set()
    th.join()
    assert seen == sorted(seen)  # the count only ever goes up: never a torn or double-counted value


def test_tracker_is_closed_when_the_stream_ends() -> None:
    proc, tracker = make(3, SetTarget(reps=None))
    feed(proc, range(3))
    proc.on_ended()
    assert tracker.closed


def test_series_from_frames_marks_missing_hands() -> None:
    image, world = hand_frame(0.5)
    frames = [
        FrameLandmarks(t=10.0, image=image, world=world),
        FrameLandmarks(t=10.1, image=None, world=None),
        FrameLandmarks(t=10.2, image=image, world=world, forearm=np.array([0.0, 1.0, 0.0])),
    ]
    s = series_from_frames(frames, handedness="left", width=640, height=480)
    assert s.handedness == "left"
    np.testing.assert_allclose(s.t, [0.0, 0.1, 0.2])
    assert s.present.tolist() == [True, False, True]
    assert np.isnan(s.world[1]).all()
    assert s.forearm is not None and np.isnan(s.forearm[0]).all() and s.forearm[2, 1] == 1.0


@pytest.mark.parametrize("hand", ["left", "right"])
def test_detector_is_made_for_the_chosen_hand(hand: str) -> None:
    proc = LiveProcessor(exercise="finger_tapping", hand=hand, target=SetTarget(), tracker_factory=lambda: None)
    assert proc.hand == hand


# -- the end of a set: once, whoever notices first ------------------------------------------------


class Recorder:
    """An ``on_set_end`` that remembers what it was handed (from whatever thread)."""

    def __init__(self) -> None:
        self.ended: list[EndedSet] = []
        self.lock = threading.Lock()

    def __call__(self, ended: EndedSet) -> SetOutcome:
        with self.lock:
            self.ended.append(ended)
        return SetOutcome(ended, note="recorded")


def ending(taps: int, target: SetTarget, **kw: object) -> tuple[LiveProcessor, Recorder]:
    recorder = Recorder()
    tracker = ScriptedTracker(taps)
    proc = LiveProcessor(
        exercise="finger_tapping",
        hand="right",
        target=target,
        tracker_factory=lambda: tracker,
        on_set_end=recorder,
        **kw,  # type: ignore[arg-type]
    )
    return proc, recorder


def test_a_set_reaching_its_target_is_handed_over_once() -> None:
    proc, recorder = ending(10, SetTarget(reps=4))
    feed(proc, range(int(4.0 * FPS)))
    outcome = proc.outcome(0, timeout_s=10)
    assert outcome is not None and outcome.note == "recorded"
    proc.end_set("stopped")
    proc.on_ended()
    (ended,) = recorder.ended
    assert (ended.reason, ended.live_count) == ("target", 4)
    assert ended.series is not None and ended.series.t[-1] < 3.0  # up to the fourth tap (0.5 s + 4 at 2 Hz)
    assert ended.duration_s == pytest.approx(ended.series.t[-1])


def test_frames_stopping_mid_set_end_it_with_the_reps_so_far() -> None:
    proc, recorder = ending(10, SetTarget(reps=10), stall_s=0.3)
    feed(proc, range(int(2.3 * FPS)))  # three taps, then the camera is gone
    outcome = proc.outcome(0, timeout_s=5)
    assert outcome is not None
    snap = proc.snapshot()
    assert snap.done and snap.end_reason == "camera"
    feed(proc, range(int(2.3 * FPS), int(4.0 * FPS)))  # it comes back: the ended set counts nothing more
    proc.on_ended()
    (ended,) = recorder.ended
    assert (ended.reason, ended.live_count) == ("camera", 3) and proc.snapshot().rep_count == 3


def test_a_stream_ending_mid_set_hands_the_set_over_once() -> None:
    proc, recorder = ending(10, SetTarget(reps=10))
    feed(proc, range(int(2.3 * FPS)))
    with ThreadPoolExecutor(8) as pool:  # the page, the stream and the watchdog may all end it at once
        list(pool.map(lambda _: proc.end_set("stopped"), range(8)))
    proc.on_ended()
    assert proc.outcome(0, timeout_s=5) is not None
    assert [(e.reason, e.live_count) for e in recorder.ended] == [("stopped", 3)]


def test_a_set_without_a_rep_is_not_handed_over() -> None:
    proc, recorder = ending(10, SetTarget(reps=10), stall_s=0.2)
    feed(proc, range(int(0.6 * FPS)))  # the hand is there, no tap yet
    time.sleep(0.5)
    proc.on_ended()
    assert recorder.ended == [] and proc.outcome(0) is None and not proc.snapshot().done


def test_warm_tracker_is_loaded_before_it_is_taken_and_taken_once() -> None:
    tracker = ScriptedTracker(3)
    warm = WarmTracker(lambda: tracker)
    assert warm.take() is tracker
    assert tracker.calls == [-1.0]  # loaded with a blank frame before any real one
    assert warm.taken
    with pytest.raises(RuntimeError):
        warm.take()
    warm.close()
    assert not tracker.closed  # the stream that took it closes it


def test_a_spare_tracker_nobody_took_is_released() -> None:
    tracker = ScriptedTracker(3)
    warm = WarmTracker(lambda: tracker)
    warm.close()
    deadline = time.monotonic() + 5
    while not tracker.closed and time.monotonic() < deadline:  # closed once it has finished loading
        time.sleep(0.01)
    assert tracker.closed
