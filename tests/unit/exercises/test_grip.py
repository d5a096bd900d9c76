import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.grip import FULL_FIST_DEG, Grip
from synth.hand import ANGLE_INDEX, FINGERS, rest_pose

CLOSURE = [1.0, 0.7, 0.45]


def fist_poses(t, closure=CLOSURE):
    base = rest_pose()
    for f in FINGERS:
        for j in ("mcp", "pip", "dip"):
            base[ANGLE_INDEX[f"{f}_{j}_flex"]] = 0.0
    c = bumps(t, [1.5, 3.5, 5.5], 1.4, closure)
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


def test_a_weak_hands_partial_fists_count_and_a_still_hand_does_not():
    # A 15 % fist moves the closure signal by ~12 points: about what MediaPipe reports for a half fist
    # curling toward the camera (it under-reads closure), and over the 10-point threshold.
    t = np.arange(0, 7, 1 / 30)
    s = series_from_poses(t, fist_poses(t, [0.15] * 3))
    a = Grip().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["closure_pct"] for r in a.reps], 15.0, atol=2.0)
    assert_live_matches(Grip(), s, a)
    # An open hand held still with 2 mm of landmark jitter (the closure signal jitters by ~6 points).
    still = series_from_poses(t, fist_poses(t, [0.0] * 3), noise_m=0.002, seed=1)
    assert Grip().analyze(still).reps == []


def test_a_fist_lost_by_the_tracker_at_its_peak_still_counts():
    # MediaPipe drops a tight fist seen from the back for about half a second: the closing was seen before
    # and the release after, so it is one fist (marked partly untracked).
    t = np.arange(0, 7, 1 / 30)
    lost = (t > 3.2) & (t < 3.8)
    s = series_from_poses(t, fist_poses(t), view="back", missing=lost)
    a = Grip().analyze(s)
    assert len(a.reps) == 3
    assert [r["partly_untracked"] for r in a.reps] == [False, True, False]
    assert_live_matches(Grip(), s, a)
    # Lost for longer than a second, the whole second fist included: nothing is invented in the gap.
    gone = (t > 2.7) & (t < 4.3)
    b = Grip().analyze(series_from_poses(t, fist_poses(t), view="back", missing=gone))
    assert len(b.reps) == 2
    assert all(not (2.7 < r["peak_s"] < 4.3) for r in b.reps)
