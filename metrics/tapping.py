"""Finger-tapping kinematics (MDS-UPDRS 3.4): the tapping signal, per-tap measures and session metrics.

Signal
    Thumb-tip to index-tip distance divided by palm length (wrist → middle MCP), one value per frame,
    computed by :class:`TapSignal` — the same object offline and live. The palm length is a causal
    running median over 0.5 s (:class:`metrics.hand.CausalMedian`), so one bad frame of the wrist or MCP
    cannot fake a tap. See :data:`DEFAULT_SPACE` for the choice of 3-D world vs image coordinates.

Taps
    A tap is a dip of the signal (``polarity=-1``) found by the shared :class:`metrics.reps.RepCounter`
    with :data:`TAP_PARAMS` on the per-frame signal through a causal median of three (:class:`DenseMedian`,
    which passes sparse frames through), so the live counter and the offline analysis agree frame for frame,
    and the taps are then measured on the signal itself. A tap runs from the opening before the contact
    (``start_s``) through the contact (``peak_s``: the middle of the time spent within 15 % of the excursion
    above the minimum, edges interpolated between frames) to the opening after it (``end_s``). Openings are
    parabola-refined extremes. A rest held open for ≥ 0.2 s before or after a tap is trimmed off.

Scale
    The image signal has the right shape but not a view-independent size: a hand seen from below or
    above puts the fingertips nearer the camera than the palm (perspective enlarges the opening by up
    to 1.3x at 40 cm) and foreshortens the palm or the opening (another 0.8-1.3x). MediaPipe's world
    landmarks are metric and perspective-free but jitter. :func:`opening_scale` therefore rescales the
    image signal offline by one factor per session: the median world/image ratio at the openings
    (``metrics.amplitude_scale``). Against the renderer's 3-D truth this cut the mean absolute error
    of ``amplitude_mean`` from 0.12 to 0.08 palm lengths on the development suite (palm, side,
    three-quarter views), from 0.33 to 0.16 on the held-out one (palm from below and above, ulnar
    three-quarter) and from 0.15 to 0.12 on six more ulnar three-quarter clips. Counts, contact times
    and the relative decrement are unchanged; the live gauge keeps the unscaled image value.

Kinematics
    Speeds use the zero-phase low-passed signal (:func:`tracking.filters.lowpass`). Closing and opening
    speeds are mean speeds over the central 80 % of each phase (10 % → 90 % of its excursion), so a
    pause at the open or closed position does not dilute them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from metrics.hand import CausalMedian, image_to_pixels, landmark_distance, palm_length
from metrics.reps import RepEvent, RepParams, find_reps
from metrics.smoothness import segment_smoothness
from tracking.filters import lowpass, time_derivative, tracked_runs
from tracking.series import INDEX_TIP, MIDDLE_DIP, MIDDLE_MCP, THUMB_IP, THUMB_TIP, WRIST, LandmarkSeries

__all__ = [
    "DEFAULT_SPACE",
    "HALT_S",
    "HESITATION_S",
    "HIDDEN_INDEX_POINTS",
    "RHYTHM_CUTOFF",
    "RHYTHM_EXCESS",
    "SHALLOW_DEPTH",
    "STILL_DEPTH",
    "TAP_PARAMS",
    "UNSEEN_CONTACT",
    "DenseMedian",
    "TapSignal",
    "compute_tap_signal",
    "contact_unseen",
    "count_signal",
    "depth_params",
    "find_pauses",
    "hidden_index_signal",
    "interval_speeds",
    "measure_taps",
    "opening_scale",
    "parabola_min",
    "rhythm_count",
    "rhythm_mismatch",
    "rhythm_signal",
    "rhythm_taps",
    "signal_depth",
    "tap_contact",
    "tap_contacts",
    "tapping_frequency",
    "tapping_metrics",
]

Space = Literal["world", "image"]

DEFAULT_SPACE: Space = "image"
"""Coordinates of the tapping signal: 2-D image landmarks on an isotropic pixel scale.

Measured on 8 rendered tapping clips (synth; 16 and 30 fps, palm/three-quarter/side views, motion
blur, 0.7-4.3 Hz) tracked by MediaPipe Hands, against the true thumb-index distance: the image-based
signal followed it with a residual of 0.012-0.037 palm lengths and timed contacts within 5-9 ms
(median; 30 ms for slow taps); the 3-D world-landmark signal had 0.022-0.069 and 8-23 ms (164 ms for
slow taps), and compressed the opening (slope 0.36-0.85 against the truth, vs 1.03-1.26 for image):
MediaPipe's predicted world depth jitters and flattens. A ratio of two image distances is independent
of camera distance and framing like the world version; what it loses is the depth part of the opening
(a hand turned so that the thumb-index line points at the camera looks less open), a near-constant
factor within a session that leaves counts, timing and the relative decrement unchanged.
"""

TAP_PARAMS = RepParams(
    min_prominence=0.07, rel_prominence=0.25, polarity=-1, min_duration_s=0.04, max_gap_s=0.35, level_prominence=0.1
)
"""Rep-machine thresholds for taps, in palm lengths.

