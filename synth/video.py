"""Render a scripted movement to an MP4 with a truth JSON beside it.

``render_clip`` is the single entry point: exercise script -> camera placement -> per-frame
forward kinematics -> SDF render -> composite over a background -> camera artefacts -> H.264.
The truth (``NAME.truth.json``) holds the exact joints projected with the same camera.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from synth.hand import (
    ANGLE_NAMES,
    HandShape,
    forward_kinematics,
    rotation_from_euler,
    segment_angles,
)
from synth.render import Camera, render_hand_scaled
from synth.scene import (
    Artefacts,
    NoiseBank,
    composite,
    jpeg,
    make_background,
    make_light,
    make_material,
)
from synth.scripts import Motion, make_motion

_BASE_VIEWS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    # images (camera axes) of the local X (radial), Y (distal), Z (palmar) axes
    "palm": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "back": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "side": ((0, 0, -1), (0, -1, 0), (-1, 0, 0)),
}
VIEWS: dict[str, tuple[str, float, float, float]] = {
    # name: (base, yaw, pitch, roll) in degrees
    "palm": ("palm", 0.0, 0.0, 0.0),
    "back": ("back", 0.0, 0.0, 0.0),
    "side": ("palm", -60.0, 0.0, 0.0),
    "three_quarter": ("palm", -35.0, 0.0, 0.0),
    "above": ("back", 0.0, -20.0, 0.0),
    "oblique": ("back", 0.0, -45.0, 0.0),
    "forearm_side": ("back", 0.0, 0.0, -80.0),
    "radial_oblique": ("back", -40.0, -40.0, 0.0),  # hand on a table seen from the thumb side, above
    # views only the held-out accuracy suite uses
    "palm_above": ("palm", 0.0, -25.0, 0.0),
    "palm_below": ("palm", 0.0, 25.0, 0.0),
    "three_quarter_ulnar": ("palm", 35.0, 0.0, 0.0),
    "side_ulnar": ("palm", 60.0, 0.0, 0.0),
    "side_above": ("palm", -60.0, -25.0, 0.0),
    "back_above": ("back", 0.0, -25.0, 0.0),
    "back_three_quarter": ("back", -35.0, 0.0, 0.0),
    "ulnar_oblique": ("back", 30.0, -45.0, 0.0),  # hand on a table seen from the little-finger side, above
    "ulnar_steep": ("back", 20.0, -50.0, 0.0),  # ... and from higher up
    "forearm_oblique": ("back", 30.0, 0.0, -80.0),
    "forearm_tilted": ("back", 0.0, 25.0, -80.0),
}
"""Camera views: which side of the hand faces the camera, plus a rotation."""


def view_rotation(
    view: str, side: str, rng: np.random.Generator | None = None, jitter: float = 0.0
) -> NDArray[np.float64]:
    """Root rotation for a named view.

    Parameters
    ----------
    view : str
        A key of :data:`VIEWS`.
    side : str
        ``left`` or ``right``; views are mirrored for the left hand so the same side of the
        hand faces the camera.
    rng : numpy.random.Generator, optional
        Random source for jitter.
    jitter : float
        Standard deviation in degrees of random yaw/pitch/roll added to the view.

    Returns
    -------
    numpy.ndarray
        3x3 rotation.
    """
    base, yaw, pitch, roll = VIEWS[view]
    r0 = np.column_stack([np.array(v, float) for v in _BASE_VIEWS[base]])
    if rng is not None and jitter > 0:
        yaw += rng.normal(0, jitter)
        pitch += rng.normal(0, jitter)
        roll += rng.normal(0, jitter)
    r = rotation_from_euler(yaw, pitch, roll) @ r0
    if side == "left":
        # the left-hand scene is the mirror image (camera x flipped) of the right-hand one;
        # forward kinematics already mirrors the local x axis
        m = np.diag([-1.0, 1.0, 1.0])
        r = m @ r @ m
    return r


@dataclass
class ClipSpec:
    """Everything that determines a clip (its hash is the cache key).

    Parameters
    ----------
    exercise : str
        Exercise name (see :data:`synth.scripts.EXERCISES`).
    seed : int
        Random seed; the same spec renders the same video.
    side : str
        ``left`` or ``right``.
    skin : str
        Skin tone (see :data:`synth.scene.SKIN_TONES`).
    background : str
        Background kind (see :data:`synth.scene.BACKGROUND_KINDS`).
    lighting : str
        Lighting preset (see :data:`synth.scene.LIGHTING_KINDS`).
    view : str or None
        Camera view; ``None`` uses the exercise's default.
    fps : float
        Frame rate.
    width, height : int
        Frame size.
    hand_size : float
        Hand scale (1 = palm length 9 cm).
    finger_scale : tuple of float
        Per-digit length multipliers (thumb, index, middle, ring, little).
    girth : float
        Multiplier of all radii (slender < 1 < stout).
    fill : float
        Target rest-hand height as a fraction of the frame height.
    noise : float
        Sensor noise (8-bit units).
    jpeg_quality : int
        In-camera JPEG quality (0 = none).
    blur_subframes : int
        Motion-blur sub-frames (1 = none).
    view_jitter : float
        Random view perturbation, degrees.
    crf : int
        H.264 constant rate factor.
    params : dict
        Extra script parameters (``reps``, ``rate``, ``amplitude`` ...).
    """

    exercise: str
    seed: int = 0
    side: str = "right"
    skin: str = "medium"
    background: str = "flat"
    lighting: str = "front"
    view: str | None = None
    fps: float = 30.0
    width: int = 640
    height: int = 480
    hand_size: float = 1.0
    finger_scale: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    girth: float = 1.0
    fill: float = 0.5
    noise: float = 2.0
    jpeg_quality: int = 0
    blur_subframes: int = 1
    view_jitter: float = 4.0
    crf: int = 23
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields; the hand-shape fields only when set, so older specs keep their hash."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("finger_scale", "girth"):
            if d[k] == self.__dataclass_fields__[k].default:
                del d[k]
        return d


def _sway(t: NDArray[np.float64], amp: float, rng: np.random.Generator) -> NDArray[np.float64]:
    out = np.zeros((len(t), 3))
    if amp <= 0:
        return out
    for ax in range(3):
        for f in (0.15, 0.33, 0.7):
            a = amp * rng.uniform(0.2, 0.5)
            out[:, ax] += a * np.sin(2 * np.pi * f * rng.uniform(0.8, 1.2) * t + rng.uniform(0, 6.3))
    out[:, 2] *= 0.5
    return out


def place_hand(
    motion: Motion, shape: HandShape, root: NDArray[np.float64], camera: Camera, fill: float
) -> NDArray[np.float64]:
    """Wrist position (camera axes) for a hand filling ``fill`` of the frame height.

    The whole movement is kept inside the frame.

    Parameters
    ----------
    motion : Motion
        The scripted movement.
    shape : HandShape
        Hand.
    root : numpy.ndarray
        View rotation.
    camera : Camera
        Camera.
    fill : float
        Target rest-hand height / frame height.

    Returns
    -------
    numpy.ndarray
        Wrist position (3,) in metres.
    """
    idx = np.linspace(0, len(motion.t) - 1, min(len(motion.t), 40)).astype(int)
    pts = np.concatenate(
        [forward_kinematics(motion.pose[i], shape, root, np.zeros(3), with_prims=False).joints for i in idx]
    )
    rest = forward_kinematics(motion.pose[0], shape, root, np.zeros(3), with_prims=False).joints
    ext_rest = max(np.ptp(rest[:, 1]), 0.75 * np.ptp(rest[:, 0]))
    z = camera.f * ext_rest / (fill * camera.height)
    # movement extents must fit in 88% of the frame
    ex, ey = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    z = max(z, camera.f * ex / (0.88 * camera.width), camera.f * ey / (0.88 * camera.height))
    z = max(z, 0.22)
    center = 0.5 * (pts.min(0) + pts.max(0))
    # shift so the movement's box centre projects to the image centre (slightly low)
    wz = z - center[2]
    wx = -center[0] + 0.0
    wy = -center[1] + 0.03 * z
    return np.array([wx, wy, wz])


def iter_frames(
    motion: Motion,
    spec: ClipSpec,
    shape: HandShape,
    camera: Camera,
    root: NDArray[np.float64],
    wrist: NDArray[np.float64],
    rng: np.random.Generator,
) -> Iterator[tuple[NDArray[np.uint8], NDArray[np.float64], NDArray[np.float32]]]:
    """Yield ``(frame_rgb_uint8, joints (21,3), alpha)`` for every frame.

    Parameters
    ----------
    motion : Motion
        Movement.
    spec : ClipSpec
        Appearance settings.
    shape : HandShape
        Hand.
    camera : Camera
        Camera.
    root : numpy.ndarray
        View rotation.
    wrist : numpy.ndarray
        ``(T, 3)`` wrist positions.
    rng : numpy.random.Generator
        Random source (appearance only; motion is already fixed).

    Yields
    ------
    tuple
        The frame, the true joints, and the hand coverage mask.
    """
    bg = make_background(spec.background, camera.width, camera.height, rng)
    material = make_material(spec.skin, rng)
    light = make_light(spec.lighting, rng)
    art = Artefacts(noise=spec.noise, jpeg_quality=spec.jpeg_quality, blur_subframes=spec.blur_subframes)
    noise = NoiseBank(camera.width, camera.height, art.noise, rng)
    ld = np.array(light.direction)
    shadow_off = (int(np.clip(-ld[0] * 25, -25, 25)), int(np.clip(-ld[1] * 25 + 6, -25, 25)))
    shadow = 0.45 if spec.background == "table" else 0.25
    bg8 = (bg * 255 + 0.5).astype(np.uint8)
    n_sub = max(1, art.blur_subframes)
    dt = 1.0 / spec.fps
    T = len(motion.t)
    for k in range(T):
        geom = forward_kinematics(motion.pose[k], shape, root, wrist[k])
        if n_sub == 1:
            layer = render_hand_scaled(geom, camera, material, light)
        else:
            acc_rgb = np.zeros((camera.height, camera.width, 3), np.float32)
            acc_a = np.zeros((camera.height, camera.width), np.float32)
            boxes = []
            for s in range(n_sub):
                off = (s / (n_sub - 1) - 0.5) * art.shutter * dt
                u = np.clip(k + off / dt, 0, T - 1)
                i0 = int(np.floor(u))
                i1 = min(i0 + 1, T - 1)
                w = u - i0
                p = motion.pose[i0] * (1 - w) + motion.pose[i1] * w
                wr = wrist[i0] * (1 - w) + wrist[i1] * w
                lay = render_hand_scaled(forward_kinematics(p, shape, root, wr), camera, material, light)
                acc_rgb += lay.rgb * lay.alpha[..., None]
                acc_a += lay.alpha
                boxes.append(lay.box)
            a = acc_a / n_sub
            rgb = acc_rgb / np.maximum(acc_a, 1e-6)[..., None]
            box = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            layer = type(lay)(rgb.astype(np.float32), a.astype(np.float32), lay.depth, box)
        img = composite(layer, bg, shadow=shadow, shadow_offset=shadow_off, background_u8=bg8)
        img = noise.apply(img)
        img = jpeg(img, art.jpeg_quality)
        yield img, geom.joints, layer.alpha


class Mp4Writer:
    """H.264 MP4 writer (PyAV, yuv420p, faststart) usable as a context manager.

    Parameters
    ----------
    path : str or Path
        Output file.
    fps : float
        Frame rate.
    width, height : int
        Frame size (must be even).
    crf : int
        Constant rate factor (lower = better quality, larger file).
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int, crf: int = 23):
        self.container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width = width
        self.stream.height = height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "medium", "profile": "high"}

    def write(self, rgb: NDArray[np.uint8]) -> None:
        """Encode one RGB frame."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for pkt in self.stream.encode(frame):
            self.container.mux(pkt)

    def close(self) -> None:
        """Flush and close the file."""
        for pkt in self.stream.encode():
            self.container.mux(pkt)
        self.container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _round(a: NDArray[np.float64] | float, nd: int = 4) -> Any:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def truth_path(video: str | Path) -> Path:
    """The truth JSON path beside a video: ``NAME.truth.json``."""
    p = Path(video)
    return p.with_name(p.stem + ".truth.json")


def render_clip(spec: ClipSpec, out: str | Path, write_video: bool = True) -> dict[str, Any]:
    """Render one clip and write ``out`` (MP4) and its truth JSON.

    Parameters
    ----------
    spec : ClipSpec
        What to render.
    out : str or Path
        Output ``.mp4`` path; the truth goes to ``NAME.truth.json`` beside it.
    write_video : bool
        If False only the truth is computed and written (fast; for tests).

    Returns
    -------
    dict
        The truth document (also written to disk).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng_motion = np.random.default_rng([spec.seed, 1])
    rng_view = np.random.default_rng([spec.seed, 2])
    rng_look = np.random.default_rng([spec.seed, 3])
    shape = HandShape(size=spec.hand_size, side=spec.side, finger_scale=spec.finger_scale, girth=spec.girth)
    params = dict(spec.params)
    params.setdefault("fps", spec.fps)
    if spec.view is not None:
        params["view"] = spec.view
    motion = make_motion(spec.exercise, shape, rng_motion, **params)
    camera = Camera(spec.width, spec.height)
    root = view_rotation(motion.view, spec.side, rng_view, spec.view_jitter)
    w0 = place_hand(motion, shape, root, camera, spec.fill)
    wrist = w0 + _sway(motion.t, motion.sway * spec.hand_size, rng_view)
    T = len(motion.t)
    joints = np.zeros((T, 21, 3))
    t0 = time.perf_counter()
    if write_video:
        with Mp4Writer(out, spec.fps, spec.width, spec.height, spec.crf) as wr:
            for k, (img, j, _) in enumerate(iter_frames(motion, spec, shape, camera, root, wrist, rng_look)):
                wr.write(img)
                joints[k] = j
    else:
        for k in range(T):
            joints[k] = forward_kinematics(motion.pose[k], shape, root, wrist[k], with_prims=False).joints
    elapsed = time.perf_counter() - t0
    truth = build_truth(spec, motion, joints, camera, root)
    truth["render"]["render_seconds"] = round(elapsed, 2)
    truth_path(out).write_text(json.dumps(truth, separators=(",", ":")))
    return truth


