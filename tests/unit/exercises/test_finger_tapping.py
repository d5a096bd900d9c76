import math

import numpy as np
import pytest
from synthetic_tapping import TapScript, frame_times, frames_of, script_series, synthetic_tapping_series

from exercises.finger_tapping import FingerTapping
from exercises.registry import get_exercise
from sessions.result import SessionResult
from tracking.series import INDEX_TIP, MIDDLE_DIP, THUMB_IP, THUMB_TIP, LandmarkSeries
from tracking.video import VideoInfo

EX = FingerTapping()


def peaks(analysis):
    return np.array([r["peak_s"] for r in analysis.reps])


@pytest.mark.parametrize(
    ("n", "rate", "fps"),
    [
        (1, 1.0, 30),
        (3, 2.0, 15),
        (5, 2.2, 30),
        (10, 3.0, 25),
        (17, 4.3, 16),
        (12, 6.0, 60),
        (15, 5.0, 24),
        (8, 1.5, 60),
    ],
)
def test_counts_sinusoidal_taps_with_variable_frame_rate(n, rate, fps):
    for seed in range(2):
        script = TapScript.regular(n, rate)
        a = EX.analyze(script_series(script, fps, jitter=0.15, seed=seed, image_noise_px=0.5))
        assert len(a.reps) == n
        assert np.abs(peaks(a) - script.contacts()).max() < max(0.35 / fps, 0.01)
        if n >= 3:
            assert a.metrics["frequency_hz"] == pytest.approx(rate, rel=0.02)


@pytest.mark.parametrize("shape", ["minjerk", "cosine"])
def test_fast_taps_at_16_fps_subframe_frequency(shape):
    script = TapScript.regular(17, 4.3, shape=shape)
    a = EX.analyze(script_series(script, 16, jitter=0.05))
    assert len(a.reps) == 17
    assert a.metrics["frequency_hz"] == pytest.approx(4.3, rel=0.02)
    # sub-frame contact times: errors far below the 62 ms frame interval
    assert np.abs(peaks(a) - script.contacts()).max() < 0.02
    if shape == "minjerk":
        # amplitudes do not beat with the sampling phase: no invented decrement
        assert abs(a.metrics["amplitude_decrement_pct"]) < 5
        assert a.metrics["amplitude_mean"] == pytest.approx(1.0, abs=0.05)


def test_fast_taps_survive_dropped_and_outlier_frames():
    script = TapScript.regular(17, 4.3)
    t = frame_times(script.duration, 16)
    rng = np.random.default_rng(3)
    idx = np.arange(10, len(t) - 10)
    missing = np.zeros(len(t), bool)
    missing[rng.choice(idx, 6, replace=False)] = True  # momentary losses on blurred frames
    outliers = np.zeros(len(t), bool)
    outliers[rng.choice(idx[~missing[idx]], 4, replace=False)] = True  # index tip misplaced by 3 cm
    s = synthetic_tapping_series(t, script.opening(t), missing=missing, outliers=outliers, image_noise_px=1.0)
    a = EX.analyze(s)
    assert abs(len(a.reps) - 17) <= 1
    assert a.metrics["frequency_hz"] == pytest.approx(4.3, rel=0.06)


def test_jitter_alone_counts_nothing():
    t = frame_times(20.0, 30)
    s = synthetic_tapping_series(t, np.full(len(t), 0.8), image_noise_px=1.0, seed=1)
    a = EX.analyze(s)
    assert a.reps == []
    assert a.metrics["tap_count"] == 0
    assert any(w.startswith("No taps were detected") for w in a.warnings)


def test_hand_drifting_in_the_frame_same_count():
    script = TapScript.regular(10, 2.5)
    still = EX.analyze(script_series(script, 30))
    moving = EX.analyze(script_series(script, 30, drift_px_per_s=(60.0, -25.0), zoom_per_s=0.08))
    assert len(still.reps) == len(moving.reps) == 10
    world = FingerTapping(space="world")
    assert len(world.analyze(script_series(script, 30, drift_px_per_s=(60.0, -25.0), zoom_per_s=0.08)).reps) == 10


