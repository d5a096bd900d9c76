"""Tell which exercise a recording shows from the movement itself (``--exercise auto``).

Each exercise moves one thing a lot and, ideally, little else. For every exercise this module measures
how much its own signal moved (a robust range: 95th minus 5th percentile), relative to what the exercise
normally produces, and how often it went back and forth (reps found by the same rep machine the exercise
uses). Movements that belong to another exercise are discounted where they would otherwise be confused:
closing the whole hand also bends the thumb and narrows the finger spread; thumb-to-fingertip touches on
several fingers are opposition, on the index alone tapping.

The score of an exercise is ``min(range / typical range, 1.5) * repetition factor * exclusivity``; the
confidence is high only when the best score is large and clearly above the runner-up.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from exercises.common import (
    compute_channels,
    median3_channels,
    run_detector,
    series_frames,
)
from exercises.finger_lifting import FingerLifting, LiftDetector
from exercises.grip import closure_pct, joint_flexion
from exercises.pronation_supination import PronationSupination
from exercises.thumb_opposition import ThumbOpposition
from exercises.wrist_flexion import wrist_channels
from metrics.angles import compute_finger_angles
from metrics.reps import RepParams, find_reps
from metrics.tapping import TAP_PARAMS, compute_tap_signal, tapping_frequency
from tracking.filters import lowpass
from tracking.series import FINGERS, FINGERTIPS, MIDDLE_MCP, WRIST, LandmarkSeries

__all__ = ["TYPICAL_RANGE", "recognition_features", "recognize_exercise", "score_features"]

TYPICAL_RANGE = {
    "finger_tapping": 0.6,  # thumb-index tip distance, palm lengths
    "thumb_opposition": 3.0,  # distinct fingertips touched (of 4), scaled below
    "finger_lifting": 20.0,  # MCP extension of the lifted finger, degrees
    "wrist_flexion": 70.0,  # flexion-extension arc, degrees
    "grip": 0.8,  # fingertips folding toward the wrist in the image, palm lengths
    "finger_spread": 25.0,  # index + little abduction, degrees
    "wrist_deviation": 30.0,  # radial-ulnar arc, degrees
    "pronation_supination": 90.0,  # forearm rotation arc, degrees
    "thumb_flexion": 60.0,  # thumb MCP + IP flexion, degrees
}
"""A clear, moderate performance of each exercise moves its signal about this much."""

# Exercises of the fingers and thumb, the wrist and forearm held still.
_FINGER_EXERCISES = ("finger_tapping", "finger_lifting", "grip", "finger_spread", "thumb_flexion", "thumb_opposition")

_MIN_PROMINENCE = {
    "finger_tapping": 0.2,
    "finger_lifting": 8.0,
    "wrist_flexion": 12.0,
    "grip": 0.2,
    "finger_spread": 8.0,
    "wrist_deviation": 8.0,
    "pronation_supination": 20.0,
    "thumb_flexion": 15.0,
}


def _robust_range(x: np.ndarray) -> float:
    v = np.asarray(x, float)
    v = v[np.isfinite(v)]
    if v.size < 5:
        return 0.0
    lo, hi = np.percentile(v, [5, 95])
    return float(hi - lo)


def _image_turn(image: np.ndarray) -> float:
    """Robust range (degrees) of the image direction of the hand's long axis (wrist -> middle MCP)."""
    d = image[:, MIDDLE_MCP] - image[:, WRIST]
    angle = np.arctan2(d[:, 1], d[:, 0])
    seen = np.isfinite(angle)
    if not seen.any():
        return 0.0
    return _robust_range(np.degrees(np.unwrap(angle[seen])))


def _cycles(t: np.ndarray, x: np.ndarray, min_prominence: float) -> int:
    if not np.isfinite(x).any():
        return 0
    return len(find_reps(t, x, RepParams(min_prominence=min_prominence, rel_prominence=0.3, min_duration_s=0.15)))


