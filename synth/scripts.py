"""Exercise scripts: kinematic pose sequences with their ground truth.

Each ``script_*`` function returns a :class:`Motion`: per-frame joint angles (local, degrees),
a camera view, and the true reps and metrics computed from the posed joints themselves (tip
distances from forward kinematics, not from nominal parameters).

Every clip starts with a still phase (0.5 s; wrist exercises hold neutral for 1.0 s) so
trackers can lock on and neutral-reference scorers have a reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from synth.hand import (
    ANGLE_INDEX,
    FINGERS,
    N_ANGLES,
    TIP_INDEX,
    HandShape,
    local_joints,
    rest_pose,
)

EXERCISES: tuple[str, ...] = (
    "finger_tapping",
    "thumb_opposition",
    "finger_lifting",
    "wrist_flexion",
    "grip",
    "finger_spread",
    "wrist_deviation",
    "pronation_supination",
    "thumb_flexion",
)
"""Exercise names with a script."""

STILL_S = 0.5
NEUTRAL_S = 1.0


@dataclass
class Motion:
    """A scripted movement with its truth.

    Attributes
    ----------
    exercise : str
        Exercise name.
    t : numpy.ndarray
        ``(T,)`` frame times in seconds.
    pose : numpy.ndarray
        ``(T, N_ANGLES)`` joint angles in degrees.
    view : str
        Camera view name (see :data:`synth.video.VIEWS`).
    reps : list of dict
        True reps (``start_s``, ``end_s``, ``peak_s`` and per-rep values).
    metrics : dict
        True metrics (DESIGN.md keys where defined).
    events : dict
        Extra truth (pauses, touch list, ...).
    sway : float
        Amplitude in metres of a slow natural drift of the wrist (0 keeps the forearm still).
    """

    exercise: str
    t: NDArray[np.float64]
    pose: NDArray[np.float64]
    view: str
    reps: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)
    sway: float = 0.004


# ----------------------------------------------------------------------------- timeline


class Timeline:
    """Keyframed pose track sampled with minimum-jerk blends (zero velocity at keys)."""

    def __init__(self, pose0: NDArray[np.float64]):
        self.times: list[float] = [0.0]
        self.poses: list[NDArray[np.float64]] = [np.asarray(pose0, float).copy()]

    @property
    def end(self) -> float:
        """Time of the last keyframe."""
        return self.times[-1]

    def to(self, dt: float, pose: NDArray[np.float64]) -> float:
        """Move to ``pose`` over ``dt`` seconds; return the arrival time."""
        self.times.append(self.times[-1] + max(dt, 1e-3))
        self.poses.append(np.asarray(pose, float).copy())
        return self.times[-1]

    def hold(self, dt: float) -> float:
        """Hold the current pose for ``dt`` seconds; return the end time."""
        return self.to(dt, self.poses[-1])

    def sample(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Poses at times ``t``.

        Parameters
        ----------
        t : numpy.ndarray
            Times in seconds.

        Returns
        -------
        numpy.ndarray
            ``(len(t), N_ANGLES)`` poses.
        """
        kt = np.asarray(self.times)
        kp = np.asarray(self.poses)
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
        tau = np.clip((t - kt[i]) / (kt[i + 1] - kt[i]), 0.0, 1.0)
        s = tau**3 * (10 - 15 * tau + 6 * tau**2)
        return kp[i] + (kp[i + 1] - kp[i]) * s[:, None]


def frame_times(duration: float, fps: float) -> NDArray[np.float64]:
    """Frame timestamps ``k / fps`` covering ``duration`` seconds."""
    n = int(np.floor(duration * fps + 1e-9)) + 1
    return np.arange(n) / fps


# ----------------------------------------------------------------------------- inverse kinematics

_THUMB_VARS = ("thumb_cmc_flex", "thumb_cmc_abd", "thumb_cmc_rot", "thumb_mcp_flex", "thumb_ip_flex")
_THUMB_LO = np.array([-15.0, 0.0, -10.0, -5.0, -15.0])
_THUMB_HI = np.array([70.0, 75.0, 70.0, 65.0, 85.0])


