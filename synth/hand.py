"""Kinematic hand model: joint angles in, 21 MediaPipe-ordered joints and render primitives out.

Conventions
-----------
All angles are in degrees. Positions are in metres.

The hand is built in a *local frame of a right hand*: ``+X`` radial (toward the thumb),
``+Y`` distal (wrist toward middle-finger MCP), ``+Z`` palmar (out of the palm). A left hand
is the mirror image (local ``x`` negated), so every angle keeps its anatomical meaning for
both hands.

Joint angles (see :data:`ANGLE_NAMES`):

* ``{finger}_mcp_flex``, ``{finger}_pip_flex``, ``{finger}_dip_flex``: 0 straight, positive
  toward the palm (flexion), negative is hyperextension.
* ``{finger}_mcp_abd``: MCP abduction, positive away from the middle finger (for the middle
  finger positive is radial).
* ``thumb_cmc_flex`` (across the palm toward the little finger), ``thumb_cmc_abd`` (palmar
  abduction, away from the palm plane), ``thumb_cmc_rot`` (axial pronation of the first
  metacarpal), ``thumb_mcp_flex``, ``thumb_ip_flex``.
* ``wrist_flex`` (positive flexion = palm toward the forearm, negative = extension),
  ``wrist_dev`` (positive radial deviation, negative ulnar), ``pronation`` (positive
  pronation, negative supination) of the forearm about its long axis.

The global placement is a rotation ``root`` (3x3, forearm frame at zero pronation to camera)
and the wrist position in camera coordinates. Camera coordinates follow OpenCV: ``x`` right,
``y`` down, ``z`` forward (away from the camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FINGERS: tuple[str, ...] = ("index", "middle", "ring", "little")
"""Long fingers in MediaPipe order."""

JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "little_mcp",
    "little_pip",
    "little_dip",
    "little_tip",
)
"""The 21 joints in MediaPipe hand-landmark order."""

TIP_INDEX: dict[str, int] = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "little": 20}
MCP_INDEX: dict[str, int] = {"thumb": 2, "index": 5, "middle": 9, "ring": 13, "little": 17}

ANGLE_NAMES: tuple[str, ...] = tuple(
    [f"{f}_{j}" for f in FINGERS for j in ("mcp_flex", "pip_flex", "dip_flex", "mcp_abd")]
    + [
        "thumb_cmc_flex",
        "thumb_cmc_abd",
        "thumb_cmc_rot",
        "thumb_mcp_flex",
        "thumb_ip_flex",
        "wrist_flex",
        "wrist_dev",
        "pronation",
    ]
)
"""Names of the kinematic degrees of freedom, the columns of a pose array."""

ANGLE_INDEX: dict[str, int] = {n: i for i, n in enumerate(ANGLE_NAMES)}
N_ANGLES = len(ANGLE_NAMES)

# Primitive groups for the renderer: 0 palm/forearm, 1 thumb, 2..5 index..little.
GROUP_PALM = 0
KIND_SKIN = 0
KIND_DISTAL = 1  # distal phalanx: gets a fingernail
KIND_PHALANX = 2  # proximal/middle phalanx: gets knuckle creases
KIND_FOREARM = 3


def rest_pose() -> NDArray[np.float64]:
    """Return a relaxed open hand: fingers straight and slightly spread, thumb out.

    Returns
    -------
    numpy.ndarray
        Pose vector of shape ``(N_ANGLES,)`` in degrees.
    """
    p = np.zeros(N_ANGLES)
    for f, abd in zip(FINGERS, (6.0, 0.0, 5.0, 10.0), strict=True):
        p[ANGLE_INDEX[f"{f}_mcp_abd"]] = abd
        p[ANGLE_INDEX[f"{f}_mcp_flex"]] = 4.0
        p[ANGLE_INDEX[f"{f}_pip_flex"]] = 6.0
        p[ANGLE_INDEX[f"{f}_dip_flex"]] = 3.0
    p[ANGLE_INDEX["thumb_cmc_flex"]] = 0.0
    p[ANGLE_INDEX["thumb_cmc_abd"]] = 20.0
    p[ANGLE_INDEX["thumb_mcp_flex"]] = 8.0
    p[ANGLE_INDEX["thumb_ip_flex"]] = 8.0
    return p


@dataclass(frozen=True)
class HandShape:
    """Anatomical proportions of one hand.

    Parameters
    ----------
    size : float
        Uniform scale; 1.0 is an adult hand with palm length (wrist to middle MCP) 9 cm.
    side : str
        ``"right"`` or ``"left"``.
    finger_scale : tuple of float
        Per-finger length multipliers (thumb, index, middle, ring, little).
    girth : float
        Multiplier for all radii (slender < 1 < stout).
    """

    size: float = 1.0
    side: str = "right"
    finger_scale: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    girth: float = 1.0
    forearm_length: float = 0.26

    @property
    def mirror(self) -> float:
        """-1 for a left hand, +1 for a right hand."""
        return -1.0 if self.side == "left" else 1.0

    @property
    def palm_length(self) -> float:
        """Wrist to middle-finger MCP distance in metres."""
        return 0.09 * self.size


# ---------------------------------------------------------------- geometry tables (size 1)

_MCP_POS = {
    "index": (0.0235, 0.0855, 0.0030),
    "middle": (0.0, 0.0900, 0.0),
    "ring": (-0.0195, 0.0850, 0.0025),
    "little": (-0.0370, 0.0745, 0.0065),
}
_FINGER_DIR = {"index": 0.03, "middle": 0.0, "ring": -0.04, "little": -0.10}  # x of direction
_ABD_SIGN = {"index": -1.0, "middle": -1.0, "ring": 1.0, "little": 1.0}
_LENGTHS = {
    "index": (0.0430, 0.0250, 0.0215),
    "middle": (0.0470, 0.0290, 0.0230),
    "ring": (0.0440, 0.0280, 0.0225),
    "little": (0.0345, 0.0200, 0.0195),
    "thumb": (0.0420, 0.0315, 0.0265),
}
_RADII = {  # radius at MCP, PIP, DIP, tip
    "index": (0.0098, 0.0088, 0.0080, 0.0072),
    "middle": (0.0101, 0.0091, 0.0083, 0.0074),
    "ring": (0.0094, 0.0085, 0.0077, 0.0069),
    "little": (0.0084, 0.0076, 0.0069, 0.0063),
    "thumb": (0.0125, 0.0108, 0.0098, 0.0088),  # CMC-MCP, MCP, IP, tip
}
_THUMB_CMC = (0.0215, 0.0230, 0.0070)
_THUMB_BASE_ANGLE = 42.0  # degrees from +Y toward +X, in the palm plane
_TIP_INSET = 0.72  # tip landmark sits this many tip radii inside the surface tip


def _rot(axis: NDArray[np.float64], deg: float) -> NDArray[np.float64]:
    """Rotation matrix about an axis by an angle in degrees (Rodrigues)."""
    x, y, z = float(axis[0]), float(axis[1]), float(axis[2])
    n = math.sqrt(x * x + y * y + z * z)
    x, y, z = x / n, y / n, z / n
    t = math.radians(float(deg))
    c, s = math.cos(t), math.sin(t)
    C = 1.0 - c
    return np.array(
        [
            [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
            [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
            [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
        ]
    )


def _cross(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cross product of two 3-vectors (faster than numpy.cross for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> NDArray[np.float64]:
    """Rotation ``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` with angles in degrees.

    Parameters
    ----------
    yaw, pitch, roll : float
        Rotations about the camera ``y``, ``x`` and ``z`` axes, degrees.

    Returns
    -------
    numpy.ndarray
        A 3x3 rotation matrix.
    """
    ex, ey, ez = np.eye(3)
    return _rot(ez, roll) @ _rot(ey, yaw) @ _rot(ex, pitch)


_EX = np.array([1.0, 0.0, 0.0])
_EY = np.array([0.0, 1.0, 0.0])
_EZ = np.array([0.0, 0.0, 1.0])


@dataclass
class HandGeometry:
    """Result of forward kinematics for one frame.

    Attributes
    ----------
    joints : numpy.ndarray
        ``(21, 3)`` joint positions in camera coordinates (metres), MediaPipe order.
    prims : numpy.ndarray
        ``(P, 12)`` render primitives: ``a(3), b(3), ra, rb, group, kind, part, seg``
        followed by :attr:`prim_palmar`.
    prim_palmar : numpy.ndarray
        ``(P, 3)`` unit palmar direction of each primitive (for shading).
    """

    joints: NDArray[np.float64]
    prims: NDArray[np.float64]
    prim_palmar: NDArray[np.float64]


def _local_geometry(
    pose: NDArray[np.float64], shape: HandShape, with_prims: bool = True
) -> tuple[NDArray[np.float64], list[tuple[object, ...]]]:
    """Joints and primitives in the local right-hand frame, before wrist/forearm rotation.

    Returns joints (21,3) in the *hand* frame and a list of primitives, each
    ``(frame, a, b, ra, rb, group, kind, seg, palmar)`` where ``frame`` is ``"hand"`` or
    ``"forearm"``.
    """
    s = shape.size
    g = shape.girth
    joints = np.zeros((21, 3))
    prims: list[tuple[object, ...]] = []

    def add(
        frame: str,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        ra: float,
        rb: float,
        group: int,
        kind: int,
        seg: int,
        palmar: NDArray[np.float64],
    ) -> None:
        if not with_prims:
            return
        prims.append(
            (frame, np.asarray(a, float), np.asarray(b, float), ra, rb, group, kind, seg, np.asarray(palmar, float))
        )

    # ---- long fingers
    for fi, f in enumerate(FINGERS):
        fs = shape.finger_scale[fi + 1]
        m = np.array(_MCP_POS[f]) * s
        u = np.array([_FINGER_DIR[f], 1.0, 0.0])
        u /= np.linalg.norm(u)
        abd = pose[ANGLE_INDEX[f"{f}_mcp_abd"]] * _ABD_SIGN[f]
        d0 = _rot(_EZ, abd) @ u
        ax = _cross(d0, _EZ)
        mcp = pose[ANGLE_INDEX[f"{f}_mcp_flex"]]
        pip = pose[ANGLE_INDEX[f"{f}_pip_flex"]]
        dip = pose[ANGLE_INDEX[f"{f}_dip_flex"]]
        d1 = _rot(ax, mcp) @ d0
        d2 = _rot(ax, mcp + pip) @ d0
        d3 = _rot(ax, mcp + pip + dip) @ d0
        L = np.array(_LENGTHS[f]) * s * fs
        R = np.array(_RADII[f]) * s * g
        p1 = m + L[0] * d1
        p2 = p1 + L[1] * d2
        p3 = p2 + L[2] * d3
        base = 5 + 4 * fi
        joints[base : base + 4] = (m, p1, p2, p3)
        grp = 2 + fi
        add("hand", m, p1, R[0], R[1], grp, KIND_PHALANX, 0, _cross(ax, d1))
        add("hand", p1, p2, R[1], R[2], grp, KIND_PHALANX, 1, _cross(ax, d2))
        add("hand", p2, p3 - d3 * R[3] * _TIP_INSET, R[2] * 0.97, R[3], grp, KIND_DISTAL, 2, _cross(ax, d3))

    # ---- thumb
    ts = shape.finger_scale[0]
    c = np.array(_THUMB_CMC) * s
    ba = np.deg2rad(_THUMB_BASE_ANGLE)
    b0 = np.array([np.sin(ba), np.cos(ba), 0.0])
    n0 = 0.72 * _cross(_EZ, b0) + 0.69 * _EZ
    n0 -= b0 * (n0 @ b0)
    n0 /= np.linalg.norm(n0)
    r_cmc = (
        _rot(_EZ, pose[ANGLE_INDEX["thumb_cmc_flex"]])
        @ _rot(_cross(b0, _EZ), pose[ANGLE_INDEX["thumb_cmc_abd"]])
        @ _rot(b0, pose[ANGLE_INDEX["thumb_cmc_rot"]])
    )
    d1 = r_cmc @ b0
    n1 = r_cmc @ n0
    ax = _cross(d1, n1)
    tm = pose[ANGLE_INDEX["thumb_mcp_flex"]]
    ti = pose[ANGLE_INDEX["thumb_ip_flex"]]
    d2 = _rot(ax, tm) @ d1
    d3 = _rot(ax, tm + ti) @ d1
    L = np.array(_LENGTHS["thumb"]) * s * ts
    R = np.array(_RADII["thumb"]) * s * g
    p1 = c + L[0] * d1
    p2 = p1 + L[1] * d2
    p3 = p2 + L[2] * d3
    joints[1:5] = (c, p1, p2, p3)
    # thumb metacarpal belongs to the palm group (thenar eminence blends into the palm)
    add("hand", c - d1 * 0.006 * s, p1, R[0] * 1.25, R[1] * 1.02, GROUP_PALM, KIND_SKIN, 0, _cross(ax, d1))
    add("hand", p1, p2, R[1], R[2], 1, KIND_PHALANX, 1, _cross(ax, d2))
    add("hand", p2, p3 - d3 * R[3] * _TIP_INSET, R[2], R[3], 1, KIND_DISTAL, 2, _cross(ax, d3))

    if not with_prims:
        return joints, prims
    # ---- palm (group 0)
    pz = _EZ
    for f, bx, rm in (
        ("index", 0.011, 0.0118),
        ("middle", 0.002, 0.0120),
        ("ring", -0.008, 0.0114),
        ("little", -0.017, 0.0106),
    ):
        mc_base = np.array([bx, 0.022, 0.0]) * s
        add(
            "hand",
            mc_base,
            np.array(_MCP_POS[f]) * s + np.array([0, -0.004, -0.001]) * s,
            0.0125 * s * g,
            rm * s * g,
            GROUP_PALM,
            KIND_SKIN,
            0,
            pz,
        )
    # hypothenar and thenar pads
    add(
        "hand",
        np.array([-0.012, 0.018, 0.006]) * s,
        np.array([-0.030, 0.060, 0.007]) * s,
        0.0125 * s * g,
        0.0100 * s * g,
        GROUP_PALM,
        KIND_SKIN,
        0,
        pz,
    )
    add(
        "hand",
        np.array([0.006, 0.020, 0.008]) * s,
        0.5 * (c + p1) + np.array([-0.004, 0, 0.002]),
        0.0130 * s * g,
        0.0110 * s * g,
        GROUP_PALM,
        KIND_SKIN,
        0,
        pz,
    )
    # carpus / wrist
    add(
        "hand",
        np.array([-0.011, 0.006, 0.001]) * s,
        np.array([0.011, 0.006, 0.001]) * s,
        0.0165 * s * g,
        0.0165 * s * g,
        GROUP_PALM,
        KIND_SKIN,
        0,
        pz,
    )
    # ---- forearm (forearm frame): radius + ulna side, split for tight bounds
    fl = shape.forearm_length * s
    n_seg = 4
    for side_x, r0, r1 in ((0.0105, 0.0170, 0.0230), (-0.0105, 0.0160, 0.0215)):
        for k in range(n_seg):
            t0, t1 = k / n_seg, (k + 1) / n_seg
            a = np.array([side_x * (1 + 0.3 * t0), -0.004 - fl * t0, 0.0]) * np.array([s, 1, 1])
            b = np.array([side_x * (1 + 0.3 * t1), -0.004 - fl * t1, 0.0]) * np.array([s, 1, 1])
            add(
                "forearm",
                a,
                b,
                (r0 + (r1 - r0) * t0) * s * g,
                (r0 + (r1 - r0) * t1) * s * g,
                GROUP_PALM,
                KIND_FOREARM,
                0,
                pz,
            )
    return joints, prims


def forward_kinematics(
    pose: NDArray[np.float64],
    shape: HandShape,
    root: NDArray[np.float64],
    wrist: NDArray[np.float64],
    with_prims: bool = True,
) -> HandGeometry:
    """Place the hand in camera coordinates.

    Parameters
    ----------
    pose : numpy.ndarray
        ``(N_ANGLES,)`` joint angles in degrees, columns as :data:`ANGLE_NAMES`.
    shape : HandShape
        Proportions and side.
    root : numpy.ndarray
        3x3 rotation from the forearm frame (at zero pronation) to camera axes. The frame is
        the local right-hand frame; for a left hand it is applied after mirroring.
    wrist : numpy.ndarray
        Wrist joint position in camera coordinates, metres.
    with_prims : bool
        Also build render primitives (slower).

    Returns
    -------
    HandGeometry
        Joints and render primitives.
    """
    j_loc, prims = _local_geometry(pose, shape) if with_prims else (_joints_only(pose, shape), [])
    r_fore = _rot(_EY, -pose[ANGLE_INDEX["pronation"]])
    # wrist: flexion about X (toward palm), radial deviation toward +X
    r_wrist = _rot(_EX, pose[ANGLE_INDEX["wrist_flex"]]) @ _rot(_EZ, -pose[ANGLE_INDEX["wrist_dev"]])
    mirror = np.diag([shape.mirror, 1.0, 1.0])
    m_hand = root @ mirror @ r_fore @ r_wrist
    m_fore = root @ mirror @ r_fore
    w = np.asarray(wrist, dtype=np.float64)
    joints = j_loc @ m_hand.T + w
    if not with_prims:
        return HandGeometry(joints, np.zeros((0, 12)), np.zeros((0, 3)))
    out = np.zeros((len(prims), 12))
    pal = np.zeros((len(prims), 3))
    for i, (frame, a, b, ra, rb, grp, kind, seg, palmar) in enumerate(prims):
        m = m_hand if frame == "hand" else m_fore
        out[i, 0:3] = m @ a + w
        out[i, 3:6] = m @ b + w
        out[i, 6] = ra
        out[i, 7] = rb
        out[i, 8] = grp
        out[i, 9] = kind
        out[i, 10] = seg
        pv = m @ palmar
        pal[i] = pv / max(np.linalg.norm(pv), 1e-9)
    # mirroring flips handedness of cross products: palmar vectors were built in the
    # right-hand frame and mapped by the same linear map, so they stay correct.
    return HandGeometry(joints, out, pal)


def _joints_only(pose: NDArray[np.float64], shape: HandShape) -> NDArray[np.float64]:
    """Local joints without building primitives (used in optimisation loops)."""
    j, _ = _local_geometry(pose, shape, with_prims=False)
    return j


def local_joints(pose: NDArray[np.float64], shape: HandShape) -> NDArray[np.float64]:
    """Joints in the local right-hand frame (wrist at origin, before wrist rotation).

    Parameters
    ----------
    pose : numpy.ndarray
        ``(N_ANGLES,)`` joint angles in degrees.
    shape : HandShape
        Proportions (the side is ignored: always the right-hand frame).

    Returns
    -------
    numpy.ndarray
        ``(21, 3)`` joints in metres.
    """
    return _joints_only(pose, shape)


def segment_angles(joints: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Unsigned angles between adjacent landmark segments, as a landmark-based scorer sees them.

    Parameters
    ----------
    joints : numpy.ndarray
        ``(..., 21, 3)`` joints.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{finger}_{mcp,pip,dip}`` (thumb: ``mcp``, ``ip``) angles in degrees, 0 when the two
        segments are collinear. The MCP angle uses the metacarpal wrist→MCP (thumb: CMC→MCP).
    """
    j = np.asarray(joints, dtype=np.float64)

    def ang(a: int, b: int, c: int) -> NDArray[np.float64]:
        u = j[..., b, :] - j[..., a, :]
        v = j[..., c, :] - j[..., b, :]
        cosv = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-12)
        return np.rad2deg(np.arccos(np.clip(cosv, -1.0, 1.0)))

    out: dict[str, NDArray[np.float64]] = {}
    for fi, f in enumerate(FINGERS):
        b = 5 + 4 * fi
        out[f"{f}_mcp"] = ang(0, b, b + 1)
        out[f"{f}_pip"] = ang(b, b + 1, b + 2)
        out[f"{f}_dip"] = ang(b + 1, b + 2, b + 3)
    out["thumb_mcp"] = ang(1, 2, 3)
    out["thumb_ip"] = ang(2, 3, 4)
    return out