``min_prominence`` 0.07 is about 3x the frame-to-frame jitter of the signal on a still hand and half
the excursion of a slow, small tap from a weak hand (0.15); ``level_prominence`` 0.1 keeps the jitter of
a wide-open hand (0.09 at 1.4 palm lengths, seen from below) from counting before the first tap, while a
tap closing halfway from that opening still counts; ``max_gap_s`` lets 1-4 lost frames (motion blur at
16 fps) pass without restarting the count.
"""

HESITATION_S = 0.2
HALT_S = 0.3
# Slow tapping dwells at every contact and opening: at 0.7 Hz the speed stays under 10 % of its peak
# for 0.25-0.35 s at each turn (MediaPipe also cannot resolve the last millimetres before contact).
# A pause must therefore also be long compared with the tapping cycle to be a hesitation.
HESITATION_CYCLE_FRAC = 0.35
PLATEAU_TRIM_S = 0.2
HESITATION_SPEED_FRAC = 0.1  # of the median per-tap peak speed
KINEMATIC_CUTOFF_HZ = 10.0


@dataclass
class TapSignal:
    """Per-frame tapping signal: thumb-index tip distance in palm lengths (streaming).

    Parameters
    ----------
    space : 'world' or 'image'
        Landmark coordinates used (see :data:`DEFAULT_SPACE`).
    width, height : int
        Frame size for ``space='image'`` (a frame may also bring its own size to :meth:`update`).
        Unknown (0): normalized coordinates are taken as isotropic, which distorts the distances of a
        non-square frame by a constant factor per direction (counts are unaffected).
    palm_window_s : float
        Length of the running median of the palm length.
    """

    space: Space = DEFAULT_SPACE
    width: int = 0
    height: int = 0
    palm_window_s: float = 0.5

    def __post_init__(self) -> None:
        if self.space not in ("world", "image"):
            raise ValueError(f"space must be 'world' or 'image', not {self.space!r}")
        self._palm = CausalMedian(window_s=self.palm_window_s)

    def update(
        self, t: float, image: np.ndarray | None, world: np.ndarray | None, *, width: int = 0, height: int = 0
    ) -> float:
        """Signal value for one frame (NaN when the hand is not tracked)."""
        pts = world if self.space == "world" else image
        if pts is None:
            self._palm.update(t, math.nan)
            return math.nan
        p = np.asarray(pts, float)
        dims = 3
        if self.space == "image":
            w, h = (width, height) if width > 0 and height > 0 else (self.width, self.height)
            p = image_to_pixels(p, w, h) if w > 0 and h > 0 else p
            dims = 2
        palm = float(np.linalg.norm(p[MIDDLE_MCP, :dims] - p[WRIST, :dims]))
        palm_ref = self._palm.update(t, palm if palm > 0 else math.nan)
        tips = float(np.linalg.norm(p[THUMB_TIP, :dims] - p[INDEX_TIP, :dims]))
        if not (math.isfinite(tips) and math.isfinite(palm_ref) and palm_ref > 0):
            return math.nan
        return tips / palm_ref


DENSE_SPAN_S = 0.105
"""Three samples within this many seconds are dense (20 fps or more): :class:`DenseMedian` filters them."""


SETTLE_S = 0.2
"""Seconds after the hand is found (at the start, or after a gap in which the count restarts) that are not counted.

MediaPipe settles on a newly found hand: its first frames come from the palm detector's box, the next from its own
landmarks. On rendered clips that open with the hand held still for 0.5 s, the signal of 3 of 80 drifted or dipped
by 0.1-0.4 palm lengths within the first 0.2 s and counted a tap before the first (held-out seeds 30-45).
"""


class DenseMedian:
    """Causal median of the last three samples where frames are dense; the sample itself where they are not.

    A frame MediaPipe misdraws, or the frame-to-frame jitter of a hand filmed in dim light (0.1 palm lengths
    between frames of a still hand), would otherwise count as a tap. Three samples within ``span_s`` means
    20 fps or more, where even a 5 Hz tap spans four frames and its dip survives the median; at sparser frames
    a fast tap touches in a single frame, which the median would remove. The first :data:`SETTLE_S` after the
    hand is found (no sample for more than ``gap_s`` before) give NaN: the tracker is still settling.
    """

    def __init__(
        self, *, span_s: float = DENSE_SPAN_S, settle_s: float = SETTLE_S, gap_s: float = TAP_PARAMS.max_gap_s
    ) -> None:
        self.span_s, self.settle_s, self.gap_s = span_s, settle_s, gap_s
        self._buf: list[tuple[float, float]] = []
        self._found = math.nan  # when the hand was last found

    def update(self, t: float, x: float) -> float:
        """The filtered value at ``t`` (NaN in, NaN out)."""
        if not math.isfinite(x):
            return math.nan
        if not self._buf or t - self._buf[-1][0] > self.gap_s:
            self._found = t
        self._buf = [*self._buf[-2:], (t, x)]
        if t - self._found < self.settle_s:
            return math.nan
        if t - self._buf[0][0] > self.span_s:
            return x
        return float(np.median([v for _, v in self._buf]))


def count_signal(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The signal taps are counted on: :class:`DenseMedian` over ``x``, sample by sample (as live)."""
    f = DenseMedian()
    return np.array([f.update(float(ti), float(xi)) for ti, xi in zip(t, x, strict=True)])


