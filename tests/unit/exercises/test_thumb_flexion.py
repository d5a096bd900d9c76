import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.thumb_flexion import ThumbFlexion
from synth.hand import ANGLE_INDEX, rest_pose

MCP = [45.0, 35.0, 25.0]
IP = [60.0, 50.0, 40.0]


@pytest.mark.parametrize(("side", "view", "yaw"), [("right", "palm", 0.0), ("left", "palm", -35.0)])
def test_counts_bends_and_measures_mcp_and_ip(side, view, yaw):
    t = np.arange(0, 7, 1 / 30)
    base = rest_pose()
    base[ANGLE_INDEX["thumb_mcp_flex"]] = 0.0
    base[ANGLE_INDEX["thumb_ip_flex"]] = 0.0
    c = [1.5, 3.5, 5.5]
    p = poses(
        t,
        base,
        thumb_mcp_flex=lambda tt: bumps(tt, c, 1.4, MCP),
        thumb_ip_flex=lambda tt: bumps(tt, c, 1.4, IP),
        thumb_cmc_flex=lambda tt: bumps(tt, c, 1.4, 20.0),
    )
    s = series_from_poses(t, p, side=side, view=view, yaw=yaw)
    a = ThumbFlexion().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["mcp_flex_deg"] for r in a.reps], MCP, atol=2.0)
    np.testing.assert_allclose([r["ip_flex_deg"] for r in a.reps], IP, atol=2.0)
    assert a.metrics["max_mcp_flex_deg"] == pytest.approx(45, abs=2)
    assert a.metrics["rom"]["thumb_ip_flex"]["normal_positive_deg"] == 80
    assert_live_matches(ThumbFlexion(), s, a)


def test_ip_read_hyperextended_on_the_way_does_not_split_a_bend():
    # Seen from below, MediaPipe reads the IP joint 20-30 deg hyperextended as the thumb sets off and comes back.
    t = np.arange(0, 7, 1 / 30)
    base = rest_pose()
    base[ANGLE_INDEX["thumb_mcp_flex"]] = 5.0  # a dead-straight thumb has no bending plane
    base[ANGLE_INDEX["thumb_ip_flex"]] = 5.0
    c = [1.5, 3.5, 5.5]
    p = poses(
        t,
        base,
        thumb_mcp_flex=lambda tt: bumps(tt, c, 0.9, 20.0),
        thumb_ip_flex=lambda tt: (
            bumps(tt, c, 0.5, 20.0) - bumps(tt, [x - 0.6 for x in c] + [x + 0.6 for x in c], 0.4, 30.0)
        ),
    )
    a = ThumbFlexion().analyze(series_from_poses(t, p, view="palm"))
    assert len(a.reps) == 3
    assert a.metrics["rom"]["thumb_ip_flex"]["min_deg"] < -15  # the hyperextension itself is still reported


def test_a_held_bend_read_straighter_for_a_moment_is_one_bend():
    # Rendered on stripes, MediaPipe read a held thumb 15-25 deg straighter for a few frames mid-hold.
    t = np.arange(0, 7, 1 / 30)
    base = rest_pose()
    base[ANGLE_INDEX["thumb_mcp_flex"]] = 5.0
    base[ANGLE_INDEX["thumb_ip_flex"]] = 5.0
    c = [1.5, 3.5, 5.5]
    held = [x + d for x in c for d in (-0.3, 0.0, 0.3)]  # a plateau from three overlapping bumps
    dips = c[1:]  # 26 of the 75 deg of a bend, mid-hold: more than 30 % of the bends before it
    p = poses(
        t,
        base,
        thumb_mcp_flex=lambda tt: bumps(tt, held, 0.9, 25.0) - bumps(tt, dips, 0.25, 16.0),
        thumb_ip_flex=lambda tt: bumps(tt, held, 0.9, 25.0) - bumps(tt, dips, 0.25, 13.0),
    )
    s = series_from_poses(t, p, view="palm")
    a = ThumbFlexion().analyze(s)
    assert len(a.reps) == 3
    assert_live_matches(ThumbFlexion(), s, a)
