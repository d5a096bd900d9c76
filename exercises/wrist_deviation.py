"""Wrist radial and ulnar deviation: one rep is one radial-then-ulnar cycle.

Same reference as :mod:`exercises.wrist_flexion` (forearm from Pose, else the neutral hold); the angle
is the hand's long axis against the forearm in the palm plane, positive toward the thumb. Deviation is
seen best with the palm (or the back of the hand) facing the camera.
"""

from __future__ import annotations

from exercises.common import Channels, HandFrames, Reference, TwoSidedExercise
from exercises.wrist_flexion import wrist_channels
from metrics.reps import RepParams

__all__ = ["WristDeviation"]


class WristDeviation(TwoSidedExercise):
    name = "wrist_deviation"
    title = "Wrist side to side (radial and ulnar deviation)"
    instructions = (
        "Hold your hand flat and straight for a second, then tilt it toward the thumb and then toward the little "
        "finger, keeping the forearm still."
    )
    value_label = "Wrist deviation (radial +, ulnar −)"
    normal_range: tuple[float, float] | None = (-30.0, 20.0)
    # 6 deg: radial deviation is the short side (normal 20 deg) and MediaPipe reads about two thirds of it
    # from above (a rendered 11 deg tilt read 7.5 deg, below the wrist exercises' 8 deg, and its cycle was lost).
    params = RepParams(min_prominence=6.0, rel_prominence=0.3, polarity=1, min_duration_s=0.2)
    reference_s = 1.0
    # MediaPipe's ulnar extreme seen from the back of the hand jitters by 10-15 deg over a few frames (one
    # rendered clip counted 5 cycles for 3); a 0.08 s causal low-pass after the median removes it.
    smooth_s = 0.08
    needs_pose = True
    positive = "radial"
    negative = "ulnar"
    reliability_channel = "deviation_view"
    joint = "wrist_dev"

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        ch = wrist_channels(frames, handedness=handedness, reference=reference)
        return {k: ch[k] for k in ("wrist_deviation", "world_flexion", "deviation_view")}

    def unit_of(self, channel: str) -> str:
        return "ratio" if channel.endswith("_view") else "deg"

    def viewpoint_warning(self, reliability: float) -> str:
        return (
            f"The hand is seen edge-on (viewpoint reliability {reliability:.2f}): side-to-side tilting then moves "
            "toward and away from the camera. Film with the palm or the back of the hand toward the camera."
        )
