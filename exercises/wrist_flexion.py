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
from metrics.angles import compute_wrist_angles
from metrics.reps import RepParams

__all__ = ["WristFlexion", "wrist_channels"]


def wrist_channels(frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
    """Wrist flexion and deviation against the forearm (or the neutral hold), plus viewpoint reliability."""
    n = len(frames)
    if reference is None:
        nan = np.full(n, np.nan)
        return {"wrist_flexion": nan, "wrist_deviation": nan, "flexion_view": nan, "deviation_view": nan}
    f = frames.forearm if frames.forearm is not None else reference.hand_axis
    wa = compute_wrist_angles(frames.world, handedness=handedness, forearm=f)
    return {
        "wrist_flexion": wa.flexion,
        "wrist_deviation": wa.deviation,
        "flexion_view": wa.flexion_reliability,
        "deviation_view": wa.deviation_reliability,
    }


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
        return "ratio" if channel.endswith("_view") else "deg"

    def viewpoint_warning(self, reliability: float) -> str:
        return (
            f"The hand is seen nearly face-on (viewpoint reliability {reliability:.2f}): wrist flexion then moves "
            "toward and away from the camera, where depth is least accurate. Film from the side, thumb toward "
            "the camera, for reliable angles."
        )
