import math
from dataclasses import replace

import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, run_live, series_from_poses

from exercises.common import estimate_reference, neutral_from_range, series_frames
from exercises.registry import get_exercise
from exercises.wrist_flexion import PalmSide, WristFlexion, hold_palm_side, image_flexion, image_weight
from tracking.series import MIDDLE_MCP, WRIST

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


def _depth_reversed(s):
    """MediaPipe's world model seen from the thumb side: the depth of the hand mirrored, the image model's not."""
    return s.with_(world=s.world * np.array([1.0, 1.0, -1.0]))


@pytest.mark.parametrize(("side", "yaw"), [("right", 60.0), ("left", 60.0), ("right", -60.0)])
def test_depth_reversed_world_landmarks_measured_from_the_image(t, side, yaw):
    # A mirrored depth turns the palm the other way: the world angle reads flexion as extension. The
    # image landmarks' own depth turns it the right way, and the image rotation gives the angle.
    true = series_from_poses(t, poses(t, wrist_flex=flexion), side=side, view="palm", yaw=yaw)
    s = _depth_reversed(true)
    a = WristFlexion().analyze(s)
    world = a.signals[[sig.name for sig in a.signals].index("world_flexion")].value
    assert np.nanmax(world) == pytest.approx(max(EXT), abs=3.0)  # the world angle alone is mirrored
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["flexion_deg"] for r in a.reps], FLEX, atol=2.0)
    np.testing.assert_allclose([r["extension_deg"] for r in a.reps], EXT, atol=2.0)
    assert a.metrics["viewpoint_reliability"] == pytest.approx(np.sin(np.radians(abs(yaw))), abs=0.05)
    assert a.metrics["reference"] == "neutral"
    assert_live_matches(WristFlexion(), s, a)
    # Where both depths agree the world angle is kept: same answer.
    b = WristFlexion().analyze(true)
    np.testing.assert_allclose([r["flexion_deg"] for r in b.reps], FLEX, atol=2.0)


def test_image_flexion_is_the_rotation_about_the_hold_flexion_axis():
    # Weak perspective, any scale and image direction: the hand axis u (in the image plane) turned by a
    # toward the palm normal n, whose image-plane part is ``side`` across the hand's outline.
    phi, side = np.radians(25.0), 0.8
    u = np.array([np.sin(phi), -np.cos(phi), 0.0])
    across = np.array([-u[1], u[0], 0.0])  # the image normal of u (+90 degrees in image axes)
    n = side * across + np.sqrt(1 - side**2) * np.array([0.0, 0.0, -1.0])
    a = np.radians(np.linspace(-80, 85, 34))
    hand = np.cos(a)[:, None] * u + np.sin(a)[:, None] * n
    image = np.zeros((len(a), 21, 2))
    image[:, WRIST] = [320.0, 400.0]
    image[:, MIDDLE_MCP] = image[:, WRIST] + 180.0 * hand[:, :2]
    hold = image[np.argmin(np.abs(a))].copy()
    hold[MIDDLE_MCP] = hold[WRIST] + 180.0 * u[:2]
    np.testing.assert_allclose(image_flexion(image, hold, side), np.degrees(a), atol=1e-9)
    np.testing.assert_allclose(image_flexion(image * 0.5, hold * 0.5, side), np.degrees(a), atol=1e-9)
    # the palm on the other side of the outline: the same image reads the other way
    np.testing.assert_allclose(image_flexion(image, hold, -side), -np.degrees(a), atol=1e-9)
    assert np.isnan(image_flexion(image, hold, 0.0)).all()  # face-on: the turn is all depth


@pytest.mark.parametrize("side", ["right", "left"])
def test_hold_palm_side_from_both_depths(t, side):
    s = series_from_poses(t[:40], poses(t[:40]), side=side, view="palm", yaw=60.0)
    ref = estimate_reference(
        s.t, series_frames(s), handedness=side, present=s.present, reference_s=WristFlexion.reference_s
    )
    assert ref is not None
    palm = hold_palm_side(ref, handedness=side)
    assert palm is not None and palm.world_agrees
    assert abs(palm.world) == pytest.approx(np.sin(np.radians(60)), abs=0.02)
    assert palm.image == pytest.approx(palm.world, abs=1e-6) and palm.magnitude == pytest.approx(abs(palm.world))
    assert image_weight(palm) == pytest.approx((abs(palm.world) - 0.5) / 0.4)
    # mirrored world depth: the sides disagree, the image model's is kept and the image rotation alone is used
    rev = _depth_reversed(s)
    ref_rev = estimate_reference(
        rev.t, series_frames(rev), handedness=side, present=rev.present, reference_s=WristFlexion.reference_s
    )
    assert ref_rev is not None
    mirrored = hold_palm_side(ref_rev, handedness=side)
    assert mirrored is not None and not mirrored.world_agrees and image_weight(mirrored) == 1.0
    assert mirrored.world == pytest.approx(-palm.world, abs=1e-6) and mirrored.value == pytest.approx(palm.image)
    # without the image depth the fingers' resting curl still shows the palm side (the thumb is behind the hand)
    alone = hold_palm_side(replace(ref_rev, depth=None), handedness=side)
    assert alone is not None and np.isnan(alone.image) and alone.curl_decides and not alone.world_agrees
    assert alone.value == pytest.approx(palm.world)
    # a hand that was not held still shows no resting curl: only the world model's side is known then
    moving = hold_palm_side(replace(ref_rev, depth=None, still=False), handedness=side)
    assert moving is not None and np.isnan(moving.curl) and moving.world_agrees
    assert moving.value == pytest.approx(mirrored.world)