def recognition_features(series: LandmarkSeries) -> dict[str, dict[str, float]]:
    """Per exercise: the robust range of its signal and the number of back-and-forth cycles.

    Returns
    -------
    dict
        ``{exercise: {'range': float, 'cycles': float, ...}}``, and ``'hand': {'axis_turn': float}``, how far
        (degrees) the hand's long axis swung in the image.
    """
    t = np.asarray(series.t, float)
    tap = compute_tap_signal(series)  # the tapping exercise's own signal, before any smoothing (taps reach 5 Hz)
    # Low-passed landmarks: recognition looks at deliberate movement, not at tracking jitter.
    world = lowpass(t, np.where(series.present[:, None, None], series.world, np.nan), cutoff_hz=8.0)
    image = lowpass(t, np.where(series.present[:, None, None], series.image, np.nan), cutoff_hz=8.0)
    series = series.with_(world=world, image=image)
    hand = series.handedness
    a = compute_finger_angles(world, handedness=hand)
    # Fingertip to wrist distance in the image over the palm's image length: a fist folds every fingertip
    # back toward the wrist whichever side of the hand the camera sees (world depth misses it from behind).
    frames = series_frames(series)
    pix = frames.image
    palm = np.linalg.norm(pix[:, MIDDLE_MCP] - pix[:, WRIST], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        curl = np.stack([np.linalg.norm(pix[:, FINGERTIPS[f]] - pix[:, WRIST], axis=-1) / palm for f in FINGERS])
    signals: dict[str, np.ndarray] = {
        "grip": curl.mean(axis=0),
        "finger_spread": a["index_mcp_abd"] + a["little_mcp_abd"],
        "thumb_flexion": a["thumb_mcp_flex"] + a["thumb_ip_flex"],
    }
    # The wrist exercises' own angles (the flexion of an edge-on hand is read from the image there).
    wrist, ref = compute_channels(series, wrist_channels, reference_s=1.0)
    if ref is not None:
        signals["wrist_flexion"] = wrist["wrist_flexion"]
        signals["wrist_deviation"] = wrist["wrist_deviation"]
        rotation = PronationSupination().channels(frames, handedness=hand, reference=ref)
        signals["pronation_supination"] = rotation["pronation"]
    out: dict[str, dict[str, float]] = {}
    for name, x in signals.items():
        out[name] = {"range": _robust_range(x), "cycles": float(_cycles(t, x, _MIN_PROMINENCE[name]))}
    out["hand"] = {"axis_turn": _image_turn(pix)}  # how far the hand's long axis swung in the image, degrees
    # The grip exercise's own closure (world joint angles): it sees fingers curling toward the camera, which
    # hardly shortens them in the image.
    closure = closure_pct(joint_flexion(frames.world))
    out["grip"].update(closure=_robust_range(closure), closure_cycles=float(_cycles(t, closure, 15.0)))
    if ref is not None:
        # How well the camera sees each wrist angle (edge-on flexion, face-on deviation): 0..1.
        for name, view in (("wrist_flexion", "flexion_view"), ("wrist_deviation", "deviation_view")):
            v = wrist[view][np.isfinite(wrist[view])]
            out[name]["view"] = float(np.median(v)) if v.size else 0.0
        # The image rotation read as flexion of an edge-on hand also turns when the forearm rotates, which the
        # world landmarks tell apart: flexion they hardly see at all is not taken from the image alone.
        wf = out["wrist_flexion"]
        wf["world"] = _robust_range(wrist["world_flexion"])
        wf["range"] = min(wf["range"], 2.5 * wf["world"])
    rate = tapping_frequency(t, tap)
    out["finger_tapping"] = {
        "range": _robust_range(tap),
        "cycles": float(len(find_reps(t, tap, TAP_PARAMS))),
        "rate": rate if math.isfinite(rate) else 0.0,  # Hz
        "others": _robust_range(curl[1:].mean(axis=0)),  # middle, ring, little: still when tapping
    }
    # Touches of the thumb on each fingertip (the opposition detector).
    opp = ThumbOpposition()
    raw, _ = compute_channels(series, opp.channels, reference_s=None)
    touches = run_detector(opp.detector(), t, median3_channels(t, raw))
    per_finger = {f: sum(1 for e in touches if e["finger"] == f) for f in FINGERS}
    out["thumb_opposition"] = {
        "range": float(sum(1 for f in FINGERS if per_finger[f] > 0)),
        "cycles": float(len(touches)),
        **{f"touches_{f}": float(n) for f, n in per_finger.items()},
    }
    out["finger_tapping"].update({f"touches_{f}": float(n) for f, n in per_finger.items()})
    # Individual finger lifts (the lifting detector: the finger that rose most).
    lift = FingerLifting()
    raw, _ = compute_channels(series, lift.channels, reference_s=lift.reference_s)
    detect = median3_channels(t, raw, smooth_s=lift.smooth_s)
    lifts = run_detector(LiftDetector(replace(lift.params, min_prominence=12.0)), t, detect)
    lifted = {e["finger"] for e in lifts}
    central = sum(1 for e in lifts if e["finger"] in ("middle", "ring"))
    # Lifted off the table = above the resting posture, not just back up from a bend.
    amps = [e["event"].peak_value for e in lifts]
    # One finger at a time: how much less the other fingers rose over each lift (1 = not at all).
    angle = {f: detect[f"lift_{f}"] for f in FINGERS}
    alone = []
    for e in lifts:
        ev, f, a = e["event"], e["finger"], e["start_i"]  # from the lift's onset, not an older rest point
        own = angle[f][ev.peak_i] - angle[f][a]
        others = [np.nanmax(angle[g][a : ev.peak_i + 1]) - angle[g][a] for g in FINGERS if g != f]
        if own > 0 and np.isfinite(others).any():
            alone.append(1.0 - float(np.nanmean(others)) / own)
    out["finger_lifting"] = {
        "range": max(float(np.nanmedian(amps)), 0.0) if amps else 0.0,
        "cycles": float(len(lifts)),
        "fingers": float(len(lifted)),
        "central": float(central),
        "alone": float(np.median(alone)) if alone else 0.0,
    }
    return out


def recognize_exercise(series: LandmarkSeries) -> tuple[str, float, dict[str, float]]:
    """Guess the exercise performed in ``series``.

    Returns
    -------
    name : str
        The best-scoring exercise.
    confidence : float
        0..1; below about 0.5 the guess should be confirmed by a person.
    scores : dict
        Score of every exercise (comparable to each other; about 1 for a clear performance).
    """
    names = list(TYPICAL_RANGE)
    if len(series) == 0 or not series.present.any():
        return "finger_tapping", 0.0, dict.fromkeys(names, 0.0)
    return score_features(recognition_features(series))


def score_features(feats: dict[str, dict[str, float]]) -> tuple[str, float, dict[str, float]]:
    """Score every exercise from :func:`recognition_features`; returns as :func:`recognize_exercise`."""
    names = list(TYPICAL_RANGE)
    level = {n: min(feats[n]["range"] / TYPICAL_RANGE[n], 1.5) if n in feats else 0.0 for n in names}
    reps = {n: min(feats[n]["cycles"] / 2.0, 1.0) if n in feats else 0.0 for n in names}
    # Fists the image shows poorly (fingers curling toward the camera) are counted on the grip's own closure.
    grip = feats["grip"]
    reps["grip"] = max(reps["grip"], min(grip["closure_cycles"] / 2.0, 1.0) * min(grip["closure"] / 25.0, 1.0))
    scores = {n: level[n] * reps[n] for n in names}
    closure = min(level["grip"], 1.0)
    # A fist bends the thumb and closes the spread: those count only beyond what the fist explains.
    scores["thumb_flexion"] *= 1.0 - closure
    scores["finger_spread"] *= 1.0 - closure
    scores["finger_lifting"] *= 1.0 - closure
    scores["finger_tapping"] *= 1.0 - closure
    # Touches: several fingertips = opposition; the index alone (and wide openings) = tapping.
    opp = feats["thumb_opposition"]
    n_touch = opp["cycles"]
    index_share = opp["touches_index"] / n_touch if n_touch else 0.0
    scores["thumb_opposition"] = min(opp["range"] / TYPICAL_RANGE["thumb_opposition"], 1.5) * reps["thumb_opposition"]
    if opp["range"] <= 1:
        scores["thumb_opposition"] *= 0.3
    scores["finger_tapping"] *= index_share if n_touch else 0.5
    # The thumb touching the index again and again is tapping, which neither a wrist or forearm exercise nor a
    # fist does (rendered clips, held-out seeds 30-57: tapping touched the index 6-12 times where the touch was
    # seen, a fist 1-4 times, a wrist or forearm never); MediaPipe reads a rotation or a fist into the hand
    # drawn tapping from the little-finger side.
    tapping_touch = float(np.clip((opp["touches_index"] - 4.0) / 4.0, 0.0, 1.0)) * index_share
    for n in ("wrist_flexion", "wrist_deviation", "pronation_supination", "grip"):
        scores[n] *= 1.0 - tapping_touch
    scores["finger_tapping"] *= float(np.clip(1.0 - (feats["finger_tapping"]["others"] - 0.15) / 0.2, 0.0, 1.0))
    # One finger at a time, lifts spread over several fingers, and no thumb touching a fingertip.
    lf = feats["finger_lifting"]
    scores["finger_lifting"] *= min(lf["fingers"] / 2.0, 1.0) * max(0.0, 1.0 - n_touch / 4.0)
    scores["finger_lifting"] *= float(np.clip(lf["alone"] / 0.4, 0.0, 1.0))
    # A spread moves the outer fingers sideways, which the lift detector may take for lifts of the index
    # or little finger; a lift of the middle or ring finger is no part of a spread.
    scores["finger_spread"] *= max(0.0, 1.0 - lf["central"] / 2.0)
    # Thumb touching several fingertips is opposition, not thumb bending or finger spreading; the hand
    # turns as the thumb reaches across the palm, which a wrist or forearm exercise never does.
    touched = min(opp["range"] / 2.0, 1.0)
    scores["thumb_flexion"] *= 1.0 - touched
    # Fingers lifted one at a time, several of them: the thumb bending with them (MediaPipe redraws a thumb it
    # cannot see from the little-finger side) is no thumb exercise (rendered thumb clips: at most one finger).
    lifting = float(np.clip((lf["fingers"] - 1.0) / 2.0, 0.0, 1.0) * np.clip(lf["alone"] / 0.5, 0.0, 1.0))
    scores["thumb_flexion"] *= 1.0 - lifting
    scores["finger_spread"] *= 1.0 - touched
    # How much the whole hand turned: a wrist or forearm exercise, unless the turn is explained otherwise.
    # The hand turns as the thumb reaches across the palm to several fingertips and, in the camera's
    # eyes, as a fist folds the fingers; a wrist exercise does neither.
    reaching = float(np.clip((opp["range"] - 1.0) / 2.0, 0.0, 1.0))
    fist = float(np.clip((level["grip"] - 0.9) / 0.3, 0.0, 1.0))
    wrists = ("wrist_flexion", "wrist_deviation", "pronation_supination")
    unexplained = (1.0 - 0.5 * reaching) * (1.0 - 0.6 * fist)
    # Nor does a wrist or forearm exercise lift three fingers or more one at a time (rendered forearm turns: lifts
    # read on two fingers at most), which MediaPipe draws as a turning hand seen from the little-finger side.
    several = float(np.clip(lf["fingers"] - 2.0, 0.0, 1.0) * np.clip(lf["alone"] / 0.5, 0.0, 1.0))
    for n in wrists:
        scores[n] *= unexplained * (1.0 - several)
    # Tilting side to side in the palm's plane leaves the fingertips where they are against the wrist (their
    # image distance varied 0.03-0.10 palm lengths in every rendered deviation clip); a wrist bending in
    # front of a camera at its side, or a forearm turning, varies it (0.28-0.70 for flexion seen from the
    # little-finger side, where MediaPipe's edge-on hand also shows a deviation).
    scores["wrist_deviation"] *= float(np.clip(1.0 - (grip["range"] - 0.15) / 0.2, 0.0, 1.0))
    # The forearm turns about the hand's long axis, which therefore keeps its direction in the image, and so do
    # the finger exercises (rendered clips: at most 19 deg of swing); a wrist bending in front of a camera at
    # its side swings it (43-131 deg), and MediaPipe's edge-on hand also reads that as a turn or a fist.
    swing = feats["hand"]["axis_turn"]
    still_axis = float(np.clip(1.0 - (swing - 25.0) / 15.0, 0.0, 1.0))
    for n in ("pronation_supination", *_FINGER_EXERCISES):
        scores[n] *= still_axis
    turning = max(level[n] for n in wrists) * unexplained
    # The whole hand turning moves every finger signal in the camera's eyes too.
    for n in _FINGER_EXERCISES:
        scores[n] *= float(np.clip(1.6 - turning, 0.0, 1.0))
    # The index hidden from the camera (seen from the little-finger side, MediaPipe redraws it in every
    # frame): no touch is seen and every finger jitters, but the thumb-index distance keeps its rhythm, faster
    # than any other exercise's (rendered clips: taps 1.4-4.3 Hz, the others 0.6-1.7 Hz but for one).
    fast = float(np.clip((feats["finger_tapping"]["rate"] - 1.6) / 0.6, 0.0, 1.0))
    if n_touch == 0 and fast > 0:
        rhythm = level["finger_tapping"] * reps["finger_tapping"] * fast
        scores["finger_tapping"] = max(scores["finger_tapping"], rhythm)
        wide = float(np.clip((feats["finger_tapping"]["range"] - 0.2) / 0.3, 0.0, 1.0))  # not a jitter's rhythm
        # Nor does a forearm turn, a wrist bend, a spread or a thumb bend twice a second (the redrawn index also
        # reads as a spread and the thumb's taps as bends).
        for n in (*wrists, "finger_spread", "thumb_flexion"):
            scores[n] *= 1.0 - fast * wide
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    confidence = 0.0 if top <= 0 else min(top, 1.0) * (1.0 - second / top)
    return best, float(confidence), {k: _finite(v) for k, v in scores.items()}


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0
