"""Finger lifting: hand flat on a table, one rep is one finger lifted off it and put back.

A lift is measured in the image, where MediaPipe is reliable, not from its world landmarks: on rendered
hands lying on a table and seen from above its world depth barely moves while a finger rises 20-35°, and
its palm orientation was 20-70° off (measured on the accuracy suite's renders). Each frame's palm (wrist and
the four MCPs, which a finger lift leaves in place) is mapped onto the palm of the resting hold at the start
(:data:`REFERENCE_S`) by a 2-D similarity, which removes the hand sliding, turning or changing size in the
image; then the fingertip's displacement from its resting place, relative to the finger's resting image
length (MCP to tip), is read as the chord of a rotation: ``lift = 2 asin(d / 2)`` (:func:`chord_angle`).

That is exact when the finger and its path are foreshortened alike: seen from the side (the finger turns
in the image plane), or from in front of the fingertips about 45° above the back of the hand, where the
instructions put the camera. Elsewhere the reading scales with the view: on the kinematic hand with exact
landmarks, a 30° lift reads 30° from 45° above, 18° from 35°, 7° from 20° (the fingertip moves toward the
camera) and 60° from 60°. The signal needs no 3-D and is never negative, so the finger that moved most is
found reliably from any side, and neighbours pulled along by the instructed finger (enslaving) show as
smaller lifts of their own.

Each finger has its own rep machine on its lift signal. A lift is attributed to a finger only when no
other finger rose higher between that lift's onset and its confirmation.

``lift_angle_deg`` is the lift at the top of the movement relative to the rest the rep started from.
The individuation index follows Häger-Ross & Schieber (2000):
``I_j = 1 - (sum_i |C_ij| - 1) / (n - 1)`` over the n = 4 long fingers, with ``C_ij`` the least-squares
slope of finger i's lift against the instructed finger j's during j's lifts (``C_jj = 1``);
1 means finger j moves alone.
"""

from __future__ import annotations

import bisect
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
    rest_before,
    run_detector,
    spans_from_events,
    spans_from_intervals,
    window_extreme,
    without_frames,
)
from metrics.reps import RepCounter, RepParams
from tracking.filters import lowpass
from tracking.series import DIGIT_CHAINS, FINGERS, INDEX_MCP, MIDDLE_MCP, PINKY_MCP, RING_MCP, WRIST, LandmarkSeries

__all__ = ["REFERENCE_S", "FingerLifting", "LiftDetector", "chord_angle", "individuation_index", "palm_alignment"]

REFERENCE_S = 0.5
"""Seconds of the resting hold at the start that lifts are measured from."""

PARKED_S = 1.0
"""Seconds a finger must have stayed put before a lift for it not to count as rising with that lift."""

STILL_UP_FRAC = 0.25
"""A finger that has not come back down below this fraction of its last lift is still in that lift: one rep is a
finger lifted and put back. (Held-out renders, seeds 2-25: a finger rising again after its own lift had come down
to 0.00-0.04 of it when put back, to 0.42-0.50 when MediaPipe drew a held lift sagging.)"""

PALM_POINTS = (WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP)
"""The landmarks a finger lift leaves in place (the thumb's base moves with the thumb)."""


def chord_angle(displacement: np.ndarray | float) -> np.ndarray:
    """Rotation (degrees) whose chord is ``displacement`` radii long: ``2 asin(d / 2)``."""
    d = np.clip(np.asarray(displacement, float), 0.0, 2.0)
    return np.asarray(np.degrees(2.0 * np.arcsin(d / 2.0)))