def build_truth(
    spec: ClipSpec, motion: Motion, joints: NDArray[np.float64], camera: Camera, root: NDArray[np.float64]
) -> dict[str, Any]:
    """Assemble the truth JSON document.

    Parameters
    ----------
    spec : ClipSpec
        Clip settings.
    motion : Motion
        Movement with reps and metrics.
    joints : numpy.ndarray
        ``(T, 21, 3)`` camera-space joints.
    camera : Camera
        Camera.
    root : numpy.ndarray
        View rotation.

    Returns
    -------
    dict
        Truth (schema 1).
    """
    T = len(motion.t)
    img = camera.project(joints) / np.array([camera.width, camera.height])
    seg = segment_angles(joints)
    angles = {n: _round(motion.pose[:, i], 3) for i, n in enumerate(ANGLE_NAMES)}
    palm_len = np.linalg.norm(joints[:, 9] - joints[:, 0], axis=1)
    tip_d = np.linalg.norm(joints[:, 4] - joints[:, 8], axis=1) / palm_len
    frac = float(np.ptp(camera.project(joints[0])[:, 1]) / camera.height)
    return {
        "schema": 1,
        "exercise": motion.exercise,
        "hand": spec.side,
        "video": {
            "fps": spec.fps,
            "frames": T,
            "duration_s": round(T / spec.fps, 4),
            "width": spec.width,
            "height": spec.height,
        },
        "rep_count": len(motion.reps),
        "reps": motion.reps,
        "metrics": motion.metrics,
        "events": motion.events,
        "frames": {
            "t": _round(motion.t),
            "joints_world": _round(joints),
            "joints_image": _round(img[..., :2]),
            "angles": angles,
            "segment_angles": {k: _round(v, 3) for k, v in seg.items()},
            "thumb_index_distance": _round(tip_d),
        },
        "units": {
            "joints_world": "metres, camera axes x right y down z forward (OpenCV)",
            "joints_image": "x / width, y / height, origin top-left",
            "angles": "degrees, kinematic DOFs (see synth.hand)",
            "segment_angles": "degrees, unsigned angle between adjacent landmark segments",
            "thumb_index_distance": "thumb tip to index tip / palm length (wrist to middle MCP)",
        },
        "render": {
            **{k: v for k, v in spec.to_dict().items() if k != "params"},
            "params": {k: v for k, v in spec.params.items()},
            "view": motion.view,
            "camera": {
                "hfov_deg": camera.hfov_deg,
                "focal_px": round(camera.f, 3),
                "cx": camera.cx,
                "cy": camera.cy,
                "root": _round(root, 5),
            },
            "palm_length_m": round(float(palm_len.mean()), 5),
            "hand_height_frac": round(frac, 3),
        },
    }
