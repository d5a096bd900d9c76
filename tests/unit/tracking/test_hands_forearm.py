"""tracking.hands: the forearm direction from Pose arms, without MediaPipe (synthetic PoseArms)."""

from __future__ import annotations

import numpy as np

from tracking.hands import PoseArms, forearm_series, forearm_warnings
from tracking.series import LandmarkSeries


def arms(*, hand_side_x: float, other_x: float, elbow_vis: float = 0.9) -> PoseArms:
    """Two pose arms: side 0's wrist at ``hand_side_x``, side 1's at ``other_x`` (y = 0.5)."""
    return PoseArms(
        wrist_image=np.array([[hand_side_x, 0.5], [other_x, 0.5]]),
        wrist_visibility=np.array([0.95, 0.95]),
        elbow_visibility=np.array([elbow_vis, 0.95]),
        elbow_world=np.array([[0.0, 0.3, 0.0], [0.5, 0.3, 0.0]]),
        wrist_world=np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.4]]),
    )


def hand_image(x: float) -> np.ndarray:
    img = np.zeros((21, 3))
    img[:, 0], img[:, 1] = x, 0.5
    img[9, 1] = 0.4  # middle MCP above the wrist: a hand size of 0.1
    return img


def test_forearm_comes_from_the_arm_holding_the_hand() -> None:
    image = np.stack([hand_image(0.3)] * 4)
    present = np.array([True, True, False, True])
    frames = [arms(hand_side_x=0.31, other_x=0.8)] * 2 + [None, arms(hand_side_x=0.31, other_x=0.8, elbow_vis=0.1)]
    fa = forearm_series(image, present, frames)
    np.testing.assert_allclose(fa[0], [0.0, -1.0, 0.0])  # elbow below the wrist: the forearm points up
    np.testing.assert_allclose(np.linalg.norm(fa[:2], axis=1), 1.0)
    assert np.isnan(fa[2]).all()  # hand not tracked
    assert np.isnan(fa[3]).all()  # elbow not visible enough


def test_pose_arm_far_from_the_hand_is_ignored() -> None:
    image = np.stack([hand_image(0.3)] * 3)
    near = arms(hand_side_x=0.31, other_x=0.8)
    lost = arms(hand_side_x=0.9, other_x=0.95)  # pose lost the arm in this frame
    fa = forearm_series(image, np.ones(3, bool), [near, lost, near])
    assert np.isfinite(fa[[0, 2]]).all() and np.isnan(fa[1]).all()


def test_warnings_say_when_the_elbow_was_never_or_rarely_seen() -> None:
    n = 10
    base = LandmarkSeries(
        t=np.arange(n) / 30,
        image=np.zeros((n, 21, 3)),
        world=np.zeros((n, 21, 3)),
        present=np.ones(n, bool),
        score=np.ones(n),
        handedness="right",
        width=640,
        height=480,
        forearm=np.full((n, 3), np.nan),
    )
    assert "never visible" in forearm_warnings(base)[0]
    some = base.forearm.copy()  # type: ignore[union-attr]
    some[:3] = (0, -1, 0)
    assert "30%" in forearm_warnings(base.with_(forearm=some))[0]
    some[:] = (0, -1, 0)
    assert forearm_warnings(base.with_(forearm=some)) == []