def compute_tap_signal(series: LandmarkSeries, *, space: Space = DEFAULT_SPACE) -> np.ndarray:
    """The :class:`TapSignal` of every frame of ``series`` (T,), NaN where the hand was not tracked."""
    sig = TapSignal(space=space, width=series.width, height=series.height)
    pts = series.world if space == "world" else series.image
    out = np.full(len(series), np.nan)
    for i in range(len(series)):
        present = bool(series.present[i]) and bool(np.isfinite(pts[i]).all())
        frame = pts[i] if present else None
        image, world = (frame, None) if space == "image" else (None, frame)
        out[i] = sig.update(float(series.t[i]), image, world)
    return out


def hidden_index_signal(series: LandmarkSeries, *, space: Space = DEFAULT_SPACE) -> np.ndarray:
    """The distance between :data:`HIDDEN_INDEX_POINTS` in every frame of ``series``, in palm lengths (T,).

    Offline only, so the palm length is the session's median. The signal is shallow, and a palm length running
    over the last 0.5 s (as :class:`TapSignal` keeps it live) followed the first frames MediaPipe drew too small
    (0.44 of the palm for 8 frames on one clip) into dips of its own: on 120 rendered tapping clips the count was
    right on 117 with the session's palm, 113 with the running one. NaN where the hand was not tracked.
    """
    pts = series.world if space == "world" else image_to_pixels(series.image, series.width, series.height)
    dims = 3 if space == "world" else 2
    p = np.where(np.asarray(series.present, bool)[:, None, None], np.asarray(pts, float), np.nan)
    palm = palm_length(p, dims=dims)
    ref = float(np.nanmedian(palm)) if np.isfinite(palm).any() else math.nan
    return landmark_distance(p, *HIDDEN_INDEX_POINTS, dims=dims) / ref


# --------------------------------------------------------------------------------------------- taps


def parabola_min(t: np.ndarray, x: np.ndarray, i: int) -> tuple[float, float]:
    """Sub-sample time and value of the extremum at sample ``i`` (vertex through i-1, i, i+1)."""
    if i <= 0 or i >= len(x) - 1 or not np.isfinite(x[i - 1 : i + 2]).all():
        return float(t[i]), float(x[i])
    (t0, t1, t2), (y0, y1, y2) = t[i - 1 : i + 2], x[i - 1 : i + 2]
    denom = (t0 - t1) * (t0 - t2) * (t1 - t2)
    if denom == 0:
        return float(t1), float(y1)
    a = (t2 * (y1 - y0) + t1 * (y0 - y2) + t0 * (y2 - y1)) / denom
    b = (t2 * t2 * (y0 - y1) + t1 * t1 * (y2 - y0) + t0 * t0 * (y1 - y2)) / denom
    if a == 0:
        return float(t1), float(y1)
    tv = min(max(-b / (2 * a), t0), t2)
    c = y1 - a * t1 * t1 - b * t1
    return float(tv), float(a * tv * tv + b * tv + c)


def _quadratic_fit(
    t: np.ndarray, x: np.ndarray, i: int, half_width: float, fallback: tuple[float, float]
) -> tuple[float, float]:
    """Vertex of a least-squares parabola through the samples within ``half_width`` of sample ``i``.

    With dense frames this averages out jitter that would move a three-point parabola's vertex.
    """
    sel = (np.abs(t - t[i]) <= half_width) & np.isfinite(x)
    if sel.sum() <= 3:
        return fallback
    tt = t[sel] - t[i]
    a, b, c = np.polyfit(tt, x[sel], 2)
    if a == 0:
        return fallback
    tv = -b / (2 * a)
    if abs(tv) > half_width:
        return fallback
    return float(t[i] + tv), float(c - b * b / (4 * a))


def _refine_extreme(t: np.ndarray, x: np.ndarray, i: int, period: float, *, minimum: bool) -> tuple[float, float]:
    """Sub-frame time and value of the extremum of ``x`` at sample ``i``.

    Sparse frames (a 4 Hz tap at 16 fps has 4 frames per cycle): the parabola through the three
    samples around ``i``. Dense frames: a least-squares parabola over ±10 % of the tap ``period``, which
    averages out jitter. On rendered 16 fps clips tracked by MediaPipe the three-point parabola gave
    opening amplitudes within ±2 % from tap to tap; a sinusoid fit (exact for a pure sine) overshot
    the flatter top of real openings and made amplitudes beat with the sampling phase (±5 %).
    """
    sign = 1.0 if minimum else -1.0
    tp, vp = parabola_min(t, sign * x, i)
    vp *= sign
    dt = float(np.median(np.diff(t[max(i - 2, 0) : i + 3]))) if len(t) > 1 else 0.0
    if period > 0 and dt > 0 and period * 0.2 > 3 * dt:
        return _quadratic_fit(t, x, i, 0.1 * period, (tp, vp))
    return tp, vp


CONTACT_LEVEL = 0.15  # of the tap's excursion above the minimum: the band that counts as "closed"


def _contact_time(t: np.ndarray, x: np.ndarray, ic: int, level: float, fallback: float) -> float:
    """Middle of the time ``x`` spends below ``level`` around sample ``ic`` (edges interpolated).

    Fingertips that touch and stay closed for a moment give MediaPipe a flat bottom (it cannot resolve
    the last millimetres), where the lowest sample falls anywhere; the middle of the closed phase does
    not. With sparse frames the two interpolated edges also time a sharp contact between frames.
    """
    if not x[ic] < level:
        return fallback
    edges = []
    for step in (-1, 1):
        j = ic
        while 0 <= j + step < len(x) and math.isfinite(x[j + step]) and x[j + step] < level:
            j += step
        k = j + step
        if not (0 <= k < len(x) and math.isfinite(x[k])):
            return fallback
        w = (level - x[j]) / (x[k] - x[j])
        edges.append(t[j] + w * (t[k] - t[j]))
    return float(0.5 * (edges[0] + edges[1]))


