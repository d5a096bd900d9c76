import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.pronation_supination import PronationSupination

PRO = [60.0, 55.0, 70.0]
SUP = [60.0, 65.0, 50.0]


def rotation(t):
    return bumps(t, [2.0, 5.0, 8.0], 1.0, PRO) - bumps(t, [3.2, 6.2, 9.0], 1.0, SUP)


@pytest.mark.parametrize(
    ("side", "view", "roll"), [("right", "back", -80.0), ("left", "back", -80.0), ("right", "side", 0.0)]
)
def test_counts_and_measures_both_directions(side, view, roll):
    t = np.arange(0, 10, 1 / 30)
    s = series_from_poses(t, poses(t, pronation=rotation), side=side, view=view, roll=roll)
    a = PronationSupination().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["pronation_deg"] for r in a.reps], PRO, atol=2.0)
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=2.0)
    assert a.metrics["max_pronation_deg"] == pytest.approx(70, abs=2)
    assert a.metrics["max_supination_deg"] == pytest.approx(65, abs=2)
    assert_live_matches(PronationSupination(), s, a)


def test_image_foreshortening_recovers_rotation_the_world_landmarks_miss():
    # Simulate MediaPipe's compressed depth: the world landmarks only see a third of the rotation,
    # the image (the true projection) sees all of it.
    t = np.arange(0, 10, 1 / 30)
    true = series_from_poses(t, poses(t, pronation=rotation), view="back")
    damped = series_from_poses(t, poses(t, pronation=lambda tt: rotation(tt) / 3), view="back")
    s = true.with_(world=damped.world)
    a = PronationSupination().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=3.0)


def test_rotation_keeps_its_sign_when_the_world_palm_flips_near_edge_on():
    # Near edge-on a monocular model can mirror the hand in depth for a few frames: the world palm normal
    # then flips; the rotation must not jump from -65 to +65 degrees.
    t = np.arange(0, 10, 1 / 30)
    s = series_from_poses(t, poses(t, pronation=rotation), view="back", roll=-80.0)
    world = s.world.copy()
    deep = rotation(t) < -55
    world[deep, :, 2] *= -1  # depth-mirrored frames
    a = PronationSupination().analyze(s.with_(world=world))
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=4.0)
    assert_live_matches(PronationSupination(), s.with_(world=world), a)
