"""Forearm pronation and supination: one rep is one pronation-then-supination cycle.

The angle is the rotation of the palm about the hand's long axis relative to the position held still
during the first second (instruct "thumb up" for the anatomical neutral), positive = pronation (palm
turning down), negative = supination, within ±180° of the start position (the full normal arc is 160°).

Two estimates are combined: the rotation of the palm normal of the 3-D world landmarks
(:func:`metrics.angles.compute_roll`), whose sign is reliable but which MediaPipe compresses badly when
the palm turns away from the camera (measured on a render: -8° for a -68° supination), and the
foreshortening of the palm's width across the MCPs in the image relative to the hold
(:func:`metrics.angles.apparent_rotation`; the palm's length lies along the rotation axis and is the
scale), which assumes the palm or the back of the hand faced the camera during the hold and is
ignored otherwise. The larger magnitude is taken, with the world estimate's sign while the palm is not
near edge-on and the last such sign beyond that (:class:`SignKeeper`).
"""

from __future__ import annotations

import math

import numpy as np

from exercises.common import Channels, HandFrames, Reference, TwoSidedExercise
from metrics.angles import apparent_rotation, compute_palm_frame, compute_roll, viewpoint_reliability
from metrics.reps import RepParams
from tracking.series import INDEX_MCP, MIDDLE_MCP, PINKY_MCP, WRIST

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
    dead_zone = 0.02

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        n = len(frames)
        if reference is None or reference.image is None:
            nan = np.full(n, np.nan)
            return {
                "pronation": nan,
                "world_pronation": nan,
                "image_rotation": nan,
                "width_stretch": nan,
                "axis_view": nan,
            }
        world = -compute_roll(frames.world, handedness=handedness, reference_normal=reference.palm_normal)
        ratio = _width_ratio(frames.image)
        with np.errstate(invalid="ignore", divide="ignore"):
            stretch = ratio / _width_ratio(reference.image[None])[0] - 1.0
        seen = apparent_rotation(stretch, dead_zone=self.dead_zone)
        if abs(float(reference.palm_normal[2])) < 0.7:
            # The image width only measures the rotation from a palm (or back) facing the camera.
            seen = np.full(n, np.nan)
        with np.errstate(invalid="ignore"):
            combined = np.where(np.isfinite(seen), np.sign(world) * np.fmax(np.abs(world), seen), world)
        axis = compute_palm_frame(frames.world, handedness=handedness).u
        return {
            "pronation": combined,  # per frame; SignKeeper makes its sign continuous
            "world_pronation": world,
            "image_rotation": seen,
            "width_stretch": stretch,
            "axis_view": viewpoint_reliability(axis),
        }

    def stage(self) -> SignKeeper:
        return SignKeeper()

    def unit_of(self, channel: str) -> str:
        return "ratio" if channel.endswith(("_view", "_stretch")) else "deg"


class SignKeeper:
    """Keeps the direction of rotation continuous through the far end of the movement.

    Near edge-on (image rotation beyond ``trust_below`` degrees) MediaPipe's palm normal can flip and
    the world estimate's sign with it (measured on a render: +25..+90 for a true -76 supination); the
    rotation cannot change direction without coming back through the small angles where the world sign
    is reliable, so there the sign is kept from the last trusted frame.
    """

    def __init__(self, *, trust_below: float = 45.0, max_gap_s: float = 0.3) -> None:
        self.trust_below = trust_below
        self.max_gap_s = max_gap_s
        self._sign = 0.0
        self._last_t = math.nan

    def update(self, t: float, values: dict[str, float]) -> dict[str, float]:
        world, seen = values["world_pronation"], values["image_rotation"]
        if not math.isfinite(world):
            return values
        if math.isfinite(self._last_t) and t - self._last_t > self.max_gap_s:
            self._sign = 0.0
        self._last_t = t
        if not math.isfinite(seen) or seen < self.trust_below or self._sign == 0.0:
            self._sign = 1.0 if world >= 0 else -1.0
        magnitude = max(abs(world), seen) if math.isfinite(seen) else abs(world)
        return {**values, "pronation": self._sign * magnitude}


def _width_ratio(image: np.ndarray) -> np.ndarray:
    """Image width of the palm across the MCPs over its length along the (rotation) axis."""
    width = np.linalg.norm(image[:, INDEX_MCP] - image[:, PINKY_MCP], axis=-1)
    length = np.linalg.norm(image[:, MIDDLE_MCP] - image[:, WRIST], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(width / length)