def _crossing(t: np.ndarray, x: np.ndarray, i0: int, i1: int, level: float, *, rising: bool) -> float:
    """First time in samples i0..i1 (stepping toward i1) where ``x`` passes ``level``; linear interpolation."""
    step = 1 if i1 >= i0 else -1
    prev = i0
    for j in range(i0 + step, i1 + step, step):
        if not (math.isfinite(x[prev]) and math.isfinite(x[j])):
            prev = j
            continue
        a, b = x[prev], x[j]
        hit = (a < level <= b) if rising else (a > level >= b)
        if hit:
            w = (level - a) / (b - a) if b != a else 0.0
            return float(t[prev] + w * (t[j] - t[prev]))
        prev = j
    return math.nan


def _phase_speed(t: np.ndarray, x: np.ndarray, i_open: int, i_contact: int) -> float:
    """Mean speed over the central 80 % of the phase between the opening and the contact samples.

    Walks from ``i_open`` toward ``i_contact`` (forward for a closing, backward for an opening) and times
    the passages at 10 % and 90 % of the excursion, linearly interpolated between frames.
    """
    a, b = sorted((i_open, i_contact))
    seg = x[a : b + 1]
    if b - a < 1 or not np.isfinite(seg).any():
        return math.nan
    high, low = float(np.nanmax(seg)), float(np.nanmin(seg))
    exc = high - low
    if not exc > 0:
        return math.nan
    t10 = _crossing(t, x, i_open, i_contact, high - 0.1 * exc, rising=False)
    t90 = _crossing(t, x, i_open, i_contact, high - 0.9 * exc, rising=False)
    dt = abs(t90 - t10)
    return 0.8 * exc / dt if dt > 0 else math.nan


def _plateau_edge(t: np.ndarray, x: np.ndarray, i_ext: int, i_contact: int, tol: float) -> float:
    """Time the hand leaves (or reaches) the open position around sample ``i_ext``.

    Walks from the contact toward ``i_ext``; returns the time of the first sample within ``tol`` of the
    opening at ``i_ext`` — the end of a rest held open before the tap (or its start after the tap).
    """
    step = -1 if i_ext < i_contact else 1
    level = x[i_ext] - tol
    for j in range(i_contact, i_ext + step, step):
        if math.isfinite(x[j]) and x[j] >= level:
            return float(t[j])
    return float(t[i_ext])


def measure_taps(
    t: np.ndarray,
    distance: np.ndarray,
    windows: Sequence[tuple[float, float]],
    *,
    kinematic: np.ndarray | None = None,
    trim_rest: bool = True,
) -> list[dict[str, Any]]:
    """Per-tap measures for taps known by their intervals.

    Parameters
    ----------
    t : (T,) array
        Frame times (s).
    distance : (T,) array
        The per-frame tapping signal (palm lengths), NaN where untracked.
    windows : sequence of (start_s, end_s)
        One interval per tap (detected, or corrected by a therapist); each must contain its contact.
    kinematic : (T,) array, optional
        Low-passed signal for speeds and smoothness; computed with :func:`tracking.filters.lowpass`
        (``KINEMATIC_CUTOFF_HZ``) when omitted.
    trim_rest : bool
        Trim a rest held open for ≥ ``PLATEAU_TRIM_S`` off the interval (detected taps only; a
        therapist's interval is kept as given).

    Returns
    -------
    list of dict
        ``start_s, end_s, peak_s`` (contact), ``amplitude`` (largest opening after the contact, palm
        lengths), ``opening_before``, ``min_distance``, ``duration_s``, ``closing_speed``,
        ``opening_speed`` (palm lengths/s), ``sparc``, ``ldlj``, ``partly_untracked``. A window with
        no tracked frame is skipped.
    """
    t = np.asarray(t, float)
    x = np.asarray(distance, float)
    kin = lowpass(t, x, cutoff_hz=KINEMATIC_CUTOFF_HZ) if kinematic is None else np.asarray(kinematic, float)
    speed = np.abs(time_derivative(t, kin))
    taps: list[dict[str, Any]] = []
    found = []
    # Window edges are sub-frame times: take the frames within half an interval of them too.
    tol = 0.5 * float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    for s, e in windows:
        lo, hi = int(np.searchsorted(t, s - tol, "left")), int(np.searchsorted(t, e + tol, "right")) - 1
        if hi < lo or not np.isfinite(x[lo : hi + 1]).any():
            continue
        ic = lo + int(np.nanargmin(x[lo : hi + 1]))
        ib = lo + int(np.nanargmax(x[lo : ic + 1]))
        ia = ic + int(np.nanargmax(x[ic : hi + 1]))
        found.append((float(s), float(e), ic, ib, ia))
    # Local tap period around each contact and opening (for refining extremes between sparse frames).
    tc = np.array([t[f[2]] for f in found])
    gaps = np.diff(tc)
    for k, (s, e, ic, ib, ia) in enumerate(found):
        before = gaps[k - 1] if k > 0 else (gaps[0] if len(gaps) else e - s)
        after = gaps[k] if k < len(gaps) else before
        peak_s, contact = _refine_extreme(t, x, ic, 0.5 * (before + after), minimum=True)
        open_before = _refine_extreme(t, x, ib, before, minimum=False)[1]
        open_after = _refine_extreme(t, x, ia, after, minimum=False)[1]
        excursion = min(open_before, open_after) - contact
        if excursion > 0:
            peak_s = _contact_time(t, x, ic, contact + CONTACT_LEVEL * excursion, peak_s)
        start_s, end_s = float(s), float(e)
        if trim_rest:
            # The rest points found by the rep machine are the extreme openings: start and end there.
            start_s, end_s = max(start_s, float(t[ib])), min(end_s, float(t[ia]))
            tb = _plateau_edge(t, x, ib, ic, 0.1 * (open_before - contact))
            ta = _plateau_edge(t, x, ia, ic, 0.1 * (open_after - contact))
            if tb - t[ib] >= PLATEAU_TRIM_S:
                start_s = tb
            if t[ia] - ta >= PLATEAU_TRIM_S:
                end_s = ta
        sm = segment_smoothness(t, speed, start_s=start_s, end_s=end_s, cutoff_hz=KINEMATIC_CUTOFF_HZ)
        inside = (t >= start_s) & (t <= end_s)
        taps.append(
            {
                "start_s": start_s,
                "end_s": end_s,
                "peak_s": peak_s,
                "amplitude": open_after,
                "opening_before": open_before,
                "min_distance": contact,
                "duration_s": end_s - start_s,
                "closing_speed": _phase_speed(t, kin, ib, ic),
                "opening_speed": _phase_speed(t, kin, ia, ic),
                "sparc": sm.sparc,
                "ldlj": sm.ldlj,
                "partly_untracked": bool(np.isnan(x[inside]).any()),
            }
        )
    return taps


