"""Thumb opposition: one rep is one touch of the thumb tip on one fingertip.

A touch is one excursion of the thumb onto the fingers and back, counted on the thumb's *reach*
(:func:`metrics.opposition.thumb_reach`: the image distance from the thumb tip to the nearest point of
any finger, in palm lengths) by one :class:`metrics.reps.RepCounter` (polarity -1). The reach needs no
finger labels and no depth, so it sees a touch whichever way the hand faces, and the thumb passing over
a finger on its way to the next one stays inside the one excursion instead of making a rep of its own.
An excursion is a touch when

* the reach went below ``reach_threshold`` and stayed there for at least ``hold_s`` (the thumb came onto
  the fingers and stayed, not a sweep past them), and
* with the palm toward the camera, the thumb tip came within ``touch_threshold`` palm lengths of that
  fingertip in the image or in MediaPipe's 3-D world landmarks (the smaller: each fails on its own, the
  image when the thumb lies over a finger, the world in depth), having covered most of its way there
  (the image distance fell to ``approach`` times its value with the hand open). Seen from the back, the
  thumb and the fingertip it touches are behind the hand and MediaPipe only guesses their landmarks:
  the reach alone decides there, with a lower bar (a thumb hidden behind the middle fingertip is drawn
  half a palm length off the fingers).

A camera looking along the thumb sees it over the fingers even with the hand open; while the reach has
not left the fingers for a few seconds it is blind, and a second rep machine on the nearest fingertip's
distance (``tip_params``, within ``tip_threshold``) counts the touches instead.

The finger touched is the one the thumb came *relatively* closest to during the excursion: the image
distance divided by that finger's distance when the excursion began (with the hand open). A touched
fingertip goes from about a palm length away to zero; a neighbour merely approached keeps a good part of
its distance, even where MediaPipe puts the touched fingertip a little off (a fingertip bent toward the
camera, or hidden behind the palm). That relative distance is divided by how far each finger bent to meet
the thumb (:func:`finger_bend`, plus :data:`BEND_FLOOR`): from the back and from above the palm MediaPipe
drew the thumb nearer a neighbour of the fingertip it touched, but the touched finger bent and the
neighbour hardly did. Whether the excursion was a touch at all is still judged on the nearest fingertip.

MediaPipe sometimes mirrors the hand for a few frames (it reads the back of a right hand as the palm of
a left one, mostly while a fingertip is hidden): its finger labels then run little -> index.
:class:`MirrorGuard` notices that from the turning sense of the palm's outline in the image, which cannot
reverse without the hand turning over, swaps the labels back and marks those frames, which then only
count toward the finger choice when the touch was seen in no other frame. It also drops a frame whose
palm outline collapses within a frame (a hand cannot turn edge-on that fast: a landmark glitch).

Sequences follow the usual protocol index -> middle -> ring -> little; a touch out of that order is an
order error. Kapandji stages 3-6 are the index to little fingertips: ``kapandji_stage`` is the highest
fingertip reached.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from exercises.base import Analysis, Signal
from exercises.common import (
    Channels,
    ExerciseLive,
    HandFrames,
    Prepared,
    Reference,
    RepSpan,
    compute_channels,
    median3_channels,
    movement_onset,
    nan_stat,
    rep_quality,
    run_detector,
    run_stage,
    spans_from_events,
    spans_from_intervals,
    without_frames,
)
from metrics.angles import tip_distances
from metrics.opposition import finger_image_lengths, palm_facing, thumb_reach, thumb_tip_image_distances
from metrics.reps import RepCounter, RepEvent, RepParams
from tracking.filters import lowpass, time_derivative
from tracking.series import FINGERS, LandmarkSeries

__all__ = [
    "BEND_FLOOR",
    "KAPANDJI_STAGE",
    "MIRRORED_FINGER",
    "MirrorGuard",
    "OppositionDetector",
    "ThumbOpposition",
    "closest_approach",
    "finger_bend",
    "sequence_stats",
]

KAPANDJI_STAGE = {"index": 3, "middle": 4, "ring": 5, "little": 6}
"""Kapandji opposition stage of each fingertip."""

MIRRORED_FINGER = {"index": "little", "middle": "ring", "ring": "middle", "little": "index"}
"""The finger MediaPipe calls ``f`` when it has mirrored the hand."""

_WORLD = {f: f"world_{f}" for f in FINGERS}
_LENGTH = {f: f"length_{f}" for f in FINGERS}
_GEOMETRY = ("nearest", "reach", *FINGERS, *_WORLD.values(), *_LENGTH.values())  # a mirrored or collapsed frame spoils

BEND_FLOOR = 0.1
"""Added to each finger's bend before the thumb's relative distance is divided by it (:func:`closest_approach`).

