"""Movement smoothness of a speed profile: SPARC and log dimensionless jerk (LDLJ).

Both follow Balasubramanian et al., "On the analysis of movement smoothness", J NeuroEng Rehabil 2015
(reference code: github.com/siva82kb/smoothness). Values are negative; closer to zero is smoother.
A single minimum-jerk movement has SPARC ≈ -1.40 and LDLJ (speed based) ≈ -5.32 (= -ln(720/1.875²));
pauses, corrections and tremor make both more negative.

:func:`segment_smoothness` applies them to one rep of a possibly irregular, gappy speed series.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Smoothness", "log_dimensionless_jerk", "segment_smoothness", "sparc"]


def sparc(
    speed: np.ndarray,
    fs: float,
    *,
    pad_level: int = 4,
    cutoff_hz: float = 10.0,
    amp_threshold: float = 0.05,
) -> float:
    """Spectral arc length of a uniformly sampled speed profile.

    Parameters
    ----------
    speed : (n,) array
        Speed samples (non-negative, finite), uniformly sampled.
    fs : float
        Sampling rate in Hz.
    pad_level : int
        Zero padding: the FFT length is ``2 ** (ceil(log2(n)) + pad_level)``.
    cutoff_hz : float
        Upper bound of the frequency band considered (also capped at the Nyquist frequency).
    amp_threshold : float
        The band ends at the last frequency whose normalized magnitude is at least this value.

    Returns
    -------
    float
        SPARC (≤ 0), NaN for fewer than 3 samples or a speed profile that is all zero.
    """
    v = np.asarray(speed, float)
    if v.ndim != 1 or len(v) < 3 or not np.isfinite(v).all() or fs <= 0:
        return math.nan
    nfft = int(2 ** (math.ceil(math.log2(len(v))) + pad_level))
    f = np.arange(nfft) * (fs / nfft)
    mag = np.abs(np.fft.fft(v, nfft))
    if mag.max() <= 0:
        return math.nan
    mag = mag / mag.max()
    band = f <= min(cutoff_hz, fs / 2)
    f_sel, m_sel = f[band], mag[band]
    above = np.flatnonzero(m_sel >= amp_threshold)
    f_sel, m_sel = f_sel[above[0] : above[-1] + 1], m_sel[above[0] : above[-1] + 1]
    if len(f_sel) < 2:
        return 0.0
    df = np.diff(f_sel) / (f_sel[-1] - f_sel[0])
    return float(-np.sum(np.sqrt(df**2 + np.diff(m_sel) ** 2)))


def log_dimensionless_jerk(speed: np.ndarray, fs: float) -> float:
    """Log dimensionless jerk of a uniformly sampled speed profile.

    ``-ln( T**3 / v_peak**2 * ∫ (d²v/dt²)² dt )`` with ``T`` the duration and ``v_peak`` the peak speed.

    Returns
    -------
    float
        LDLJ (negative), NaN for fewer than 3 samples or zero speed.
    """
    v = np.asarray(speed, float)
    if v.ndim != 1 or len(v) < 3 or not np.isfinite(v).all() or fs <= 0:
        return math.nan
    peak = float(np.max(np.abs(v)))
    if peak <= 0:
        return math.nan
    dt = 1.0 / fs
    duration = len(v) * dt
    jerk = np.diff(v, 2) / dt**2
    integral = float(np.sum(jerk**2) * dt)
    if integral <= 0:
        return math.nan
    return float(-math.log(duration**3 / peak**2 * integral))


class Smoothness(NamedTuple):
    sparc: float
    ldlj: float


def segment_smoothness(
    t: np.ndarray,
    speed: np.ndarray,
    *,
    start_s: float,
    end_s: float,
    cutoff_hz: float = 10.0,
    max_missing: float = 0.34,
) -> Smoothness:
    """SPARC and LDLJ of ``speed`` between ``start_s`` and ``end_s`` (one rep).

    The samples in the interval are put on a uniform grid at their median interval (variable frame
    rate) with NaN gaps interpolated linearly; when more than ``max_missing`` of them are NaN, or fewer
    than 3 remain, both values are NaN.

    Parameters
    ----------
    t : (T,) array
        Timestamps in seconds.
    speed : (T,) array
        Speed (any unit; both measures are scale free), NaN where untracked.
    start_s, end_s : float
        The rep's interval.
    cutoff_hz : float
        SPARC frequency band limit.
    max_missing : float
        Largest fraction of NaN samples tolerated in the interval.
    """
    t = np.asarray(t, float)
    v = np.asarray(speed, float)
    sel = (t >= start_s) & (t <= end_s)
    ts, vs = t[sel], v[sel]
    ok = np.isfinite(vs)
    if ok.sum() < 3 or (1 - ok.mean()) > max_missing:
        return Smoothness(math.nan, math.nan)
    ts, vs = ts[ok], vs[ok]
    dt = float(np.median(np.diff(ts)))
    if not dt > 0:
        return Smoothness(math.nan, math.nan)
    grid = ts[0] + dt * np.arange(round(float(ts[-1] - ts[0]) / dt) + 1)
    vg = np.interp(grid, ts, vs)
    fs = 1.0 / dt
    return Smoothness(sparc(vg, fs, cutoff_hz=cutoff_hz), log_dimensionless_jerk(vg, fs))
