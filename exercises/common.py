"""Machinery shared by the angle-based exercises: per-frame channels, one causal detection path, per-rep quality.

Live and offline agree by construction because they run the *same* objects in the same order:

1. :class:`ChannelSource` turns frames (world and image landmarks, :class:`HandFrames`) into named
   per-frame values ("channels", e.g. the wrist flexion angle) with the exercise's vectorised
   ``channels`` function. Exercises measured against a resting or neutral pose first collect the
   frames of the hold (the first ``reference_s`` seconds of tracked hand) and compute a
   :class:`Reference` from them; those frames are then replayed.
2. Every channel goes through a causal median of 3 samples (:class:`Median3`), which removes
   single-frame tracking glitches at the cost of one frame of delay, optionally followed by a
   first-order low-pass (``smooth_s``).
3. A detector (``update(t, values) -> rep or None``; :class:`CycleDetector` wraps
   :class:`metrics.reps.RepCounter`) counts the reps.

Offline, :func:`compute_channels` does step 1 vectorised over the whole series and the same
:class:`Median3` and detector objects are then fed sample by sample. Measurements (peak angles,
smoothness) use a zero-phase low-pass of the unfiltered channels, which only the offline path can do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from exercises.base import Analysis, FrameLandmarks, LiveState, Signal
from metrics.angles import compute_palm_frame
from metrics.reps import RepCounter, RepEvent, RepParams
from metrics.rom import NORMAL_ROM
from metrics.smoothness import segment_smoothness
from tracking.filters import lowpass, time_derivative
from tracking.series import MIDDLE_MCP, WRIST, LandmarkSeries

__all__ = [
    "CausalStage",
    "ChannelSource",
    "Channels",
    "CycleDetector",
    "CycleExercise",
    "Detector",
    "ExerciseLive",
    "HandFrames",
    "Median3",
    "Reference",
    "RepSpan",
    "TwoSidedExercise",
    "compute_channels",
    "estimate_reference",
    "image_depth",
    "image_pixels",
    "infer_handedness",
    "movement_offset",
    "movement_onset",
    "neutral_from_range",
    "rep_quality",
    "rest_before",
    "rest_level",
    "run_detector",
    "run_stage",
    "series_frames",
    "spans_from_events",
    "spans_from_intervals",
    "without_frames",
]

Channels = dict[str, np.ndarray]


# ----------------------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class Reference:
    """The posture everything is measured against when the landmarks alone have no forearm.

    Attributes
    ----------
    kind : 'forearm' or 'neutral'
        'forearm' when MediaPipe Pose saw the elbow during the neutral hold (the per-frame elbow->wrist
        direction is then used), otherwise 'neutral' (the hand held still at the start stands in for
        the forearm).
    hand_axis : (3,) array
        Median wrist -> middle MCP direction during the hold.
    palm_normal : (3,) array
        Median palmar normal during the hold (orthogonal to ``hand_axis``).
    t_ready : float
        Time of the last frame of the hold.
    world, image : arrays
        Median world (metres) and image (pixels) landmarks of the hold: the resting posture.
    """

    kind: str
    hand_axis: np.ndarray
    palm_normal: np.ndarray
    t_ready: float
    world: np.ndarray | None = None  # (21, 3) median world landmarks of the hold
    image: np.ndarray | None = None  # (21, 2) median image landmarks of the hold, pixels
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # values computed from it
    depth: np.ndarray | None = None  # (21,) median image-landmark depth of the hold, pixels (see HandFrames.depth)
    still: bool = True  # the hand held still during the hold (see hold_is_still)


HOLD_STILL = 0.4
"""A hold is still when, on 90 % of its frames, the wrist and middle-finger landmarks lie on average within
this many palm lengths (image) of their median positions. On 100 rendered clips a held hand measured 0.01
(median) to 0.25; the two whose hand came into view already moving (the hold itself unseen), 0.9 and 1.3.
Those landmarks lie on the hand's long axis, so a frame the model mirrors across it (index and little-finger
sides swapped) does not count as movement."""
_AXIS_POINTS = [WRIST, MIDDLE_MCP, MIDDLE_MCP + 1, MIDDLE_MCP + 2, MIDDLE_MCP + 3]


def hold_is_still(image: np.ndarray) -> bool:
    """Whether the image landmarks (n, 21, 2) of a hold are still enough to measure against."""
    image = np.asarray(image, float)[:, _AXIS_POINTS]
    if not np.isfinite(image).any():
        return False
    med = np.nanmedian(image, axis=0)
    palm = float(np.linalg.norm(med[1] - med[0]))  # wrist -> middle MCP
    if not (np.isfinite(palm) and palm > 0):
        return False
    with np.errstate(invalid="ignore"):
        moved = np.nanmean(np.linalg.norm(image - med, axis=-1), axis=1) / palm
    return bool(np.nanpercentile(moved, 90) < HOLD_STILL)


def _reference_mask(t: np.ndarray, present: np.ndarray, reference_s: float) -> np.ndarray:
    if not present.any():
        return np.zeros(len(t), bool)
    t0 = t[np.argmax(present)]
    return present & (t <= t0 + reference_s)


def estimate_reference(
    t: np.ndarray,
    frames: HandFrames,
    *,
    handedness: str,
    present: np.ndarray,
    reference_s: float,
) -> Reference | None:
    """Reference posture from the first ``reference_s`` seconds of tracked frames (None if none).

    Parameters
    ----------
    t : (T,) array
        Timestamps.
    frames : HandFrames
        World and image landmarks, and elbow -> wrist directions (NaN where the elbow was not seen, None
        without pose tracking).
    handedness : {'left', 'right'}
        The anatomical hand.
    present : (T,) bool array
        Tracked frames.
    reference_s : float
        Length of the neutral hold, counted from the first tracked frame.
    """
    mask = _reference_mask(np.asarray(t, float), np.asarray(present, bool), reference_s)
    if not mask.any():
        return None
    world = frames.world[mask]
    frame = compute_palm_frame(world, handedness=handedness)
    u = _unit(np.nanmedian(frame.u, axis=0))
    n = np.nanmedian(frame.n, axis=0)
    n = _unit(n - (n @ u) * u)
    if not (np.isfinite(u).all() and np.isfinite(n).all()):
        return None
    forearm = frames.forearm
    seen = 0.0 if forearm is None else float(np.isfinite(forearm[mask]).all(axis=1).mean())
    kind = "forearm" if seen >= 0.5 else "neutral"
    return Reference(
        kind=kind,
        hand_axis=u,
        palm_normal=n,
        t_ready=float(np.asarray(t)[mask][-1]),
        world=np.nanmedian(world, axis=0),
        image=np.nanmedian(frames.image[mask], axis=0),
        depth=None if frames.depth is None else np.nanmedian(frames.depth[mask], axis=0),
        still=hold_is_still(frames.image[mask]),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 else np.full_like(v, np.nan)


# ----------------------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class HandFrames:
    """The landmarks a channel function reads, for T frames (NaN where the hand was not tracked)."""

    world: np.ndarray  # (T, 21, 3) metres
    image: np.ndarray  # (T, 21, 2) pixels: normalized x * width, y * height (one isotropic scale)
    forearm: np.ndarray | None = None  # (T, 3) elbow -> wrist, when the reference is the forearm
    # (T, 21) the image landmarks' own relative depth (MediaPipe's image z, in pixels like x): a second
    # depth estimate, independent of the world landmarks'. None when not given.
    depth: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.world)

    @classmethod
    def empty(cls, n: int = 1) -> HandFrames:
        return cls(np.full((n, 21, 3), np.nan), np.full((n, 21, 2), np.nan))


class CausalStage(Protocol):
    """An optional stateful step between the channels and the median filter.

    It runs frame by frame in time order on both paths (e.g. keeping a sign continuous where a per-frame
    estimate cannot).
    """

    def update(self, t: float, values: dict[str, float]) -> dict[str, float]: ...


def run_stage(stage: CausalStage, t: np.ndarray, channels: Mapping[str, np.ndarray]) -> Channels:
    """Offline: feed whole channel arrays to ``stage`` sample by sample, as the live source does."""
    keys = list(channels)
    cols = [np.asarray(channels[k], float) for k in keys]
    rows = [
        stage.update(float(ti), {k: float(c[i]) for k, c in zip(keys, cols, strict=True)}) for i, ti in enumerate(t)
    ]
    return {k: np.array([r[k] for r in rows], float) for k in (rows[0] if rows else keys)}


class ChannelFunction(Protocol):
    def __call__(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels: ...


def image_pixels(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalized image landmarks (..., 21, >=2) to pixels (..., 21, 2); unknown size keeps the units."""
    scale = np.array([width, height], float) if width > 0 and height > 0 else np.ones(2)
    return np.asarray(image, float)[..., :2] * scale


