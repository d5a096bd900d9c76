"""Kinematics of the synthetic hand: proportions, sign conventions, mirroring, touches."""

from __future__ import annotations

import numpy as np
import pytest

from synth.hand import (
    ANGLE_INDEX,
    FINGERS,
    TIP_INDEX,
    HandShape,
    forward_kinematics,
    local_joints,
    rest_pose,
    segment_angles,
)
from synth.scripts import solve_touch, tip_distance

BONES = [(0, 1), (1, 2), (2, 3), (3, 4)] + [(b + i, b + i + 1) for b in (5, 9, 13, 17) for i in range(3)]


def _bone_lengths(j: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(j[b] - j[a]) for a, b in BONES])


def test_palm_length_and_proportions() -> None:
    shape = HandShape(size=1.0)
    j = local_joints(rest_pose(), shape)
    assert np.linalg.norm(j[9] - j[0]) == pytest.approx(shape.palm_length, rel=1e-6)
    # middle finger longest, little shortest; hand length ~ 18-20 cm
    tips = {f: np.linalg.norm(j[TIP_INDEX[f]] - j[0]) for f in FINGERS}
    assert tips["middle"] == max(tips.values())
    assert tips["little"] == min(tips.values())
    assert 0.17 < tips["middle"] < 0.21


def test_bone_lengths_do_not_change_with_pose() -> None:
    shape = HandShape(size=1.1)
    rng = np.random.default_rng(0)
    ref = _bone_lengths(local_joints(rest_pose(), shape))
    for _ in range(5):
        p = rest_pose() + rng.uniform(-30, 60, rest_pose().shape)
        assert np.allclose(_bone_lengths(local_joints(p, shape)), ref, atol=1e-9)


def test_flexion_moves_finger_toward_palm() -> None:
    shape = HandShape()
    p = rest_pose()
    j0 = local_joints(p, shape)
    p[ANGLE_INDEX["index_mcp_flex"]] += 40
    j1 = local_joints(p, shape)
    assert j1[8, 2] > j0[8, 2] + 0.02  # +Z is palmar
    # the segment angle seen from landmarks grows by the same amount at the PIP (unchanged) and MCP
    s0, s1 = segment_angles(j0), segment_angles(j1)
    assert s1["index_pip"] == pytest.approx(s0["index_pip"], abs=1e-6)
    assert s1["index_mcp"] > s0["index_mcp"] + 30


def test_left_hand_is_mirror_image() -> None:
    p = rest_pose()
    root = np.column_stack([[1, 0, 0], [0, -1, 0], [0, 0, -1]]).astype(float)
    jr = forward_kinematics(p, HandShape(side="right"), root, np.zeros(3), with_prims=False).joints
    jl = forward_kinematics(p, HandShape(side="left"), root, np.zeros(3), with_prims=False).joints
    assert np.allclose(jl * [-1, 1, 1], jr)
    # palm toward the camera: the right thumb is on the image right, the left thumb on the left
    assert jr[4, 0] > jr[20, 0]
    assert jl[4, 0] < jl[20, 0]


@pytest.mark.parametrize("finger", FINGERS)
def test_thumb_touches_every_fingertip(finger: str) -> None:
    shape = HandShape()
    pose = solve_touch(rest_pose(), shape, finger)
    assert tip_distance(pose, shape, finger) < 0.006


def test_wrist_angles_rotate_the_hand_only() -> None:
    shape = HandShape()
    p = rest_pose()
    j0 = local_joints(p, shape)
    p[ANGLE_INDEX["wrist_flex"]] = 50
    g = forward_kinematics(p, shape, np.eye(3), np.zeros(3))
    v0 = j0[9] - j0[0]
    v1 = g.joints[9] - g.joints[0]
    ang = np.degrees(np.arccos(v0 @ v1 / np.linalg.norm(v0) / np.linalg.norm(v1)))
    assert ang == pytest.approx(50, abs=1e-6)
    assert v1[2] > 0  # flexion tilts the hand toward the palmar side
