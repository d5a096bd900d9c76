import numpy as np
import pytest
from handkin import assert_live_matches, bumps, poses, series_from_poses

from exercises.common import compute_channels, run_stage
from exercises.pronation_supination import PronationSupination, RotationTracker, palm_width_ratio
from metrics.angles import compute_facing_roll, compute_palm_frame
from tracking.series import LandmarkSeries

PRO = [60.0, 55.0, 70.0]
SUP = [60.0, 65.0, 50.0]
T = np.arange(0, 10, 1 / 30)


def rotation(t):
    return bumps(t, [2.0, 5.0, 8.0], 1.0, PRO) - bumps(t, [3.2, 6.2, 9.0], 1.0, SUP)


def compressed_world(side: str = "right", gain: float = 1 / 3, **view) -> LandmarkSeries:
    """The true image, with world landmarks that turn only ``gain`` as far (a monocular model's compressed depth)."""
    true = series_from_poses(T, poses(T, pronation=rotation), side=side, view="back", **view)
    damped = series_from_poses(T, poses(T, pronation=lambda tt: gain * rotation(tt)), side=side, view="back", **view)
    return true.with_(world=damped.world)


def mirror_in_depth(s: LandmarkSeries, frames: np.ndarray) -> LandmarkSeries:
    """What a monocular model does when it mistakes the palm for the back: the same image outline with the
    index and little-finger sides swapped (mirrored across the palm's axis), and the world hand mirrored in depth.
    """
    world, image = s.world.copy(), s.image.copy()
    w = world[frames]
    r = compute_palm_frame(w, handedness=s.handedness).r[:, None]
    centre = w[:, [0, 5, 9, 13, 17]].mean(axis=1, keepdims=True)
    w = w - 2 * np.sum((w - centre) * r, axis=-1, keepdims=True) * r  # radial <-> ulnar
    w[..., 2] *= -1  # palm <-> back
    world[frames] = w
    px = image[frames, :, :2] * [s.width, s.height]
    axis = px[:, 9] - px[:, 0]
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    rel = px - px[:, :1]
    px = px[:, :1] + 2 * np.sum(rel * axis[:, None], axis=-1, keepdims=True) * axis[:, None] - rel
    image[frames, :, :2] = px / [s.width, s.height]
    return s.with_(world=world, image=image)


@pytest.mark.parametrize(
    ("side", "view", "roll"), [("right", "back", -80.0), ("left", "back", -80.0), ("right", "side", 0.0)]
)
def test_counts_and_measures_both_directions(side, view, roll):
    s = series_from_poses(T, poses(T, pronation=rotation), side=side, view=view, roll=roll)
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
    s = compressed_world(roll=0.0)
    a = PronationSupination().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=3.0)
    np.testing.assert_allclose([r["pronation_deg"] for r in a.reps], PRO, atol=3.0)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("pitch", [25.0, -25.0])
def test_forearm_pointing_toward_or_away_from_the_camera(side, pitch):
    # The forearm's axis out of the image plane: the palm's image length is foreshortened, its width
    # still follows cos(psi); the world's direction of rotation, a third of its size, gives the side.
    s = compressed_world(side, pitch=pitch, roll=-80.0)
    a = PronationSupination().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["pronation_deg"] for r in a.reps], PRO, atol=3.0)
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=3.0)
    assert_live_matches(PronationSupination(), s, a)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("turned", [30.0, -30.0])
def test_start_turned_away_from_square_on(side, turned):
    # Seen 30° round the forearm, the palm faces the camera squarely only halfway through one direction:
    # its widest image there gives K and the start's own angle, acos(width0 / K) = 30°, and the peak on that
    # side is only 30° from square-on, where the dead zone near square-on costs a few degrees.
    s = series_from_poses(T, poses(T, pronation=rotation), side=side, view="back", yaw=turned, roll=-80.0)
    a = PronationSupination().analyze(s)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["pronation_deg"] for r in a.reps], PRO, atol=6.0)
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=6.0)
    assert_live_matches(PronationSupination(), s, a)


def test_rotation_keeps_its_sign_when_the_world_palm_flips_near_edge_on():
    # Near edge-on a monocular model can mirror the hand in depth for a few frames: the world palm normal
    # then flips; the rotation must not jump from -65 to +65 degrees.
    s = series_from_poses(T, poses(T, pronation=rotation), view="back", roll=-80.0)
    world = s.world.copy()
    deep = rotation(T) < -55
    world[deep, :, 2] *= -1  # depth-mirrored frames
    a = PronationSupination().analyze(s.with_(world=world))
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=4.0)
    assert_live_matches(PronationSupination(), s.with_(world=world), a)