def tip_distance(pose: NDArray[np.float64], shape: HandShape, finger: str) -> float:
    """Distance in metres between the thumb tip and another fingertip landmark."""
    j = local_joints(pose, shape)
    return float(np.linalg.norm(j[TIP_INDEX["thumb"]] - j[TIP_INDEX[finger]]))


def solve_touch(base: NDArray[np.float64], shape: HandShape, finger: str, gap: float = 0.003) -> NDArray[np.float64]:
    """Pose in which the thumb tip touches a fingertip (inverse kinematics).

    The thumb's five angles and a flexion of the target finger (MCP, PIP, DIP in a fixed
    synergy) are optimised, regularised toward ``base``.

    Parameters
    ----------
    base : numpy.ndarray
        Starting pose; all other angles are kept.
    shape : HandShape
        Hand proportions.
    finger : str
        ``index``, ``middle``, ``ring`` or ``little``.
    gap : float
        Target distance between the two tip landmarks in metres.

    Returns
    -------
    numpy.ndarray
        The touching pose.
    """
    ti = [ANGLE_INDEX[n] for n in _THUMB_VARS]
    fm, fp, fdp = (ANGLE_INDEX[f"{finger}_{j}"] for j in ("mcp_flex", "pip_flex", "dip_flex"))
    pref_flex = {"index": 25.0, "middle": 28.0, "ring": 32.0, "little": 38.0}[finger]
    x0 = np.concatenate([base[ti], [pref_flex]])
    prefs = np.array([10.0 + 12 * FINGERS.index(finger), 45.0, 20.0 + 8 * FINGERS.index(finger), 20.0, 15.0])

    def make(x: NDArray[np.float64]) -> NDArray[np.float64]:
        p = base.copy()
        p[ti] = x[:5]
        p[fm] = x[5]
        p[fp] = x[5] * 1.0
        p[fdp] = x[5] * 0.45
        return p

    def resid(x: NDArray[np.float64]) -> NDArray[np.float64]:
        j = local_joints(make(x), shape)
        d = j[TIP_INDEX["thumb"]] - j[TIP_INDEX[finger]]
        dist = np.linalg.norm(d)
        # thumb pad (palmar side) should face the finger: keep the thumb tip palmar of the palm
        return np.concatenate(
            [
                [(dist - gap) * 400.0],
                (x[:5] - prefs) * 0.01,
                [(x[5] - pref_flex) * 0.01],
                [max(0.0, 0.012 - j[TIP_INDEX["thumb"], 2]) * 200.0],
            ]
        )

    key = (base.tobytes(), shape.size, shape.finger_scale, finger, gap)
    if key in _TOUCH_CACHE:
        return _TOUCH_CACHE[key].copy()
    lo = np.concatenate([_THUMB_LO, [0.0]])
    hi = np.concatenate([_THUMB_HI, [75.0]])
    best = None
    for start in (np.clip(np.concatenate([prefs, [pref_flex]]), lo, hi), np.clip(x0, lo + 1e-6, hi - 1e-6)):
        r = least_squares(resid, start, bounds=(lo, hi), x_scale=10.0, ftol=1e-6, xtol=1e-6)
        if best is None or r.cost < best.cost:
            best = r
        if (
            np.linalg.norm(
                local_joints(make(r.x), shape)[TIP_INDEX["thumb"]] - local_joints(make(r.x), shape)[TIP_INDEX[finger]]
            )
            < gap + 0.002
        ):
            break
    assert best is not None
    out = make(best.x)
    if len(_TOUCH_CACHE) > 256:
        _TOUCH_CACHE.clear()
    _TOUCH_CACHE[key] = out.copy()
    return out


_TOUCH_CACHE: dict[tuple[object, ...], NDArray[np.float64]] = {}


def blend(a: NDArray[np.float64], b: NDArray[np.float64], s: float) -> NDArray[np.float64]:
    """Linear blend of two poses."""
    return a + (b - a) * s


def solve_blend_for(
    a: NDArray[np.float64], b: NDArray[np.float64], func: Callable[[NDArray[np.float64]], float], target: float
) -> float:
    """Blend fraction ``s`` in [0, 1] with ``func(blend(a, b, s)) == target`` (bisection).

    ``func`` must be monotone in ``s``; the result is clipped to [0, 1].
    """
    lo, hi = 0.0, 1.0
    flo, fhi = func(a), func(b)
    if (target - flo) * (target - fhi) > 0:
        return 0.0 if abs(target - flo) < abs(target - fhi) else 1.0
    inc = fhi > flo
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if (func(blend(a, b, mid)) < target) == inc:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- helpers


