import math

import numpy as np
import pytest

from tracking.filters import OneEuroFilter, bridge_short_gaps, lowpass, one_euro, time_derivative, tracked_runs


def test_tracked_runs():
    valid = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool)
    assert tracked_runs(valid) == [(1, 3), (5, 6), (7, 10)]
    assert tracked_runs(np.zeros(0, bool)) == []
    assert tracked_runs(np.ones(4, bool)) == [(0, 4)]


def test_bridge_short_gaps_fills_only_short_interior_gaps():
    t = np.arange(12) / 10.0
    x = t * 2.0
    x[[0, 3, 4, 7, 8, 9]] = np.nan  # leading gap, 2-frame gap, 3-frame gap
    filled, valid = bridge_short_gaps(t, x, max_gap_frames=2)
    assert np.allclose(filled[3:5], t[3:5] * 2.0)
    assert np.isnan(filled[[0, 7, 8, 9]]).all()
    assert valid.tolist() == [False, True, True, True, True, True, True, False, False, False, True, True]


def test_lowpass_removes_noise_keeps_slow_motion():
    rng = np.random.default_rng(0)
    t = np.arange(0, 4, 1 / 60)
    clean = np.sin(2 * np.pi * 1.5 * t)
    y = lowpass(t, clean + rng.normal(0, 0.1, len(t)), cutoff_hz=6.0)
    err_in = np.std(y - clean)
    assert err_in < 0.06  # white noise 0.1 -> about 0.1 * sqrt(6 / 30)
    # zero phase: no lag on the slow component
    lag = np.argmax(np.correlate(y - y.mean(), clean - clean.mean(), "full")) - (len(t) - 1)
    assert lag == 0


def test_lowpass_respects_gaps_and_short_runs():
    t = np.arange(0, 3, 1 / 30)
    x = np.sin(2 * np.pi * t)
    x[40:50] = np.nan  # long gap: never bridged
    x[70] = np.nan  # one lost frame: bridged for filtering, re-masked
    x[88:] = np.nan
    x[84:87] = np.nan
    y = lowpass(t, x, cutoff_hz=5.0)
    assert np.array_equal(np.isnan(y), np.isnan(x))
    # the run on each side of the long gap is filtered without seeing the other side
    assert np.allclose(y[:40], np.sin(2 * np.pi * t[:40]), atol=0.03)
    assert np.allclose(y[51:69], np.sin(2 * np.pi * t[51:69]), atol=0.03)
    assert np.isfinite(y[87])  # a one-sample run is returned as is
    assert y[87] == x[87]


def test_lowpass_variable_frame_rate_matches_uniform():
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.8, 1.2, 200) / 30)
    x = np.sin(2 * np.pi * 1.0 * t) + rng.normal(0, 0.05, len(t))
    y = lowpass(t, x, cutoff_hz=4.0)
    assert np.std(y - np.sin(2 * np.pi * t))[()] < 0.03


def test_lowpass_multichannel_and_high_cutoff_passthrough():
    t = np.arange(0, 1, 1 / 16)
    x = np.random.default_rng(2).normal(size=(len(t), 21, 3))
    x[5, 3, 1] = np.nan  # a row with any NaN is a gap
    y = lowpass(t, x, cutoff_hz=10.0)  # 10 Hz > Nyquist 8 Hz: nothing to filter
    assert y.shape == x.shape
    assert np.isnan(y[5]).all()
    assert np.allclose(y[:5], x[:5]) and np.allclose(y[6:], x[6:])


def test_time_derivative_irregular_timestamps():
    t = np.cumsum(np.random.default_rng(3).uniform(0.02, 0.05, 100))
    x = 3.0 * t + 1.0
    x[50] = np.nan
    d = time_derivative(t, x)
    assert np.isnan(d[50])
    assert np.allclose(d[np.isfinite(d)], 3.0)


def test_one_euro_smooths_jitter_and_follows_motion():
    rng = np.random.default_rng(4)
    t = np.arange(0, 4, 1 / 30)
    still = 0.5 + rng.normal(0, 0.01, len(t))
    y = one_euro(t, still, min_cutoff=1.0, beta=0.05)
    assert np.std(y[30:]) < 0.4 * np.std(still[30:])
    ramp = 2.0 * t  # fast motion: lag must stay small
    yr = one_euro(t, ramp, min_cutoff=1.0, beta=1.0)
    assert np.max(np.abs(yr[30:] - ramp[30:])) < 0.1


def test_one_euro_arrays_nan_and_gap_reset():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, max_gap_s=0.3)
    a = np.zeros((21, 3))
    assert np.allclose(f(0.0, a), 0)
    out = f(1 / 30, a + 1.0)
    assert 0 < out[0, 0] < 1
    assert np.isnan(f(2 / 30, np.full((21, 3), np.nan))).all()
    # the hand comes back after a long gap somewhere else: no dragging from the old position
    assert np.allclose(f(1.0, a + 5.0), 5.0)
    assert math.isnan(OneEuroFilter()(0.0, math.nan))
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


def test_empty_and_all_missing_inputs():
    empty = np.zeros(0)
    assert lowpass(empty, empty).shape == (0,)
    assert time_derivative(empty, np.zeros((0, 21, 3))).shape == (0, 21, 3)
    t = np.arange(5) / 30
    assert np.isnan(lowpass(t, np.full(5, np.nan))).all()
    assert np.isnan(one_euro(t, np.full(5, np.nan))).all()
