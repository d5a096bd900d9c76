"""Wrist flexion and extension: one rep is one flexion-then-extension cycle.

The angle is the hand's long axis (wrist -> middle MCP) against the forearm, measured in the hand's
flexion plane (:func:`metrics.angles.compute_wrist_angles`). The forearm comes from MediaPipe Pose
(elbow -> wrist) when the elbow is visible during the first second; otherwise the hand position held
still at the start stands in for it (``metrics.reference`` says which).

A monocular camera sees flexion best from the side (thumb or little finger toward the camera: the hand
then moves in the image plane) and worst face-on (the hand moves toward and away from the camera).
``metrics.viewpoint_reliability`` (0..1, the median alignment of the flexion axis with the line of
sight) says which, and a warning is added below 0.5.
"""

from __future__ import annotations

import numpy as np

from exercises.common import Channels, HandFrames, Reference, TwoSidedExercise
from metrics.angles import apparent_rotation, compute_wrist_angles
from metrics.reps import RepParams
from tracking.series import INDEX_MCP, MIDDLE_MCP, PINKY_MCP, WRIST

__all__ = ["WristFlexion", "wrist_channels"]


def wrist_channels(frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
    """Wrist flexion and deviation against the forearm (or the neutral hold), plus viewpoint reliability.

    ``wrist_flexion`` combines the world-landmark angle with the image foreshortening of the hand's
    length (wrist to middle MCP) relative to the hold, scaled by the palm's width across the MCPs (which
    flexion does not change): the larger magnitude, with the world angle's sign (see
    :func:`metrics.angles.apparent_rotation`). Seen face-on, flexion moves the hand toward the camera,
    which MediaPipe's depth follows poorly but the image length does. The image estimate is used only when
    the hold was seen nearly face-on (see :func:`_image_usable`).
    """
    n = len(frames)
    if reference is None:
        nan = np.full(n, np.nan)
        return {
            "wrist_flexion": nan,
            "wrist_deviation": nan,
            "world_flexion": nan,
            "length_stretch": nan,
            "flexion_view": nan,
            "deviation_view": nan,
        }
    f = frames.forearm if frames.forearm is not None else reference.hand_axis
    wa = compute_wrist_angles(frames.world, handedness=handedness, forearm=f)
    stretch = np.full(n, np.nan)
    flexion = wa.flexion
    if reference.image is not None and _image_usable(reference):
        with np.errstate(invalid="ignore", divide="ignore"):
            stretch = _length_ratio(frames.image) / _length_ratio(reference.image[None])[0] - 1.0
        seen = apparent_rotation(stretch, dead_zone=0.02)
        with np.errstate(invalid="ignore"):
            flexion = np.where(np.isfinite(seen), np.sign(wa.flexion) * np.fmax(np.abs(wa.flexion), seen), wa.flexion)
    return {
        "wrist_flexion": flexion,
        "wrist_deviation": wa.deviation,
        "world_flexion": wa.flexion,
        "length_stretch": stretch,
        "flexion_view": wa.flexion_reliability,
        "deviation_view": wa.deviation_reliability,
    }


def _length_ratio(image: np.ndarray) -> np.ndarray:
    """Image length of the hand (wrist to middle MCP) over the palm's width across the MCPs."""
    length = np.linalg.norm(image[:, MIDDLE_MCP] - image[:, WRIST], axis=-1)
    width = np.linalg.norm(image[:, INDEX_MCP] - image[:, PINKY_MCP], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(length / width)


def _image_usable(reference: Reference) -> bool:
    """The hold was seen nearly face-on: the hand's long axis and its flexion axis both across the image.

    Only then is flexion a rotation toward the camera that foreshortens the hand's length alone; from
    three-quarters it is partly an in-image rotation, which the world angle follows on its own.
    """
    assert reference.image is not None
    axis = np.cross(reference.hand_axis, reference.palm_normal)  # flexion axis of the hold
    face_on = abs(float(reference.hand_axis[2])) < 0.5 and abs(float(axis[2])) < 0.3
    ratio = float(_length_ratio(reference.image[None])[0])
    return face_on and np.isfinite(ratio) and 0.0 < ratio < 2.5


class WristFlexion(TwoSidedExercise):
    name = "wrist_flexion"
    title = "Wrist flexion and extension"
    instructions = (
        "Rest your forearm, hold your hand straight for a second, then bend your wrist down toward the palm "
        "and up the other way, slowly and as far as is comfortable."
    )
    value_label = "Wrist angle (flexion +, extension −)"
    normal_range: tuple[float, float] | None = (-70.0, 80.0)
    params = RepParams(min_prominence=12.0, rel_prominence=0.3, polarity=1, min_duration_s=0.2)
    reference_s = 1.0
    needs_pose = True
    positive = "flexion"
    negative = "extension"
    reliability_channel = "flexion_view"
    joint = "wrist_flex"

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        return wrist_channels(frames, handedness=handedness, reference=reference)

    def unit_of(self, channel: str) -> str:
        return "ratio" if channel.endswith(("_view", "_stretch")) else "deg"

    def viewpoint_warning(self, reliability: float) -> str:
        return (
            f"The hand is seen nearly face-on (viewpoint reliability {reliability:.2f}): wrist flexion then moves "
            "toward and away from the camera, where depth is least accurate. Film from the side, thumb toward "
            "the camera, for reliable angles."
        )
