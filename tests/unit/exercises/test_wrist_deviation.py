import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.wrist_deviation import WristDeviation

RADIAL = [18.0, 15.0, 20.0]
ULNAR = [28.0, 25.0, 30.0]


def deviation(t):
    return bumps(t, [2.0, 5.0, 8.0], 1.0, RADIAL) - bumps(t, [3.2, 6.2, 9.0], 1.0, ULNAR)


@pytest.mark.parametrize(("side", "view"), [("right", "palm"), ("left", "back")])
def test_counts_and_measures_radial_and_ulnar(side, view):
    t = np.arange(0, 10, 1 / 30)
    s = series_from_poses(t, poses(t, wrist_dev=deviation), side=side, view=view)
    a = WristDeviation().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["radial_deg"] for r in a.reps], RADIAL, atol=2.0)
    np.testing.assert_allclose([r["ulnar_deg"] for r in a.reps], ULNAR, atol=2.0)
    assert a.metrics["max_radial_deg"] == pytest.approx(20, abs=2)
    assert a.metrics["max_ulnar_deg"] == pytest.approx(30, abs=2)
    assert a.metrics["rom"]["wrist_dev"]["normal_positive_deg"] == 20
    assert a.metrics["viewpoint_reliability"] > 0.9
    assert_live_matches(WristDeviation(), s, a)


def test_edge_on_view_is_flagged():
    t = np.arange(0, 10, 1 / 30)
    a = WristDeviation().analyze(series_from_poses(t, poses(t, wrist_dev=deviation), view="side"))
    assert a.metrics["viewpoint_reliability"] < 0.2
    assert any("edge-on" in w for w in a.warnings)
