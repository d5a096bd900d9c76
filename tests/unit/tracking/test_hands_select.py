"""tracking.hands without MediaPipe: handedness convention, track identity and the choice of scored hand."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.hands import (
    HandDetection,
    HandTracker,
    anatomical_handedness,
    assign_tracks,
    choose_hand,
    thumb_chirality,
)
from tracking.series import Handedness

# A flat open hand template (normalized units, wrist at the origin, fingers up), about 0.1 across.
_TEMPLATE = np.zeros((21, 3))
for d, x in enumerate((-0.05, -0.02, 0.0, 0.02, 0.04)):  # thumb, index, middle, ring, little
    for k in range(4):
        _TEMPLATE[1 + 4 * d + k, :2] = (x * (1 + 0.2 * k), -0.04 - 0.025 * k)


def hand_at(x: float, y: float, who: Handedness, *, score: float = 0.9, curl: float = 0.0) -> HandDetection:
    img = _TEMPLATE.copy()
    img[5:, 1] *= 1 - curl  # curling fingers shortens them (articulation, not translation)
    img[:, 0] += x
    img[:, 1] += y
    return HandDetection(image=img, world=img * 0.5, score=score, handedness=who)


def test_mediapipe_label_is_swapped_on_unmirrored_frames() -> None:
    # MediaPipe assumes a mirrored selfie image; camera files are not mirrored.
    assert anatomical_handedness("Left") == "right"
    assert anatomical_handedness("Right") == "left"
    assert anatomical_handedness("Left", mirrored=True) == "left"
    assert anatomical_handedness("Right", mirrored=True) == "right"


def test_tracks_follow_two_hands_that_swap_list_order() -> None:
    t = np.arange(6) / 30
    frames = []
    for i in range(6):
        a, b = hand_at(0.3 + 0.01 * i, 0.5, "left"), hand_at(0.7 - 0.01 * i, 0.5, "right")
        frames.append([a, b] if i % 2 == 0 else [b, a])  # MediaPipe's order is arbitrary
    ids = assign_tracks(t, frames)
    left_ids = {ids[i][frames[i].index(next(d for d in frames[i] if d.handedness == "left"))] for i in range(6)}
    right_ids = {ids[i][frames[i].index(next(d for d in frames[i] if d.handedness == "right"))] for i in range(6)}
    assert len(left_ids) == 1 and len(right_ids) == 1 and left_ids != right_ids


def test_a_far_jump_or_a_long_gap_starts_a_new_track() -> None:
    t = np.array([0.0, 0.033, 0.066, 2.0])
    frames = [
        [hand_at(0.2, 0.5, "left")],
        [hand_at(0.21, 0.5, "left")],
        [hand_at(0.9, 0.5, "left")],
        [hand_at(0.9, 0.5, "left")],
    ]
    ids = [f[0] for f in assign_tracks(t, frames)]
    assert ids[0] == ids[1] and ids[2] != ids[1] and ids[3] != ids[2]


def test_single_hand_keeps_every_frame_and_majority_handedness() -> None:
    t = np.arange(10) / 30
    frames: list[list[HandDetection]] = [[hand_at(0.5, 0.5, "right" if i != 3 else "left")] for i in range(10)]
    frames[5] = []  # lost for a frame
    res = choose_hand(t, frames, hand="auto")
    assert res.handedness == "right" and res.warnings == []
    assert (res.index >= 0).sum() == 9 and res.index[5] == -1


def test_requested_hand_overrides_a_disagreeing_label_with_a_warning() -> None:
    t = np.arange(5) / 30
    frames = [[hand_at(0.5, 0.5, "right")] for _ in range(5)]
    res = choose_hand(t, frames, hand="left")
    assert res.handedness == "left" and (res.index == 0).all()
    assert len(res.warnings) == 1 and "left" in res.warnings[0]


@pytest.mark.parametrize("requested", ["left", "right"])
def test_two_hands_keep_the_requested_one_consistently(requested: Handedness) -> None:
    t = np.arange(20) / 30
    frames = []
    for i in range(20):
        left = hand_at(0.3, 0.5, "left")
        right = hand_at(0.7, 0.5, "right" if i != 7 else "left")  # one wrong label mid-way
        frames.append([right, left] if i % 3 else [left, right])
    res = choose_hand(t, frames, hand=requested)
    assert res.handedness == requested
    xs = [frames[i][j].image[0, 0] for i, j in enumerate(res.index)]
    assert np.allclose(xs, 0.3 if requested == "left" else 0.7)  # frame 7's wrong label is overruled


def test_auto_picks_the_hand_that_moves() -> None:
    t = np.arange(30) / 30
    frames = []
    for i in range(30):
        still = hand_at(0.3, 0.5, "left")
        moving = hand_at(0.7, 0.5, "right", curl=0.4 * (1 + np.sin(i / 2)) / 2)
        frames.append([still, moving])
    res = choose_hand(t, frames, hand="auto")
    assert res.handedness == "right"
    assert all(frames[i][j].image[0, 0] == pytest.approx(0.7) for i, j in enumerate(res.index))


def test_two_hands_with_the_same_label_are_told_apart() -> None:
    t = np.arange(10) / 30
    # MediaPipe calls both hands 'right', but one of them more confidently so
    frames = [[hand_at(0.3, 0.5, "right", score=0.55), hand_at(0.7, 0.5, "right", score=0.95)] for _ in range(10)]
    res = choose_hand(t, frames, hand="left")
    assert res.handedness == "left"
    assert all(frames[i][j].image[0, 0] == pytest.approx(0.3) for i, j in enumerate(res.index))


def test_requested_hand_absent_when_only_the_other_is_seen_with_another() -> None:
    t = np.arange(4) / 30
    frames = [[hand_at(0.3, 0.5, "right"), hand_at(0.7, 0.5, "right")] for _ in range(4)]
    res = choose_hand(t, frames, hand="right")
    assert (res.index >= 0).all()  # one of the two is settled as right, the other as left


def test_no_hand_at_all() -> None:
    res = choose_hand(np.arange(3) / 30, [[], [], []], hand="auto")
    assert (res.index == -1).all() and res.handedness in ("left", "right")


def right_hand_facing_camera() -> np.ndarray:
    """A person's right hand, palm towards an unmirrored camera, fingers up: the thumb is on the image
    right (the person's left) and, being palmar, nearer the camera (negative z)."""
    img = np.zeros((21, 3))
    img[0] = (0.50, 0.80, 0.0)  # wrist
    img[5], img[9], img[13], img[17] = (0.55, 0.60, 0), (0.50, 0.58, 0), (0.46, 0.60, 0), (0.42, 0.62, 0)
    img[1:5] = [(0.56, 0.76, -0.01), (0.60, 0.70, -0.03), (0.62, 0.65, -0.04), (0.63, 0.60, -0.05)]
    return img


def test_thumb_chirality_tells_hands_apart_whichever_way_the_palm_faces() -> None:
    palm_view = right_hand_facing_camera()
    back_view = palm_view.copy()  # the same hand turned round: x mirrored about the centre and depth reversed
    back_view[:, 0] = 1 - back_view[:, 0]
    back_view[:, 2] *= -1
    mirrored = palm_view.copy()  # a mirror image of a right hand is a left hand
    mirrored[:, 0] = 1 - mirrored[:, 0]
    assert thumb_chirality(palm_view, width=640, height=480) > 0.1
    assert thumb_chirality(back_view, width=640, height=480) > 0.1
    assert thumb_chirality(mirrored, width=640, height=480) < -0.1
    assert (
        thumb_chirality(mirrored, width=640, height=480, mirrored=True) > 0.1
    )  # a flipped frame: flip the answer back
    assert thumb_chirality(np.zeros((21, 3)), width=640, height=480) == 0.0


def test_confident_chirality_outvotes_an_unsure_classifier() -> None:
    t = np.arange(6) / 30
    # the classifier leans 'left' at 55-60 %; the thumb clearly says right
    frames = [[HandDetection(right_hand_facing_camera(), right_hand_facing_camera(), 0.6, "left", 0.5)] for _ in t]
    assert choose_hand(t, frames).handedness == "right"


def test_live_selection_follows_the_requested_hand() -> None:
    tracker = HandTracker(hand="left")  # graphs are made lazily: no MediaPipe needed for selection
    left, right = hand_at(0.7, 0.5, "left"), hand_at(0.3, 0.5, "right")
    tracker._last_two_t = 0.0  # as detect() records when two hands are in view
    assert tracker._select_live([right, left], 0.0) is left
    # the left hand drops out for a moment: the right hand alone is not taken for it
    assert tracker._select_live([hand_at(0.3, 0.5, "right")], 0.1) is None
    # the left hand itself, even if MediaPipe mislabels it in one frame, is still followed
    mislabelled = hand_at(0.71, 0.5, "right")
    assert tracker._select_live([mislabelled], 0.2) is mislabelled
    # a patient alone in view with one hand: that hand is followed whatever its label
    lone = HandTracker(hand="left")
    only = hand_at(0.5, 0.5, "right")
    assert lone._select_live([only], 0.0) is only
    assert lone._select_live([], 0.1) is None