def test_slow_small_taps_of_a_weak_hand_are_counted():
    script = TapScript.regular(6, 0.7, opening=0.12 + 0.15, contact=0.12)
    a = EX.analyze(script_series(script, 30, image_noise_px=0.5))
    assert len(a.reps) == 6
    assert a.metrics["frequency_hz"] == pytest.approx(0.7, rel=0.02)
    assert a.metrics["amplitude_mean"] == pytest.approx(0.27, abs=0.02)


def test_pause_is_a_hesitation_and_a_long_pause_a_halt():
    short = TapScript.regular(10, 3.0, pauses={4: 0.25})
    a = EX.analyze(script_series(short, 30, image_noise_px=0.5))
    assert len(a.reps) == 10
    assert a.metrics["hesitations"] == 1
    assert a.metrics["halts"] == 0
    (p,) = a.metrics["pauses"]
    # the pause belongs to the rhythm: frequency = 1 / mean of all inter-tap intervals
    assert a.metrics["frequency_hz"] == pytest.approx(1 / np.diff(short.contacts()).mean(), rel=0.01)
    assert p["start_s"] == pytest.approx(short.contacts()[4] + 1 / 6, abs=0.05)
    long = TapScript.regular(10, 3.0, pauses={6: 0.6})
    b = EX.analyze(script_series(long, 30, image_noise_px=0.5))
    assert (b.metrics["hesitations"], b.metrics["halts"]) == (1, 1)
    # rest before the first and after the last tap is not a hesitation
    plain = TapScript.regular(10, 3.0, lead_s=2.0, tail_s=2.0)
    assert EX.analyze(script_series(plain, 30, image_noise_px=0.5)).metrics["hesitations"] == 0


def test_linear_amplitude_decay_gives_the_decrement():
    n = 12
    openings = list(np.linspace(1.0, 0.5, n))  # opening after each tap
    script = TapScript(periods=[1 / 3.0] * n, openings=openings, first_opening=1.0)
    a = EX.analyze(script_series(script, 30))
    amp = np.array([r["amplitude"] for r in a.reps])
    assert np.allclose(amp, openings, atol=0.01)
    first, last = np.mean(openings[:4]), np.mean(openings[-4:])
    assert a.metrics["amplitude_decrement_pct"] == pytest.approx((first - last) / first * 100, abs=1.0)
    assert a.metrics["amplitude_slope_per_tap"] == pytest.approx(-0.5 / (n - 1), rel=0.05)
    assert a.metrics["decrement_slope"] > 0
    assert a.metrics["interval_cv"] < 0.01


def test_amplitude_is_sized_by_the_world_landmarks_and_timed_by_the_image():
    # Seen from below, the fingertips are nearer the camera than the palm: the image shows every opening
    # 1.4x as wide as it is. The world landmarks (perspective-free) keep the true size.
    n = 12
    openings = list(np.linspace(1.0, 0.6, n))
    script = TapScript(periods=[1 / 3.0] * n, openings=openings, first_opening=1.0)
    true = script_series(script, 30, image_noise_px=0.5)
    image = true.image.copy()
    tips = image[:, [THUMB_TIP, INDEX_TIP], :2]
    mid = tips.mean(axis=1, keepdims=True)
    image[:, [THUMB_TIP, INDEX_TIP], :2] = mid + 1.4 * (tips - mid)
    seen = true.with_(image=image)
    a, b = EX.analyze(true), EX.analyze(seen)
    assert len(a.reps) == len(b.reps) == n
    assert np.abs(peaks(a) - peaks(b)).max() < 1e-3
    assert b.metrics["amplitude_scale"] == pytest.approx(1 / 1.4, rel=0.03)
    assert a.metrics["amplitude_scale"] == pytest.approx(1.0, rel=0.03)
    assert b.metrics["amplitude_mean"] == pytest.approx(np.mean(openings), abs=0.03)
    assert b.metrics["amplitude_decrement_pct"] == pytest.approx(a.metrics["amplitude_decrement_pct"], abs=1.0)
    # the plotted signal is in the same (world-sized) palm lengths as the per-tap amplitudes
    assert np.nanmax(b.signals[0].value) == pytest.approx(1.0, abs=0.05)


