"""Forearm pronation and supination: one rep is one pronation-then-supination cycle.

The angle is the rotation of the palm about the hand's long axis relative to the position held still
during the first second (instruct "thumb up" for the anatomical neutral), positive = pronation (palm
turning down), negative = supination, within ±180° of the start position (the full normal arc is 160°).

MediaPipe's 3-D world landmarks get the direction of the rotation right but not its size: their depth is
learned, and a palm turning away from the camera comes out compressed (-15° for a -40° to -80° supination
seen from the side) or, from other views, exaggerated (-120° for -70°). The image does not have this
problem. A rigid palm turning about its long axis keeps its image length, while its MCP line (index to
ring MCP, the points that define the palm plane) projects across the axis as ``K cos psi``: ``psi`` is the
angle from squarely facing the camera and ``K`` the width when it does. :class:`RotationTracker` reads
the size of ``psi`` from that width and its sign (the side of square-on) from the world landmarks, then
subtracts the start position's own ``psi0`` (a camera off to one side sees the start turned by 30° or so)::

    psi = side * acos(width / K)          rotation = psi - psi0

``K`` is the widest the palm has looked: the start itself, or the moment the palm faced the camera on
its way to one side, in which case the start lies on the other side of square-on, at ``acos(width0 / K)``;
the world's rotation from the start to that moment is a second, independent estimate of ``-psi0`` and the
two are averaged (MediaPipe draws an obliquely seen palm a little too wide). The side of square-on is the
direction the world landmarks turned since the palm was last square-on: their amount of rotation is off,
their direction is not.

The detector uses the calibration as it becomes known, frame by frame (so the live and offline counts
agree); the measurements re-run the tracker with the calibration learned from the whole recording.

Monocular tracking fails in known ways, each handled where it shows:

* the model mirrors the hand in depth (palm for back): the index and little-finger sides swap in the
  image (the width changes sign at full size, which a turning palm cannot do) and the world normal turns
  around. The size of the width and the *folded* world roll (:func:`metrics.angles.compute_facing_roll`)
  are unchanged by the mirror, so such frames still measure; nothing is learned from them, and which face
  the camera sees is decided by the steadily tracked frames, not by the start's majority alone;
* at some start positions the model makes no sense of the hand at all, its orientation jumping from frame
  to frame by more than any movement: the rotation holds its value from before the jumps (so the hold
  and rests count no reps); the start's own angle is then only as good as the hold's median width;
* the palm shows its other face only after passing edge-on (a small width), for more than a frame;
* near edge-on the world sign can flip (+65° for a true -75°): beyond ``trust_below`` degrees from
  square-on the side is kept (the palm changes side only through square-on).

The first second is the start: the rotation is 0 there by definition.

A start position seen edge-on (a narrow palm in the image, e.g. a thumb-up hand with the camera in front)
leaves the width without a scale; the world landmarks' rotation is used there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exercises.common import (
    Channels,
    HandFrames,
    Prepared,
    Reference,
    TwoSidedExercise,
    compute_channels,
    median3_channels,
    run_stage,
)
from metrics.angles import (
    apparent_rotation,
    chirality,
    compute_facing_roll,
    compute_palm_frame,
    compute_roll,
    viewpoint_reliability,
)
from metrics.reps import RepParams
from tracking.filters import lowpass
from tracking.series import INDEX_MCP, MIDDLE_MCP, PINKY_MCP, RING_MCP, WRIST, LandmarkSeries

__all__ = ["PronationSupination", "RotationCalibration", "RotationTracker", "palm_width_ratio"]


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
        """Per-frame inputs of :class:`RotationTracker`, and a per-frame first estimate of the rotation.

        ``pronation`` here is the world rotation made at least as large as the hold's foreshortening
        implies (what a single frame allows); :class:`RotationTracker` replaces it on both paths.
        """
        n = len(frames)
        if reference is None or reference.image is None:
            nan = np.full(n, np.nan)
            keys = ("pronation", "world_pronation", "palm_width", "facing_roll", "axis_view")
            return {k: nan for k in keys}
        world = -compute_roll(frames.world, handedness=handedness, reference_normal=reference.palm_normal)
        ratio = _mcp_span_ratio(frames.image)
        with np.errstate(invalid="ignore", divide="ignore"):
            stretch = ratio / _mcp_span_ratio(reference.image[None])[0] - 1.0
        seen = apparent_rotation(stretch, dead_zone=self.dead_zone)
        if abs(float(reference.palm_normal[2])) < 0.7:
            seen = np.full(n, np.nan)  # the width only measures a rotation from a palm (or back) facing the camera
        with np.errstate(invalid="ignore"):
            first = np.where(np.isfinite(seen), np.sign(world) * np.fmax(np.abs(world), seen), world)
        axis = compute_palm_frame(frames.world, handedness=handedness).u
        return {
            "pronation": first,
            "world_pronation": world,
            # Signed so that positive = the back of the hand toward the camera, for either hand.
            "palm_width": chirality(handedness) * palm_width_ratio(frames.image),
            "facing_roll": compute_facing_roll(frames.world, handedness=handedness),
            "axis_view": viewpoint_reliability(axis),
        }

    def stage(self) -> RotationTracker:
        return RotationTracker(hold_s=self.reference_s, dead_zone=self.dead_zone)

    def prepare(self, series: LandmarkSeries) -> tuple[Prepared, Channels]:
        """Detection input from the causal tracker; measurements re-run it with the whole recording's calibration."""
        raw, reference = compute_channels(series, self.channels, reference_s=self.reference_s)
        t = np.asarray(series.t, float)
        tracker = self.stage()
        causal = run_stage(tracker, t, raw)
        detect = median3_channels(t, causal, max_gap_s=self.params.max_gap_s, smooth_s=self.smooth_s)
        final = RotationTracker(hold_s=self.reference_s, dead_zone=self.dead_zone, calibration=tracker.calibration())
        measured = run_stage(final, t, raw)
        # The tracker's running medians lag by half their window; offline they can be centred instead.
        lag = RotationTracker.window // 2
        rotation = measured["pronation"]
        measured["pronation"] = np.concatenate([rotation[lag:], np.full(min(lag, len(rotation)), rotation[-1:])])
        smooth = {k: lowpass(t, v, cutoff_hz=self.lowpass_hz) for k, v in measured.items()}
        return Prepared(series, t, measured, smooth, reference), detect

    def unit_of(self, channel: str) -> str:
        return "ratio" if channel in ("axis_view", "palm_width") else "deg"


