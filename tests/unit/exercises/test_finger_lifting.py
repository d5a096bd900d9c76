import numpy as np
import pytest
from handkin import assert_live_matches, series_from_poses

from exercises.finger_lifting import FingerLifting, individuation_index, lift_angle
from synth.hand import FINGERS, HandShape
from synth.scripts import make_motion


@pytest.fixture(scope="module", params=[("right", "back", -20.0), ("left", "side", 0.0)])
def clip(request):
    side, view, pitch = request.param
    m = make_motion("finger_lifting", HandShape(side=side), np.random.default_rng(3), lifts=2, coupling_scale=1.0)
    return m, series_from_poses(m.t, m.pose, side=side, view=view, pitch=pitch)


def test_counts_lifts_per_finger_and_angles(clip):
    m, s = clip
    a = FingerLifting().analyze(s)
    assert [r["finger"] for r in a.reps] == [r["finger"] for r in m.reps]
    assert a.metrics["lifts_per_finger"] == m.metrics["lifts_per_finger"]
    for f in FINGERS:
        assert a.metrics["lift_angle_deg"][f] == pytest.approx(m.metrics["lift_angle_deg"][f], abs=2.0)
        assert a.metrics["individuation_index"][f] == pytest.approx(m.metrics["individuation_index"][f], abs=0.03)
    assert_live_matches(FingerLifting(), s, a)


def test_lift_seen_only_in_the_image_is_measured():
    # MediaPipe-like failure: the world landmarks keep the fingers on the table, the image shows the lift.
    # Seen from 20 degrees above the back of the hand, a lift of about 30 degrees brings the finger close
    # to parallel to the image, where the foreshortening estimate is exact; it is approximate elsewhere.
    m = make_motion("finger_lifting", HandShape(), np.random.default_rng(3), lifts=1, lift_deg=30.0)
    s = series_from_poses(m.t, m.pose, view="back", pitch=-20.0)
    flat = series_from_poses(m.t, np.repeat(m.pose[:1], len(m.t), axis=0), view="back", pitch=-20.0)
    a = FingerLifting().analyze(s.with_(world=flat.world))
    assert [r["finger"] for r in a.reps] == list(FINGERS)
    assert a.metrics["lift_source"] == "image"
    for f in FINGERS:
        assert a.metrics["lift_angle_deg"][f] == pytest.approx(m.metrics["lift_angle_deg"][f], abs=9.0)


def test_individuation_index_formula():
    t = np.arange(100.0)
    x = np.sin(t / 10) ** 2 * 30
    from exercises.common import RepSpan

    spans = [RepSpan(0, 15, 31, 0.0, 15.0, 31.0, {"finger": "ring"})]
    lifts = {"index": 0.1 * x, "middle": -0.3 * x, "ring": x, "little": 0.5 * x}
    got = individuation_index(lifts, spans)
    assert got["ring"] == pytest.approx(1 - (0.1 + 0.3 + 0.5) / 3)
    assert np.isnan(got["index"])


def test_lift_angle_combines_world_and_image():
    assert float(lift_angle(25.0, 0.0)) == pytest.approx(25.0)
    assert float(lift_angle(2.0, 1 / np.cos(np.radians(30)) - 1)) == pytest.approx(30.0)
    assert float(lift_angle(2.0, np.cos(np.radians(20)) - 1)) == pytest.approx(20.0)
    assert float(lift_angle(np.nan, 0.01, dead_zone=0.02)) == 0.0