def palm_alignment(image: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Per frame, the 2-D similarity (as a complex factor) that maps the palm onto the resting palm.

    Parameters
    ----------
    image : (T, 21, 2) array
        Image landmarks in isotropic pixels.
    rest : (21, 2) array
        Image landmarks of the resting hold.

    Returns
    -------
    (T,) complex array
        ``q`` such that ``q * (p - palm centre)`` is ``p`` in the resting hand's image frame (least squares
        over :data:`PALM_POINTS`); NaN where untracked. Apply it to vectors between landmarks.
    """
    idx = list(PALM_POINTS)
    x = image[:, idx, 0] + 1j * image[:, idx, 1]
    y = rest[idx, 0] + 1j * rest[idx, 1]
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((np.conj(x) * y).sum(axis=1) / (np.abs(x) ** 2).sum(axis=1))


class LiftDetector:
    """Four per-finger rep machines on the ``lift_FINGER`` channels; a rep counts for the finger that rose most."""

    def __init__(self, params: RepParams) -> None:
        self.counters = {f: RepCounter(params) for f in FINGERS}
        self.x: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.t: list[float] = []
        self.accepted: list[dict[str, Any]] = []
        self.prompt: str | None = None  # for the patient, live: why a lift was not counted
        self._up: str | None = None  # the finger the prompt is about, until it comes down

    def value(self, values: Mapping[str, float]) -> float:
        """The highest finger lift in this sample (what the live gauge shows)."""
        finite = [v for v in (values[f"lift_{f}"] for f in FINGERS) if math.isfinite(v)]
        return max(finite) if finite else math.nan

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        lifts = {f: float(values[f"lift_{f}"]) for f in FINGERS}
        for f in FINGERS:
            self.x[f].append(lifts[f])
        self.t.append(t)
        best = None
        for f in FINGERS:
            ev = self.counters[f].update(t, lifts[f])
            if ev is None:
                continue
            onset = movement_onset(self.x[f], ev.start_i, ev.peak_i, polarity=1)
            if not self._is_instructed(f, onset, ev.peak_i, ev.confirm_i):
                continue
            up = self._still_up(ev.peak_i, f, onset)
            if up is not None:
                again = "it again" if up == f else "another finger"
                self.prompt = f"Put your {up} finger down on the table before lifting {again}"
                self._up = up
            else:
                best = {"event": ev, "finger": f, "start_i": onset, "start_s": self.t[onset]}
        if best is not None:
            self.accepted.append(best)
        if best is not None or (self._up is not None and self._still_up(len(self.t) - 1) is None):
            self.prompt = self._up = None
        return best

    def _is_instructed(self, finger: str, start: int, peak: int, now: int) -> bool:
        """No other finger rose higher (above the resting hold) from this lift's onset until now.

        A finger that stayed where it was for :data:`PARKED_S` before the onset until now (:meth:`_parked`)
        did not rise with this lift, however high it is: a finger the patient holds up, or one MediaPipe
        keeps drawn up after its own lift (seen from the little-finger side, a hidden index stays up).
        """
        top = self.x[finger][peak]
        rise = top - self.x[finger][start] if math.isfinite(self.x[finger][start]) else top
        for g in FINGERS:
            if g != finger:
                seg = [v for v in self.x[g][start : now + 1] if math.isfinite(v)]
                if seg and max(seg) > top and not self._parked(g, start, now, rise):
                    return False
        return True

    def _still_up(self, now: int, lifting: str | None = None, onset: int = 0) -> str | None:
        """The finger of the last lift counted, if it has not come down since: a new rise is part of that lift.

        Seen from the little-finger side MediaPipe sometimes draws a held lift sagging by half and rising
        again, or, while one finger is up, draws its neighbours rising and falling around it; a finger put
        back on the table comes down to within :data:`STILL_UP_FRAC` of its lift. A finger that stayed put
        for :data:`PARKED_S` (:meth:`_parked`) does not hold back the lifts of the others.
        """
        if not self.accepted:
            return None
        last = self.accepted[-1]
        finger, start, top_i = last["finger"], last["start_i"], last["event"].peak_i
        x = self.x[finger]
        rest, top = x[start], x[top_i]
        if now < top_i:  # the new lift peaked while the last one was still rising: it rose within it
            valley = top
        else:
            since = np.asarray(x[top_i : now + 1])
            if not np.isfinite(since).any():  # untracked since its top: not known to be held up
                return None
            valley = float(np.nanmin(since))
        if not valley - rest > STILL_UP_FRAC * (top - rest):
            return None
        if lifting not in (None, finger) and self._parked(finger, onset, now, top - rest):
            return None
        return finger

    def _parked(self, finger: str, start: int, now: int, rise: float) -> bool:
        """``finger`` held still, within half of ``rise``, from :data:`PARKED_S` before ``start`` until ``now``."""
        since = self.t[start] - PARKED_S
        if self.t[0] > since:
            return False
        lo = bisect.bisect_left(self.t, since)
        x = np.asarray(self.x[finger][lo : now + 1])
        seen = x[np.isfinite(x)]
        return len(seen) >= 0.8 * len(x) and float(np.ptp(seen)) < 0.5 * rise

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
        "Put the camera in front of your fingertips, halfway between table height and straight above, looking "
        "down at your hand (or film it from the side). Rest your hand flat on the table. Lift one finger as high "
        "as you can and put it down, keeping the other fingers on the table; then the next finger."
    )
    value_label = "Highest finger lift (°)"
    normal_range: tuple[float, float] | None = (0.0, 45.0)
    unit = "deg"
    # 6° of lift: a patient's small lift counts; a resting finger's image jitter reads 1-3°.
    params = RepParams(min_prominence=6.0, rel_prominence=0.3, polarity=1, min_duration_s=0.15)
    reference_s: float | None = REFERENCE_S
    lowpass_hz = 6.0
    smooth_s = 0.08

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        """Per finger, the lift (degrees) read from the fingertip's image displacement off the resting hold."""
        n = len(frames)
        if reference is None or reference.image is None:
            return {f"lift_{f}": np.full(n, np.nan) for f in FINGERS}
        q = palm_alignment(frames.image, reference.image)
        out: Channels = {}
        for f in FINGERS:
            _, mcp, _, _, tip = DIGIT_CHAINS[f]
            rest = reference.image[tip] - reference.image[mcp]
            now = frames.image[:, tip] - frames.image[:, mcp]
            moved = q * (now[:, 0] + 1j * now[:, 1]) - (rest[0] + 1j * rest[1])
            out[f"lift_{f}"] = chord_angle(np.abs(moved) / float(np.hypot(*rest)))
        return out

    def main_channel(self) -> str:
        return "highest"

    def detector(self) -> LiftDetector:
        return LiftDetector(self.params)

    def live(self, *, handedness: str | None = None) -> ExerciseLive:
        """A fresh streaming detector (same channels, median filter and attribution as :meth:`analyze`)."""
        return ExerciseLive(self, handedness=handedness)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        if len(series) == 0 and reps:
            return without_frames(self.analyze(series), reps)
        raw, reference = compute_channels(series, self.channels, reference_s=self.reference_s)
        t = np.asarray(series.t, float)
        lifts = {f: lowpass(t, raw[f"lift_{f}"], cutoff_hz=self.lowpass_hz) for f in FINGERS}
        with np.errstate(invalid="ignore"):
            smooth = {"highest": np.fmax.reduce([lifts[f] for f in FINGERS]), **lifts}
        prep = Prepared(series, t, raw, smooth, reference)
        if reps is None:
            detect = median3_channels(t, raw, max_gap_s=self.params.max_gap_s, smooth_s=self.smooth_s)
            events = run_detector(self.detector(), t, detect)
            spans = [
                s
                for f in FINGERS
                for s in spans_from_events(
                    [e for e in events if e["finger"] == f], t, detect[f"lift_{f}"], polarity=1, settle=True
                )
            ]
            spans.sort(key=lambda s: s.peak_s)
        else:
            spans = [self._attribute(s, prep) for s in spans_from_intervals(reps, t, smooth["highest"], polarity=1)]
        rows = []
        for s in spans:
            f = s.extra["finger"]
            x = smooth[f] if f is not None else smooth["highest"]
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "peak_s": s.peak_s, "finger": f}
            row.update(rep_quality(t, x, series.present, s))
            row["lift_angle_deg"] = _rise(t, x, s)
            row["others_deg"] = {g: _rise(t, smooth[g], s) for g in FINGERS if g != f}
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
            "individuation_index": individuation_index(lifts, spans),
        }
        warnings = [] if rows else ["No finger lifts were detected."]
        if reference is None and series.present.any():
            warnings.append("No steady resting position was found at the start to measure the lifts from.")
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


def _rise(t: np.ndarray, x: np.ndarray, span: RepSpan) -> float:
    """How far ``x`` rose over a rep above the rest it started from (NaN when untracked)."""
    top, _ = window_extreme(x, span.start_i, span.end_i, largest=True)
    return top - rest_before(t, x, span.start_i, span.peak_i)