def image_depth(image: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Relative depth of normalized image landmarks (..., 21, 3) in pixels (MediaPipe scales z like x).

    None when the landmarks have no third coordinate; unknown size keeps the units.
    """
    image = np.asarray(image, float)
    if image.shape[-1] < 3:
        return None
    return image[..., 2] * (float(width) if width > 0 and height > 0 else 1.0)


class Median3:
    """Causal median of the last three finite samples, optionally followed by a first-order low-pass.

    NaN in, NaN out; a gap longer than ``max_gap_s`` restarts it. ``smooth_s`` is the time constant of
    the low-pass (0 = none): it trades a little delay for less jitter on signals that need it.
    """

    def __init__(self, *, max_gap_s: float = 0.3, smooth_s: float = 0.0) -> None:
        self.max_gap_s = max_gap_s
        self.smooth_s = smooth_s
        self._buf: list[float] = []
        self._last_t = math.nan
        self._y = math.nan

    def update(self, t: float, x: float) -> float:
        if not math.isfinite(x):
            return math.nan
        if math.isfinite(self._last_t) and t - self._last_t > self.max_gap_s:
            self._buf.clear()
            self._y = math.nan
        dt = t - self._last_t if math.isfinite(self._last_t) else 0.0
        self._last_t = t
        self._buf = [*self._buf[-2:], x]
        b = sorted(self._buf)
        m = b[len(b) // 2] if len(b) != 2 else 0.5 * (b[0] + b[1])
        if self.smooth_s <= 0 or not math.isfinite(self._y):
            self._y = m
        else:
            self._y += (1.0 - math.exp(-max(dt, 0.0) / self.smooth_s)) * (m - self._y)
        return self._y


def compute_channels(
    series: LandmarkSeries, channels: ChannelFunction, *, reference_s: float | None
) -> tuple[Channels, Reference | None]:
    """Offline step 1: every channel for every frame (NaN where untracked or before a reference exists).

    Parameters
    ----------
    series : LandmarkSeries
        The tracked hand.
    channels : callable
        The exercise's vectorised channel function.
    reference_s : float or None
        Length of the neutral hold; None when the exercise needs no reference.
    """
    frames = series_frames(series)
    reference = None
    if reference_s is not None:
        reference = estimate_reference(
            series.t, frames, handedness=series.handedness, present=series.present, reference_s=reference_s
        )
    if reference is None or reference.kind != "forearm":
        frames = replace(frames, forearm=None)
    out = channels(frames, handedness=series.handedness, reference=reference)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}, reference


def series_frames(series: LandmarkSeries) -> HandFrames:
    """The landmarks of ``series`` as channel functions read them (untracked frames all NaN)."""
    ok = series.present[:, None, None]
    image = image_pixels(series.image, series.width, series.height)
    depth = image_depth(series.image, series.width, series.height)
    return HandFrames(
        np.where(ok, series.world, np.nan),
        np.where(ok, image, np.nan),
        series.forearm,
        None if depth is None else np.where(ok[..., 0], depth, np.nan),
    )


def median3_channels(
    t: np.ndarray, channels: Mapping[str, np.ndarray], *, max_gap_s: float = 0.3, smooth_s: float = 0.0
) -> Channels:
    """Offline step 2: :class:`Median3` over each channel, sample by sample (as live does)."""
    out: Channels = {}
    for k, v in channels.items():
        m = Median3(max_gap_s=max_gap_s, smooth_s=smooth_s)
        out[k] = np.array([m.update(float(ti), float(xi)) for ti, xi in zip(t, v, strict=True)])
    return out


class ChannelSource:
    """Live steps 1-2: frames in, (t, channel values) samples out, in order.

    Before a reference exists (exercises with a neutral hold) frames are kept and replayed once the
    hold is over, so the detector sees exactly the samples the offline path sees.
    """

    def __init__(
        self,
        channels: ChannelFunction,
        *,
        handedness: str,
        reference_s: float | None,
        max_gap_s: float = 0.3,
        smooth_s: float = 0.0,
        stage: CausalStage | None = None,
    ) -> None:
        self.channels = channels
        self._smooth_s = smooth_s
        self._stage = stage
        self.handedness = handedness
        self.reference_s = reference_s
        self.reference: Reference | None = None
        self._pending: list[FrameLandmarks] = []
        self._t0 = math.nan
        self._medians: dict[str, Median3] = {}
        self._max_gap_s = max_gap_s

    @property
    def waiting_for_reference(self) -> bool:
        return self.reference_s is not None and self.reference is None

    def push(self, frame: FrameLandmarks) -> list[tuple[float, dict[str, float]]]:
        """Feed one frame; returns the samples that became ready (none while collecting the hold)."""
        if not self.waiting_for_reference:
            return [self._sample(frame)]
        tracked = frame.world is not None
        if tracked and math.isnan(self._t0):
            self._t0 = frame.t
        assert self.reference_s is not None
        if math.isnan(self._t0) or frame.t <= self._t0 + self.reference_s:
            self._pending.append(frame)
            return []
        held = [f for f in self._pending if f.world is not None]
        self.reference = estimate_reference(
            np.array([f.t for f in held]),
            _stack(held),
            handedness=self.handedness,
            present=np.ones(len(held), bool),
            reference_s=self.reference_s,
        )
        if self.reference is None:  # unusable hold: start over with the next frames
            self._pending, self._t0 = [], math.nan
            return []
        frames, self._pending = [*self._pending, frame], []
        return [self._sample(f) for f in frames]

    def _sample(self, frame: FrameLandmarks) -> tuple[float, dict[str, float]]:
        values: dict[str, float]
        if frame.world is None:
            values = {k: math.nan for k in self._medians}
        else:
            frames = _stack([frame])
            if self.reference is None or self.reference.kind != "forearm":
                frames = replace(frames, forearm=None)
            raw = self.channels(frames, handedness=self.handedness, reference=self.reference)
            values = {k: float(np.asarray(v)[0]) for k, v in raw.items()}
        if self._stage is not None:
            values = self._stage.update(frame.t, values)
        out = {}
        for k, x in values.items():
            m = self._medians.setdefault(k, Median3(max_gap_s=self._max_gap_s, smooth_s=self._smooth_s))
            out[k] = m.update(frame.t, x)
        return frame.t, out


def _stack(frames: Sequence[FrameLandmarks]) -> HandFrames:
    """Tracked live frames as a :class:`HandFrames` batch (forearm NaN where not seen)."""
    world = np.stack([np.asarray(f.world, float) for f in frames])
    image = np.stack([image_pixels(np.asarray(f.image, float), f.width, f.height) for f in frames])
    fa = None
    if any(f.forearm is not None for f in frames):
        fa = np.stack([np.full(3, np.nan) if f.forearm is None else np.asarray(f.forearm, float) for f in frames])
    depths = [d for f in frames if (d := image_depth(np.asarray(f.image, float), f.width, f.height)) is not None]
    depth = np.stack(depths) if len(depths) == len(frames) else None
    return HandFrames(world, image, fa, depth)


# ----------------------------------------------------------------------------------------- detection


class Detector(Protocol):
    """Step 3: the rep logic of an exercise, fed one sample of every channel at a time."""

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None: ...

    def finish(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class RepSpan:
    """One rep as sample indices and times (the end is the next rest point)."""

    start_i: int
    peak_i: int
    end_i: int
    start_s: float
    peak_s: float
    end_s: float
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {'finger': 'ring'}
    next_peak_i: int | None = None  # sample before the next rep's peak (where a two-sided cycle's far side ends)


ONSET_FOOT_FRAC = 0.2
"""Fraction of a rep's excursion below which :func:`movement_onset` looks for the foot of the rise."""


def movement_onset(x: Sequence[float] | np.ndarray, start: int, peak: int, *, polarity: int, frac: float = 0.05) -> int:
    """Where the movement to ``peak`` leaves rest: the foot of the rise, within ``frac`` of rest or at a trough.

    The rep machine's rest point is the lowest point since it last turned, which on a long still stretch
    can be anywhere in it, or before an earlier bump too small to count; so the rise is found from the top
    down (the last sample below a fifth of the excursion), then followed back to where it left the rest
    level, or to the trough before it when the rest has drifted above that level (a finger that settled a
    degree higher after a neighbour's lift).
    """
    rest, top = polarity * x[start], polarity * x[peak]
    level = rest + frac * (top - rest)
    foot = rest + max(frac, ONSET_FOOT_FRAC) * (top - rest)
    onset = start
    for i in range(start, peak + 1):
        v = polarity * x[i]
        if math.isfinite(v) and v <= foot:
            onset = i
    while onset > start and polarity * x[onset] > level:
        before = polarity * x[onset - 1]
        if not (math.isfinite(before) and before <= polarity * x[onset]):
            break
        onset -= 1
    return onset


def movement_offset(
    x: Sequence[float] | np.ndarray, start: int, peak: int, end: int, *, polarity: int, frac: float = 0.05
) -> int:
    """First sample in ``(peak, end]`` back within ``frac`` of the excursion of the level at ``start``."""
    rest, top = polarity * x[start], polarity * x[peak]
    level = rest + frac * (top - rest)
    for i in range(peak + 1, end + 1):
        v = polarity * x[i]
        if math.isfinite(v) and v <= level:
            return i
    return end


class CycleDetector:
    """One :class:`metrics.reps.RepCounter` on one channel: a rep is one excursion and return."""

    def __init__(self, channel: str, params: RepParams) -> None:
        self.channel = channel
        self.counter = RepCounter(params)
        self.t: list[float] = []
        self.x: list[float] = []
        self.onsets: dict[int, int] = {}  # peak index -> movement onset

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        self.t.append(t)
        self.x.append(values[self.channel])
        ev = self.counter.update(t, values[self.channel])
        if ev is None:
            return None
        onset = movement_onset(self.x, ev.start_i, ev.peak_i, polarity=self.counter.params.polarity)
        self.onsets[ev.peak_i] = onset
        return {"event": ev, "start_i": onset, "start_s": self.t[onset]}

    def finish(self) -> list[dict[str, Any]]:
        out = []
        for ev in self.counter.finish():
            onset = self.onsets.get(ev.peak_i, ev.start_i)
            out.append({"event": ev, "start_i": onset, "start_s": self.t[onset]})
        return out


def run_detector(detector: Detector, t: np.ndarray, channels: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Feed whole (median-filtered) channel arrays to ``detector`` sample by sample, as live does."""
    keys = list(channels)
    cols = [np.asarray(channels[k], float) for k in keys]
    for i, ti in enumerate(np.asarray(t, float)):
        detector.update(float(ti), {k: float(c[i]) for k, c in zip(keys, cols, strict=True)})
    return detector.finish()


def spans_from_events(
    events: Sequence[dict[str, Any]], t: np.ndarray, x: np.ndarray, *, polarity: int, settle: bool = False
) -> list[RepSpan]:
    """Rep spans from detector output; a rep still open at the end ends at its lowest later point.

    With ``settle`` (excursions that return to a rest, e.g. a fist closing and opening) a rep ends where
    the signal is back within 5 % of its excursion of the level it started from, if that comes before
    the rep machine's end (the next turn, which on a long rest can be anywhere in it).
    """
    spans = []
    for item in events:
        ev: RepEvent = item["event"]
        end_i = ev.end_i
        if end_i < 0:
            y = polarity * np.asarray(x[ev.peak_i + 1 :], float)
            end_i = ev.confirm_i
            if np.isfinite(y).any():
                stop = len(y) if np.isfinite(y).all() else max(int(np.argmin(np.isfinite(y))), 1)
                if np.isfinite(y[:stop]).any():
                    end_i = ev.peak_i + 1 + int(np.nanargmin(y[:stop]))
        start_i, start_s = int(item.get("start_i", ev.start_i)), float(item.get("start_s", ev.start_t))
        if settle:
            end_i = movement_offset(x, start_i, ev.peak_i, end_i, polarity=polarity)
        extra = {k: v for k, v in item.items() if k not in ("event", "start_i", "start_s")}
        spans.append(RepSpan(start_i, ev.peak_i, end_i, start_s, float(ev.peak_t), float(t[end_i]), extra))
    return spans


def spans_from_intervals(
    intervals: Sequence[tuple[float, float]], t: np.ndarray, x: np.ndarray, *, polarity: int
) -> list[RepSpan]:
    """Rep spans for therapist-given ``(start_s, end_s)`` intervals; the peak is the extreme inside."""
    spans = []
    for a, b in sorted((float(a), float(b)) for a, b in intervals):
        if not b > a:
            raise ValueError(f"a rep must end after it starts, got ({a}, {b})")
        inside = np.flatnonzero((t >= a) & (t <= b))
        if inside.size == 0:
            i0 = i1 = int(np.clip(np.searchsorted(t, a), 0, len(t) - 1))
            spans.append(RepSpan(i0, i0, i1, a, a, b))
            continue
        y = polarity * np.asarray(x[inside], float)
        peak = int(inside[np.nanargmax(y)]) if np.isfinite(y).any() else int(inside[0])
        spans.append(RepSpan(int(inside[0]), peak, int(inside[-1]), a, float(t[peak]), b))
    return spans


# ----------------------------------------------------------------------------------------- measures


def rep_quality(
    t: np.ndarray, smooth: np.ndarray, present: np.ndarray, span: RepSpan, *, speed: np.ndarray | None = None
) -> dict[str, Any]:
    """Per-rep quality shared by every exercise: ``duration_s``, ``sparc``, ``partly_untracked``.

    Parameters
    ----------
    t : (T,) array
        Timestamps.
    smooth : (T,) array
        The low-passed main signal (its speed is what SPARC measures), NaN where untracked.
    present : (T,) bool array
        Tracked frames.
    span : RepSpan
        The rep.
    speed : (T,) array, optional
        Precomputed ``|d smooth / dt|``.
    """
    v = np.abs(time_derivative(t, smooth)) if speed is None else speed
    sm = segment_smoothness(t, v, start_s=span.start_s, end_s=span.end_s)
    inside = (t >= span.start_s) & (t <= span.end_s)
    return {
        "duration_s": float(span.end_s - span.start_s),
        "sparc": sm.sparc,
        "partly_untracked": bool((~present[inside]).any()),
    }


def window_extreme(x: np.ndarray, a: int, b: int, *, largest: bool) -> tuple[float, int]:
    """Largest (or smallest) finite value of ``x[a:b+1]`` and its index (NaN, a if none)."""
    seg = np.asarray(x[a : b + 1], float)
    if seg.size == 0 or not np.isfinite(seg).any():
        return math.nan, a
    j = int(np.nanargmax(seg) if largest else np.nanargmin(seg))
    return float(seg[j]), a + j


def rest_level(t: np.ndarray, x: np.ndarray, onset_i: int, *, window_s: float = 0.3) -> float:
    """Median of ``x`` over the ``window_s`` seconds up to a movement onset: the rest it started from."""
    sel = (t >= t[onset_i] - window_s) & (t <= t[onset_i])
    v = x[sel]
    return float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan


def rest_before(t: np.ndarray, x: np.ndarray, start_i: int, peak_i: int, *, polarity: int = 1) -> float:
    """The rest level a rep started from, measured on an (offline, smooth) signal ``x``.

    The detector's start is causal and slightly late on a causally smoothed signal; here the movement
    onset is searched again on ``x`` from 0.3 s before it, and the rest is the median before that onset.
    """
    lo = int(np.searchsorted(t, t[start_i] - 0.3))
    lo = min(lo, start_i)
    while lo < start_i and not math.isfinite(float(x[lo])):
        lo += 1
    onset = movement_onset(x, lo, peak_i, polarity=polarity)
    return rest_level(t, x, onset)


def without_frames(analysis: Analysis, intervals: Sequence[tuple[float, float]]) -> Analysis:
    """Therapist-given reps on a recording without a single frame: the intervals, nothing measured."""
    rows: list[dict[str, Any]] = [
        {"start_s": float(a), "end_s": float(b), "peak_s": float(a), "duration_s": float(b) - float(a),
         "sparc": math.nan, "partly_untracked": True}
        for a, b in sorted(intervals)
    ]  # fmt: skip
    return replace(analysis, reps=rows)


def nan_stat(values: Sequence[float], fn: Callable[[np.ndarray], Any] = np.max) -> float:
    """``fn`` over the finite ``values`` (NaN when there are none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    return float(fn(v)) if v.size else math.nan


def neutral_from_range(x: np.ndarray, joint: str) -> float:
    """Where neutral lies in the range ``x`` moved through, taking the same share of normal on both sides.

    The range is the 2nd-98th percentile of ``x`` (positive one way); the share is the positive side's
    part of the joint's normal range (:data:`metrics.rom.NORMAL_ROM`, half and half for an unknown joint).
    NaN when ``x`` has no finite value.
    """
    v = x[np.isfinite(x)]
    if not v.size:
        return math.nan
    low, high = np.percentile(v, [2, 98])
    normal = NORMAL_ROM.get(joint)
    share = 0.5
    if normal is not None and normal.positive and normal.negative:
        share = normal.positive / (normal.positive + normal.negative)
    return float(high - share * (high - low))


# ----------------------------------------------------------------------------------------- exercises


@dataclass
class Prepared:
    """Everything an exercise's offline measurements need."""

    series: LandmarkSeries
    t: np.ndarray
    raw: Channels  # per-frame channels (NaN untracked)
    smooth: Channels  # zero-phase low-passed channels
    reference: Reference | None


class CycleExercise:
    """An exercise whose rep is one excursion of one angle-like channel and back.

    Subclasses set the class attributes and implement :meth:`channels` (main channel first) and
    optionally :meth:`rep_fields` / :meth:`summary`.
    """

    name: str = ""
    title: str = ""
    instructions: str = ""
    value_label: str = ""
    normal_range: tuple[float, float] | None = None
    unit: str = "deg"
    params: RepParams = RepParams(min_prominence=10.0)
    reference_s: float | None = None  # length of the neutral hold when one is needed
    lowpass_hz: float = 6.0
    smooth_s: float = 0.0  # causal low-pass of the detection path (see Median3)
    settle: bool = True  # a rep ends back at rest (False: at the far side of a two-sided cycle)
    needs_pose: bool = False

    # -- to implement -------------------------------------------------------------------------
    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        raise NotImplementedError

    def rep_fields(self, span: RepSpan, prep: Prepared) -> dict[str, Any]:
        """Exercise-specific per-rep values (default: the main signal at the peak)."""
        main = self.main_channel()
        return {"peak_value": float(prep.smooth[main][span.peak_i])}

    def summary(self, reps: list[dict[str, Any]], prep: Prepared) -> tuple[dict[str, Any], list[str]]:
        """Exercise-specific metrics and warnings."""
        return {}, []

    # -- shared -------------------------------------------------------------------------------
    def main_channel(self) -> str:
        return self.signal_names()[0]

    def signal_names(self) -> list[str]:
        empty = HandFrames.empty()
        ref = Reference("neutral", np.full(3, np.nan), np.full(3, np.nan), 0.0, empty.world[0], empty.image[0])
        return list(self.channels(empty, handedness="right", reference=ref))

    def detector(self) -> Detector:
        return CycleDetector(self.main_channel(), self.params)

    def stage(self) -> CausalStage | None:
        """A fresh stateful step between channels and filtering, if the exercise needs one."""
        return None

    def prepare(self, series: LandmarkSeries) -> tuple[Prepared, Channels]:
        """Channels for ``series``: the prepared (offline) data and the median-filtered detection input."""
        raw, reference = compute_channels(series, self.channels, reference_s=self.reference_s)
        t = np.asarray(series.t, float)
        stage = self.stage()
        if stage is not None:
            raw = run_stage(stage, t, raw)
        smooth = {k: lowpass(t, v, cutoff_hz=self.lowpass_hz) for k, v in raw.items()}
        detect = median3_channels(t, raw, max_gap_s=self.params.max_gap_s, smooth_s=self.smooth_s)
        return Prepared(series, t, raw, smooth, reference), detect

    def spans(self, prep: Prepared, detect: Channels, reps: Sequence[tuple[float, float]] | None) -> list[RepSpan]:
        main = self.main_channel()
        pol = self.params.polarity
        if reps is not None:
            return spans_from_intervals(reps, prep.t, prep.smooth[main], polarity=pol)
        events = run_detector(self.detector(), prep.t, detect)
        return spans_from_events(events, prep.t, detect[main], polarity=pol, settle=self.settle)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        if len(series) == 0 and reps:
            return without_frames(self.analyze(series), reps)
        prep, detect = self.prepare(series)
        spans = self.spans(prep, detect, reps)
        main = self.main_channel()
        speed = np.abs(time_derivative(prep.t, prep.smooth[main]))
        rows = []
        for s in spans:
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "peak_s": s.peak_s, **s.extra}
            row.update(rep_quality(prep.t, prep.smooth[main], series.present, s, speed=speed))
            row.update(self.rep_fields(s, prep))
            rows.append(row)
        metrics, warnings = self.summary(rows, prep)
        if self.reference_s is not None and prep.reference is None and series.present.any():
            warnings.append("No steady start position was found to measure against.")
        if not rows:
            warnings.append("No repetitions were detected.")
        signals = [Signal(k, self.unit_of(k), prep.t, v) for k, v in prep.smooth.items()]
        return Analysis(self.name, rows, metrics, warnings, signals)

    def unit_of(self, channel: str) -> str:
        return self.unit

    def live(self, *, handedness: str | None = None) -> ExerciseLive:
        """A fresh streaming detector (same channels, median filter and rep machine as :meth:`analyze`).

        The anatomical hand is taken from the first tracked frame's ``handedness``, else from
        ``handedness``, else from the hand's geometry (:func:`infer_handedness`).
        """
        return ExerciseLive(self, handedness=handedness)


class _LiveExercise(Protocol):
    unit: str
    params: RepParams
    reference_s: float | None
    smooth_s: float

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels: ...

    def main_channel(self) -> str: ...

    def detector(self) -> Detector: ...


def infer_handedness(world: np.ndarray) -> str:
    """Left or right from one frame's geometry: the thumb tip lies on the palmar side of the palm.

    With a right hand's chirality assumed, the palm normal ``r x u`` points palmar; the thumb tip on
    the other side means the hand is a left one.
    """
    frame = compute_palm_frame(np.asarray(world, float)[None], handedness="right")
    centre = world[[0, 5, 9, 13, 17]].mean(axis=0)
    side = float(np.dot(frame.n[0], world[4] - centre))
    return "left" if side < 0 else "right"


class ExerciseLive:
    """Generic live detector: :class:`ChannelSource` -> detector, reporting the main channel."""

    def __init__(self, exercise: _LiveExercise, *, handedness: str | None = None) -> None:
        self.exercise = exercise
        self.handedness = handedness
        self.source: ChannelSource | None = None
        self.detector = exercise.detector()
        self.count = 0
        self.last_rep: dict[str, Any] | None = None
        self._value = math.nan

    def update(self, frame: FrameLandmarks) -> LiveState:
        if self.source is None and frame.world is not None:
            hand = frame.handedness or self.handedness or infer_handedness(np.asarray(frame.world, float))
            self.source = ChannelSource(
                self.exercise.channels,
                handedness=hand,
                reference_s=self.exercise.reference_s,
                max_gap_s=self.exercise.params.max_gap_s,
                smooth_s=self.exercise.smooth_s,
                stage=self.exercise.stage() if hasattr(self.exercise, "stage") else None,
            )
        completed = False
        samples = [] if self.source is None else self.source.push(frame)
        main = self.exercise.main_channel()
        show = getattr(self.detector, "value", None)
        for t, values in samples:
            rep = self.detector.update(t, values)
            self._value = show(values) if callable(show) else values.get(main, math.nan)
            if rep is not None:
                self.count += 1
                completed = True
                ev: RepEvent = rep["event"]
                extra = {k: v for k, v in rep.items() if k not in ("event", "start_i")}
                self.last_rep = {"start_s": ev.start_t, "peak_s": ev.peak_t, "peak_value": ev.peak_value, **extra}
        prompt = None
        if frame.world is None:
            prompt = "Move your hand into view."
            self._value = math.nan
        elif self.source is not None and self.source.waiting_for_reference:
            prompt = "Hold your hand still in the start position."
        else:
            prompt = getattr(self.detector, "prompt", None)
        return LiveState(
            rep_count=self.count,
            value=self._value,
            unit=self.exercise.unit,
            rep_completed=completed,
            last_rep=self.last_rep,
            prompt=prompt,
        )


class TwoSidedExercise(CycleExercise):
    """A cycle that goes one way then the other through a neutral zero (e.g. wrist flexion then extension).

    The main channel is positive one way (``positive`` motion, e.g. 'flexion') and negative the other.
    A rep is counted at its positive peak; its negative peak is the lowest point before the next rep's
    positive peak (or the end of the recording).
    """

    positive: str = "positive"
    negative: str = "negative"
    settle = False
    reliability_channel: str | None = None  # channel with the viewpoint reliability (0..1)
    joint: str = ""  # name in metrics.rom.NORMAL_ROM

    def prepare(self, series: LandmarkSeries) -> tuple[Prepared, Channels]:
        """As :meth:`CycleExercise.prepare`; without a still start, neutral is estimated from the movement.

        A hand already moving when it came into view gives a reference somewhere in its movement, tens of
        degrees off (rendered clips: 29-55 deg). Neutral is then put where the range moved through splits
        in the proportion of the normal range (:data:`metrics.rom.NORMAL_ROM`: the same share of normal on
        both sides), which counts the same reps and leaves only the asymmetry of the patient's deficit.
        """
        prep, detect = super().prepare(series)
        ref, main = prep.reference, self.main_channel()
        if ref is None or ref.still or ref.kind != "neutral":
            return prep, detect
        offset = neutral_from_range(prep.smooth[main], self.joint)
        if not math.isfinite(offset):
            return prep, detect
        raw, smooth = {**prep.raw, main: prep.raw[main] - offset}, {**prep.smooth, main: prep.smooth[main] - offset}
        return replace(prep, raw=raw, smooth=smooth), {**detect, main: detect[main] - offset}

    def rep_fields(self, span: RepSpan, prep: Prepared) -> dict[str, Any]:
        x = prep.smooth[self.main_channel()]
        pos, _ = window_extreme(x, span.start_i, span.end_i, largest=True)
        stop = len(x) - 1 if span.next_peak_i is None else span.next_peak_i
        neg, neg_i = window_extreme(x, span.peak_i, max(stop, span.end_i), largest=False)
        return {
            f"{self.positive}_deg": pos,
            f"{self.negative}_deg": -neg if math.isfinite(neg) else math.nan,
            f"{self.negative}_s": float(prep.t[neg_i]) if math.isfinite(neg) else math.nan,
            "rom_deg": pos - neg if math.isfinite(neg) else math.nan,
        }

    def spans(self, prep: Prepared, detect: Channels, reps: Sequence[tuple[float, float]] | None) -> list[RepSpan]:
        spans = super().spans(prep, detect, reps)
        if reps is not None:  # a therapist's interval holds the whole cycle
            return [replace(s, next_peak_i=s.end_i) for s in spans]
        nxt = [s.peak_i - 1 for s in spans[1:]] + [len(prep.t) - 1] * bool(spans)
        return [replace(s, next_peak_i=n) for s, n in zip(spans, nxt, strict=True)]

    def summary(self, reps: list[dict[str, Any]], prep: Prepared) -> tuple[dict[str, Any], list[str]]:
        from metrics.rom import NORMAL_ROM, compute_joint_rom

        main = self.main_channel()
        rom = compute_joint_rom(prep.smooth[main], normal=NORMAL_ROM.get(self.joint))
        pos_key, neg_key = f"{self.positive}_deg", f"{self.negative}_deg"
        if reps:
            max_pos = nan_stat([r[pos_key] for r in reps])
            max_neg = nan_stat([r[neg_key] for r in reps])
        else:  # no complete cycle: still report how far the hand went
            max_pos, max_neg = rom.high, -rom.low
        metrics: dict[str, Any] = {
            f"max_{pos_key}": max_pos,
            f"max_{neg_key}": max_neg,
            "rom_deg": max_pos + max_neg,
            f"mean_{pos_key}": nan_stat([r[pos_key] for r in reps], np.mean),
            f"mean_{neg_key}": nan_stat([r[neg_key] for r in reps], np.mean),
            "reference": prep.reference.kind if prep.reference is not None else "neutral",
            "rom": {self.joint or main: rom.to_dict()},
        }
        warnings: list[str] = []
        if self.reliability_channel is not None:
            rel = prep.raw[self.reliability_channel]
            reliability = float(np.nanmedian(rel)) if np.isfinite(rel).any() else math.nan
            metrics["viewpoint_reliability"] = reliability
            if math.isfinite(reliability) and reliability < 0.5:
                warnings.append(self.viewpoint_warning(reliability))
        if prep.reference is not None and prep.reference.kind == "neutral":
            warnings.append(
                "Angles are measured against the hand position held at the start (no elbow was visible): "
                "keep the forearm still during the exercise."
            )
        if prep.reference is not None and not prep.reference.still:
            metrics["neutral_from_range"] = prep.reference.kind == "neutral"
            warnings.append(
                "The hand was already moving when it came into view, so no still starting position was seen: "
                "neutral was estimated from the range of movement, and the angles either side of it may be off "
                "by 10 degrees or more. Start with the hand in view and hold it still for a second."
            )
        return metrics, warnings

    def viewpoint_warning(self, reliability: float) -> str:
        return (
            f"The camera sees this movement poorly (viewpoint reliability {reliability:.2f}): most of it is "
            "toward or away from the camera, where depth is least accurate."
        )