Over a touch the touched finger's image length changed by 0.66 of its length with the hand open (median; 10th
percentile 0.32), the most-changed other finger by 0.10. Dividing by the bend plus 0.05-0.1 gave the same finger
choices on the rendered clips; larger floors weigh the bend less.
"""
_SIGNALS = ("nearest", "reach", *FINGERS)  # what the analysis shows


class MirrorGuard:
    """Causal stage that undoes MediaPipe's mirrored finger labels (see the module docstring).

    The palm's outline (:func:`metrics.opposition.palm_facing`) turns one way with the palm toward the
    camera and the other way with the back toward it. The side seen first (with ``|facing| >=
    min_facing``) is the reference; a frame with the other sign is mirrored and gets its finger channels
    swapped back, unless the other sign lasts ``persist_s`` (the hand really turned over: it becomes the
    reference). A frame whose ``|facing|`` is below ``collapse`` times its median over the last
    ``window_s`` seconds is dropped (NaN geometry).

    Adds the channels ``mirrored`` (1 on a mirrored frame) and ``back`` (1 while the back of the hand
    faces the camera).
    """

    def __init__(
        self, *, min_facing: float = 0.1, persist_s: float = 2.0, window_s: float = 1.0, collapse: float = 0.25
    ) -> None:
        self.min_facing = min_facing
        self.persist_s = persist_s
        self.window_s = window_s
        self.collapse = collapse
        self._ref = 0.0  # +1 palm toward the camera, -1 back toward it, 0 not known yet
        self._since = math.nan  # start of the current run of frames against the reference
        self._recent: deque[tuple[float, float]] = deque()

    def update(self, t: float, values: dict[str, float]) -> dict[str, float]:
        out = dict(values)
        out["mirrored"] = 0.0
        facing = values.get("facing", math.nan)
        if math.isfinite(facing):
            size = abs(facing)
            while self._recent and self._recent[0][0] < t - self.window_s:
                self._recent.popleft()
            typical = float(np.median([v for _, v in self._recent])) if self._recent else math.nan
            self._recent.append((t, size))
            if size < self.collapse * typical:
                out.update(dict.fromkeys((k for k in _GEOMETRY if k in values), math.nan))
            elif self._against_reference(t, facing):
                out["mirrored"] = 1.0
                out.update({f: values[MIRRORED_FINGER[f]] for f in FINGERS if f in values})
                for names in (_WORLD, _LENGTH):
                    out.update({names[f]: values[names[MIRRORED_FINGER[f]]] for f in FINGERS if names[f] in values})
        out["back"] = float(self._ref < 0)
        return out

    def _against_reference(self, t: float, facing: float) -> bool:
        if abs(facing) < self.min_facing:  # near edge-on the sense is not reliable: take the labels as they are
            return False
        side = 1.0 if facing > 0 else -1.0
        if self._ref == 0.0:
            self._ref = side
        if side == self._ref:
            self._since = math.nan
            return False
        if not math.isfinite(self._since):
            self._since = t
        if t - self._since >= self.persist_s:
            self._ref, self._since = side, math.nan
            return False
        return True


def closest_approach(
    distance: np.ndarray,
    rest: np.ndarray,
    *,
    on: np.ndarray,
    mirrored: np.ndarray,
    bend: np.ndarray | None = None,
    min_frames: int = 3,
) -> tuple[int, int] | None:
    """The finger the thumb came relatively closest to during an excursion, and the sample when.

    Parameters
    ----------
    distance : (4, n) array
        Thumb tip to each fingertip (index..little) over the excursion.
    rest : (4,) array
        The same distances with the hand open before it; the distances are divided by them (unless one
        is unknown, then none is).
    on : (n,) bool array
        Samples with the thumb on the fingers.
    mirrored : (n,) bool array
        Samples whose finger labels were mirrored back; ignored when at least ``min_frames`` samples
        with the thumb on the fingers were not.
    bend : (4,) array, optional
        How far each finger bent over the excursion (:func:`finger_bend`). A touched fingertip bends to meet
        the thumb; a neighbour the thumb merely came near does not. Each finger's closest relative distance
        is divided by its bend plus :data:`BEND_FLOOR` (NaN bend: none).

    Returns
    -------
    (finger index, sample index), or None when no distance is known.
    """
    d = np.asarray(distance, float)
    r = np.asarray(rest, float)
    rel = d / r[:, None] if bool(np.all(np.isfinite(r) & (r > 0))) else d.copy()
    clean = ~np.asarray(mirrored, bool)
    if int((np.asarray(on, bool) & clean).sum()) >= min_frames:
        rel[:, ~clean] = np.nan
    closest = np.fmin.reduce(rel, axis=1)  # NaN only for a finger never seen
    if not np.isfinite(closest).any():
        return None
    if bend is not None:
        closest = closest / (np.nan_to_num(np.asarray(bend, float), nan=0.0) + BEND_FLOOR)
    k = int(np.nanargmin(closest))
    return k, int(np.nanargmin(rel[k]))


def finger_bend(length: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Per finger, the largest change of its image length over an excursion, relative to its length at rest.

    ``length`` is (4, n) (:func:`metrics.opposition.finger_image_lengths` over the excursion), ``rest`` (4,) the
    lengths with the hand open before it. NaN where unknown.
    """
    r = np.asarray(rest, float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.abs(np.asarray(length, float) - r) / r
    return np.asarray(np.fmax.reduce(change, axis=1))  # NaN only for a finger never seen


class OppositionDetector:
    """Three rep machines, the touch gates and the finger choice (see the module docstring).

    The reach's machine counts touches while the reach can show them: while the thumb has been more
    than ``reach_threshold + open_margin`` palm lengths off the fingers within the last ``blind_s``
    seconds. A camera looking along the thumb sees it over the fingers all the time; the reach is then
    blind and a second machine on the nearest fingertip's distance (``tip_params``, ``tip_threshold``)
    counts instead. With the back of the hand toward the camera a third machine on the reach
    (``back_params``, ``back_threshold``) counts: the thumb is hidden behind the fingers it touches, and
    MediaPipe draws it short of them.
    """

    def __init__(
        self,
        params: RepParams,
        *,
        reach_threshold: float,
        touch_threshold: float,
        approach: float,
        hold_s: float,
        tip_params: RepParams,
        tip_threshold: float,
        back_params: RepParams,
        back_threshold: float,
        rest_s: float = 0.1,
        blind_s: float = 3.0,
        open_margin: float = 0.1,
    ) -> None:
        self.params = params
        self.reach_threshold = reach_threshold
        self.touch_threshold = touch_threshold
        self.approach = approach
        self.hold_s = hold_s
        self.tip_threshold = tip_threshold
        self.back_threshold = back_threshold
        self.rest_s = rest_s
        self.blind_s = blind_s
        self.open_margin = open_margin
        self.counters = {
            "reach": RepCounter(params),
            "tip": RepCounter(tip_params),
            "back": RepCounter(back_params),
        }
        self.t: list[float] = []
        reach: list[float] = []
        self.signal: dict[str, list[float]] = {"reach": reach, "tip": [], "back": reach}  # per rep machine
        self.d: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.world: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.length: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.mirrored: list[bool] = []
        self.back: list[bool] = []
        self.accepted: list[dict[str, Any]] = []
        self._origin: list[tuple[str, int]] = []  # the machine and its own extremum of each accepted touch
        self._recent: deque[tuple[float, float]] = deque()  # (t, reach) over the last blind_s seconds

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        self.t.append(t)
        reach = values["reach"]
        d = [values[f] for f in FINGERS]
        w = [values.get(_WORLD[f], math.nan) for f in FINGERS]
        tip = _nanmin([*d, *w])
        self.signal["reach"].append(reach)
        self.signal["tip"].append(tip)
        for f, di, wi in zip(FINGERS, d, w, strict=True):
            self.d[f].append(di)
            self.world[f].append(wi)
            self.length[f].append(values.get(_LENGTH[f], math.nan))
        # Without MirrorGuard (e.g. exercise recognition) every frame is taken as it comes, palm forward.
        self.mirrored.append(values.get("mirrored", 0.0) > 0.5)
        self.back.append(values.get("back", 0.0) > 0.5)
        blind = self._reach_blind(t, reach)
        found = None
        back = self.back[-1]
        for name, x, threshold, use in (
            ("reach", reach, self.reach_threshold, not blind and not back),
            ("back", reach, self.back_threshold, not blind and back),
            ("tip", tip, self.tip_threshold, blind),
        ):
            ev = self.counters[name].update(t, x)
            if ev is None or not use or found is not None:
                continue
            found = self._touch(ev, self.signal[name], threshold)
            if found is not None:
                self.accepted.append(found)
                self._origin.append((name, ev.peak_i))
        return found

    def _reach_blind(self, t: float, reach: float) -> bool:
        if math.isfinite(reach):
            self._recent.append((t, reach))
        while self._recent and self._recent[0][0] < t - self.blind_s:
            self._recent.popleft()
        if not self._recent:
            return False
        return max(v for _, v in self._recent) < self.reach_threshold + self.open_margin

    def _touch(self, ev: RepEvent, signal: list[float], threshold: float) -> dict[str, Any] | None:
        if not ev.peak_value <= threshold:
            return None
        a = movement_onset(signal, ev.start_i, ev.peak_i, polarity=-1)
        b = ev.confirm_i
        tt = np.asarray(self.t[a : b + 1])
        with np.errstate(invalid="ignore"):
            on = np.asarray(signal[a : b + 1]) <= threshold
        if on.sum() < 2 or tt[on][-1] - tt[on][0] < self.hold_s:
            return None
        d = np.array([self.d[f][a : b + 1] for f in FINGERS])
        r = a
        while r > 0 and self.t[r - 1] >= self.t[a] - self.rest_s:
            r -= 1
        rest = np.array([_nanmedian(self.d[f][r : a + 1]) for f in FINGERS])
        mirrored = np.asarray(self.mirrored[a : b + 1])
        found = closest_approach(d, rest, on=on, mirrored=mirrored)
        if found is None:
            return None
        k, _ = found
        if not self.back[b] and not self._close_enough(d[k], np.asarray(self.world[FINGERS[k]][a : b + 1]), rest[k]):
            return None
        # Whether it was a touch is judged on the nearest fingertip; which finger, also on how each one bent.
        length = np.array([self.length[f][a : b + 1] for f in FINGERS])
        bend = finger_bend(length, np.array([_nanmedian(self.length[f][r : a + 1]) for f in FINGERS]))
        k, j = closest_approach(d, rest, on=on, mirrored=mirrored, bend=bend) or found
        finger = FINGERS[k]
        i = a + j
        event = replace(ev, peak_i=i, peak_t=self.t[i], peak_value=float(d[k, j]))
        return {"event": event, "finger": finger, "start_i": a, "start_s": self.t[a]}

    def _close_enough(self, image: np.ndarray, world: np.ndarray, rest: float) -> bool:
        """The tips came within ``touch_threshold`` (image or world) and the thumb most of the way."""
        closest = _nanmin(np.fmin(image, world))
        if not closest <= self.touch_threshold:
            return False
        return not (math.isfinite(rest) and rest > 0) or _nanmin(image) / rest <= self.approach

    def finish(self) -> list[dict[str, Any]]:
        """Accepted touches in time order, each ending where its rep machine put the rest after it."""
        ends = {(name, ev.peak_i): ev for name, c in self.counters.items() for ev in c.finish()}
        out = []
        for item, origin in zip(self.accepted, self._origin, strict=True):
            ev: RepEvent = item["event"]
            full = ends.get(origin)
            if full is not None and full.end_i >= 0:
                ev = replace(ev, end_i=full.end_i, end_t=full.end_t, end_value=full.end_value)
            out.append({**item, "event": ev})
        return out


def _nanmin(values: Sequence[float] | np.ndarray) -> float:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(v.min()) if v.size else math.nan


def _nanmedian(values: Sequence[float]) -> float:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def sequence_stats(fingers: Sequence[str]) -> dict[str, Any]:
    """Completed index->little sequences, order errors and the furthest fingertip reached.

    Parameters
    ----------
    fingers : sequence of str
        Touched fingers in time order.
    """
    done = errors = 0
    k, clean = 0, True  # position in the sequence, and whether it has gone in order so far
    for f in fingers:
        pos = FINGERS.index(f)
        if pos == k:
            k += 1
        else:  # out of order: count it once and carry on from where the patient is
            errors += 1
            clean = pos == 0
            k = pos + 1
        if k == len(FINGERS):
            done += int(clean)
            k, clean = 0, True
    stage = max((KAPANDJI_STAGE[f] for f in fingers), default=0)
    furthest = next((f for f in reversed(FINGERS) if f in fingers), None)
    return {"completed_sequences": done, "order_errors": errors, "kapandji_stage": stage, "furthest_finger": furthest}


class ThumbOpposition:
    name = "thumb_opposition"
    title = "Thumb to fingertips"
    instructions = (
        "Touch the tip of your thumb to the tip of each finger in turn, index to little finger, opening the hand "
        "a little between touches."
    )
    value_label = "Thumb to nearest fingertip (palm lengths)"
    normal_range: tuple[float, float] | None = (0.0, 1.2)
    unit = "norm"
    # On the reach: the open hand is 0.6-0.9 palm lengths from the fingers, a touch near 0; half the usual
    # excursion must come back before a touch ends, so the thumb shifting on the fingers stays one touch.
    params = RepParams(min_prominence=0.25, rel_prominence=0.5, polarity=-1, min_duration_s=0.1)
    reach_threshold = 0.35
    # MediaPipe puts the tips of a real touch up to 0.5 palm lengths apart in its worst views (a fingertip
    # bent toward the camera, in the image and in depth); stopping further short than that is not a touch. The thumb
    # also covers most of its way to the fingertip (a touch: 60-100 % of it; bending across the palm: 50 %).
    touch_threshold = 0.55
    approach = 0.4
    # Seen from the back, a thumb touching the middle or ring fingertip is hidden behind the fingers:
    # MediaPipe draws it 0.45-0.5 palm lengths off them (0.8 with the hand open), and between two such
    # touches the reach comes back by only 0.34. The back view's own rep machine takes both.
    back_params = replace(params, rel_prominence=0.3)
    back_threshold = 0.55
    # The nearest fingertip, when the reach is blind.
    tip_params = RepParams(min_prominence=0.15, rel_prominence=0.3, polarity=-1, min_duration_s=0.1)
    tip_threshold = 0.3
    depth_weight = 0.5  # see metrics.angles.tip_distances
    hold_s = 0.05
    reference_s: float | None = None
    lowpass_hz = 6.0
    smooth_s = 0.0

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        d = thumb_tip_image_distances(frames.image)
        world = tip_distances(frames.world, depth_weight=self.depth_weight)
        with np.errstate(invalid="ignore"):
            nearest = np.fmin.reduce([d[f] for f in FINGERS])
        return {
            "nearest": nearest,
            "reach": thumb_reach(frames.image),
            **d,
            **{_WORLD[f]: world[f] for f in FINGERS},
            **{_LENGTH[f]: v for f, v in finger_image_lengths(frames.image).items()},
            "facing": palm_facing(frames.image, handedness=handedness),
        }

    def main_channel(self) -> str:
        return "nearest"

    def stage(self) -> MirrorGuard:
        return MirrorGuard()

    def detector(self) -> OppositionDetector:
        return OppositionDetector(
            self.params,
            reach_threshold=self.reach_threshold,
            touch_threshold=self.touch_threshold,
            approach=self.approach,
            hold_s=self.hold_s,
            tip_params=self.tip_params,
            tip_threshold=self.tip_threshold,
            back_params=self.back_params,
            back_threshold=self.back_threshold,
        )

    def live(self, *, handedness: str | None = None) -> ExerciseLive:
        """A fresh streaming detector (same channels, stage, median filter and gates as :meth:`analyze`)."""
        return ExerciseLive(self, handedness=handedness)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        if len(series) == 0 and reps:
            return without_frames(self.analyze(series), reps)
        raw, _ = compute_channels(series, self.channels, reference_s=None)
        t = np.asarray(series.t, float)
        raw = run_stage(self.stage(), t, raw)
        smooth = {k: lowpass(t, raw[k], cutoff_hz=self.lowpass_hz) for k in _SIGNALS}
        prep = Prepared(series, t, raw, smooth, None)
        if reps is None:
            detect = median3_channels(t, raw, max_gap_s=self.params.max_gap_s)
            events = run_detector(self.detector(), t, detect)
            spans = spans_from_events(events, t, detect["reach"], polarity=-1, settle=True)
        else:
            spans = [self._attribute(s, prep) for s in spans_from_intervals(reps, t, smooth["nearest"], polarity=-1)]
        speed = np.abs(time_derivative(t, smooth["nearest"]))
        rows = []
        for s in spans:
            f = s.extra["finger"]
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "peak_s": s.peak_s, "finger": f}
            row.update(rep_quality(t, smooth["nearest"], series.present, s, speed=speed))
            row["tip_distance"] = nan_stat(list(smooth[f][s.start_i : s.end_i + 1]), np.min) if f else math.nan
            rows.append(row)
        touched = [r["finger"] for r in rows if r["finger"]]
        per_finger = {f: touched.count(f) for f in FINGERS}
        seq = sequence_stats(touched)
        peaks = np.array([r["peak_s"] for r in rows])
        metrics: dict[str, Any] = {
            "touches_per_finger": per_finger,
            **seq,
            "time_per_touch_s": nan_stat([r["duration_s"] for r in rows], np.mean),
            "touch_interval_s": float(np.median(np.diff(peaks))) if len(peaks) > 1 else math.nan,
            "tip_distance_mean": nan_stat([r["tip_distance"] for r in rows], np.mean),
            "touch_order": touched,
        }
        warnings = [] if rows else ["No touches of the thumb on a fingertip were detected."]
        missing = [f for f in FINGERS if per_finger[f] == 0]
        if rows and missing:
            warnings.append(f"No touch was detected on: {', '.join(missing)}.")
        signals = [Signal(k, "norm", t, v) for k, v in smooth.items()]
        return Analysis(self.name, rows, metrics, warnings, signals)

    def _attribute(self, span: RepSpan, prep: Prepared) -> RepSpan:
        """A therapist-given interval is a touch of the finger the thumb came relatively closest to in it."""
        a, b = span.start_i, max(span.end_i, span.start_i)
        d = np.array([prep.smooth[f][a : b + 1] for f in FINGERS])
        with np.errstate(invalid="ignore"):
            on = prep.smooth["reach"][a : b + 1] <= self.reach_threshold
        mirrored = prep.raw["mirrored"][a : b + 1] > 0.5
        length = np.array([prep.raw[_LENGTH[f]][a : b + 1] for f in FINGERS])
        found = closest_approach(d, d[:, 0], on=on, mirrored=mirrored, bend=finger_bend(length, length[:, 0]))
        finger = FINGERS[found[0]] if found is not None else None
        return RepSpan(span.start_i, span.peak_i, span.end_i, span.start_s, span.peak_s, span.end_s, {"finger": finger})
