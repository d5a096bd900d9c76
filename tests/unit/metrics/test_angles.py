import numpy as np
import pytest

from metrics.angles import (
    FLEXION_NAMES,
    JOINT_ANGLE_NAMES,
    compute_finger_angles,
    compute_hand_orientation,
    compute_palm_frame,
    compute_roll,
    compute_wrist_angles,
    signed_angle,
    tip_distances,
    viewpoint_reliability,
)
from synth.hand import ANGLE_INDEX, FINGERS, HandShape, forward_kinematics, rest_pose, rotation_from_euler

FINGER_JOINTS = [f"{f}_{j}_flex" for f in FINGERS for j in ("mcp", "pip", "dip")]


def random_pose(rng: np.random.Generator) -> np.ndarray:
    p = rest_pose()
    for f in FINGERS:
        p[ANGLE_INDEX[f"{f}_mcp_flex"]] = rng.uniform(-30, 90)
        p[ANGLE_INDEX[f"{f}_pip_flex"]] = rng.uniform(-5, 105)
        p[ANGLE_INDEX[f"{f}_dip_flex"]] = rng.uniform(-5, 80)
        p[ANGLE_INDEX[f"{f}_mcp_abd"]] = rng.uniform(-10, 25)
    for name, lo, hi in (
        ("thumb_cmc_flex", -20, 40),
        ("thumb_cmc_abd", 0, 50),
        ("thumb_cmc_rot", -20, 20),
        ("thumb_mcp_flex", -10, 50),
        ("thumb_ip_flex", -15, 80),
        ("wrist_flex", -70, 70),
        ("wrist_dev", -30, 20),
        ("pronation", -80, 80),
    ):
        p[ANGLE_INDEX[name]] = rng.uniform(lo, hi)
    return p


def place(poses: np.ndarray, side: str, root: np.ndarray, scale: float = 1.0) -> np.ndarray:
    shape = HandShape(side=side, size=scale)
    return np.stack([forward_kinematics(p, shape, root, np.zeros(3), with_prims=False).joints for p in poses])


@pytest.fixture(scope="module")
def random_hands():
    rng = np.random.default_rng(7)
    out = []
    for side in ("right", "left"):
        poses = np.stack([random_pose(rng) for _ in range(60)])
        root = rotation_from_euler(*rng.uniform(-60, 60, 3))
        out.append((side, poses, root, place(poses, side, root)))
    return out


def test_finger_flexion_matches_the_kinematic_truth(random_hands):
    for side, poses, _, world in random_hands:
        a = compute_finger_angles(world, handedness=side)
        for name in [*FINGER_JOINTS, "thumb_mcp_flex", "thumb_ip_flex"]:
            err = a[name] - poses[:, ANGLE_INDEX[name]]
            assert np.abs(err).max() < 2.0, (side, name, np.abs(err).max())


def test_thumb_palmar_abduction_matches_the_truth(random_hands):
    for side, poses, _, world in random_hands:
        a = compute_finger_angles(world, handedness=side)
        assert np.abs(a["thumb_cmc_abd"] - poses[:, ANGLE_INDEX["thumb_cmc_abd"]]).max() < 2.0


def test_abduction_changes_match_the_truth():
    # Abduction is measured from the middle metacarpal axis, so compare changes, with the fingers straight.
    t_abd = np.linspace(-10, 25, 8)
    poses = np.tile(rest_pose(), (len(t_abd), 1))
    for f in FINGERS:
        poses[:, ANGLE_INDEX[f"{f}_mcp_abd"]] = t_abd
    for side in ("right", "left"):
        a = compute_finger_angles(place(poses, side, rotation_from_euler(20, -30, 10)), handedness=side)
        for f in FINGERS:
            got = a[f"{f}_mcp_abd"] - a[f"{f}_mcp_abd"][0]
            np.testing.assert_allclose(got, t_abd - t_abd[0], atol=2.0)


def test_flexion_positive_hyperextension_negative():
    poses = np.tile(rest_pose(), (2, 1))
    poses[0, ANGLE_INDEX["index_mcp_flex"]] = 40
    poses[1, ANGLE_INDEX["index_mcp_flex"]] = -25
    for side in ("right", "left"):
        a = compute_finger_angles(place(poses, side, np.eye(3)), handedness=side)
        assert a["index_mcp_flex"][0] == pytest.approx(40, abs=1)
        assert a["index_mcp_flex"][1] == pytest.approx(-25, abs=1)


