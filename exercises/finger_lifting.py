"""Finger lifting: hand flat on a table, one rep is one finger lifted off it and put back.

The lift of a finger is its MCP extension relative to the resting posture held at the start
(:data:`REFERENCE_S`), estimated two ways and the larger taken:

* from the 3-D world landmarks (``-`` MCP flexion, :func:`metrics.angles.compute_finger_angles`):
  right when the camera sees the finger rise across the image (from the side);
* from the 2-D image: a finger rotating toward or away from the camera changes its projected length.
  With ``s`` the relative change of the finger's image length, MCP to tip (divided by the palm's width
  across the MCPs, which a lift leaves alone), the apparent rotation is ``acos(1 / (1 + s))`` when it
  lengthens and ``acos(1 + s)`` when it shortens - exact when the finger is parallel to the image at
  one end of the movement, an approximation otherwise (it overestimates lifts seen from steeply above:
  about +10° at 45°). MediaPipe's predicted depth hardly moves when a finger rises toward the camera
  (measured on renders seen from above: 2-5° of world MCP extension for 28-34° lifts), while the image
  length does. The whole finger rather than its proximal phalanx: longer, more inclined at rest, so its
  length changes more for the same lift and neighbours pulled along are told apart more easily.

Each finger has its own rep machine on that lift signal. Neighbouring fingers are pulled along by the
instructed one (enslaving), so a lift is attributed to a finger only when no other finger rose higher
above the resting hold between that lift's onset and its confirmation.

``lift_angle_deg`` is the lift at the top of the movement relative to the rest the rep started from.
The individuation index follows Häger-Ross & Schieber (2000):
``I_j = 1 - (sum_i |C_ij| - 1) / (n - 1)`` over the n = 4 long fingers, with ``C_ij`` the least-squares
slope of finger i's lift against the instructed finger j's during j's lifts (``C_jj = 1``);
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
from metrics.angles import apparent_rotation, compute_finger_angles
from metrics.reps import RepCounter, RepParams
from tracking.filters import lowpass
from tracking.series import DIGIT_CHAINS, FINGERS, INDEX_MCP, PINKY_MCP, LandmarkSeries

__all__ = ["REFERENCE_S", "FingerLifting", "LiftDetector", "individuation_index", "lift_angle"]

REFERENCE_S = 0.5
"""Seconds of the resting hold at the start that lifts are measured from."""

STRETCH_DEAD_ZONE = 0.02
"""Image-length changes below this fraction are ignored when counting lifts (about twice the jitter of
a resting finger's image length in MediaPipe's landmarks at 640x480)."""


def lift_angle(extension: np.ndarray | float, stretch: np.ndarray | float, *, dead_zone: float = 0.0) -> np.ndarray:
    """Finger lift (degrees): the larger of the world MCP extension and the image-length rotation.

    ``dead_zone`` is subtracted from the magnitude of the stretch first: the rotation grows like the
    square root of a small stretch, so frame-to-frame jitter of the image length would otherwise look like
    lifts of several degrees.
    """
    ext = np.asarray(extension, float)
    app = apparent_rotation(stretch, dead_zone=dead_zone)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(app), ext, np.where(np.isnan(ext), app, np.maximum(ext, app)))


class LiftDetector:
    """Four per-finger rep machines; a rep counts for the finger that rose the most over it."""

    def __init__(self, params: RepParams, *, dead_zone: float = STRETCH_DEAD_ZONE) -> None:
        self.dead_zone = dead_zone
        self.counters = {f: RepCounter(params) for f in FINGERS}
        self.x: dict[str, list[float]] = {f: [] for f in FINGERS}
        self.t: list[float] = []
        self.accepted: list[dict[str, Any]] = []

    def value(self, values: Mapping[str, float]) -> float:
        """The highest finger lift in this sample (what the live gauge shows)."""
        lifts = [self._lift(values, f) for f in FINGERS]
        finite = [v for v in lifts if math.isfinite(v)]
        return max(finite) if finite else math.nan

    def _lift(self, values: Mapping[str, float], finger: str) -> float:
        return float(lift_angle(values[f"ext_{finger}"], values[f"stretch_{finger}"], dead_zone=self.dead_zone))

    def update(self, t: float, values: Mapping[str, float]) -> dict[str, Any] | None:
        lifts = {f: self._lift(values, f) for f in FINGERS}
        for f in FINGERS:
            self.x[f].append(lifts[f])
        self.t.append(t)
        best = None
        for f in FINGERS:
            ev = self.counters[f].update(t, lifts[f])
            if ev is None:
                continue
            onset = movement_onset(self.x[f], ev.start_i, ev.peak_i, polarity=1)
            if self._is_instructed(f, onset, ev.peak_i, ev.confirm_i):
                best = {"event": ev, "finger": f, "start_i": onset, "start_s": self.t[onset]}
        if best is not None:
            self.accepted.append(best)
        return best

    def _is_instructed(self, finger: str, start: int, peak: int, now: int) -> bool:
        """No other finger rose higher (above the resting hold) from this lift's onset until now."""
        top = self.x[finger][peak]
        for g in FINGERS:
            if g != finger:
                seg = [v for v in self.x[g][start : now + 1] if math.isfinite(v)]
                if seg and max(seg) > top:
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
    params = RepParams(min_prominence=10.0, rel_prominence=0.3, polarity=1, min_duration_s=0.15)
    reference_s: float | None = REFERENCE_S
    lowpass_hz = 6.0
    smooth_s = 0.08

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        """Per finger: world MCP extension and image-length stretch, both relative to the resting hold."""
        n = len(frames)
        if reference is None or reference.world is None or reference.image is None:
            nan = np.full(n, np.nan)
            return {**{f"ext_{f}": nan for f in FINGERS}, **{f"stretch_{f}": nan for f in FINGERS}}
        a = compute_finger_angles(frames.world, handedness=handedness, mcp_only=True)
        rest = _rest_posture(reference, handedness)
        width = _palm_width(frames.image)
        out: Channels = {}
        for f in FINGERS:
            out[f"ext_{f}"] = -(a[f"{f}_mcp_flex"] - rest[f"{f}_mcp_flex"])
        for f in FINGERS:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"stretch_{f}"] = (_finger_length(frames.image, f) / width) / rest[f"{f}_length"] - 1.0
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
        filtered = {k: lowpass(t, v, cutoff_hz=self.lowpass_hz) for k, v in raw.items()}
        smooth = {f: lift_angle(filtered[f"ext_{f}"], filtered[f"stretch_{f}"]) for f in FINGERS}
        with np.errstate(invalid="ignore"):
            smooth = {"highest": np.fmax.reduce([smooth[f] for f in FINGERS]), **smooth}
        prep = Prepared(series, t, raw, smooth, reference)
        if reps is None:
            detect = median3_channels(t, raw, max_gap_s=self.params.max_gap_s, smooth_s=self.smooth_s)
            events = run_detector(self.detector(), t, detect)
            lifts = {
                f: lift_angle(detect[f"ext_{f}"], detect[f"stretch_{f}"], dead_zone=STRETCH_DEAD_ZONE) for f in FINGERS
            }
            spans = [
                s
                for f in FINGERS
                for s in spans_from_events(
                    [e for e in events if e["finger"] == f], t, lifts[f], polarity=1, settle=True
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
            row["world_lift_deg"] = _rise(t, filtered[f"ext_{f}"], s) if f is not None else math.nan
            row["others_deg"] = {g: _rise(t, smooth[g], s) for g in FINGERS if g != f}
            rows.append(row)
        lifted = [r["finger"] for r in rows]
        source, motion = _coupling_signals(filtered, rows)
        metrics: dict[str, Any] = {
            "lifts_per_finger": {f: lifted.count(f) for f in FINGERS},
            "lift_angle_deg": {
                f: nan_stat([r["lift_angle_deg"] for r in rows if r["finger"] == f], np.mean) for f in FINGERS
            },
            "max_lift_angle_deg": {
                f: nan_stat([r["lift_angle_deg"] for r in rows if r["finger"] == f]) for f in FINGERS
            },
            "individuation_index": individuation_index(motion, spans),
            "lift_source": source,
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


def _coupling_signals(filtered: Channels, rows: list[dict[str, Any]]) -> tuple[str, dict[str, np.ndarray]]:
    """The per-finger signal the individuation index regresses: world extension or image stretch.

    The index needs a measure proportional to each finger's motion; the image-length rotation is not
    (it grows like a square root near rest). World MCP extension is used when it saw the lifts (at
    least half of the measured lift angle on the median lift), otherwise the image stretch, which is
    proportional to small rotations of fingers at the same inclination.
    """
    world_share = [r["world_lift_deg"] / r["lift_angle_deg"] for r in rows if r["lift_angle_deg"] > 0]
    world_share = [v for v in world_share if math.isfinite(v)]
    if world_share and float(np.nanmedian(world_share)) >= 0.5:
        return "world", {f: filtered[f"ext_{f}"] for f in FINGERS}
    return "image", {f: filtered[f"stretch_{f}"] for f in FINGERS}


def _palm_width(image: np.ndarray) -> np.ndarray:
    """Image distance between the index and little-finger MCPs: a lift leaves it unchanged."""
    return np.asarray(np.linalg.norm(image[:, INDEX_MCP] - image[:, PINKY_MCP], axis=-1))


def _finger_length(image: np.ndarray, finger: str) -> np.ndarray:
    _, mcp, _, _, tip = DIGIT_CHAINS[finger]
    return np.asarray(np.linalg.norm(image[:, tip] - image[:, mcp], axis=-1))


def _rest_posture(reference: Reference, handedness: str) -> dict[str, float]:
    """MCP flexion and relative finger image length of the resting hold (computed once)."""
    key = f"finger_lifting.rest.{handedness}"
    if key not in reference.derived:
        assert reference.world is not None and reference.image is not None
        a0 = compute_finger_angles(reference.world[None], handedness=handedness, mcp_only=True)
        width0 = _palm_width(reference.image[None])[0]
        rest = {f"{f}_mcp_flex": float(a0[f"{f}_mcp_flex"][0]) for f in FINGERS}
        rest.update({f"{f}_length": float(_finger_length(reference.image[None], f)[0] / width0) for f in FINGERS})
        reference.derived[key] = rest
    return dict(reference.derived[key])
