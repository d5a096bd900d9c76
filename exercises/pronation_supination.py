"""Forearm pronation and supination: one rep is one pronation-then-supination cycle.

The angle is the rotation of the palm normal about the hand's long axis relative to the position held
still during the first second (instruct "thumb up" for the anatomical neutral), positive = pronation
(palm turning down), negative = supination, within ±180° of the start position (the full normal
arc is 160°).
"""

from __future__ import annotations

import numpy as np

from exercises.common import Channels, Reference, TwoSidedExercise
from metrics.angles import compute_palm_frame, compute_roll, viewpoint_reliability
from metrics.reps import RepParams

__all__ = ["PronationSupination"]


class PronationSupination(TwoSidedExercise):
    name = "pronation_supination"
    title = "Forearm rotation (pronation and supination)"
    instructions = (
        "Elbow at your side, hold your hand with the thumb up for a second, then turn the palm down and then up, "
        "as far as is comfortable."
    )
    value_label = "Forearm rotation (pronation +, supination −)"
    normal_range: tuple[float, float] | None = (-80.0, 80.0)
    params = RepParams(min_prominence=20.0, rel_prominence=0.3, polarity=1, min_duration_s=0.2)
    reference_s = 1.0
    positive = "pronation"
    negative = "supination"
    reliability_channel = None
    joint = "pronation"

    def channels(
        self, world: np.ndarray, forearm: np.ndarray | None, *, handedness: str, reference: Reference | None
    ) -> Channels:
        n = len(world)
        if reference is None:
            return {"pronation": np.full(n, np.nan), "axis_view": np.full(n, np.nan)}
        roll = compute_roll(world, handedness=handedness, reference_normal=reference.palm_normal)
        axis = compute_palm_frame(world, handedness=handedness).u
        return {"pronation": -roll, "axis_view": viewpoint_reliability(axis)}

    def unit_of(self, channel: str) -> str:
        return "ratio" if channel.endswith("_view") else "deg"
