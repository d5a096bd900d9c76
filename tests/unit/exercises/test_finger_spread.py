import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.finger_spread import FingerSpread
from synth.hand import ANGLE_INDEX, FINGERS, rest_pose

SPREAD = [20.0, 15.0, 10.0]
SHARE = {"index": 1.0, "middle": 0.0, "ring": 0.7, "little": 1.3}


@pytest.mark.parametrize(("side", "view"), [("right", "palm"), ("left", "back")])
def test_counts_spreads_and_measures_abduction(side, view):
    t = np.arange(0, 7, 1 / 30)
    base = rest_pose()
    for f in FINGERS:
        base[ANGLE_INDEX[f"{f}_mcp_abd"]] = 0.0
    tracks = {f"{f}_mcp_abd": (lambda tt, k=k: k * bumps(tt, [1.5, 3.5, 5.5], 1.4, SPREAD)) for f, k in SHARE.items()}
    s = series_from_poses(t, poses(t, base, **tracks), side=side, view=view)
    a = FingerSpread().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["spread_deg"] for r in a.reps], [2.3 * x for x in SPREAD], atol=2.0)
    for f, k in SHARE.items():
        assert a.metrics["max_abduction_deg"][f] == pytest.approx(20 * k, abs=2.0)
    assert_live_matches(FingerSpread(), s, a)
