"""Wrist flexion and extension: one rep is one flexion-then-extension cycle.

The angle is the hand's long axis (wrist -> middle MCP) against the forearm, measured in the hand's
flexion plane (:func:`metrics.angles.compute_wrist_angles`). The forearm comes from MediaPipe Pose
(elbow -> wrist) when the elbow is visible during the first second; otherwise the hand position held
still at the start stands in for it (``metrics.reference`` says which).

A monocular camera sees flexion best from the side (thumb or little finger toward the camera: the hand
then moves in the image plane) and worst face-on (the hand moves toward and away from the camera).
``metrics.viewpoint_reliability`` (0..1, the median alignment of the flexion axis with the line of
sight) says which, and a warning is added below 0.5.

Seen from the side, which way the hand turns in the image is certain but whether that is flexion or
extension depends on which side of its outline the palm faces, a depth question. MediaPipe's world
model answers it wrongly with the thumb toward the camera (it turns the palm toward the camera or to
the other side, and its angle then reads flexion as extension); the image landmarks' own depth answers
it rightly. Against the neutral hold the angle is therefore also measured as the image rotation of the
hand (:func:`image_flexion`), signed by the palm side of :func:`hold_palm_side`, and used in proportion
to how edge-on the hand is, alone where the world model turns the palm the other way. From the little-finger
side both depths can be wrong; there the fingers' resting curl toward the palm, seen in profile, decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exercises.common import Channels, HandFrames, Reference, TwoSidedExercise
from metrics.angles import apparent_rotation, compute_palm_frame, compute_wrist_angles
from metrics.reps import RepParams
from tracking.series import DIGIT_CHAINS, FINGERS, INDEX_MCP, MIDDLE_MCP, PINKY_MCP, THUMB_TIP, WRIST

__all__ = ["PalmSide", "WristFlexion", "hold_palm_side", "image_flexion", "image_weight", "wrist_channels"]

# How edge-on (|palm side|) the hold must be for the image rotation to take over from the world angle:
# it starts to count at the first value and alone at the second. Face-on the hand's turn is a depth
# motion the image rotation does not see; edge-on it is all in the image.
_EDGE_ON = (0.5, 0.9)
# Palm sides (unit normal, image plane) further apart than this: the world model turned the palm another way.
_DISAGREE = 0.5
# Where the models turn the palm different ways, the hand is taken as at least half-way to edge-on (45 deg).
_DISAGREE_EDGE_ON = float(np.sin(np.radians(45.0)))
# The fingers' resting curl (palm lengths, see hold_palm_side) that decides the palm side, and the thumb's
# image offset from the hand's axis (palm lengths) below which the thumb is behind the hand.
_CURL = 0.05
_THUMB_BEHIND = 0.5


def wrist_channels(frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
    """Wrist flexion and deviation against the forearm (or the neutral hold), plus viewpoint reliability.

    Against the forearm (Pose), ``wrist_flexion`` is the world-landmark angle. Against the neutral hold
    it blends the world angle with the image rotation of the hand (:func:`image_flexion`) by how edge-on
    the hold is (:func:`image_weight`); when the hold was seen nearly face-on (see :func:`_image_usable`)
    the world angle is combined with the image foreshortening of the hand's length (wrist to middle MCP)
    relative to the hold, scaled by the palm's width across the MCPs (which flexion does not change): the
    larger magnitude, with the world angle's sign (see :func:`metrics.angles.apparent_rotation`). Seen
    face-on, flexion moves the hand toward the camera, which MediaPipe's depth follows poorly but the image
    length does.

    ``flexion_view`` is the world landmarks' alignment of the flexion axis with the line of sight, or the
    hold's (:attr:`PalmSide.magnitude`) where the world model turned the palm the other way.
    """
    n = len(frames)
    if reference is None:
        nan = np.full(n, np.nan)
        return {
            "wrist_flexion": nan,
            "wrist_deviation": nan,
            "world_flexion": nan,
            "image_flexion": nan,
            "length_stretch": nan,
            "flexion_view": nan,
            "deviation_view": nan,
        }
    f = frames.forearm if frames.forearm is not None else reference.hand_axis
    wa = compute_wrist_angles(frames.world, handedness=handedness, forearm=f)
    stretch = np.full(n, np.nan)
    flexion, view = wa.flexion, wa.flexion_reliability
    seen = np.full(n, np.nan)
    side = hold_palm_side(reference, handedness=handedness) if frames.forearm is None else None
    weight = 0.0 if side is None else image_weight(side)
    if side is not None and reference.image is not None:
        seen = image_flexion(frames.image, reference.image, side.value)
        if weight > 0.0:
            flexion = weight * seen + (1.0 - weight) * wa.flexion
            if not side.world_agrees:
                view = np.full(n, side.magnitude)
    if weight == 0.0 and reference.image is not None and _image_usable(reference):
        with np.errstate(invalid="ignore", divide="ignore"):
            stretch = _length_ratio(frames.image) / _length_ratio(reference.image[None])[0] - 1.0
        shrink = apparent_rotation(stretch, dead_zone=0.02)
        with np.errstate(invalid="ignore"):
            flexion = np.where(np.isfinite(shrink), np.sign(wa.flexion) * np.fmax(np.abs(wa.flexion), shrink), flexion)
    return {
        "wrist_flexion": flexion,
        "wrist_deviation": wa.deviation,
        "world_flexion": wa.flexion,
        "image_flexion": seen,
        "length_stretch": stretch,
        "flexion_view": view,
        "deviation_view": wa.deviation_reliability,
    }


@dataclass(frozen=True)
class PalmSide:
    """Which side of the hand's outline the palm faces at the hold, and how edge-on the hand is.

    Components, along the image normal of the hand axis (wrist -> middle MCP turned +90 degrees in the
    image), of the unit palmar normal: 0 with the palm (or the back) square to the camera, +-1 with the
    hand edge-on and its palm to that side.

    Attributes
    ----------
    world : float
        From the world landmarks.
    image : float
        From the image landmarks with their own depth (NaN without it).
    curl : float
        The fingers' resting curl in the image, toward the palm, seen from the little-finger side (NaN from
        elsewhere); decides the side where it is at least :data:`_CURL` (see :func:`hold_palm_side`).
    """

    world: float
    image: float
    curl: float = float("nan")

    @property
    def curl_decides(self) -> bool:
        return bool(abs(self.curl) >= _CURL)

    @property
    def world_agrees(self) -> bool:
        """The world model turns the palm the same way as the image model and the curl (where there are any)."""
        if self.curl_decides and np.sign(self.world) != np.sign(self.curl):
            return False
        if not np.isfinite(self.image):
            return True
        return bool(np.sign(self.world) == np.sign(self.image) and abs(self.world - self.image) <= _DISAGREE)

    @property
    def magnitude(self) -> float:
        """How edge-on the hand is, 0..1.

        The larger of the two: both models see a hand more face-on than it is. Where they turn the palm
        different ways, the side of the outline the palm faces is the depth question a hand seen from the
        side poses, and how far it is turned is in doubt too (the world model's magnitude belongs to a wrong
        pose; the image model's is small where it wavers): at least :data:`_DISAGREE_EDGE_ON`.
        """
        m = float(np.nanmax(np.abs([self.world, self.image])))
        return m if self.world_agrees else max(m, _DISAGREE_EDGE_ON)

    @property
    def value(self) -> float:
        """Signed palm side, :attr:`magnitude` long.

        The curl's side where it decides, else the image model's (the world model's without it).
        """
        side = self.image if np.isfinite(self.image) and self.image != 0.0 else self.world
        if self.curl_decides:
            side = self.curl
        return float(np.sign(side)) * self.magnitude


def hold_palm_side(reference: Reference, *, handedness: str) -> PalmSide | None:
    """The palm side of the hold (:class:`PalmSide`) from both of MediaPipe's depth estimates (None if unknown).

    The world model's is the reference's palm normal; the image model's is the palm normal of the median
    image landmarks of the hold (pixels) with MediaPipe's image depth (pixels) as the third coordinate.

    Seen from the little-finger side both can put the palm on the wrong side of the hand's outline (on 7 of
    62 rendered clips, where flexion then read as extension). From that side the thumb is behind the hand,
    within :data:`_THUMB_BEHIND` palm lengths of its axis in the image, and the four fingers are seen in
    profile, their resting curl toward the palm: the mean image offset of their PIP, DIP and tip from
    their MCP, across the hand's axis in palm lengths, is the ``curl`` (0.05-0.2 on those clips, on the
    palm's side wherever the depth was right). From the thumb side the fingers hide each other and their
    offsets are their spread, not their curl; and a hand that was not held still shows no resting curl.
    """
    if reference.image is None:
        return None
    hold = reference.image
    d0 = hold[MIDDLE_MCP] - hold[WRIST]
    length = float(np.linalg.norm(d0))
    if not np.isfinite(length) or length <= 0.0:
        return None
    across = np.array([-d0[1], d0[0]]) / length
    curl = np.nan
    if reference.still and abs(float((hold[THUMB_TIP] - hold[WRIST]) @ across)) < _THUMB_BEHIND * length:
        offsets = [(hold[j] - hold[DIGIT_CHAINS[f][1]]) @ across for f in FINGERS for j in DIGIT_CHAINS[f][2:]]
        curl = float(np.mean(offsets)) / length
    world = float(reference.palm_normal[:2] @ across)
    image = np.nan
    if reference.depth is not None:
        points = np.column_stack([reference.image, reference.depth])[None]
        normal = compute_palm_frame(points, handedness=handedness).n[0]
        image = float(normal[:2] @ across)
    if not np.isfinite(world):
        return None
    return PalmSide(world=world, image=image, curl=curl)


def image_weight(side: PalmSide) -> float:
    """Weight of the image rotation against the world angle, 0..1.

    1 where the world model turned the palm the other way, else rising from 0 to 1 over :data:`_EDGE_ON`
    of the hold's :attr:`PalmSide.magnitude`.
    """
    if not side.world_agrees:
        return 1.0
    lo, hi = _EDGE_ON
    return float(np.clip((side.magnitude - lo) / (hi - lo), 0.0, 1.0))


def image_flexion(image: np.ndarray, hold_image: np.ndarray, side: float) -> np.ndarray:
    """Flexion (degrees) as the rotation of the hand about the hold's flexion axis that the image shows.

    The hand turns rigidly about its flexion axis: its long axis goes from ``u`` at the hold to
    ``u cos a + n sin a`` (``n`` the palmar normal). With the long axis in the image plane at the hold, a
    weak-perspective camera sees the vector wrist -> middle MCP go from ``d0`` to
    ``d0 cos a + |d0| side p sin a``, ``p`` the unit image normal of ``d0`` and ``side = n . p``. The angle
    is then ``atan2`` of the two components of the vector along ``d0`` and ``p`` (each over its coefficient),
    whatever the camera distance; seen face-on (``side`` 0) it cannot be told.

    Parameters
    ----------
    image : (T, 21, 2) array
        Image landmarks, pixels.
    hold_image : (21, 2) array
        Median image landmarks of the hold, pixels.
    side : float
        The palm side of the hold (:attr:`PalmSide.value`).

    Returns
    -------
    (T,) array
        Degrees, positive toward the palm; NaN where untracked or when ``side`` is 0.
    """
    image = np.asarray(image, float)
    d = image[:, MIDDLE_MCP] - image[:, WRIST]
    d0 = np.asarray(hold_image, float)[MIDDLE_MCP] - np.asarray(hold_image, float)[WRIST]
    length2 = float(d0 @ d0)
    if not (np.isfinite(length2) and length2 > 0.0 and np.isfinite(side) and side != 0.0):
        return np.full(len(d), np.nan)
    across = np.array([-d0[1], d0[0]])
    return np.asarray(np.degrees(np.arctan2((d @ across) / side, d @ d0)))


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
