"""Joint kinematics from 3-D hand landmarks: finger flexion, MCP abduction, hand orientation, wrist angles.

Everything works on MediaPipe *world* landmarks ``(T, 21, 3)`` in metres (camera-aligned axes: ``x``
right, ``y`` down, ``z`` away from the camera), so camera distance does not change an angle. All functions
are vectorised over frames and return NaN where a frame is untracked. Angles are in degrees.

Conventions (they match the kinematic model in ``synth.hand``)
--------------------------------------------------------------
Palm frame, per frame:

* ``u`` distal: wrist -> middle-finger MCP (the third metacarpal, the hand's long axis);
* ``r`` radial: ring-finger MCP -> index MCP, made orthogonal to ``u``;
* ``n`` palmar (volar) normal: ``r x u`` for a right hand, ``u x r`` for a left hand (a left hand is the
  mirror image of a right one), pointing out of the palm.

Flexion (every finger joint, thumb MCP and IP, the wrist) is 0 when the two segments are in line and
positive when the distal segment turns toward the palm; hyperextension is negative. Finger joints are
measured in the finger's own flexion plane: the MCP angle is the elevation of the proximal phalanx out
of the palm plane (so MCP abduction does not leak into it) and PIP/DIP are the angles between successive
phalanges about the finger's hinge axis.

MCP abduction is the angle, in the palm plane, between a finger's proximal phalanx and the hand's long
axis ``u`` (the middle metacarpal: the anatomical reference line), positive away from the middle finger
(index radially, ring and little ulnarly; for the middle finger itself radially).

Thumb: ``thumb_cmc_flex`` is the in-palm-plane angle of the first metacarpal (CMC -> MCP landmarks) from
the index metacarpal (wrist -> index MCP), positive across the palm toward the little finger (negative
= radial abduction); ``thumb_cmc_abd`` is palmar abduction, the elevation of the first metacarpal out of
the palm plane; ``thumb_mcp_flex`` and ``thumb_ip_flex`` are the full 3-D angles between successive thumb
segments, signed positive toward the thumb's palmar side (the thumb's flexion plane is rotated relative
to the fingers', so it is not assumed exactly: a bend within 60° of the modelled hinge counts fully, one
about a perpendicular axis fades to 0).

Wrist (:func:`compute_wrist_angles`): the forearm direction ``f`` (elbow -> wrist, from MediaPipe Pose)
expressed in the palm frame gives radial deviation ``atan2(-f.r, f.u)`` in the palm plane (positive toward
the thumb, negative = ulnar) and flexion ``asin(-f.n)`` out of it (positive toward the palm). Without a
forearm, the hand's long axis held still at the start stands in for it ("neutral" reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracking.series import (
    DIGIT_CHAINS,
    FINGERS,
    FINGERTIPS,
    INDEX_MCP,
    MIDDLE_MCP,
    RING_MCP,
    THUMB_CMC,
    THUMB_IP,
    THUMB_MCP,
    THUMB_TIP,
    WRIST,
)

__all__ = [
    "ABDUCTION_NAMES",
    "FLEXION_NAMES",
    "JOINT_ANGLE_NAMES",
    "PalmFrame",
    "WristAngles",
    "apparent_rotation",
    "chirality",
    "compute_facing_roll",
    "compute_finger_angles",
    "compute_hand_orientation",
    "compute_palm_frame",
    "compute_roll",
    "compute_segment_angles",
    "compute_wrist_angles",
    "palm_length",
    "signed_angle",
    "tip_distances",
    "viewpoint_reliability",
]

FLEXION_NAMES: tuple[str, ...] = (
    *(f"{f}_{j}_flex" for f in FINGERS for j in ("mcp", "pip", "dip")),
    "thumb_cmc_flex",
    "thumb_mcp_flex",
    "thumb_ip_flex",
)
"""Flexion angles returned by :func:`compute_finger_angles`."""

ABDUCTION_NAMES: tuple[str, ...] = (*(f"{f}_mcp_abd" for f in FINGERS), "thumb_cmc_abd")
"""Abduction angles returned by :func:`compute_finger_angles`."""

JOINT_ANGLE_NAMES: tuple[str, ...] = FLEXION_NAMES + ABDUCTION_NAMES

# Toward the camera in camera axes (MediaPipe z grows away from the camera).
_TOWARD_CAMERA = np.array([0.0, 0.0, -1.0])
_IMAGE_UP = np.array([0.0, -1.0, 0.0])


def chirality(handedness: str) -> float:
    """+1 for a right hand, -1 for a left hand (the sign that makes ``n`` point out of the palm)."""
    if handedness not in ("left", "right"):
        raise ValueError(f"handedness must be 'left' or 'right', not {handedness!r}")
    return 1.0 if handedness == "right" else -1.0


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` over the last axis, without its per-call overhead (the live path calls this per frame)."""
    a, b = np.broadcast_arrays(a, b)
    return np.stack(
        (
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ),
        axis=-1,
    )


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.linalg.norm(v, axis=-1, keepdims=True)
        return np.where(norm > 1e-12, v / norm, np.nan)


