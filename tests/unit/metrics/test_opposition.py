import numpy as np
import pytest

from metrics.opposition import palm_facing, segment_distance, thumb_reach, thumb_tip_image_distances
from synth.hand import HandShape, forward_kinematics, rest_pose
from synth.video import view_rotation
from tracking.series import DIGIT_CHAINS, FINGERS, THUMB_TIP


def test_segment_distance():
    a, b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    assert segment_distance(np.array([0.5, 2.0]), a, b) == pytest.approx(2.0)  # above the segment
    assert segment_distance(np.array([4.0, 4.0]), a, b) == pytest.approx(5.0)  # beyond its end: to the end
    assert segment_distance(np.array([3.0, 4.0]), np.zeros(2), np.zeros(2)) == pytest.approx(5.0)  # a point
    assert np.isnan(segment_distance(np.array([np.nan, 0.0]), a, b))
    many = segment_distance(np.array([[0.0, 1.0], [0.0, -3.0]]), a, b)  # vectorised over leading axes
    np.testing.assert_allclose(many, [1.0, 3.0])


def _flat_hand(thumb_tip: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """Wrist at the origin, middle MCP one unit straight up (image y points down), straight fingers."""
    p = np.full((21, 2), np.nan)
    p[0] = (0.0, 0.0)
    for x, f in zip((-0.3, 0.0, 0.2, 0.4), FINGERS, strict=True):
        for j, y in zip(DIGIT_CHAINS[f][1:], (-1.0, -1.4, -1.7, -1.9), strict=True):
            p[j] = (x, y)
    p[[1, 2, 3]] = [(-0.3, -0.3), (-0.5, -0.6), (-0.7, -0.9)]
    p[THUMB_TIP] = thumb_tip
    return p[None] * scale


def test_thumb_distances_in_the_image_are_in_palm_lengths():
    for scale in (1.0, 250.0):  # any pixel scale: divided by the image palm length (wrist -> middle MCP)
        hand = _flat_hand((-0.8, -1.5), scale)
        assert thumb_reach(hand)[0] == pytest.approx(0.5)  # beside the index finger's middle phalanx
        d = thumb_tip_image_distances(hand)
        assert d["index"][0] == pytest.approx(np.hypot(0.5, 0.4))
        assert d["little"][0] == pytest.approx(np.hypot(1.2, 0.4))
    on_tip = _flat_hand((0.2, -1.9))  # on the ring fingertip
    assert thumb_reach(on_tip)[0] == pytest.approx(0.0)
    assert thumb_tip_image_distances(on_tip)["ring"][0] == pytest.approx(0.0)
    assert thumb_reach(_flat_hand((0.0, -0.5)))[0] == pytest.approx(0.5)  # over the palm: to the middle MCP
    assert np.isnan(thumb_reach(np.full((1, 21, 2), np.nan))[0])


@pytest.mark.parametrize("side", ["right", "left"])
def test_palm_facing_tells_the_palm_from_the_back(side):
    shape = HandShape(side=side)
    for view, sign in (("palm", 1.0), ("back", -1.0), ("three_quarter", 1.0), ("above", -1.0)):
        joints = forward_kinematics(rest_pose(), shape, view_rotation(view, side), np.zeros(3), with_prims=False).joints
        facing = palm_facing(joints[None, :, :2], handedness=side)[0]  # camera x right, y down: the image
        assert sign * facing > 0.3, view
    mirrored = joints[None, :, :2] * np.array([-1.0, 1.0])  # the same picture flipped left to right
    assert palm_facing(mirrored, handedness=side)[0] == pytest.approx(
        -palm_facing(joints[None, :, :2], handedness=side)[0]
    )