def _set(p: NDArray[np.float64], **kw: float) -> NDArray[np.float64]:
    q = p.copy()
    for k, v in kw.items():
        q[ANGLE_INDEX[k]] = v
    return q


def _fingers(
    p: NDArray[np.float64], mcp: float, pip: float, dip: float, which: tuple[str, ...] = FINGERS
) -> NDArray[np.float64]:
    q = p.copy()
    for f in which:
        q[ANGLE_INDEX[f"{f}_mcp_flex"]] = mcp
        q[ANGLE_INDEX[f"{f}_pip_flex"]] = pip
        q[ANGLE_INDEX[f"{f}_dip_flex"]] = dip
    return q


def _r(x: float) -> float:
    return round(float(x), 4)


def _jit(rng: np.random.Generator, x: float, rel: float = 0.06) -> float:
    return float(x * (1.0 + rng.uniform(-rel, rel)))


def _cv(x: NDArray[np.float64]) -> float:
    return float(np.std(x) / np.mean(x)) if len(x) > 1 and np.mean(x) > 0 else 0.0


def _finish(tl: Timeline, fps: float, tail: float = 0.4) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    tl.hold(tail)
    t = frame_times(tl.end, fps)
    return t, tl.sample(t)


# ----------------------------------------------------------------------------- exercises


