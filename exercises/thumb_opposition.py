"""Thumb opposition: one rep is one touch of the thumb tip on one fingertip.

Each fingertip has its own rep machine (:class:`metrics.reps.RepCounter`, polarity -1) on the thumb tip
to fingertip distance divided by palm length. A dip counts as a touch of that finger only when

* its lowest point is below ``touch_threshold`` palm lengths (the tips really met),
* the distance stayed below the threshold for at least ``hold_s`` (a touch, not a brush past), and
* at its lowest point that finger was the nearest to the thumb tip (so passing over the middle finger on
  the way to the ring finger, or a neighbour a little further away, is not a touch).

Sequences follow the usual protocol index -> middle -> ring -> little; a touch out of that order is an
order error. Kapandji stages 3-6 are the index to little fingertips: ``kapandji_stage`` is the highest
fingertip reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    spans_from_events,
    spans_from_intervals,
    without_frames,
)
from metrics.angles import tip_distances
from metrics.reps import RepCounter, RepParams
from tracking.filters import lowpass, time_derivative
from tracking.series import FINGERS, LandmarkSeries

__all__ = ["KAPANDJI_STAGE", "OppositionDetector", "ThumbOpposition", "sequence_stats"]

KAPANDJI_STAGE = {"index": 3, "middle": 4, "ring": 5, "little": 6}
"""Kapandji opposition stage of each fingertip."""


class OppositionDetector:
    """Four per-finger rep machines plus the touch gates (see the module docstring)."""

    def __init__(self, params: RepParams, *, touch_threshold: float, hold_s: float) -> None:
        self.params = params
        self.touch_threshold = touch_threshold
        self.hold_s = hold_s
        self.counters = {f: RepCounter(params) for f in FINGERS}
        self.t: list[float] = []
        self.d: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.accepted: list[dict[str, Any]] = []

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        self.t.append(t)
        for f in FINGERS:
            self.d[f].append(values[f])
        best: dict[str, Any] | None = None
        for f in FINGERS:
            ev = self.counters[f].update(t, values[f])
            if ev is None:
                continue
            onset = movement_onset(self.d[f], ev.start_i, ev.peak_i, polarity=-1)
            if self._is_touch(f, onset, ev.peak_i, ev.confirm_i, ev.peak_value):
                cand = {"event": ev, "finger": f, "start_i": onset, "start_s": self.t[onset]}
                if best is None or ev.peak_value < best["event"].peak_value:
                    best = cand
        if best is not None:
            self.accepted.append(best)
        return best

    def _is_touch(self, finger: str, start: int, peak: int, confirm: int, trough: float) -> bool:
        if not trough <= self.touch_threshold:
            return False
        d = np.asarray(self.d[finger][start : confirm + 1])
        tt = np.asarray(self.t[start : confirm + 1])
        below = d <= self.touch_threshold
        if below.sum() < 2 or tt[below][-1] - tt[below][0] < self.hold_s:
            return False
        here = self.d[finger][peak]
        others = [self.d[g][peak] for g in FINGERS if g != finger]
        return all(not (o < here) for o in others)  # NaN neighbours do not block

    def finish(self) -> list[dict[str, Any]]:
        """Accepted touches in time order, each with its end filled in by its own finger's machine."""
        ends: dict[tuple[str, int], Any] = {}
        for f in FINGERS:
            for ev in self.counters[f].finish():
                ends[(f, ev.peak_i)] = ev
        out = []
        for item in self.accepted:
            ev = ends.get((item["finger"], item["event"].peak_i), item["event"])
            out.append({**item, "event": ev})
        return sorted(out, key=lambda r: r["event"].peak_t)


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
    params = RepParams(min_prominence=0.15, rel_prominence=0.3, polarity=-1, min_duration_s=0.1)
    touch_threshold = 0.3
    depth_weight = 0.5  # see metrics.angles.tip_distances
    hold_s = 0.05
    reference_s: float | None = None
    lowpass_hz = 6.0
    smooth_s = 0.0

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        d = tip_distances(frames.world, depth_weight=self.depth_weight)
        with np.errstate(invalid="ignore"):
            nearest = np.fmin.reduce([d[f] for f in FINGERS])
        return {"nearest": nearest, **d}

    def main_channel(self) -> str:
        return "nearest"

    def detector(self) -> OppositionDetector:
        return OppositionDetector(self.params, touch_threshold=self.touch_threshold, hold_s=self.hold_s)

    def live(self, *, handedness: str | None = None) -> ExerciseLive:
        """A fresh streaming detector (same channels, median filter and gates as :meth:`analyze`)."""
        return ExerciseLive(self, handedness=handedness)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        if len(series) == 0 and reps:
            return without_frames(self.analyze(series), reps)
        raw, _ = compute_channels(series, self.channels, reference_s=None)
        t = np.asarray(series.t, float)
        smooth = {k: lowpass(t, v, cutoff_hz=self.lowpass_hz) for k, v in raw.items()}
        prep = Prepared(series, t, raw, smooth, None)
        if reps is None:
            detect = median3_channels(t, raw, max_gap_s=self.params.max_gap_s)
            events = run_detector(self.detector(), t, detect)
            spans = [
                s
                for f in FINGERS
                for s in spans_from_events(
                    [e for e in events if e["finger"] == f], t, detect[f], polarity=-1, settle=True
                )
            ]
            spans.sort(key=lambda s: s.peak_s)
        else:
            spans = [self._attribute(s, prep) for s in spans_from_intervals(reps, t, smooth["nearest"], polarity=-1)]
        speed = np.abs(time_derivative(t, smooth["nearest"]))
        rows = []
        for s in spans:
            f = s.extra["finger"]
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "peak_s": s.peak_s, "finger": f}
            row.update(rep_quality(t, smooth["nearest"], series.present, s, speed=speed))
            row["tip_distance"] = float(np.nanmin(smooth[f][s.start_i : s.end_i + 1])) if f else math.nan
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
        """A therapist-given interval is a touch of the finger nearest the thumb at its closest point."""
        i = span.peak_i
        d = {f: prep.smooth[f][i] for f in FINGERS}
        finite = {f: v for f, v in d.items() if math.isfinite(v)}
        finger = min(finite, key=finite.__getitem__) if finite else None
        return RepSpan(span.start_i, i, span.end_i, span.start_s, span.peak_s, span.end_s, {"finger": finger})
