"""Synthetic landmark series from analytic joint angles (forward kinematics of synth.hand), for unit tests."""

from __future__ import annotations

import numpy as np

from exercises.base import FrameLandmarks
from synth.hand import ANGLE_INDEX, N_ANGLES, HandShape, forward_kinematics, rest_pose, rotation_from_euler
from tracking.series import LandmarkSeries

# Camera images of the local X (radial), Y (distal), Z (palmar) axes of a right hand.
VIEWS = {
    "palm": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "back": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "side": ((0, 0, -1), (0, -1, 0), (-1, 0, 0)),
}


def view_rotation(view: str = "palm", side: str = "right", yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0):
    r = rotation_from_euler(yaw, pitch, roll) @ np.column_stack([np.array(v, float) for v in VIEWS[view]])
    if side == "left":
        m = np.diag([-1.0, 1.0, 1.0])
        r = m @ r @ m
    return r


def poses(t: np.ndarray, base: np.ndarray | None = None, **tracks) -> np.ndarray:
    """(T, N_ANGLES) poses: ``base`` (rest pose) plus, per angle name, an array or a function of t added to it."""
    p = np.tile(rest_pose() if base is None else base, (len(t), 1))
    for name, v in tracks.items():
        p[:, ANGLE_INDEX[name]] += v(t) if callable(v) else v
    return p


def bumps(t: np.ndarray, times: list[float], width: float, heights: list[float] | float) -> np.ndarray:
    """Sum of raised-cosine bumps centred at ``times`` (full width ``width``)."""
    h = np.broadcast_to(np.asarray(heights, float), (len(times),))
    out = np.zeros_like(t)
    for c, a in zip(times, h, strict=True):
        x = (t - c) / width
        out += np.where(np.abs(x) < 0.5, a * 0.5 * (1 + np.cos(2 * np.pi * x)), 0.0)
    return out


def series_from_poses(
    t: np.ndarray,
    pose: np.ndarray,
    *,
    side: str = "right",
    view: str = "palm",
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    noise_m: float = 0.0,
    seed: int = 0,
    missing: np.ndarray | None = None,
    forearm: bool = False,
) -> LandmarkSeries:
    """A LandmarkSeries whose world landmarks are the forward kinematics of ``pose`` (T, N_ANGLES)."""
    assert pose.shape == (len(t), N_ANGLES)
    shape = HandShape(side=side)
    root = view_rotation(view, side, yaw, pitch, roll)
    world = np.stack([forward_kinematics(p, shape, root, np.zeros(3), with_prims=False).joints for p in pose])
    world = world - world.mean(axis=1, keepdims=True)  # MediaPipe: origin near the hand's centre
    rng = np.random.default_rng(seed)
    if noise_m:
        world = world + rng.normal(0, noise_m, world.shape)
    present = np.ones(len(t), bool) if missing is None else ~missing
    world[~present] = np.nan
    # A weak-perspective camera: 1 m at the hand's distance spans 3 frame heights (isotropic pixels).
    image = 0.5 + world * 3.0 * np.array([480 / 640, 1.0, 480 / 640])
    image = np.where(present[:, None, None], image, np.nan)
    fa = None
    if forearm:
        # Elbow -> wrist: the forearm's +Y axis, turned by pronation about itself (so unchanged).
        mirror = np.diag([shape.mirror, 1.0, 1.0])
        fa = np.tile(root @ mirror @ np.array([0.0, 1.0, 0.0]), (len(t), 1))
    return LandmarkSeries(
        t=np.asarray(t, float),
        image=image,
        world=world,
        present=present,
        score=present.astype(float),
        handedness=side,  # type: ignore[arg-type]
        width=640,
        height=480,
        forearm=fa,
    )


def frames(series: LandmarkSeries):
    """The series as the live path sees it, frame by frame."""
    for i in range(len(series)):
        ok = bool(series.present[i])
        fa = None if series.forearm is None else series.forearm[i]
        yield FrameLandmarks(
            t=float(series.t[i]),
            image=series.image[i] if ok else None,
            world=series.world[i] if ok else None,
            forearm=fa,
            width=series.width,
            height=series.height,
            handedness=series.handedness,
        )


def run_live(exercise, series: LandmarkSeries):
    det = exercise.live(handedness=series.handedness)
    states = [det.update(f) for f in frames(series)]
    return det, states


def assert_live_matches(exercise, series: LandmarkSeries, analysis) -> None:
    """The live detector, fed the same frames, counts the same reps at the same peaks (and fingers)."""
    _, states = run_live(exercise, series)
    live = [s.last_rep for s in states if s.rep_completed]
    assert states[-1].rep_count == len(analysis.reps) == len(live)
    offline = sorted(analysis.reps, key=lambda r: r["peak_s"])
    live = sorted(live, key=lambda r: r["peak_s"])
    for a, b in zip(live, offline, strict=True):
        assert abs(a["peak_s"] - b["peak_s"]) < 1e-9
        assert a.get("finger") == b.get("finger")