def test_tracking_gap_invents_no_taps():
    script = TapScript.regular(10, 2.0)
    t = frame_times(script.duration, 30)
    contacts = script.contacts()
    missing = (t > contacts[3] - 0.1) & (t < contacts[6] + 0.1)  # three contacts fall in a 1.6 s gap
    a = EX.analyze(synthetic_tapping_series(t, script.opening(t), missing=missing))
    assert len(a.reps) == 6  # taps 3, 4, 5 and 6 were not seen
    assert all(not (contacts[3] - 0.1 < p < contacts[6] + 0.1) for p in peaks(a))
    # the interval across the gap is not a tapping interval
    assert a.metrics["frequency_hz"] == pytest.approx(2.0, rel=0.02)


def test_tap_fields_and_json():
    script = TapScript.regular(6, 2.0)
    s = script_series(script, 30)
    a = get_exercise("finger_tapping").analyze(s)
    for r in a.reps:
        assert r["start_s"] < r["peak_s"] < r["end_s"]
        assert r["duration_s"] == pytest.approx(r["end_s"] - r["start_s"])
        assert r["closing_speed"] > 0 and r["opening_speed"] > 0
        assert r["partly_untracked"] is False
        assert -4 < r["sparc"] < 0
    # a minimum-jerk phase of excursion A over T/2: mean speed between its 10 % and 90 % points
    u = np.linspace(0, 1, 100001)
    s_u = 10 * u**3 - 15 * u**4 + 6 * u**5
    u10, u90 = np.interp([0.1, 0.9], s_u, u)
    expect = 0.8 * (1.0 - 0.12) / ((u90 - u10) * 0.25)
    assert a.metrics["closing_speed_mean"] == pytest.approx(expect, rel=0.05)
    assert a.metrics["opening_speed_mean"] == pytest.approx(expect, rel=0.05)
    for key in ("frequency_hz", "amplitude_mean", "amplitude_decrement_pct", "interval_cv", "hesitations"):
        assert key in a.metrics
    video = VideoInfo("x.mp4", 30.0, len(s), float(s.t[-1]), 640, 480)
    d = SessionResult.from_analysis(a, video, "right", 1.0).to_dict()
    assert d["rep_count"] == 6
    SessionResult.from_dict(d)


def test_reanalysis_with_corrected_reps():
    script = TapScript.regular(8, 2.0)
    s = script_series(script, 30)
    a = EX.analyze(s)
    windows = [(r["start_s"], r["end_s"]) for r in a.reps]
    same = EX.analyze(s, reps=windows)
    assert [r["peak_s"] for r in same.reps] == pytest.approx([r["peak_s"] for r in a.reps])
    assert same.metrics["amplitude_mean"] == pytest.approx(a.metrics["amplitude_mean"])
    # the therapist rejects two taps
    fewer = EX.analyze(s, reps=windows[:3] + windows[5:])
    assert fewer.metrics["tap_count"] == 6
    assert len(fewer.reps) == 6
    with pytest.raises(ValueError):
        EX.analyze(s, reps=[(2.0, 1.0)])
    outside = EX.analyze(s, reps=[*windows[:2], (100.0, 101.0)])
    assert len(outside.reps) == 2 and any("left out" in w for w in outside.warnings)


def test_zero_and_few_taps_are_valid_results_with_warnings():
    t = frame_times(3.0, 30)
    a = EX.analyze(synthetic_tapping_series(t, np.full(len(t), 0.9)))
    assert a.metrics["frequency_hz"] == 0.0 and math.isnan(a.metrics["amplitude_mean"])
    a2 = EX.analyze(script_series(TapScript.regular(2, 2.0), 30))
    assert len(a2.reps) == 2
    assert math.isnan(a2.metrics["amplitude_decrement_pct"])
    assert any("too few" in w for w in a2.warnings)