@pytest.mark.parametrize("side", ["right", "left"])
def test_from_the_little_finger_side_the_resting_curl_shows_the_palm_side(t, side):
    # Both of MediaPipe's depths put the palm on the wrong side of the hand's outline: flexion would read as
    # extension. From the little-finger side the fingers' resting curl toward the palm is seen in profile.
    ulnar = series_from_poses(t, poses(t, wrist_flex=flexion), side=side, view="palm", yaw=60.0)
    wrong = ulnar.with_(world=ulnar.world * [1.0, 1.0, -1.0], image=ulnar.image * [1.0, 1.0, -1.0])
    a = WristFlexion().analyze(wrong)
    np.testing.assert_allclose([r["flexion_deg"] for r in a.reps], FLEX, atol=2.0)
    np.testing.assert_allclose([r["extension_deg"] for r in a.reps], EXT, atol=2.0)
    assert_live_matches(WristFlexion(), wrong, a)
    # From the thumb side the fingers hide each other and the thumb is beside the hand: the curl says nothing.
    radial = series_from_poses(t[:40], poses(t[:40]), side=side, view="palm", yaw=-60.0)
    ref = estimate_reference(
        radial.t, series_frames(radial), handedness=side, present=radial.present, reference_s=WristFlexion.reference_s
    )
    assert ref is not None
    palm = hold_palm_side(ref, handedness=side)
    assert palm is not None and np.isnan(palm.curl)


def test_palm_side_where_the_models_disagree():
    # Opposite sides: the hand is taken as at least half-way to edge-on, on the image model's side.
    wavering = PalmSide(world=-0.55, image=0.05)
    assert not wavering.world_agrees and wavering.magnitude == pytest.approx(np.sqrt(0.5))
    assert wavering.value == pytest.approx(np.sqrt(0.5))
    squashed = PalmSide(world=0.1, image=0.85)  # same side, but the world model sees the palm face-on
    assert not squashed.world_agrees and squashed.value == pytest.approx(0.85)
    near = PalmSide(world=0.7, image=0.6)
    assert near.world_agrees and near.value == pytest.approx(0.7)


def test_a_hand_already_moving_when_it_comes_into_view_is_reported():
    # The neutral hold happens out of view: the hand appears mid-movement, sliding in from the side.
    t = np.arange(0, 10, 1 / 30)
    still = series_from_poses(t, poses(t, wrist_flex=flexion), view="palm", yaw=-60.0)
    assert not any("already moving" in w for w in WristFlexion().analyze(still).warnings)
    moving = series_from_poses(t, poses(t, wrist_flex=flexion), view="palm", yaw=-60.0, missing=t < 1.2)
    image = moving.image.copy()
    image[..., 0] += (0.3 * np.clip(1.0 - (t - 1.2) / 1.0, 0.0, 1.0))[:, None]
    a = WristFlexion().analyze(moving.with_(image=image))
    assert any("already moving when it came into view" in w for w in a.warnings)
    # Neutral is estimated from the range moved through: the reps stay, the peaks are not tens of degrees off.
    s = WristFlexion().analyze(still)
    assert a.metrics["neutral_from_range"] and len(a.reps) == len(s.reps)
    for key in ("max_flexion_deg", "max_extension_deg"):
        assert a.metrics[key] == pytest.approx(s.metrics[key], abs=8.0)  # 25-27 deg off against the moving hand


def test_neutral_from_range_takes_the_same_share_of_normal_both_ways():
    x = np.concatenate([np.linspace(-70, 80, 200), np.linspace(80, -70, 200)])  # 80 flexion, 70 extension
    assert neutral_from_range(x + 40.0, "wrist_flex") == pytest.approx(40.0, abs=1.0)
    assert neutral_from_range(x + 40.0, "unknown") == pytest.approx(45.0, abs=1.0)  # the middle
    assert math.isnan(neutral_from_range(np.full(5, np.nan), "wrist_flex"))