def opening_scale(
    t: np.ndarray,
    distance: np.ndarray,
    reference: np.ndarray,
    taps: Sequence[dict[str, Any]],
    *,
    band: float = 0.2,
) -> float:
    """Factor mapping the tapping signal onto another estimate of it (e.g. image onto world), at the openings.

    Parameters
    ----------
    t : (T,) array
        Frame times (s).
    distance : (T,) array
        The tapping signal the taps were measured on (palm lengths), NaN where untracked.
    reference : (T,) array
        The same quantity from other coordinates (e.g. :func:`compute_tap_signal` with ``space='world'``).
    taps : sequence of dict
        Measured taps (:func:`measure_taps`): their ``start_s`` and ``end_s`` span an opening on each side.
    band : float
        Frames within ``band`` of a tap's excursion below its largest opening count as open.

    Returns
    -------
    float
        Median over taps of ``median(reference) / median(distance)`` on the open frames; NaN without a tap
        or a usable frame. Openings only: near contact both signals are small and their ratio is noise.
    """
    t = np.asarray(t, float)
    x = np.asarray(distance, float)
    r = np.asarray(reference, float)
    ratios = []
    for tp in taps:
        sel = (t >= tp["start_s"]) & (t <= tp["end_s"]) & np.isfinite(x) & np.isfinite(r)
        if not sel.any():
            continue
        hi, lo = float(x[sel].max()), float(x[sel].min())
        top = sel & (x >= hi - band * (hi - lo))
        den = float(np.median(x[top]))
        if den > 0:
            ratios.append(float(np.median(r[top])) / den)
    return float(np.median(ratios)) if ratios else math.nan


# ------------------------------------------------------------------------------------------ pauses