def script_finger_tapping(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 10,
    rate: float = 3.0,
    amplitude: float = 0.9,
    decrement_pct: float = 0.0,
    hesitations: int = 0,
    halts: int = 0,
    view: str = "three_quarter",
) -> Motion:
    """Thumb-index tapping (MDS-UPDRS 3.4).

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source (timing jitter, where pauses go).
    fps : float
        Frame rate.
    reps : int
        Number of taps (touches).
    rate : float
        Tapping rate in taps per second when not pausing.
    amplitude : float
        Opening of the first taps: thumb-index tip distance / palm length.
    decrement_pct : float
        Linear amplitude decrement from the first to the last tap, percent.
    hesitations, halts : int
        Number of short (~0.25 s) and long (~0.6 s) pauses inserted at random taps.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth.
    """
    palm = shape.palm_length
    base = _fingers(rest_pose(), 8, 12, 6, which=("middle", "ring", "little"))
    base = _set(base, index_mcp_flex=8, index_pip_flex=8, index_dip_flex=4)
    closed = solve_touch(base, shape, "index", gap=0.003)
    wide = _set(
        base,
        thumb_cmc_abd=45,
        thumb_cmc_flex=-5,
        thumb_mcp_flex=0,
        thumb_ip_flex=0,
        index_mcp_flex=-5,
        index_pip_flex=0,
        index_dip_flex=0,
        thumb_cmc_rot=15,
    )

    def dist(p: NDArray[np.float64]) -> float:
        return tip_distance(p, shape, "index") / palm

    amps = amplitude * (1.0 - decrement_pct / 100.0 * np.linspace(0, 1, reps + 1))
    opens = []
    for a in amps:
        s = solve_blend_for(closed, wide, dist, float(a))
        opens.append(blend(closed, wide, s))
    # which gaps get a pause (never before the first tap)
    n_p = min(hesitations + halts, reps - 1)
    slots = sorted(rng.choice(np.arange(1, reps), size=n_p, replace=False).tolist()) if n_p else []
    kinds = ["halt"] * halts + ["hesitation"] * hesitations
    rng.shuffle(kinds)
    pause_at = dict(zip(slots, kinds[:n_p], strict=True))
    tl = Timeline(opens[0])
    tl.hold(STILL_S)
    period = 1.0 / rate
    touches: list[float] = []
    rep_list: list[dict[str, Any]] = []
    pauses: list[dict[str, Any]] = []
    for k in range(reps):
        start = tl.end
        tc = tl.to(_jit(rng, 0.45 * period), closed)
        touches.append(tc)
        tl.hold(0.02)
        to = tl.to(_jit(rng, 0.55 * period), opens[k + 1])
        kind = pause_at.get(k + 1)
        if kind is not None:
            dur = float(rng.uniform(0.2, 0.23) if kind == "hesitation" else rng.uniform(0.5, 0.7))
            tl.hold(dur)
            pauses.append(
                {"kind": kind, "start_s": _r(to), "end_s": _r(to + dur), "duration_s": _r(dur), "after_tap": k + 1}
            )
        rep_list.append(
            {
                "start_s": _r(start),
                "peak_s": _r(tc + 0.01),
                "end_s": _r(to),
                "amplitude": _r(dist(opens[k + 1])),
                "amplitude_before": _r(dist(opens[k])),
                "min_distance": _r(dist(closed)),
            }
        )
    t, pose = _finish(tl, fps)
    amp = np.array([r["amplitude"] for r in rep_list])
    third = max(1, reps // 3)
    first, last = amp[:third].mean(), amp[-third:].mean()
    intervals = np.diff(np.array(touches) + 0.01)
    metrics = {
        "frequency_hz": _r(1.0 / intervals.mean()) if len(intervals) else 0.0,
        "amplitude_mean": _r(amp.mean()),
        "amplitude_decrement_pct": _r((first - last) / first * 100.0),
        "amplitude_slope_per_tap": _r(np.polyfit(np.arange(reps), amp, 1)[0]) if reps > 1 else 0.0,
        "interval_cv": _r(_cv(intervals)),
        "hesitations": len(pauses),
        "halts": sum(p["kind"] == "halt" for p in pauses),
        "min_distance": _r(dist(closed)),
    }
    return Motion(
        "finger_tapping",
        t,
        pose,
        view,
        rep_list,
        metrics,
        {
            "pauses": pauses,
            "touch_s": [_r(x + 0.01) for x in touches],
            "definitions": {
                "amplitude": "max thumb-index tip distance / palm length in the opening after the touch",
                "frequency_hz": "1 / mean interval between touches",
                "interval_cv": "std (ddof=0) / mean of inter-touch intervals",
                "hesitations": "inserted pauses >= 0.2 s (halts included)",
                "halts": "inserted pauses >= 0.5 s",
            },
        },
    )


def script_thumb_opposition(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    sequences: int = 2,
    order: tuple[str, ...] = FINGERS,
    touch_s: float = 0.5,
    skip: tuple[int, ...] = (),
    view: str = "palm",
) -> Motion:
    """Thumb opposition to each fingertip in turn (Kapandji 3-6).

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    sequences : int
        Number of index→little sequences.
    order : tuple of str
        Finger order within a sequence.
    touch_s : float
        Time to move from open to a touch.
    skip : tuple of int
        Global touch numbers (0-based) to leave out, making a sequence incomplete.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth.
    """
    open_pose = rest_pose()
    touch = {f: solve_touch(open_pose, shape, f) for f in FINGERS}
    tl = Timeline(open_pose)
    tl.hold(STILL_S)
    reps: list[dict[str, Any]] = []
    seq_done = 0
    k = 0
    for _ in range(sequences):
        got = []
        for f in order:
            if k in skip:
                k += 1
                continue
            k += 1
            start = tl.end
            tc = tl.to(_jit(rng, touch_s), touch[f])
            tl.hold(_jit(rng, 0.15))
            end = tl.to(_jit(rng, touch_s), open_pose)
            reps.append(
                {
                    "start_s": _r(start),
                    "peak_s": _r(tc + 0.075),
                    "end_s": _r(end),
                    "finger": f,
                    "tip_distance": _r(tip_distance(touch[f], shape, f) / shape.palm_length),
                }
            )
            got.append(f)
        if tuple(got) == tuple(FINGERS):
            seq_done += 1
        tl.hold(_jit(rng, 0.2))
    t, pose = _finish(tl, fps)
    metrics = {
        "touches_per_finger": {f: sum(r["finger"] == f for r in reps) for f in FINGERS},
        "completed_sequences": seq_done,
        "touch_order": [r["finger"] for r in reps],
    }
    return Motion(
        "thumb_opposition",
        t,
        pose,
        view,
        reps,
        metrics,
        {"touch_gap_m": {f: _r(tip_distance(touch[f], shape, f)) for f in FINGERS}},
    )


COUPLING: dict[str, dict[str, float]] = {
    # fraction of the instructed finger's MCP lift seen in the others (enslaving)
    "index": {"middle": 0.15, "ring": 0.05, "little": 0.02},
    "middle": {"index": 0.15, "ring": 0.25, "little": 0.08},
    "ring": {"index": 0.05, "middle": 0.25, "little": 0.35},
    "little": {"index": 0.02, "middle": 0.08, "ring": 0.30},
}
"""Default finger-lifting coupling (MCP extension of digit i per degree of digit j)."""


def script_finger_lifting(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    lifts: int = 2,
    order: tuple[str, ...] = FINGERS,
    lift_deg: float = 30.0,
    coupling_scale: float = 1.0,
    view: str = "oblique",
) -> Motion:
    """Hand flat on a table, lift one finger at a time at the MCP and put it down.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source (per-lift angle variation).
    fps : float
        Frame rate.
    lifts : int
        Lifts per finger.
    order : tuple of str
        Finger order.
    lift_deg : float
        Nominal MCP lift (extension) angle in degrees.
    coupling_scale : float
        Multiplies :data:`COUPLING` (0 = perfectly individuated fingers).
    view : str
        Camera view: by default ``oblique`` (45° above the back of the hand), where the instructions put the camera.

    Returns
    -------
    Motion
        Movement and truth. Lift angles are MCP extension relative to the resting pose.
    """
    flat = _fingers(rest_pose(), 5, 14, 8)
    for f, a in zip(FINGERS, (4.0, 0.0, 4.0, 8.0), strict=True):
        flat[ANGLE_INDEX[f"{f}_mcp_abd"]] = a
    flat = _set(flat, thumb_cmc_abd=8, thumb_cmc_flex=-5, thumb_mcp_flex=10, thumb_ip_flex=10, wrist_flex=-8)
    tl = Timeline(flat)
    tl.hold(STILL_S)
    reps: list[dict[str, Any]] = []
    for f in order:
        for _ in range(lifts):
            ang = _jit(rng, lift_deg, 0.15)
            up = flat.copy()
            up[ANGLE_INDEX[f"{f}_mcp_flex"]] -= ang
            up[ANGLE_INDEX[f"{f}_pip_flex"]] -= 0.4 * flat[ANGLE_INDEX[f"{f}_pip_flex"]]
            for g, c in COUPLING[f].items():
                up[ANGLE_INDEX[f"{g}_mcp_flex"]] -= ang * c * coupling_scale
            start = tl.end
            tp = tl.to(_jit(rng, 0.55), up)
            tl.hold(_jit(rng, 0.25))
            end = tl.to(_jit(rng, 0.55), flat)
            tl.hold(_jit(rng, 0.25))
            reps.append(
                {
                    "start_s": _r(start),
                    "peak_s": _r(tp + 0.125),
                    "end_s": _r(end),
                    "finger": f,
                    "peak_angle_deg": _r(ang),
                    "others_deg": {g: _r(ang * c * coupling_scale) for g, c in COUPLING[f].items()},
                }
            )
    t, pose = _finish(tl, fps)
    lifts_pf = {f: sum(r["finger"] == f for r in reps) for f in FINGERS}
    angle_pf = {
        f: _r(np.mean([r["peak_angle_deg"] for r in reps if r["finger"] == f])) if lifts_pf[f] else 0.0 for f in FINGERS
    }
    indiv = {f: _r(1.0 - sum(abs(c) * coupling_scale for c in COUPLING[f].values()) / 3.0) for f in FINGERS}
    metrics = {"lifts_per_finger": lifts_pf, "lift_angle_deg": angle_pf, "individuation_index": indiv}
    return Motion(
        "finger_lifting",
        t,
        pose,
        view,
        reps,
        metrics,
        {"coupling": {f: {g: _r(c * coupling_scale) for g, c in COUPLING[f].items()} for f in FINGERS}},
        sway=0.0,
    )


def _cyclic(
    exercise: str,
    angle: str,
    pos_deg: list[float],
    neg_deg: list[float],
    fps: float,
    rng: np.random.Generator,
    base: NDArray[np.float64],
    period: float,
    view: str,
    pos_name: str,
    neg_name: str,
) -> tuple[Motion, list[dict[str, Any]]]:
    tl = Timeline(base)
    tl.hold(NEUTRAL_S)
    reps: list[dict[str, Any]] = []
    i = ANGLE_INDEX[angle]
    for a, b in zip(pos_deg, neg_deg, strict=True):
        start = tl.end
        p = base.copy()
        p[i] = base[i] + a
        tp = tl.to(_jit(rng, period * 0.3), p)
        tl.hold(0.1)
        n = base.copy()
        n[i] = base[i] - b
        tn = tl.to(_jit(rng, period * 0.4), n)
        tl.hold(0.1)
        end = tl.to(_jit(rng, period * 0.3), base)
        reps.append(
            {
                "start_s": _r(start),
                "peak_s": _r(tp + 0.05),
                "end_s": _r(end),
                f"{pos_name}_deg": _r(a),
                f"{neg_name}_deg": _r(b),
                f"{pos_name}_s": _r(tp + 0.05),
                f"{neg_name}_s": _r(tn + 0.05),
                "peak_angle_deg": _r(a),
            }
        )
        tl.hold(0.15)
    t, pose = _finish(tl, fps)
    return Motion(exercise, t, pose, view, reps, sway=0.0), reps


def _angles(rng: np.random.Generator, n: int, mean: float, sd: float = 0.08) -> list[float]:
    return [float(mean * (1 + rng.normal(0, sd))) for _ in range(n)]


def script_wrist_flexion(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 3,
    flexion_deg: float = 60.0,
    extension_deg: float = 50.0,
    period: float = 2.0,
    view: str = "side",
) -> Motion:
    """Wrist flexion-extension cycles after a 1 s neutral hold; forearm still.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Cycles (flexion then extension).
    flexion_deg, extension_deg : float
        Nominal peaks in degrees (varied +-8% per rep).
    period : float
        Seconds per cycle.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth (reference ``neutral``: the held start pose).
    """
    base = rest_pose()
    m, r = _cyclic(
        "wrist_flexion",
        "wrist_flex",
        _angles(rng, reps, flexion_deg),
        _angles(rng, reps, extension_deg),
        fps,
        rng,
        base,
        period,
        view,
        "flexion",
        "extension",
    )
    mf = max(x["flexion_deg"] for x in r)
    me = max(x["extension_deg"] for x in r)
    m.metrics = {
        "max_flexion_deg": _r(mf),
        "max_extension_deg": _r(me),
        "rom_deg": _r(mf + me),
        "reference": "neutral",
        "neutral_hold_s": NEUTRAL_S,
    }
    return m


def script_wrist_deviation(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 3,
    radial_deg: float = 18.0,
    ulnar_deg: float = 28.0,
    period: float = 2.0,
    view: str = "palm",
) -> Motion:
    """Radial then ulnar deviation cycles after a 1 s neutral hold; forearm still.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Cycles.
    radial_deg, ulnar_deg : float
        Nominal peaks in degrees.
    period : float
        Seconds per cycle.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth.
    """
    base = _fingers(rest_pose(), 4, 6, 3)
    for f in FINGERS:
        base[ANGLE_INDEX[f"{f}_mcp_abd"]] *= 0.5
    m, r = _cyclic(
        "wrist_deviation",
        "wrist_dev",
        _angles(rng, reps, radial_deg),
        _angles(rng, reps, ulnar_deg),
        fps,
        rng,
        base,
        period,
        view,
        "radial",
        "ulnar",
    )
    mr = max(x["radial_deg"] for x in r)
    mu = max(x["ulnar_deg"] for x in r)
    m.metrics = {
        "max_radial_deg": _r(mr),
        "max_ulnar_deg": _r(mu),
        "rom_deg": _r(mr + mu),
        "reference": "neutral",
        "neutral_hold_s": NEUTRAL_S,
    }
    return m


def script_pronation_supination(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 3,
    pronation_deg: float = 60.0,
    supination_deg: float = 60.0,
    period: float = 2.0,
    view: str = "forearm_side",
) -> Motion:
    """Forearm pronation then supination cycles after a 1 s neutral hold.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Cycles.
    pronation_deg, supination_deg : float
        Nominal peaks in degrees.
    period : float
        Seconds per cycle.
    view : str
        Camera view (``forearm_side``: forearm horizontal, back of the hand toward the camera
        at neutral).

    Returns
    -------
    Motion
        Movement and truth.
    """
    base = rest_pose()
    m, r = _cyclic(
        "pronation_supination",
        "pronation",
        _angles(rng, reps, pronation_deg),
        _angles(rng, reps, supination_deg),
        fps,
        rng,
        base,
        period,
        view,
        "pronation",
        "supination",
    )
    mp_ = max(x["pronation_deg"] for x in r)
    ms = max(x["supination_deg"] for x in r)
    m.metrics = {
        "max_pronation_deg": _r(mp_),
        "max_supination_deg": _r(ms),
        "rom_deg": _r(mp_ + ms),
        "reference": "neutral",
        "neutral_hold_s": NEUTRAL_S,
    }
    return m


def _fist(closure: float) -> NDArray[np.float64]:
    open_p = _fingers(rest_pose(), 0, 2, 0)
    fist = _fingers(rest_pose(), 85, 100, 60)
    for f in FINGERS:
        fist[ANGLE_INDEX[f"{f}_mcp_abd"]] = 0.0
    fist = _set(fist, thumb_cmc_flex=30, thumb_cmc_abd=30, thumb_cmc_rot=30, thumb_mcp_flex=45, thumb_ip_flex=30)
    return blend(open_p, fist, closure)


def script_grip(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 4,
    closure: float = 1.0,
    period: float = 1.6,
    view: str = "palm",
) -> Motion:
    """Fist closure and release.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Number of closures.
    closure : float
        Nominal closure 0..1 (1 = full fist: MCP 85, PIP 100, DIP 60 degrees).
    period : float
        Seconds per cycle.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth; ``closure_pct`` is the mean long-finger flexion (MCP+PIP+DIP)
        as a percent of the full-fist sum.
    """
    tl = Timeline(_fist(0.0))
    tl.hold(STILL_S)
    reps_l: list[dict[str, Any]] = []
    for _ in range(reps):
        c = float(np.clip(closure * (1 + rng.normal(0, 0.05)), 0.05, 1.0))
        start = tl.end
        tp = tl.to(_jit(rng, period * 0.45), _fist(c))
        tl.hold(0.12)
        end = tl.to(_jit(rng, period * 0.45), _fist(0.0))
        tl.hold(0.15)
        reps_l.append(
            {
                "start_s": _r(start),
                "peak_s": _r(tp + 0.06),
                "end_s": _r(end),
                "closure_pct": _r(c * 100),
                "peak_angle_deg": _r(c * 85),
            }
        )
    t, pose = _finish(tl, fps)
    cl = [r["closure_pct"] for r in reps_l]
    return Motion(
        "grip",
        t,
        pose,
        view,
        reps_l,
        {
            "closure_pct_mean": _r(np.mean(cl)),
            "closure_pct_max": _r(np.max(cl)),
            "max_mcp_flex_deg": _r(max(cl) * 0.85),
        },
    )


def script_finger_spread(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 4,
    spread_deg: float = 18.0,
    period: float = 1.6,
    view: str = "palm",
) -> Motion:
    """MCP abduction (spread) and adduction.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Number of spreads.
    spread_deg : float
        Nominal index abduction; middle moves 0, ring 0.7x, little 1.3x.
    period : float
        Seconds per cycle.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth; ``spread_deg`` per rep is the index-to-little abduction sum
        (index + little + their base divergence is excluded).
    """
    closed = _fingers(rest_pose(), 3, 5, 2)
    for f in FINGERS:
        closed[ANGLE_INDEX[f"{f}_mcp_abd"]] = 0.0
    tl = Timeline(closed)
    tl.hold(STILL_S)
    reps_l: list[dict[str, Any]] = []
    for _ in range(reps):
        s = _jit(rng, spread_deg, 0.1)
        sp = closed.copy()
        for f, k in zip(FINGERS, (1.0, 0.0, 0.7, 1.3), strict=True):
            sp[ANGLE_INDEX[f"{f}_mcp_abd"]] = s * k
        start = tl.end
        tp = tl.to(_jit(rng, period * 0.45), sp)
        tl.hold(0.12)
        end = tl.to(_jit(rng, period * 0.45), closed)
        tl.hold(0.15)
        reps_l.append(
            {
                "start_s": _r(start),
                "peak_s": _r(tp + 0.06),
                "end_s": _r(end),
                "abduction_deg": {f: _r(s * k) for f, k in zip(FINGERS, (1.0, 0.0, 0.7, 1.3), strict=True)},
                "spread_deg": _r(s * 2.3),
                "peak_angle_deg": _r(s * 2.3),
            }
        )
    t, pose = _finish(tl, fps)
    return Motion(
        "finger_spread",
        t,
        pose,
        view,
        reps_l,
        {
            "spread_deg_mean": _r(np.mean([r["spread_deg"] for r in reps_l])),
            "max_abduction_deg": {f: _r(max(r["abduction_deg"][f] for r in reps_l)) for f in FINGERS},
        },
    )


def script_thumb_flexion(
    shape: HandShape,
    rng: np.random.Generator,
    fps: float = 30.0,
    reps: int = 4,
    mcp_deg: float = 45.0,
    ip_deg: float = 60.0,
    period: float = 1.6,
    view: str = "palm",
) -> Motion:
    """Thumb MCP + IP flexion across the palm and back.

    Parameters
    ----------
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    fps : float
        Frame rate.
    reps : int
        Number of flexions.
    mcp_deg, ip_deg : float
        Nominal peak MCP and IP flexion (degrees, relative to the start pose).
    period : float
        Seconds per cycle.
    view : str
        Camera view.

    Returns
    -------
    Motion
        Movement and truth.
    """
    ext = _set(rest_pose(), thumb_cmc_abd=25, thumb_cmc_flex=-5, thumb_mcp_flex=0, thumb_ip_flex=0)
    tl = Timeline(ext)
    tl.hold(STILL_S)
    reps_l: list[dict[str, Any]] = []
    for _ in range(reps):
        a, b = _jit(rng, mcp_deg, 0.1), _jit(rng, ip_deg, 0.1)
        fl = _set(ext, thumb_cmc_flex=20, thumb_cmc_abd=30, thumb_mcp_flex=a, thumb_ip_flex=b)
        start = tl.end
        tp = tl.to(_jit(rng, period * 0.45), fl)
        tl.hold(0.12)
        end = tl.to(_jit(rng, period * 0.45), ext)
        tl.hold(0.15)
        reps_l.append(
            {
                "start_s": _r(start),
                "peak_s": _r(tp + 0.06),
                "end_s": _r(end),
                "mcp_flex_deg": _r(a),
                "ip_flex_deg": _r(b),
                "peak_angle_deg": _r(a + b),
            }
        )
    t, pose = _finish(tl, fps)
    return Motion(
        "thumb_flexion",
        t,
        pose,
        view,
        reps_l,
        {
            "max_mcp_flex_deg": _r(max(r["mcp_flex_deg"] for r in reps_l)),
            "max_ip_flex_deg": _r(max(r["ip_flex_deg"] for r in reps_l)),
        },
    )


SCRIPTS: dict[str, Callable[..., Motion]] = {
    "finger_tapping": script_finger_tapping,
    "thumb_opposition": script_thumb_opposition,
    "finger_lifting": script_finger_lifting,
    "wrist_flexion": script_wrist_flexion,
    "grip": script_grip,
    "finger_spread": script_finger_spread,
    "wrist_deviation": script_wrist_deviation,
    "pronation_supination": script_pronation_supination,
    "thumb_flexion": script_thumb_flexion,
}
"""Exercise name to script function."""


def make_motion(exercise: str, shape: HandShape, rng: np.random.Generator, **params: Any) -> Motion:
    """Run the script of an exercise.

    Parameters
    ----------
    exercise : str
        A key of :data:`SCRIPTS`.
    shape : HandShape
        Hand.
    rng : numpy.random.Generator
        Random source.
    **params
        Passed to the script (``fps``, ``reps``, ``rate``, ``view`` ...).

    Returns
    -------
    Motion
        The movement with truth.
    """
    if exercise not in SCRIPTS:
        raise ValueError(f"unknown exercise {exercise!r}; choose from {sorted(SCRIPTS)}")
    m = SCRIPTS[exercise](shape, rng, **params)
    assert m.pose.shape[1] == N_ANGLES
    return m