@pytest.mark.parametrize(("rate", "fps", "jitter"), [(2.2, 30, 0.1), (4.3, 16, 0.05)])
def test_live_detector_matches_offline(rate, fps, jitter):
    script = TapScript.regular(12, rate, pauses={5: 0.5})
    t = frame_times(script.duration, fps, jitter=jitter)
    missing = np.zeros(len(t), bool)
    missing[[20, 21, 40]] = True
    s = synthetic_tapping_series(t, script.opening(t), missing=missing, image_noise_px=1.0)
    offline = EX.analyze(s)
    live = EX.live()
    states = [live.update(f) for f in frames_of(s)]
    completed = [st for st in states if st.rep_completed]
    assert states[-1].rep_count == len(offline.reps) == len(completed) >= 11
    live_peaks = [st.last_rep["peak_s"] for st in completed if st.last_rep]
    # the same contacts; offline refines their times with the whole signal (within a frame)
    assert live_peaks == pytest.approx(list(peaks(offline)), abs=1.0 / fps)
    assert states[20].prompt == "Move your hand into view" and math.isnan(states[20].value)
    assert states[0].prompt is not None and states[-1].prompt is None


@pytest.mark.parametrize("fps", [30, 24])
def test_frame_to_frame_jitter_and_a_misdrawn_frame_are_not_taps(fps):
    # Seen in dim light (rendered clips, palm from above): the opening of a still hand jumps by 0.1 palm
    # lengths from frame to frame, and MediaPipe misdraws a single frame; neither is a tap, live or offline.
    script = TapScript.regular(10, 3.0, lead_s=1.0)
    t = frame_times(script.duration, fps)
    y = script.opening(t)
    rest = t < 0.9
    y[rest] += np.random.default_rng(fps).normal(0.0, 0.04, rest.sum())
    y[np.flatnonzero(rest)[10]] -= 0.25
    s = synthetic_tapping_series(t, y)
    offline = EX.analyze(s)
    live = EX.live()
    states = [live.update(f) for f in frames_of(s)]
    assert len(offline.reps) == states[-1].rep_count == 10
    assert np.abs(peaks(offline) - script.contacts()).max() < 1.0 / fps


def thumb_and_index(
    script: TapScript, fps: float, *, index_opening: np.ndarray | None = None, thumb_bends: bool = True
) -> LandmarkSeries:
    """Taps whose index tip MediaPipe draws at ``index_opening`` (the opening it would give with a thumb at the
    contact) while the thumb follows the ``script``; its IP joint bends with its tip, toward the middle finger."""
    t = frame_times(script.duration, fps)
    s = synthetic_tapping_series(t, script.opening(t), image_noise_px=0.5)
    image, world = s.image.copy(), s.world.copy()
    if thumb_bends:
        image[:, THUMB_IP] = image[:, THUMB_TIP] + [0.01, 0.03, 0.0]
        world[:, THUMB_IP] = world[:, THUMB_TIP] + [0.0066, 0.0144, 0.0]
    if index_opening is not None:
        drawn = synthetic_tapping_series(t, index_opening, image_noise_px=0.5, seed=1)
        image[:, INDEX_TIP], world[:, INDEX_TIP] = drawn.image[:, INDEX_TIP], drawn.world[:, INDEX_TIP]
    return s.with_(image=image, world=world)


@pytest.mark.parametrize(("n", "rate", "fps"), [(10, 2.0, 30), (12, 3.5, 24)])
def test_a_hidden_index_is_counted_on_the_thumb_and_middle_finger(n, rate, fps):
    # Seen from the little-finger side, MediaPipe redraws the hidden index anywhere between half open and open
    # in every frame: the thumb-index distance never closes, and every redraw is a dip.
    script = TapScript.regular(n, rate)
    t = frame_times(script.duration, fps)
    redrawn = np.random.default_rng(n).uniform(0.6, 1.2, len(t))
    s = thumb_and_index(script, fps, index_opening=redrawn)
    a = EX.analyze(s)
    assert len(a.reps) == n
    assert np.abs(peaks(a) - script.contacts()).max() < 1.0 / fps
    assert a.signals[0].name == "thumb_ip_middle_dip_distance" and a.metrics["index_hidden"] is True
    assert any(w.startswith("The index finger was hidden") for w in a.warnings)
    assert not any("never seen to touch" in w for w in a.warnings)
    # The frame-by-frame counter counts redraws; it asks the patient to turn the hand.
    live = EX.live()
    last = [live.update(f) for f in frames_of(s)][-1]
    assert last.rep_count != n and last.prompt is not None and last.prompt.startswith("Your index finger is hidden")
    # A therapist's corrected taps are measured on the same signal.
    windows = [(r["start_s"], r["end_s"]) for r in a.reps]
    assert len(EX.analyze(s, reps=windows[:-1]).reps) == n - 1