def interval_speeds(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|Δx/Δt| between consecutive frames (length T-1; NaN across an untracked frame)."""
    t = np.asarray(t, float)
    x = np.asarray(x, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(np.diff(x) / np.diff(t))


def find_pauses(
    t: np.ndarray,
    x: np.ndarray,
    *,
    start_s: float,
    end_s: float,
    threshold: float,
    min_duration_s: float = HESITATION_S,
    bridge_s: float = 0.05,
) -> list[tuple[float, float]]:
    """Intervals inside [start_s, end_s] where the speed of ``x`` stays ≤ ``threshold`` for ≥ ``min_duration_s``.

    Speeds are taken between consecutive frames (:func:`interval_speeds`), so a run of slow frame
    intervals covers exactly the time from its first to its last frame: no frame of smearing at either
    end as with central differences. Untracked frames end a pause (a pause is never inferred from
    missing data); two slow stretches separated by at most ``bridge_s`` of faster motion are one pause.
    """
    t = np.asarray(t, float)
    v = interval_speeds(t, x)
    inside = (t[:-1] >= start_s) & (t[1:] <= end_s)
    low = inside & np.isfinite(v) & (v <= threshold)
    merged: list[tuple[int, int]] = []  # frame index ranges [a, b]
    for a, b in tracked_runs(low):
        if merged and t[a] - t[merged[-1][1]] <= bridge_s and np.isfinite(v[merged[-1][1] : a]).all():
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(float(t[a]), float(t[b])) for a, b in merged if t[b] - t[a] >= min_duration_s - 1e-9]


# ----------------------------------------------------------------------------------------- session


def _nanmean(values: Sequence[float] | np.ndarray) -> float:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else math.nan


UNSEEN_CONTACT = 0.3
"""Median closest approach of the taps (palm lengths) above which the touch was not seen."""

HIDDEN_INDEX_POINTS = (THUMB_IP, MIDDLE_DIP)
"""The landmarks whose distance counts the taps where the index is hidden: the thumb's IP and the middle finger's DIP.

Seen from the little-finger side, MediaPipe redraws the hidden index tip in every frame, and its distance to the thumb
jumps without closing; but the thumb bends toward the index with every tap, past the middle finger, and both stay in
sight. On the 45 rendered tapping clips filmed from that side (held-out seeds 1-22), counting this distance frame by
frame at its own depth (:func:`depth_params`) was right on 42, the thumb-index distance on 28, the thumb tip to the
middle tip on 34 (the thumb tip hides behind the index at contact). On the 20 clips where the touch was never seen it
was right on 19, the rhythm of the thumb-index distance (:func:`rhythm_count`) on 12: hesitations lost it taps, and a
tap drawn as two dips doubled it. It is a count, not an opening: it stays open by the width of the index at contact.
"""

RHYTHM_CUTOFF = 1.5
"""The rhythm of a tapping signal is the signal low-passed below this multiple of its tapping frequency."""

SHALLOW_DEPTH = 0.5
"""Depth of a signal (palm lengths, :func:`signal_depth`) below which :func:`depth_params` lowers the tap thresholds."""

STILL_DEPTH = 0.05
"""Depth (palm lengths) below which the distance :data:`HIDDEN_INDEX_POINTS` did not move with the taps.

It moved by 0.11-0.59 on the 20 rendered clips where the index was hidden; a thumb held still (or tapping series
that move only the tips) gives none, and thresholds scaled down to no depth would count its jitter.
"""

RHYTHM_EXCESS = 1.2
"""Taps per tap of the rhythm from which a frame-by-frame count is in doubt (:func:`rhythm_mismatch`)."""


def tap_contact(t: np.ndarray, x: np.ndarray, event: RepEvent, *, span_s: float = DENSE_SPAN_S) -> tuple[float, float]:
    """Time and distance of a tap's contact on the signal itself, parabola-refined.

    ``event`` was counted on the :class:`DenseMedian` of the finite samples ``t``, ``x``. Where the frames were
    dense, its lowest median is one of the three samples it was taken over, and the lowest of them (the last of
    equals, as the counter takes them) is the contact: a single frame seen closed, which the median hides.
    """
    i = int(np.argmin(np.abs(t - event.peak_t)))
    if i < 2 or t[i] - t[i - 2] > span_s:  # the counter saw the samples themselves
        return event.peak_t, event.peak_value
    return parabola_min(t, x, i - int(np.argmin(x[i - 2 : i + 1][::-1])))


def tap_contacts(t: np.ndarray, x: np.ndarray, taps: Sequence[RepEvent]) -> list[float]:
    """The contact distance (:func:`tap_contact`) of every tap of ``taps``, counted on :func:`count_signal` of ``x``."""
    tracked = np.isfinite(x)
    return [tap_contact(t[tracked], x[tracked], e)[1] for e in taps]


def contact_unseen(closest: Sequence[float]) -> bool:
    """Whether the thumb and index were never seen to touch: the taps' contacts (:func:`tap_contact`) do not close.

    Touching taps close to 0-0.15 palm lengths in every rendered view; where MediaPipe cannot see the index
    (hidden behind the other fingers, seen from the little-finger side) it redraws it in every frame, and
    the signal jumps by half a palm length from frame to frame without closing (0.34-0.89 median contact on
    the 8 such clips of seeds 30-41, 0.02-0.30 on the other 52). Judged on the taps counted, not on every dip
    of the signal: a hand resting open between bursts of taps jitters by more than a level of jitter dips
    that would outvote the taps (11 taps closing to 0.11-0.30 and 12 dips of the rest at 0.58-0.84 on one clip).
    """
    return bool(closest) and float(np.median(closest)) > UNSEEN_CONTACT


def tapping_frequency(t: np.ndarray, x: np.ndarray, *, min_s: float = 0.12, max_s: float = 1.6) -> float:
    """The tapping frequency (Hz) from the autocorrelation of ``x``; NaN without a clear rhythm.

    The first autocorrelation peak above 0.1 whose lag is 0.12-1.6 s (8 to 0.6 taps a second) and at
    least 0.8 of the highest such peak, so a tap that MediaPipe draws as two dips is not taken for two taps.
    On 30 rendered tapping clips (1.4-4.4 Hz, 15-60 fps, clean and frame-to-frame noisy) it was 3-15 % under
    the scripted rate, which counts the pauses too.
    """
    ok = np.isfinite(x)
    if ok.sum() < 10:
        return math.nan
    fs = 1.0 / float(np.median(np.diff(t)))
    y = np.interp(t, t[ok], x[ok])
    y = lowpass(t, y, cutoff_hz=min(6.0, 0.45 * fs))
    y = y - y.mean()
    if not float(np.std(y)) > 1e-9:  # a still signal (the filter leaves rounding noise only)
        return math.nan
    ac = np.correlate(y, y, "full")[len(y) - 1 :]
    ac = ac / ac[0]
    lo, hi = math.ceil(min_s * fs), min(int(max_s * fs), len(ac) - 2)
    peaks = [i for i in range(max(lo, 1), hi + 1) if ac[i] > ac[i - 1] and ac[i] >= ac[i + 1] and ac[i] > 0.1]
    if not peaks:
        return math.nan
    top = max(ac[i] for i in peaks)
    first = next(i for i in peaks if ac[i] >= 0.8 * top)
    return fs / first


def signal_depth(x: np.ndarray) -> float:
    """The 5-95 % range of the finite values of ``x`` (0 with fewer than two)."""
    v = np.asarray(x, float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0
    lo, hi = np.percentile(v, [5, 95])
    return float(hi - lo)


def depth_params(x: np.ndarray) -> RepParams:
    """:data:`TAP_PARAMS` for counting on a signal shallower than a seen contact, its thresholds scaled to its depth.

    The distance :data:`HIDDEN_INDEX_POINTS` moves by 0.11-0.65 palm lengths (5-95 % range) with the taps on the
    rendered clips, the rhythm of a redrawn index by 0.12-1.2. Below :data:`SHALLOW_DEPTH` the thresholds shrink
    in proportion: those of a seen contact counted 12 of the 20 hidden-index clips right on the thumb-middle
    distance, these 19.
    """
    k = min(1.0, signal_depth(x) / SHALLOW_DEPTH)
    if k == 0.0:
        return TAP_PARAMS
    return replace(
        TAP_PARAMS, min_prominence=k * TAP_PARAMS.min_prominence, level_prominence=k * TAP_PARAMS.level_prominence
    )


def rhythm_signal(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """``x`` low-passed below :data:`RHYTHM_CUTOFF` times its tapping frequency, and that frequency.

    What survives of a signal with spurious dips (a partly hidden index redrawn in some frames) is its rhythm.
    ``x`` is returned as is without one.
    """
    f0 = tapping_frequency(t, x)
    if not math.isfinite(f0):
        return x, math.nan
    return lowpass(t, x, cutoff_hz=RHYTHM_CUTOFF * f0), f0


def rhythm_taps(t: np.ndarray, x: np.ndarray) -> tuple[list[RepEvent], float]:
    """Taps found on the :func:`rhythm_signal` of ``x``, and its frequency; ``([], nan)`` without a rhythm."""
    smooth, f0 = rhythm_signal(t, x)
    if not math.isfinite(f0):
        return [], math.nan
    return find_reps(t, smooth, depth_params(smooth)), f0


def rhythm_count(t: np.ndarray, x: np.ndarray) -> tuple[int, float]:
    """How many :func:`rhythm_taps` ``x`` has, and its frequency; ``(0, nan)`` without a rhythm."""
    taps, f0 = rhythm_taps(t, x)
    return len(taps), f0


def rhythm_mismatch(taps: int, rhythm: int, hz: float) -> str | None:
    """A warning when ``taps`` (counted frame by frame) is :data:`RHYTHM_EXCESS` times the ``rhythm``'s count.

    MediaPipe redraws a partly hidden index in some frames, and each redraw is a dip; but tapping in bursts
    with halts between them has its strongest rhythm at the bursts. On 40 rendered clips the two counts were
    equal wherever the index was seen whole, 1.25-1.6x where it was partly hidden (the rhythm's count right on
    3 of 4) and 3x for taps in bursts of three (the frame-by-frame count right). The rhythm alone therefore
    does not change a count: :class:`exercises.finger_tapping.FingerTapping` takes it only where the distance
    :data:`HIDDEN_INDEX_POINTS` counts the same, and otherwise reports this warning.
    """
    if rhythm < 2 or taps < RHYTHM_EXCESS * rhythm:
        return None
    return (
        f"{taps} taps were counted frame by frame, but the rhythm of the movement shows {rhythm} ({hz:.1f} Hz): "
        "either the tapping came in bursts, or the index finger was partly hidden and MediaPipe redrew it in some "
        "frames, so that some dips are not taps. Check the count against the plot or the video."
    )


def tapping_metrics(
    t: np.ndarray,
    distance: np.ndarray,
    taps: Sequence[dict[str, Any]],
    *,
    kinematic: np.ndarray | None = None,
    max_gap_s: float = TAP_PARAMS.max_gap_s,
    hidden_index: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Session metrics of a tapping recording and plain-language warnings.

    Returns
    -------
    metrics : dict
        ``tap_count``, ``frequency_hz`` (1 / mean inter-tap interval, pauses included; intervals across
        a tracking gap, or looking like a missed tap (> 1.5x the median with no pause in it) or a
        spurious one (< 0.5x the median), are left out), ``interval_cv`` (std / mean of the same
        intervals), ``amplitude_mean``,
        ``amplitude_decrement_pct`` (first vs last third of taps, positive = getting smaller),
        ``amplitude_slope_per_tap`` (linear fit, palm lengths per tap), ``decrement_slope`` (the same fit
        as % of the first-third amplitude lost per tap, positive = getting smaller), ``interval_cv``,
        ``hesitations`` (pauses between the first and last contact, halts included: speed under 10 % of
        the median per-tap peak speed for ≥ 0.2 s, and ≥ 0.35 of the median tap interval, so a slow
        tapper's natural turn is not one), ``halts`` (pauses ≥ 0.3 s, scaled likewise),
        ``pauses`` (their intervals), ``duration_s``, ``opening_speed_mean``,
        ``closing_speed_mean``, ``sparc_mean``, ``min_distance_mean``.
    warnings : list of str

    ``hidden_index``: the taps were counted and measured on the distance :data:`HIDDEN_INDEX_POINTS`.
    """
    t = np.asarray(t, float)
    x = np.asarray(distance, float)
    warnings: list[str] = []
    n = len(taps)
    amp = np.array([tp["amplitude"] for tp in taps], float)
    peaks = np.array([tp["peak_s"] for tp in taps], float)
    m: dict[str, Any] = {"tap_count": n, "frequency_hz": 0.0, "interval_cv": math.nan}

    # Inter-tap intervals, leaving out those that span a tracking gap (taps may be missing inside).
    spans = []  # (start, end) of each inter-tap interval not crossing a tracking gap
    for a, b in itertools.pairwise(peaks):
        sel = (t > a) & (t < b)
        ts = np.concatenate(([a], t[sel & np.isfinite(x)], [b]))
        if np.max(np.diff(ts)) <= max_gap_s:
            spans.append((float(a), float(b)))
    iv = np.array([b - a for a, b in spans], float)
    m["amplitude_mean"] = _nanmean(amp)
    m["min_distance_mean"] = _nanmean([tp["min_distance"] for tp in taps])
    if n >= 3:
        third = n // 3
        first, last = float(amp[:third].mean()), float(amp[-third:].mean())
        slope = float(np.polyfit(np.arange(n), amp, 1)[0])
        m["amplitude_decrement_pct"] = (first - last) / first * 100.0 if first > 0 else math.nan
        m["amplitude_slope_per_tap"] = slope
        m["decrement_slope"] = -slope / first * 100.0 if first > 0 else math.nan
    else:
        m["amplitude_decrement_pct"] = m["amplitude_slope_per_tap"] = m["decrement_slope"] = math.nan
    m["duration_s"] = float(taps[-1]["end_s"] - taps[0]["start_s"]) if n else 0.0
    m["opening_speed_mean"] = _nanmean([tp["opening_speed"] for tp in taps])
    m["closing_speed_mean"] = _nanmean([tp["closing_speed"] for tp in taps])
    m["sparc_mean"] = _nanmean([tp["sparc"] for tp in taps])

    pauses: list[tuple[float, float]] = []
    min_halt = HALT_S
    if n >= 2:
        kin = lowpass(t, x, cutoff_hz=KINEMATIC_CUTOFF_HZ) if kinematic is None else np.asarray(kinematic, float)
        v = interval_speeds(t, kin)
        peak_speeds = []
        for tp in taps:
            sel = (t[:-1] >= tp["start_s"]) & (t[1:] <= tp["end_s"]) & np.isfinite(v)
            if sel.any():
                peak_speeds.append(float(v[sel].max()))
        if peak_speeds:
            thr = HESITATION_SPEED_FRAC * float(np.median(peak_speeds))
            cycle = float(np.median(iv)) if len(iv) else 0.0
            min_hes = max(HESITATION_S, HESITATION_CYCLE_FRAC * cycle)
            min_halt = max(HALT_S, min_hes * HALT_S / HESITATION_S)
            pauses = find_pauses(
                t, kin, start_s=float(peaks[0]), end_s=float(peaks[-1]), threshold=thr, min_duration_s=min_hes
            )
    # Rhythm: every interval counts, pauses included (a hesitating patient taps less often), except
    # those that look like a counting slip — over 1.5x the median without a pause in it (a missed
    # tap) or under half the median (a spurious one) — which would bias a plain mean by a whole tap.
    med = float(np.median(iv)) if len(iv) else 0.0
    has_pause = np.array([any(a <= pa and pb <= b for pa, pb in pauses) for a, b in spans], bool)
    kept = iv[((iv >= 0.5 * med) & (iv <= 1.5 * med)) | has_pause] if len(iv) else iv
    m["frequency_hz"] = float(1.0 / kept.mean()) if len(kept) else 0.0
    m["interval_cv"] = float(kept.std() / kept.mean()) if len(kept) >= 2 else math.nan
    durations = [b - a for a, b in pauses]
    m["hesitations"] = len(pauses)
    m["halts"] = sum(d >= min_halt for d in durations)
    m["pauses"] = [{"start_s": a, "end_s": b, "duration_s": b - a} for a, b in pauses]

    if n == 0:
        warnings.append(
            "No taps were detected: the thumb and index finger did not clearly close and open again "
            "while the hand was in view."
        )
    elif n < 3:
        warnings.append(f"Only {n} tap{'s' if n > 1 else ''} detected: too few to measure an amplitude decrement.")
    elif n < 6:
        warnings.append(f"Only {n} taps detected: the amplitude decrement is uncertain with fewer than 6 taps.")
    closest = float(np.nanmedian([tp["min_distance"] for tp in taps])) if n else math.nan
    if hidden_index:
        warnings.append(
            "The index finger was hidden from the camera (MediaPipe redraws it, so the thumb-index distance jumps "
            "from frame to frame and never closes): the taps were counted on the distance from the thumb's IP joint "
            "to the middle finger's DIP joint, which stay in sight, and their amplitudes and speeds are of that "
            "distance, not of the opening. Film the palm or the thumb side of the hand."
        )
    elif closest > UNSEEN_CONTACT:
        warnings.append(
            f"The thumb and index finger were never seen to touch (closest {closest:.2f} palm lengths, median over "
            "taps): the index is probably hidden from the camera, so the tap count is unreliable. Film the palm "
            "or the thumb side of the hand."
        )
    if any(tp["partly_untracked"] for tp in taps):
        k = sum(bool(tp["partly_untracked"]) for tp in taps)
        warnings.append(f"The hand was lost for a moment during {k} of the taps; their measures are less reliable.")
    return m, warnings
