import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, run_live, series_from_poses

from exercises.registry import get_exercise
from exercises.wrist_flexion import WristFlexion

FLEX = [60.0, 50.0, 40.0]
EXT = [40.0, 45.0, 55.0]


def flexion(t):
    return bumps(t, [2.0, 5.0, 8.0], 1.2, FLEX) - bumps(t, [3.2, 6.2, 9.0], 1.0, EXT)


@pytest.fixture(scope="module")
def t():
    return np.arange(0, 10, 1 / 30)


@pytest.mark.parametrize(("side", "yaw"), [("right", -60.0), ("left", -60.0), ("right", 0.0)])
def test_counts_cycles_and_measures_peaks(t, side, yaw):
    s = series_from_poses(t, poses(t, wrist_flex=flexion), side=side, view="palm", yaw=yaw)
    a = WristFlexion().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["flexion_deg"] for r in a.reps], FLEX, atol=2.0)
    np.testing.assert_allclose([r["extension_deg"] for r in a.reps], EXT, atol=2.0)
    m = a.metrics
    assert m["max_flexion_deg"] == pytest.approx(60, abs=2) and m["max_extension_deg"] == pytest.approx(55, abs=2)
    assert m["rom_deg"] == pytest.approx(115, abs=3)
    assert m["reference"] == "neutral"
    for r in a.reps:
        assert {"start_s", "peak_s", "end_s", "duration_s", "sparc", "partly_untracked"} <= set(r)
        assert r["start_s"] < r["peak_s"] < r["end_s"] and r["sparc"] < 0 and not r["partly_untracked"]
    assert_live_matches(WristFlexion(), s, a)


def test_viewpoint_reliability_and_warning(t):
    edge = WristFlexion().analyze(series_from_poses(t, poses(t, wrist_flex=flexion), view="side"))
    face = WristFlexion().analyze(series_from_poses(t, poses(t, wrist_flex=flexion), view="palm"))
    assert edge.metrics["viewpoint_reliability"] > 0.9
    assert face.metrics["viewpoint_reliability"] < 0.2
    assert any("face-on" in w for w in face.warnings) and not any("face-on" in w for w in edge.warnings)


def test_forearm_reference_from_pose(t):
    # Forearm tilted away from the start pose: only a forearm reference gets the true angle.
    wf = lambda tt: 20.0 + flexion(tt)  # noqa: E731 - the patient starts flexed by 20 degrees
    s = series_from_poses(t, poses(t, wrist_flex=wf), view="side", forearm=True)
    a = WristFlexion().analyze(s)
    assert a.metrics["reference"] == "forearm"
    assert a.metrics["max_flexion_deg"] == pytest.approx(80, abs=2)
    assert_live_matches(WristFlexion(), s, a)
    neutral = WristFlexion().analyze(s.with_(forearm=None))
    assert neutral.metrics["reference"] == "neutral"
    assert neutral.metrics["max_flexion_deg"] == pytest.approx(60, abs=2)


def test_therapist_intervals_and_untracked_frames(t):
    missing = (t > 4.9) & (t < 5.0)
    s = series_from_poses(t, poses(t, wrist_flex=flexion), view="side", missing=missing)
    a = WristFlexion().analyze(s)
    assert len(a.reps) == 3
    assert [r["partly_untracked"] for r in a.reps] == [False, True, False]
    fixed = WristFlexion().analyze(s, reps=[(1.0, 3.9), (7.0, 9.8)])
    assert len(fixed.reps) == 2
    assert fixed.reps[1]["flexion_deg"] == pytest.approx(40, abs=2)
    assert fixed.reps[1]["extension_deg"] == pytest.approx(55, abs=2)


def test_small_slow_reps_count_and_jitter_does_not(t):
    slow = lambda tt: bumps(tt, [3.0, 7.0], 3.0, 18.0)  # noqa: E731 - weak patient: 18 degrees, slowly
    s = series_from_poses(t, poses(t, wrist_flex=slow), view="side", noise_m=0.0007, seed=1)
    assert len(WristFlexion().analyze(s).reps) == 2
    still = series_from_poses(t, poses(t), view="side", noise_m=0.0007, seed=2)
    a = WristFlexion().analyze(still)
    assert a.reps == [] and any("No repetitions" in w for w in a.warnings)


def test_registered_and_live_prompts(t):
    ex = get_exercise("wrist_flexion")
    assert getattr(ex, "needs_pose", False) is True  # how the pipeline asks for MediaPipe Pose
    s = series_from_poses(t[:60], poses(t[:60]), view="side")
    _, states = run_live(WristFlexion(), s)
    assert states[0].prompt is not None and "still" in states[0].prompt
    assert states[-1].prompt is None and np.isfinite(states[-1].value)


def test_face_on_flexion_recovered_from_image_foreshortening(t):
    # MediaPipe-like compressed depth: the world landmarks see a third of the motion toward the camera.
    true = series_from_poses(t, poses(t, wrist_flex=flexion), view="palm")
    damped = series_from_poses(t, poses(t, wrist_flex=lambda tt: flexion(tt) / 3), view="palm")
    a = WristFlexion().analyze(true.with_(world=damped.world))
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["flexion_deg"] for r in a.reps], FLEX, atol=3.0)
    np.testing.assert_allclose([r["extension_deg"] for r in a.reps], EXT, atol=3.0)
