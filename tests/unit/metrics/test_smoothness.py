import math

import numpy as np
import pytest

from metrics.smoothness import log_dimensionless_jerk, segment_smoothness, sparc


def min_jerk_speed(n: int, duration: float) -> np.ndarray:
    tau = np.linspace(0, 1, n)
    return (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / duration


def test_sparc_gaussian_bump_known_value():
    fs = 200.0
    t = np.arange(-1, 1, 1 / fs)
    v = np.exp(-(t**2) / (2 * 0.1**2))
    assert -1.6 < sparc(v, fs) < -1.4


def test_min_jerk_analytic_values():
    fs = 500.0
    v = min_jerk_speed(501, 1.0)
    assert sparc(v, fs) == pytest.approx(-1.40, abs=0.02)
    # dimensionless jerk of a minimum-jerk movement: 720 / 1.875**2 (speed-based normalisation)
    assert log_dimensionless_jerk(v, fs) == pytest.approx(-math.log(720 / 1.875**2), abs=0.02)


def test_scale_invariance():
    fs = 100.0
    v = min_jerk_speed(101, 1.0)
    assert sparc(3 * v, fs) == pytest.approx(sparc(v, fs))
    assert log_dimensionless_jerk(3 * v, fs) == pytest.approx(log_dimensionless_jerk(v, fs))


def test_jerky_is_less_smooth_than_min_jerk():
    fs = 200.0
    n = 201
    smooth = min_jerk_speed(n, 1.0)
    t = np.linspace(0, 1, n)
    jerky = smooth * (1 + 0.3 * np.sin(2 * np.pi * 6 * t)) + 0  # a tremor on top
    two_sub = np.exp(-((t - 0.3) ** 2) / 0.005) + np.exp(-((t - 0.7) ** 2) / 0.005)  # a pause in the middle
    for other in (jerky, two_sub):
        assert sparc(other, fs) < sparc(smooth, fs) - 0.2
        assert log_dimensionless_jerk(other, fs) < log_dimensionless_jerk(smooth, fs)


def test_degenerate_inputs_are_nan():
    assert math.isnan(sparc(np.zeros(10), 30))
    assert math.isnan(sparc(np.ones(2), 30))
    assert math.isnan(log_dimensionless_jerk(np.array([1.0, np.nan, 2.0, 1.0]), 30))


def test_segment_smoothness_irregular_and_gappy():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.8, 1.2, 300) / 100)
    v = np.interp(t, np.linspace(1.0, 2.0, 200), min_jerk_speed(200, 1.0), left=0, right=0)
    s = segment_smoothness(t, v, start_s=1.0, end_s=2.0)
    assert s.sparc == pytest.approx(-1.40, abs=0.05)
    assert s.ldlj == pytest.approx(-5.32, abs=0.3)
    v[(t > 1.0) & (t < 1.6)] = np.nan  # mostly untracked: no value rather than a wrong one
    assert math.isnan(segment_smoothness(t, v, start_s=1.0, end_s=2.0).sparc)