def partly_hidden(script: TapScript, fps: float) -> np.ndarray:
    """The index drawn open for a moment in the middle of every contact: each tap seen as two dips."""
    t = frame_times(script.duration, fps)
    return script.opening(t) + sum(1.6 * np.exp(-(((t - c) / 0.04) ** 2)) for c in script.contacts())


@pytest.mark.parametrize(("rate", "fps"), [(1.0, 30), (1.5, 24)])
def test_a_partly_hidden_index_is_recounted_where_thumb_and_rhythm_agree(rate, fps):
    script = TapScript.regular(8, rate)
    s = thumb_and_index(script, fps, index_opening=partly_hidden(script, fps))
    a = EX.analyze(s)
    live = EX.live()
    frame_by_frame = [live.update(f) for f in frames_of(s)][-1].rep_count
    assert frame_by_frame == 16 and len(a.reps) == 8
    assert a.signals[0].name == "thumb_index_distance"  # measured on the opening: the index is seen at the openings
    assert a.metrics["amplitude_mean"] == pytest.approx(1.0, abs=0.05)
    (note,) = [w for w in a.warnings if "partly hidden" in w]
    assert note.startswith("16 dips") and note.endswith("The count is 8.")
    # Where the thumb does not move with the taps, nothing confirms the rhythm: the count stands, flagged.
    still = EX.analyze(thumb_and_index(script, fps, index_opening=partly_hidden(script, fps), thumb_bends=False))
    assert len(still.reps) == 16
    assert any(w.startswith("16 taps were counted frame by frame, but the rhythm") for w in still.warnings)


def test_taps_that_never_close_with_a_still_thumb_are_counted_frame_by_frame():
    # The thumb's distance to the middle finger does not move (only the tips do): nothing to count it on, and
    # thresholds scaled to no depth would count jitter. The taps are counted as seen, with a warning.
    script = TapScript.regular(8, 2.0, contact=0.6)
    a = EX.analyze(thumb_and_index(script, 30, thumb_bends=False))
    assert len(a.reps) == 8 and a.signals[0].name == "thumb_index_distance" and a.metrics["index_hidden"] is False
    assert any("never seen to touch" in w for w in a.warnings)


def test_a_hidden_index_is_recounted_where_both_rhythms_agree():
    # Seen from the little-finger side (held-out render d6cda893): the redrawn index never closes but keeps the
    # rhythm, and MediaPipe drew the thumb jumping back in the middle of one contact, a tap counted as two
    # on the thumb's distance. The rhythms of both distances show the taps.
    script = TapScript.regular(10, 2.0)
    fps = 30
    t = frame_times(script.duration, fps)
    rng = np.random.default_rng(5)
    s = thumb_and_index(script, fps, index_opening=0.6 + 0.5 * script.opening(t) + rng.uniform(-0.1, 0.1, len(t)))
    clean = EX.analyze(s)
    assert clean.metrics["index_hidden"] is True and len(clean.reps) == 10

    def thumb_drawn_back(by: float) -> LandmarkSeries:
        """The thumb's IP joint drawn ``by`` of its distance further from the middle finger for 3 frames."""
        image = s.image.copy()
        jump = np.abs(t - script.contacts()[4]) < 0.06
        image[jump, THUMB_IP] += by * (image[jump, THUMB_IP] - image[jump, MIDDLE_DIP])
        return s.with_(image=image)

    a = EX.analyze(thumb_drawn_back(0.5))
    assert a.metrics["index_hidden"] is True and len(a.reps) == 10
    (note,) = [w for w in a.warnings if "rhythm of that distance" in w]
    assert note.startswith("11 taps were counted frame by frame") and note.endswith("the count is 10.")
    # Drawn back further, the thumb's rhythm loses a tap too: the rhythms disagree and the count stands.
    assert len(EX.analyze(thumb_drawn_back(1.0)).reps) == 11