def test_angles_do_not_depend_on_camera_distance_rotation_or_hand_size(random_hands):
    side, poses, root, world = random_hands[0]
    base = compute_finger_angles(world, handedness=side)
    r2 = rotation_from_euler(33, -12, 70)
    moved = place(poses, side, r2 @ root, scale=1.3) + np.array([0.1, -0.2, 0.8])
    other = compute_finger_angles(moved, handedness=side)
    for name in JOINT_ANGLE_NAMES:
        np.testing.assert_allclose(other[name], base[name], atol=1e-6)


def test_untracked_frames_are_nan():
    world = place(np.tile(rest_pose(), (3, 1)), "right", np.eye(3))
    world[1] = np.nan
    a = compute_finger_angles(world, handedness="right")
    for name in FLEXION_NAMES:
        assert np.isnan(a[name][1]) and np.isfinite(a[name][[0, 2]]).all()


def test_wrist_angles_against_the_forearm(random_hands):
    for side, poses, root, world in random_hands:
        mirror = np.diag([HandShape(side=side).mirror, 1.0, 1.0])
        forearm = root @ mirror @ np.array([0.0, 1.0, 0.0])  # elbow -> wrist axis
        w = compute_wrist_angles(world, handedness=side, forearm=forearm)
        np.testing.assert_allclose(w.flexion, poses[:, ANGLE_INDEX["wrist_flex"]], atol=2.0)
        np.testing.assert_allclose(w.deviation, poses[:, ANGLE_INDEX["wrist_dev"]], atol=4.0)


def test_palm_frame_and_orientation_for_known_views():
    palm_view = np.column_stack([(1, 0, 0), (0, -1, 0), (0, 0, -1)]).astype(float)  # palm faces the camera
    back_view = np.column_stack([(-1, 0, 0), (0, -1, 0), (0, 0, 1)]).astype(float)
    for side in ("right", "left"):
        m = np.diag([-1.0, 1.0, 1.0]) if side == "left" else np.eye(3)
        for root, facing in ((palm_view, 0.0), (back_view, 180.0)):
            world = place(rest_pose()[None], side, m @ root @ m)
            frame = compute_palm_frame(world, handedness=side)
            np.testing.assert_allclose(frame.u[0], [0, -1, 0], atol=1e-6)  # fingers up in the image
            o = compute_hand_orientation(world, handedness=side)
            assert o["palm_facing_deg"][0] == pytest.approx(facing, abs=1.0)


def test_roll_follows_pronation_and_is_positive_for_supination():
    p = np.tile(rest_pose(), (5, 1))
    p[:, ANGLE_INDEX["pronation"]] = [0, 30, 60, -40, -80]
    for side in ("right", "left"):
        world = place(p, side, rotation_from_euler(10, 20, -30))
        n0 = compute_palm_frame(world[:1], handedness=side).n[0]
        roll = compute_roll(world, handedness=side, reference_normal=n0)
        np.testing.assert_allclose(roll, -p[:, ANGLE_INDEX["pronation"]], atol=0.5)


def test_viewpoint_reliability_of_wrist_flexion():
    side_view = np.column_stack([(0, 0, -1), (0, -1, 0), (-1, 0, 0)]).astype(float)
    palm_view = np.column_stack([(1, 0, 0), (0, -1, 0), (0, 0, -1)]).astype(float)
    fa = np.array([0.0, -1.0, 0.0])
    edge = compute_wrist_angles(place(rest_pose()[None], "right", side_view), handedness="right", forearm=fa)
    face = compute_wrist_angles(place(rest_pose()[None], "right", palm_view), handedness="right", forearm=fa)
    assert edge.flexion_reliability[0] > 0.95 and face.flexion_reliability[0] < 0.1
    assert face.deviation_reliability[0] > 0.95
    assert viewpoint_reliability(np.array([[0.0, 0.0, 2.0]]))[0] == pytest.approx(1.0)


def test_signed_angle_sign_and_projection():
    a, b = np.array([1.0, 0, 0]), np.array([0, 1.0, 0.3])
    assert signed_angle(a, b, np.array([0, 0, 1.0])) == pytest.approx(90)
    assert signed_angle(b, a, np.array([0, 0, 1.0])) == pytest.approx(-90)


def test_tip_distances_are_in_palm_lengths():
    world = place(rest_pose()[None], "right", np.eye(3), scale=1.4)
    d_big = tip_distances(world)
    d_ref = tip_distances(place(rest_pose()[None], "right", np.eye(3)))
    for f in FINGERS:
        assert d_big[f][0] == pytest.approx(d_ref[f][0], rel=1e-9)
        assert 0.3 < d_ref[f][0] < 2.0
