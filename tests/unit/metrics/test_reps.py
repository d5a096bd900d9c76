import numpy as np
import pytest

from metrics.reps import RepCounter, RepParams, find_reps


def sine_reps(n: int, rate: float, fps: float, amplitude: float = 1.0, lead_s: float = 0.5):
    """``n`` full dips of ``amplitude`` from rest at 1.0, with rest before and after."""
    t = np.arange(0, lead_s * 2 + n / rate, 1 / fps)
    phase = np.clip((t - lead_s) * rate, 0, n)
    x = 1.0 - amplitude * 0.5 * (1 - np.cos(2 * np.pi * phase))
    return t, x


@pytest.mark.parametrize("n", [1, 3, 10])
@pytest.mark.parametrize(("rate", "fps"), [(1.0, 30), (4.0, 30), (2.0, 60), (3.0, 15)])
def test_counts_dips(n, rate, fps):
    t, x = sine_reps(n, rate, fps)
    reps = find_reps(t, x, RepParams(min_prominence=0.1, polarity=-1))
    assert len(reps) == n
    for k, r in enumerate(reps):
        assert r.start_t < r.peak_t < r.end_t
        assert r.peak_t == pytest.approx(0.5 + (k + 0.5) / rate, abs=0.25 / fps)
        assert r.peak_value == pytest.approx(1.0 - 1.0, abs=0.1)


def test_rise_polarity_and_amplitude():
    t, x = sine_reps(4, 1.0, 30, amplitude=0.5)
    reps = find_reps(t, -x, RepParams(min_prominence=0.1, polarity=1))
    assert len(reps) == 4
    assert all(r.amplitude == pytest.approx(0.5, abs=0.02) for r in reps)


def test_jitter_never_counts():
    rng = np.random.default_rng(0)
    t = np.arange(0, 60, 1 / 30)
    x = 1.0 + rng.normal(0, 0.01, len(t))
    assert find_reps(t, x, RepParams(min_prominence=0.1, polarity=-1)) == []


def test_small_slow_reps_counted_and_wobble_of_big_mover_ignored():
    t, x = sine_reps(5, 0.5, 30, amplitude=0.15)
    assert len(find_reps(t, x, RepParams(min_prominence=0.06, polarity=-1))) == 5
    t, x = sine_reps(6, 2.0, 30, amplitude=1.0)
    # a 0.15 bounce on top of every opening: far below 25 % of the rep amplitude
    tapping = (t > 0.75) & (t < t[-1] - 0.75)
    x = x - 0.15 * np.clip(np.sin(2 * np.pi * 8 * t), 0, None) * (x > 0.9) * tapping
    assert len(find_reps(t, x, RepParams(min_prominence=0.06, polarity=-1))) == 6


def test_gap_never_invents_a_rep():
    t = np.arange(0, 4, 1 / 30)
    x = np.ones(len(t))
    # the hand is lost while open, and comes back closed then opens: not a full observed rep
    x[30:60] = np.nan
    x[60:70] = 0.2
    reps = find_reps(t, x, RepParams(min_prominence=0.1, polarity=-1))
    assert reps == []
    # same with a jump in timestamps instead of NaN frames
    keep = np.isfinite(x)
    assert find_reps(t[keep], x[keep], RepParams(min_prominence=0.1, polarity=-1)) == []


def test_short_gap_inside_a_rep_is_tolerated():
    t, x = sine_reps(5, 2.0, 30)
    x[np.argmin(np.abs(t - 1.75))] = np.nan  # the frame at one contact is lost
    assert len(find_reps(t, x, RepParams(min_prominence=0.1, polarity=-1))) == 5


def test_resumes_after_pause_with_much_smaller_reps():
    t1, x1 = sine_reps(4, 2.0, 30, amplitude=1.0, lead_s=0.5)
    t2, x2 = sine_reps(4, 2.0, 30, amplitude=0.18, lead_s=1.5)
    t = np.concatenate([t1, t1[-1] + 1 / 30 + t2])
    x = np.concatenate([x1, x2])
    assert len(find_reps(t, x, RepParams(min_prominence=0.06, polarity=-1))) == 8


def test_streaming_equals_offline():
    rng = np.random.default_rng(5)
    t, x = sine_reps(7, 1.5, 25, amplitude=0.6)
    x = x + rng.normal(0, 0.01, len(t))
    params = RepParams(min_prominence=0.1, polarity=-1)
    counter = RepCounter(params)
    live = [e for ti, xi in zip(t, x, strict=True) if (e := counter.update(float(ti), float(xi))) is not None]
    offline = find_reps(t, x, params)
    assert [(r.start_i, r.peak_i, r.confirm_i) for r in live] == [(r.start_i, r.peak_i, r.confirm_i) for r in offline]
    assert counter.count == 7


def test_level_prominence_ignores_the_jitter_of_a_wide_distance_but_counts_real_closures():
    # A wide-open hand (1.4) jitters by 0.09 before tapping; then three taps closing to 0.15 and one to 0.9.
    t = np.arange(0, 4, 1 / 30)
    x = 1.4 + 0.045 * np.sign(np.sin(2 * np.pi * 3 * t))
    for c, depth in ((1.5, 1.25), (2.1, 1.25), (2.7, 1.25), (3.3, 0.5)):
        x = x - depth * np.exp(-0.5 * ((t - c) / 0.06) ** 2)
    plain = RepParams(min_prominence=0.07, rel_prominence=0.25, polarity=-1, min_duration_s=0.04)
    assert len(find_reps(t, x, plain)) > 4  # the jitter before the first tap counts
    reps = find_reps(t, x, RepParams(**{**plain.__dict__, "level_prominence": 0.1}))
    assert [round(r.peak_t, 1) for r in reps] == [1.5, 2.1, 2.7, 3.3]