def _reject(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Component of ``v`` orthogonal to the unit vector ``axis``."""
    return v - _dot(v, axis)[..., None] * axis


def signed_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle (degrees) from ``a`` to ``b`` about ``axis``, both projected onto the plane normal to ``axis``.

    Positive for a right-handed (counter-clockwise seen from the tip of ``axis``) turn from ``a`` to
    ``b``. Shapes broadcast over leading dimensions; the last dimension is 3.
    """
    k = _unit(axis)
    ap, bp = _reject(a, k), _reject(b, k)
    return np.degrees(np.arctan2(_dot(_cross(ap, bp), k), _dot(ap, bp)))


def _angle_3d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle between ``a`` and ``b`` in degrees (atan2 form: accurate near 0 and 180)."""
    return np.degrees(np.arctan2(np.linalg.norm(_cross(a, b), axis=-1), _dot(a, b)))


@dataclass(frozen=True)
class PalmFrame:
    """Orthonormal palm axes per frame, each ``(T, 3)`` (see the module docstring)."""

    u: np.ndarray  # distal, wrist -> middle MCP
    r: np.ndarray  # radial, toward the thumb
    n: np.ndarray  # palmar normal, out of the palm

    @property
    def flexion_axis(self) -> np.ndarray:
        """``u x n``: a positive turn about it moves the fingers toward the palm (wrist/finger flexion)."""
        return _cross(self.u, self.n)


def _as_frames(world: np.ndarray) -> np.ndarray:
    w = np.asarray(world, dtype=np.float64)
    if w.ndim != 3 or w.shape[1:] != (21, 3):
        raise ValueError(f"world landmarks must be (T, 21, 3), got {w.shape}")
    return w


def compute_palm_frame(world: np.ndarray, *, handedness: str) -> PalmFrame:
    """Palm axes ``u`` (distal), ``r`` (radial) and ``n`` (palmar normal) for every frame.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks in metres, NaN where untracked.
    handedness : {'left', 'right'}
        The anatomical hand, which fixes the side the palm normal points to.
    """
    w = _as_frames(world)
    u = _unit(w[:, MIDDLE_MCP] - w[:, WRIST])
    # Index to ring MCP rather than to little: the fifth metacarpal cups when the hand closes and would
    # tilt the palm plane; the second to fourth barely move.
    r = _unit(_reject(w[:, INDEX_MCP] - w[:, RING_MCP], u))
    n = chirality(handedness) * _cross(r, u)
    return PalmFrame(u=u, r=r, n=n)


def palm_length(world: np.ndarray) -> np.ndarray:
    """Wrist to middle-finger MCP distance per frame (metres): the hand-size unit for distances."""
    w = _as_frames(world)
    return np.asarray(np.linalg.norm(w[:, MIDDLE_MCP] - w[:, WRIST], axis=-1))


def tip_distances(
    world: np.ndarray, *, scale: float | np.ndarray | None = None, depth_weight: float = 1.0
) -> dict[str, np.ndarray]:
    """Thumb tip to each fingertip distance per frame, divided by palm length.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks.
    scale : float or (T,) array, optional
        Length to divide by; the per-frame palm length when omitted.
    depth_weight : float
        Weight of the depth (camera ``z``) component of the distance. MediaPipe's world depth is its
        least accurate axis: with the thumb pad on a fingertip, seen from the front, it still puts the
        tips 0.3-0.4 palm lengths apart in depth while their image-plane distance is 0.02-0.08.

    Returns
    -------
    dict
        ``{finger: (T,) distance / scale}`` for index, middle, ring, little.
    """
    w = _as_frames(world)
    s = palm_length(w) if scale is None else np.asarray(scale, dtype=np.float64)
    weights = np.array([1.0, 1.0, depth_weight])
    thumb = w[:, THUMB_TIP]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {f: np.linalg.norm((w[:, FINGERTIPS[f]] - thumb) * weights, axis=-1) / s for f in FINGERS}


def compute_segment_angles(world: np.ndarray) -> dict[str, np.ndarray]:
    """Unsigned angle between adjacent segments of every finger joint (degrees, 0 = straight).

    No palm normal is involved, so a frame where the landmark model mislays the palm's orientation cannot
    flip a joint's sign; the price is that hyperextension reads as flexion and MCP abduction adds in.

    Returns
    -------
    dict
        ``{finger}_{mcp,pip,dip}`` for the four fingers (the MCP angle uses the wrist -> MCP metacarpal).
    """
    w = _as_frames(world)
    out: dict[str, np.ndarray] = {}
    for f in FINGERS:
        chain = DIGIT_CHAINS[f]
        for j, name in enumerate(("mcp", "pip", "dip"), start=1):
            a = w[:, chain[j]] - w[:, chain[j - 1]]
            b = w[:, chain[j + 1]] - w[:, chain[j]]
            out[f"{f}_{name}"] = _angle_3d(a, b)
    return out


def compute_finger_angles(world: np.ndarray, *, handedness: str, mcp_only: bool = False) -> dict[str, np.ndarray]:
    """Flexion of every finger joint, MCP abduction and thumb CMC angles, per frame.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks in metres, NaN where untracked.
    handedness : {'left', 'right'}
        The anatomical hand.
    mcp_only : bool
        Only the four ``{finger}_mcp_flex`` (cheaper, for per-frame live use).

    Returns
    -------
    dict
        ``{name: (T,) degrees}`` for every name in :data:`JOINT_ANGLE_NAMES`:
        ``{finger}_{mcp,pip,dip}_flex``, ``{finger}_mcp_abd``, ``thumb_cmc_flex``, ``thumb_cmc_abd``,
        ``thumb_mcp_flex``, ``thumb_ip_flex``.
    """
    w = _as_frames(world)
    frame = compute_palm_frame(w, handedness=handedness)
    u, r, n = frame.u, frame.r, frame.n
    out: dict[str, np.ndarray] = {}
    for f in FINGERS:
        _, mcp, pip, dip, tip = DIGIT_CHAINS[f]
        meta = w[:, mcp] - w[:, WRIST]
        p1, p2, p3 = w[:, pip] - w[:, mcp], w[:, dip] - w[:, pip], w[:, tip] - w[:, dip]
        # The finger flexes in a plane that contains the palm normal, so every phalanx projects onto the
        # palm plane along the finger's own direction (up to sign). Summing the distally-turned
        # projections keeps that direction defined when the proximal phalanx points straight out of the
        # palm; a little of the metacarpal covers a finger pointing entirely out of the palm.
        meta_in = _unit(_reject(meta, n))
        d = 0.02 * np.linalg.norm(p1, axis=-1, keepdims=True) * meta_in
        for seg in (p1, p2, p3):
            seg_in = _reject(seg, n)
            d = d + np.where(_dot(seg_in, meta_in) < 0, -1.0, 1.0)[:, None] * seg_in
        d = _unit(d)
        hinge = _cross(d, n)  # flexion axis of this finger (unit: d is orthogonal to n)
        out[f"{f}_mcp_flex"] = signed_angle(d, p1, hinge)
        if mcp_only:
            continue
        out[f"{f}_pip_flex"] = signed_angle(p1, p2, _reject(hinge, _unit(p1)))
        out[f"{f}_dip_flex"] = signed_angle(p2, p3, _reject(hinge, _unit(p2)))
        away = r if f in ("index", "middle") else -r
        out[f"{f}_mcp_abd"] = np.degrees(np.arctan2(_dot(d, away), _dot(d, u)))
    if mcp_only:
        return out
    # Thumb.
    t1 = w[:, THUMB_MCP] - w[:, THUMB_CMC]
    t2 = w[:, THUMB_IP] - w[:, THUMB_MCP]
    t3 = w[:, THUMB_TIP] - w[:, THUMB_IP]
    index_meta = _reject(w[:, INDEX_MCP] - w[:, WRIST], n)
    # Across the palm toward the little finger (from +r toward +u) is a right-handed turn about n for a
    # right hand; the mirror image turns the other way, hence the chirality.
    out["thumb_cmc_flex"] = signed_angle(index_meta, t1, chirality(handedness) * n)
    t1u = _unit(t1)
    out["thumb_cmc_abd"] = np.degrees(np.arcsin(np.clip(_dot(t1u, n), -1.0, 1.0)))
    # The thumb's palmar side: between the palm normal and the in-palm direction across the palm,
    # orthogonal to the first metacarpal (the thumb pad faces the fingers).
    palmar = _unit(0.72 * chirality(handedness) * _cross(n, t1u) + 0.69 * n)
    thumb_hinge = _cross(t1u, palmar)
    for name, a, b in (("thumb_mcp_flex", t1, t2), ("thumb_ip_flex", t2, t3)):
        # Full 3-D angle, signed by how its bending axis lines up with the modelled hinge; a bend about an
        # axis far from the hinge (sideways, i.e. landmark noise) fades to 0 instead of flipping sign.
        align = _dot(_unit(_cross(a, b)), _unit(thumb_hinge))
        out[name] = np.clip(align / 0.5, -1.0, 1.0) * _angle_3d(a, b)
    return out


@dataclass(frozen=True)
class WristAngles:
    """Wrist angles per frame (degrees) and how well the camera sees each motion (0..1)."""

    flexion: np.ndarray  # positive toward the palm, negative = extension
    deviation: np.ndarray  # positive radial, negative ulnar
    flexion_reliability: np.ndarray  # |flexion axis . camera axis|: 1 = hand seen edge-on
    deviation_reliability: np.ndarray  # |palm normal . camera axis|: 1 = palm seen face-on


def compute_wrist_angles(world: np.ndarray, *, handedness: str, forearm: np.ndarray) -> WristAngles:
    """Wrist flexion/extension and radial/ulnar deviation against a forearm direction.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks.
    handedness : {'left', 'right'}
        The anatomical hand.
    forearm : (T, 3) or (3,) array
        Elbow -> wrist direction in the same axes (MediaPipe Pose), or a fixed direction standing in for
        it (the hand's long axis held in a neutral pose). Need not be unit length; NaN where unknown.

    Returns
    -------
    WristAngles
    """
    frame = compute_palm_frame(world, handedness=handedness)
    f = _unit(np.broadcast_to(np.asarray(forearm, dtype=np.float64), frame.u.shape))
    fu, fn, fr = _dot(f, frame.u), _dot(f, frame.n), _dot(f, frame.r)
    # Deviation in the palm plane, flexion out of it (the hand deviates, then the deviated hand flexes).
    flexion = np.degrees(np.arctan2(-fn, np.hypot(fu, fr)))
    deviation = np.degrees(np.arctan2(-fr, fu))
    return WristAngles(
        flexion=flexion,
        deviation=deviation,
        flexion_reliability=viewpoint_reliability(frame.flexion_axis),
        deviation_reliability=viewpoint_reliability(frame.n),
    )


def viewpoint_reliability(axis: np.ndarray) -> np.ndarray:
    """How much of a rotation about ``axis`` the camera sees in the image plane, 0..1 per frame.

    A rotation moves points in the plane normal to its axis: with the axis along the camera's line of
    sight (1) the motion is entirely in the image, with the axis across it (0) half the motion is depth,
    which monocular landmarks estimate worst.
    """
    return np.asarray(np.abs(_unit(np.asarray(axis, dtype=np.float64))[..., 2]))


def compute_roll(world: np.ndarray, *, handedness: str, reference_normal: np.ndarray) -> np.ndarray:
    """Forearm rotation about the hand's long axis, relative to a reference palm normal.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks.
    handedness : {'left', 'right'}
        The anatomical hand.
    reference_normal : (3,) or (T, 3) array
        Palm normal of the reference (neutral) posture.

    Returns
    -------
    (T,) array
        Degrees in (-180, 180], positive = supination (palm turning up from thumb-up), negative =
        pronation.
    """
    frame = compute_palm_frame(world, handedness=handedness)
    ref = np.broadcast_to(np.asarray(reference_normal, dtype=np.float64), frame.n.shape)
    # Supination of a right hand is a right-handed turn about the distal axis; mirrored for a left hand.
    return np.asarray(chirality(handedness) * signed_angle(ref, frame.n, frame.u))


def apparent_rotation(stretch: np.ndarray | float, *, dead_zone: float = 0.0) -> np.ndarray:
    """Rotation toward or away from the image plane (degrees, >= 0) that changes an image length by ``1 + stretch``.

    A segment of length L at angle a to the image plane projects to L cos(a). Going from parallel to
    ``a`` shrinks it by ``cos a`` and coming back to parallel lengthens it by ``1 / cos a``, so a stretch
    ``s`` reads as ``acos(1 / (1 + s))`` when positive and ``acos(1 + s)`` when negative: exact when the
    segment is parallel to the image at one end of the movement, an approximation otherwise. Monocular
    landmark models estimate this depth motion poorly, while image lengths follow it.

    ``dead_zone`` is subtracted from the magnitude of the stretch first: the rotation grows like the
    square root of a small stretch, so jitter of a few percent would otherwise read as several degrees.
    """
    s = np.asarray(stretch, float)
    with np.errstate(invalid="ignore"):
        s = np.sign(s) * np.maximum(np.abs(s) - dead_zone, 0.0)
        ratio = np.where(s >= 0, 1.0 / (1.0 + np.abs(s)), 1.0 + np.minimum(s, 0.0))
        return np.asarray(np.degrees(np.arccos(np.clip(ratio, 0.0, 1.0))))


def compute_hand_orientation(world: np.ndarray, *, handedness: str) -> dict[str, np.ndarray]:
    """Hand orientation relative to the camera.

    Returns
    -------
    dict
        ``palm_normal`` (T, 3) unit palmar normal in camera axes; ``palm_facing_deg`` (T,) angle between
        the palm normal and the direction to the camera (0 = palm faces the camera, 90 = hand seen
        edge-on, 180 = back of the hand faces the camera); ``roll_deg`` (T,) rotation about the hand's
        long axis, 0 with the palm toward the camera, positive in the supination direction.
    """
    frame = compute_palm_frame(world, handedness=handedness)
    facing = np.degrees(np.arccos(np.clip(_dot(frame.n, _TOWARD_CAMERA), -1.0, 1.0)))
    roll = chirality(handedness) * signed_angle(np.broadcast_to(_TOWARD_CAMERA, frame.n.shape), frame.n, frame.u)
    return {"palm_normal": frame.n, "palm_facing_deg": facing, "roll_deg": roll}


def compute_facing_roll(world: np.ndarray, *, handedness: str) -> np.ndarray:
    """Rotation about the hand's long axis away from the palm or the back facing the camera, whichever is nearer.

    A monocular landmark model can mirror a hand in depth (palm for back, seen at the same image
    position): the palm normal's depth component flips while its image-plane components stay. Folding
    the roll of :func:`compute_hand_orientation` to [-90, 90] by the face nearer the camera keeps only
    what the mirror leaves alone, so a mirrored frame reads the same as a correct one.

    Parameters
    ----------
    world : (T, 21, 3) array
        World landmarks.
    handedness : {'left', 'right'}
        The anatomical hand.

    Returns
    -------
    (T,) array
        Degrees in [-90, 90]: 0 with the palm or the back square to the camera, +-90 edge-on; positive in the
        supination direction when the palm is the nearer face, in the pronation direction when the back is.
    """
    roll = np.radians(compute_hand_orientation(world, handedness=handedness)["roll_deg"])
    return np.asarray(np.degrees(np.arctan2(np.sin(roll), np.abs(np.cos(roll)))))
