"""Finger lifting: hand flat on a table, one rep is one finger lifted off it and put back.

Each finger has its own rep machine on its MCP extension (``-`` MCP flexion from
:func:`metrics.angles.compute_finger_angles`). Neighbouring fingers are pulled along by the instructed
one (enslaving), so a lift is attributed to a finger only when that finger rose more than every other
finger over the same rep.

``lift_angle_deg`` is the MCP extension at the top of the lift relative to the resting posture the rep
started from. The individuation index follows Häger-Ross & Schieber (2000):
``I_j = 1 - (sum_i |C_ij| - 1) / (n - 1)`` over the n = 4 long fingers, with ``C_ij`` the least-squares
slope of finger i's MCP extension against the instructed finger j's during j's lifts (``C_jj = 1``);
1 means finger j moves alone.
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
    Prepared,
    Reference,
    RepSpan,
    compute_channels,
    median3_channels,
    movement_onset,
    nan_stat,
    rep_quality,
    rest_level,
    run_detector,
    spans_from_events,
    spans_from_intervals,
)
from metrics.angles import compute_finger_angles
from metrics.reps import RepCounter, RepParams
from tracking.filters import lowpass, time_derivative
from tracking.series import FINGERS, LandmarkSeries

__all__ = ["FingerLifting", "LiftDetector", "individuation_index"]


class LiftDetector:
    """Four per-finger rep machines; a rep counts for the finger that rose the most over it."""

    def __init__(self, params: RepParams) -> None:
        self.counters = {f: RepCounter(params) for f in FINGERS}
        self.x: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.t: list[float] = []
        self.accepted: list[dict[str, Any]] = []

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        for f in FINGERS:
            self.x[f].append(values[f])
        self.t.append(t)
        best = None
        for f in FINGERS:
            ev = self.counters[f].update(t, values[f])
            if ev is None:
                continue
            onset = movement_onset(self.x[f], ev.start_i, ev.peak_i, polarity=1)
            if self._is_instructed(f, onset, ev.peak_i):
                best = {"event": ev, "finger": f, "start_i": onset, "start_s": self.t[onset]}
        if best is not None:
            self.accepted.append(best)
        return best

    def _is_instructed(self, finger: str, start: int, peak: int) -> bool:
        rise = self.x[finger][peak] - self.x[finger][start]
        for g in FINGERS:
            if g != finger:
                seg = [v for v in self.x[g][start : peak + 1] if math.isfinite(v)]
                if seg and math.isfinite(self.x[g][start]) and max(seg) - self.x[g][start] > rise:
                    return False
        return True

    def finish(self) -> list[dict[str, Any]]:
        ends: dict[tuple[str, int], Any] = {}
        for f in FINGERS:
            for ev in self.counters[f].finish():
                ends[(f, ev.peak_i)] = ev
        out = [{**a, "event": ends.get((a["finger"], a["event"].peak_i), a["event"])} for a in self.accepted]
        return sorted(out, key=lambda r: r["event"].peak_t)


def individuation_index(
    lifts: Mapping[str, np.ndarray], spans: Sequence[RepSpan], *, fingers: Sequence[str] = FINGERS
) -> dict[str, float]:
    """Häger-Ross & Schieber individuation index of every instructed finger.

    Parameters
    ----------
    lifts : mapping of finger to (T,) array
        MCP extension (degrees) of every finger, NaN where untracked.
    spans : sequence of RepSpan
        Lifts, each with ``extra['finger']`` = the instructed finger.
    fingers : sequence of str
        The n digits compared.

    Returns
    -------
    dict
        ``{finger: I in [0, 1]}`` for fingers with at least one lift (NaN otherwise).
    """
    n = len(fingers)
    out: dict[str, float] = {}
    for j in fingers:
        own = [s for s in spans if s.extra.get("finger") == j]
        if not own:
            out[j] = math.nan
            continue
        xs: list[np.ndarray] = []
        ys: dict[str, list[np.ndarray]] = {i: [] for i in fingers}
        for s in own:
            sl = slice(s.start_i, s.end_i + 1)
            xs.append(lifts[j][sl] - lifts[j][s.start_i])
            for i in fingers:
                ys[i].append(lifts[i][sl] - lifts[i][s.start_i])
        x = np.concatenate(xs)
        total = 0.0
        for i in fingers:
            y = np.concatenate(ys[i])
            ok = np.isfinite(x) & np.isfinite(y)
            den = float(np.sum(x[ok] ** 2))
            c = float(np.sum(x[ok] * y[ok]) / den) if den > 0 else math.nan
            total += abs(c) if i != j else 1.0
        out[j] = float(np.clip(1.0 - (total - 1.0) / (n - 1), 0.0, 1.0)) if math.isfinite(total) else math.nan
    return out


class FingerLifting:
    name = "finger_lifting"
    title = "Lift one finger at a time"
    instructions = (
        "Rest your hand flat on the table. Lift one finger as high as you can and put it down, keeping the other "
        "fingers on the table; then the next finger."
    )
    value_label = "Highest finger lift (°)"
    normal_range: tuple[float, float] | None = (0.0, 45.0)
    unit = "deg"
    params = RepParams(min_prominence=8.0, rel_prominence=0.3, polarity=1, min_duration_s=0.15)
    reference_s: float | None = None
    lowpass_hz = 6.0

    def channels(
        self, world: np.ndarray, forearm: np.ndarray | None, *, handedness: str, reference: Reference | None
    ) -> Channels:
        a = compute_finger_angles(world, handedness=handedness)
        lifts = {f: -a[f"{f}_mcp_flex"] for f in FINGERS}
        with np.errstate(invalid="ignore"):
            top = np.fmax.reduce([lifts[f] for f in FINGERS])
        return {"highest": top, **lifts}

    def main_channel(self) -> str:
        return "highest"

    def detector(self) -> LiftDetector:
        return LiftDetector(self.params)

    def live(self, *, handedness: str | None = None) -> ExerciseLive:
        """A fresh streaming detector (same channels, median filter and attribution as :meth:`analyze`)."""
        return ExerciseLive(self, handedness=handedness)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
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
                for s in spans_from_events([e for e in events if e["finger"] == f], t, detect[f], polarity=1)
            ]
            spans.sort(key=lambda s: s.peak_s)
        else:
            spans = [self._attribute(s, prep) for s in spans_from_intervals(reps, t, smooth["highest"], polarity=1)]
        rows = []
        for s in spans:
            f = s.extra["finger"]
            x = smooth[f]
            peak = float(np.nanmax(x[s.start_i : s.end_i + 1]))
            rest = rest_level(t, x, s.start_i)
            speed = np.abs(time_derivative(t, x))
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "peak_s": s.peak_s, "finger": f}
            row.update(rep_quality(t, x, series.present, s, speed=speed))
            row["lift_angle_deg"] = peak - rest
            row["others_deg"] = {
                g: float(np.nanmax(smooth[g][s.start_i : s.end_i + 1]) - rest_level(t, smooth[g], s.start_i))
                for g in FINGERS
                if g != f
            }
            rows.append(row)
        lifted = [r["finger"] for r in rows]
        metrics: dict[str, Any] = {
            "lifts_per_finger": {f: lifted.count(f) for f in FINGERS},
            "lift_angle_deg": {
                f: nan_stat([r["lift_angle_deg"] for r in rows if r["finger"] == f], np.mean) for f in FINGERS
            },
            "max_lift_angle_deg": {
                f: nan_stat([r["lift_angle_deg"] for r in rows if r["finger"] == f]) for f in FINGERS
            },
            "individuation_index": individuation_index({f: smooth[f] for f in FINGERS}, spans),
        }
        warnings = [] if rows else ["No finger lifts were detected."]
        missing = [f for f in FINGERS if f not in lifted]
        if rows and missing:
            warnings.append(f"No lift was detected for: {', '.join(missing)}.")
        signals = [Signal(k, "deg", t, v) for k, v in smooth.items()]
        return Analysis(self.name, rows, metrics, warnings, signals)

    def _attribute(self, span: RepSpan, prep: Prepared) -> RepSpan:
        """A therapist-given interval is a lift of the finger that rose the most inside it."""
        rise = {}
        for f in FINGERS:
            seg = prep.smooth[f][span.start_i : span.end_i + 1]
            if np.isfinite(seg).any():
                rise[f] = float(np.nanmax(seg) - np.nanmin(seg))
        finger = max(rise, key=rise.__getitem__) if rise else None
        return RepSpan(span.start_i, span.peak_i, span.end_i, span.start_s, span.peak_s, span.end_s, {"finger": finger})