@dataclass(frozen=True)
class RotationCalibration:
    """What :class:`RotationTracker` knows about the view: the start position and the palm square-on.

    Attributes
    ----------
    width0 : float
        Image width of the palm (:func:`palm_width_ratio`, unsigned) held at the start.
    face : float
        +1 if the back of the hand faced the camera at the start, -1 if the palm did.
    roll0 : float
        Folded world roll (:func:`metrics.angles.compute_facing_roll`) at the start, times ``face``, degrees.
    full_width : float
        Widest the palm has looked (``K``): its width when square to the camera.
    psi0 : float
        Angle of the start position from square-on, degrees, positive on the pronation side.
    """

    width0: float
    face: float
    roll0: float
    full_width: float
    psi0: float

    @property
    def uses_image(self) -> bool:
        """False when the start position was seen nearly edge-on (its width cannot set a scale)."""
        return self.width0 >= RotationTracker.min_width


class RotationTracker:
    """Causal forearm rotation from the palm's image width (size) and the world landmarks (sign).

    Fed one sample at a time (``update``) with the channels of :meth:`PronationSupination.channels`, it sets
    ``pronation``; see the module docstring for the method. Without a ``calibration`` it learns one as it goes
    (the start from the first ``hold_s`` seconds of tracked frames, the full width as the palm widens); with
    one (an earlier pass over the whole recording) it uses that from the first frame.

    Parameters
    ----------
    hold_s : float
        Length of the start hold, from the first tracked frame.
    dead_zone : float
        Subtracted from ``1 - width / K``: jitter of a few percent near square-on would otherwise read as
        several degrees (``acos`` is steep there).
    side_deg : float
        World rotation from the start beyond which a frame counts as turned to one side (for ``psi0``'s sign).
    edge : float
        ``width / K`` below which the palm is near edge-on: only there may it pass to the other face.
    trust_below : float
        Beyond this angle from square-on the side of square-on is kept (near edge-on the world rotation
        can jump).
    hysteresis_deg : float
        The world must place the palm this far on the other side of square-on to change the side.
    max_step_deg : float
        A change of the palm's angle between frames larger than any movement's: the tracking has lost the
        hand's orientation, and the rotation holds until ``window`` frames pass without such a jump.
    max_cross : float
        The width changing sign between two frames whose ``width / K`` add up to more than this did not pass
        edge-on (0.8: 50 deg between frames, a 750 deg/s turn at 15 fps): the model mirrored the hand, which
        shows the same face after it. MediaPipe did so at 0.57 -> -0.83 and back at -1.0 -> 0.98 (rendered).
    square_deg : float
        Within this angle of square-on a frame can be the squarest of a pass (see :meth:`_update_side`).
    max_gap_s : float
        A longer gap in tracking forgets the side and the face.
    calibration : RotationCalibration, optional
        Fixed calibration (else learned causally).
    """

    min_width = 0.2  # palm width / length below which the start is too close to edge-on for the image scale
    window = 5  # samples in the running medians of the inputs (tracking glitches last a frame or two)
    square_tol = 0.03  # widths within this fraction of the widest count as square-on

    def __init__(
        self,
        *,
        hold_s: float = 1.0,
        dead_zone: float = 0.02,
        side_deg: float = 10.0,
        edge: float = 0.25,
        trust_below: float = 45.0,
        hysteresis_deg: float = 3.0,
        max_step_deg: float = 25.0,
        max_cross: float = 0.8,
        square_deg: float = 20.0,
        max_gap_s: float = 0.3,
        calibration: RotationCalibration | None = None,
    ) -> None:
        self.hold_s = hold_s
        self.dead_zone = dead_zone
        self.side_deg = side_deg
        self.edge = edge
        self.trust_below = trust_below
        self.hysteresis_deg = hysteresis_deg
        self.max_step_deg = max_step_deg
        self.max_cross = max_cross
        self.square_deg = square_deg
        self.max_gap_s = max_gap_s
        self._fixed = calibration
        self._cal: RotationCalibration | None = calibration
        self._t0 = math.nan
        self._hold_width: list[float] = []  # signed widths of the hold
        self._hold_roll: list[float] = []
        self._widest = {1: 0.0, -1: 0.0}  # widest (median) width seen while turned to each side
        self._square: list[tuple[float, float]] = []  # (width, world rotation) of the widest frames
        self._face = 0.0 if calibration is None else calibration.face
        self._votes = {1: 0, -1: 0}  # steadily tracked, well-open frames showing each face (width sign)
        self._reset()

    def _reset(self) -> None:
        self._last_t = math.nan
        self._widths: list[float] = []  # recent unsigned widths
        self._rolls: list[float] = []  # recent folded world rolls
        self._faces: list[float] = []  # recent signs of the width
        self._crossed = True  # the width's last change of sign could be the palm passing edge-on
        self._ratios: list[float] = []  # recent widths over the full width (unfiltered: an edge-on is brief)
        self._angle = math.nan  # last frame's angle from square-on, unfiltered
        self._jumps: list[bool] = []  # recent frames whose angle jumped
        self._facing = 1.0  # +1 the start's face toward the camera, -1 the other (turned past edge-on)
        self._sign = 0.0  # side of square-on: +1 pronation, -1 supination, 0 not known yet
        self._output = math.nan
        self._trusted = math.nan  # the output when no frame of the window jumped
        self._squarest = math.inf  # smallest angle from square-on in the current pass near it
        self._pivot: list[float] = []  # world rotation at the squarest frames of the last pass

    def calibration(self) -> RotationCalibration | None:
        """The calibration in use (learned so far, or fixed); None before the first tracked frame."""
        return self._cal

    def _learn(self) -> RotationCalibration:
        """The calibration from what has been seen so far."""
        width = np.asarray(self._hold_width)
        face = self._face
        width0 = float(np.median(np.abs(width)))
        roll0 = face * float(np.median(self._hold_roll))
        full = max(width0, self._widest[1], self._widest[-1])
        psi0 = 0.0
        if full > 0:
            psi0 = math.degrees(math.acos(self._open(width0 / full)))
            # The start lies on the side of square-on away from the turn that widened the palm.
            psi0 *= 1.0 if self._widest[-1] > self._widest[1] else -1.0
        square = [r for w, r in self._square if w >= (1.0 - self.square_tol) * full]
        if square:
            # The world's rotation from the start to square-on: an independent estimate of -psi0.
            psi0 = 0.5 * (psi0 - float(np.median(square)))
        return RotationCalibration(width0, face, roll0, full, psi0)

    def _open(self, ratio: float) -> float:
        """``cos psi`` from the width over the full width: 1 within ``dead_zone`` of it, exact at 0 (edge-on)."""
        return 1.0 - max(0.0, 1.0 - ratio - self.dead_zone) / (1.0 - self.dead_zone)

    def update(self, t: float, values: dict[str, float]) -> dict[str, float]:
        """One sample of every channel in, the same with ``pronation`` set (NaN where untracked).

        Parameters
        ----------
        t : float
            Time of the sample, seconds (samples come in time order).
        values : dict
            ``palm_width``, ``facing_roll`` and ``world_pronation`` at least (see
            :meth:`PronationSupination.channels`).
        """
        width, roll = values["palm_width"], values["facing_roll"]
        if not (math.isfinite(width) and math.isfinite(roll)):
            return {**values, "pronation": math.nan}
        if math.isfinite(self._last_t) and t - self._last_t > self.max_gap_s:
            self._reset()
        self._last_t = t
        if math.isnan(self._t0):
            self._t0 = t
        holding = t <= self._t0 + self.hold_s
        if self._fixed is None and holding:
            self._hold_width.append(width)
            self._hold_roll.append(roll)
            if not any(self._votes.values()):  # until the movement has a say: the hold's majority
                self._face = 1.0 if 2 * sum(w < 0 for w in self._hold_width) <= len(self._hold_width) else -1.0
            self._cal = self._learn()
        cal = self._cal
        assert cal is not None
        if not cal.uses_image:
            return {**values, "pronation": values["world_pronation"]}
        self._widths = [*self._widths[1 - self.window :], abs(width)]
        self._rolls = [*self._rolls[1 - self.window :], roll]
        face = 1.0 if width >= 0 else -1.0
        if self._faces and face != self._faces[-1]:  # the width changed sign: through edge-on, or a mirror?
            self._crossed = self._ratios[-1] + abs(width) / cal.full_width <= self.max_cross
        self._faces = [*self._faces[1 - self.window :], face]
        settled = len(self._widths) == self.window  # the first frames of a track are often off
        width_m = float(np.median(self._widths))
        ratio = width_m / cal.full_width
        self._ratios = [*self._ratios[1 - self.window :], abs(width) / cal.full_width]
        # Frame-to-frame jumps of the palm's angle no hand makes: the model does not make sense of the hand
        # (it happens at some start positions), and the rotation holds its last value from before the jumps.
        angle = math.degrees(math.acos(min(1.0, abs(width) / cal.full_width)))
        jumped = math.isfinite(self._angle) and abs(angle - self._angle) > self.max_step_deg
        self._angle, self._jumps = angle, [*self._jumps[1 - self.window :], jumped]
        lost = any(self._jumps)
        # A width whose sign jumps while the palm is well open is the model mirroring the hand in depth: its
        # size is right, but the face it shows is not, and neither is learned from it.
        steady = settled and not lost and (ratio < self.edge or abs(sum(self._faces)) == self.window)
        if self._fixed is None and steady:
            self._vote(ratio)
            cal = self._cal
            assert cal is not None
        turned = _wrap(cal.face * float(np.median(self._rolls)) - cal.roll0)  # world rotation from the start
        if self._fixed is None and steady:
            self._learn_square(width_m, turned, holding)
            cal = self._cal
            assert cal is not None
            ratio = width_m / cal.full_width
        rotation = self._rotation(ratio, turned, cal, settled, lost)
        if holding:
            self._output = 0.0  # the hold defines the zero
        elif not lost or math.isnan(self._trusted):
            self._output = rotation
        else:
            self._output = self._trusted
        if not any(self._jumps):
            self._trusted = self._output
        return {**values, "pronation": self._output}

    def _rotation(self, ratio: float, turned: float, cal: RotationCalibration, settled: bool, lost: bool) -> float:
        """``psi - psi0`` from the width (size) and the world rotation (side), updating the state."""
        # The other face comes toward the camera only through edge-on (a narrow palm, lately), for more than a
        # frame, and not in a jump from one side to the other (see ``max_cross``).
        last = self._faces[-3:]
        if (
            min(self._ratios) < self.edge
            and self._crossed
            and len(last) == 3
            and all(f * cal.face == -self._facing for f in last)
        ):
            self._facing = -self._facing
        cos_psi = self._facing * self._open(ratio)
        size = math.degrees(math.acos(max(-1.0, cos_psi)))
        self._update_side(size, turned, cal, settled, lost)
        return self._sign * size - cal.psi0

    def _vote(self, ratio: float) -> None:
        """Count which face the camera sees on steady, well-open frames, and follow the majority.

        A start position the model cannot make sense of (it flips between the palm and the back from frame to
        frame) leaves the hold's own majority to chance; the frames of the movement, tracked steadily, settle
        it. Changing the face mirrors every world rotation learned so far.
        """
        if ratio < 0.5:
            return
        self._votes[1 if self._faces[-1] > 0 else -1] += 1
        lead = self._votes[1] - self._votes[-1]
        if lead == 0 or (1.0 if lead > 0 else -1.0) == self._face:
            return
        self._face = -self._face
        self._widest = {1: self._widest[-1], -1: self._widest[1]}
        self._square = [(w, -r) for w, r in self._square]
        self._pivot = [-r for r in self._pivot]
        self._sign = -self._sign  # the world rotation was read mirrored; ``_facing`` follows the image alone
        self._cal = self._learn()

    def _learn_square(self, width: float, turned: float, holding: bool) -> None:
        """Update the full width, the world rotation at square-on and with them ``psi0``."""
        if not holding and abs(turned) > self.side_deg:
            side = 1 if turned > 0 else -1
            self._widest[side] = max(self._widest[side], width)
        full = max([width, *(w for w, _ in self._square)])
        kept = [*self._square, (width, turned)]
        self._square = [(w, r) for w, r in kept if w >= (1.0 - self.square_tol) * full]
        del self._square[:-200]
        self._cal = self._learn()

    def _update_side(self, size: float, turned: float, cal: RotationCalibration, settled: bool, lost: bool) -> None:
        """Side of square-on (the sign of ``psi``): the direction of the world rotation since square-on.

        Square-on is where the palm was squarest on its last pass within ``square_deg`` of it (before any, the
        start's ``-psi0``), on frames the tracking made sense of. The world landmarks' amount of rotation is
        off (compressed, biased), their direction is not. Beyond ``trust_below`` the side is kept.
        """
        if size >= self.square_deg:
            self._squarest = math.inf  # the pass is over: its squarest frames stay the pivot
        elif settled and not lost:
            if size < self._squarest - 0.5:
                self._squarest, self._pivot = size, [turned]
            elif size <= self._squarest + 0.5:
                self._pivot.append(turned)
        pivot = float(np.mean(self._pivot)) if self._pivot else -cal.psi0
        side = turned - pivot
        if self._sign == 0.0 or not settled:
            self._sign = 1.0 if side >= 0 else -1.0
            return
        if size >= self.trust_below:
            return
        if side * self._sign < -self.hysteresis_deg:
            self._sign = -self._sign


