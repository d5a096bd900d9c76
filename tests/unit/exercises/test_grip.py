import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.grip import FULL_FIST_DEG, Grip
from synth.hand import ANGLE_INDEX, FINGERS, rest_pose

CLOSURE = [1.0, 0.7, 0.45]


def fist_poses(t):
    base = rest_pose()
    for f in FINGERS:
        for j in ("mcp", "pip", "dip"):
            base[ANGLE_INDEX[f"{f}_{j}_flex"]] = 0.0
    c = bumps(t, [1.5, 3.5, 5.5], 1.4, CLOSURE)
    tracks = {f"{f}_{j}_flex": FULL_FIST_DEG[j] * c for f in FINGERS for j in ("mcp", "pip", "dip")}
    return poses(t, base, **tracks)


@pytest.mark.parametrize(("side", "view"), [("right", "palm"), ("left", "back")])
def test_counts_fists_and_measures_closure(side, view):
    t = np.arange(0, 7, 1 / 30)
    s = series_from_poses(t, fist_poses(t), side=side, view=view)
    a = Grip().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["closure_pct"] for r in a.reps], [100 * c for c in CLOSURE], atol=2.0)
    np.testing.assert_allclose([r["mcp_flex_deg"] for r in a.reps], [85 * c for c in CLOSURE], atol=2.0)
    # The open hand reads ~3 % (unsigned MCP angles include the metacarpal line's offset), hence 10 degrees.
    np.testing.assert_allclose([r["rom_deg"] for r in a.reps], [245 * c for c in CLOSURE], atol=10.0)
    assert a.metrics["closure_pct_max"] == pytest.approx(100, abs=2)
    assert a.metrics["rom"]["index_pip_flex"]["max_deg"] == pytest.approx(100, abs=2)
    assert a.reps[0]["end_s"] < a.reps[1]["start_s"]  # each fist ends when the hand is open again
    assert_live_matches(Grip(), s, a)