@pytest.mark.parametrize("view", [{"roll": -80.0}, {"yaw": 30.0, "roll": -80.0}, {"pitch": 25.0, "roll": -80.0}])
def test_hand_mirrored_in_depth_during_the_hold_and_now_and_then(view):
    # Most of the start hold and one frame in twenty mistaken for the other face: the hold's majority is wrong,
    # the steadily tracked movement corrects it, and mirrored frames keep their (unchanged) size.
    s = series_from_poses(T, poses(T, pronation=rotation), view="back", **view)
    rng = np.random.default_rng(1)
    frames = ((rng.random(len(T)) < 0.6) & (T < 1.0)) | (rng.random(len(T)) < 0.05)
    m = mirror_in_depth(s, frames)
    np.testing.assert_allclose(
        compute_facing_roll(m.world, handedness="right"), compute_facing_roll(s.world, handedness="right"), atol=1e-9
    )
    a = PronationSupination().analyze(m)
    assert len(a.reps) == 3
    np.testing.assert_allclose([r["pronation_deg"] for r in a.reps], PRO, atol=6.0)
    np.testing.assert_allclose([r["supination_deg"] for r in a.reps], SUP, atol=6.0)
    assert_live_matches(PronationSupination(), m, a)


def test_start_the_tracking_cannot_make_sense_of_counts_no_reps():
    # During the hold and the rests the model jumps between unrelated orientations from frame to frame;
    # the rotation holds its value there instead of counting the jumps.
    s = series_from_poses(T, poses(T, pronation=rotation), view="back", roll=-80.0)
    rng = np.random.default_rng(2)
    still = (np.abs(rotation(T)) < 1.0) & (rng.random(len(T)) < 0.5)
    chaos = series_from_poses(T, poses(T, pronation=lambda tt: rng.uniform(-80, 80, len(tt))), view="back", roll=-80)
    world, image = s.world.copy(), s.image.copy()
    world[still], image[still] = chaos.world[still], chaos.image[still]
    j = s.with_(world=world, image=image)
    a = PronationSupination().analyze(j)
    assert len(a.reps) == 3
    assert_live_matches(PronationSupination(), j, a)


def test_palm_width_is_the_mcp_line_across_the_axis_and_signed_by_the_face_seen():
    back = series_from_poses(T[:1], poses(T[:1]), view="back")
    palm = series_from_poses(T[:1], poses(T[:1]), view="palm")
    px = np.array([back.width, back.height])
    w_back = palm_width_ratio(back.image[:, :, :2] * px)
    w_palm = palm_width_ratio(palm.image[:, :, :2] * px)
    assert w_back[0] > 0.3 and w_palm[0] == pytest.approx(-w_back[0])
    edge = series_from_poses(T[:1], poses(T[:1]), view="side")
    assert abs(palm_width_ratio(edge.image[:, :, :2] * px)[0]) < 0.1


def test_tracker_learns_the_view_then_measures_with_it():
    s = compressed_world(gain=0.7, yaw=30.0, roll=-80.0)  # the start offset: mean of the image's 30, world's 21
    ex = PronationSupination()
    prep, detect = ex.prepare(s)
    causal = RotationTracker()
    raw, _ = compute_channels(s, ex.channels, reference_s=ex.reference_s)
    run_stage(causal, s.t, raw)
    cal = causal.calibration()
    assert cal is not None and cal.uses_image
    assert cal.psi0 == pytest.approx(30.0, abs=6.0)  # the start, turned 30° toward pronation from square-on
    assert cal.face == 1.0  # the back of the hand toward the camera
    hold = s.t <= 1.0  # the start defines the zero (the measurement, centred, leads the detector by 2 frames)
    np.testing.assert_allclose(detect["pronation"][hold], 0.0)
    np.testing.assert_allclose(prep.raw["pronation"][hold][:-2], 0.0)


def test_a_hand_mirrored_at_full_width_does_not_turn_the_palm_over():
    # Rendered (forearm seen obliquely): near the end of a pronation MediaPipe collapsed the palm for a frame,
    # then mirrored the hand for three frames at full width (+0.26 -> -0.38) and back (-0.46 -> +0.45). The
    # palm never passed edge-on, so the rest after it is the start position again, not 180 degrees from it.
    t = np.arange(0.0, 4.0, 1 / 30)
    turn = np.clip((t - 1.2) / 0.4, 0.0, 1.0) - np.clip((t - 2.0) / 0.4, 0.0, 1.0)  # 0 -> 1 -> 0
    width = 0.46 - 0.28 * turn
    glitch = int(np.searchsorted(t, 2.1))
    width[glitch : glitch + 5] = [0.04, 0.26, -0.38, -0.44, -0.46]
    roll = 8.0 + 48.0 * turn
    tracker = RotationTracker()
    out = [
        tracker.update(float(ti), {"palm_width": w, "facing_roll": r, "world_pronation": r - 8.0})["pronation"]
        for ti, w, r in zip(t, width, roll, strict=True)
    ]
    assert max(out[:glitch]) > 40.0
    assert abs(out[-1]) < 10.0