def palm_width_ratio(image: np.ndarray) -> np.ndarray:
    """Image width of the palm's MCP line (index -> ring MCP) across its axis, in palm lengths.

    Parameters
    ----------
    image : (T, 21, 2) array
        Image landmarks in pixels (one isotropic scale).

    Returns
    -------
    (T,) array
        The MCP line's component perpendicular to the palm's image axis (wrist -> middle MCP), over that
        axis' length; its component along the axis belongs to the axis' own foreshortening. Signed: positive
        when, looking along the axis from the wrist on the screen, the index MCP lies to its left, which for a
        right hand means that the camera sees the back of the hand. NaN where untracked.
    """
    axis = image[:, MIDDLE_MCP] - image[:, WRIST]
    line = image[:, INDEX_MCP] - image[:, RING_MCP]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((line[:, 0] * axis[:, 1] - line[:, 1] * axis[:, 0]) / np.sum(axis * axis, axis=-1))


def _mcp_span_ratio(image: np.ndarray) -> np.ndarray:
    """Image width of the palm across the MCPs over its length along the (rotation) axis."""
    width = np.linalg.norm(image[:, INDEX_MCP] - image[:, PINKY_MCP], axis=-1)
    length = np.linalg.norm(image[:, MIDDLE_MCP] - image[:, WRIST], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(width / length)


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0
