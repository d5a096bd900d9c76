"""MediaPipe hand (and pose) tracking behind a small adapter: frames in, landmarks out.

MediaPipe types never leave this module: callers get numpy arrays, :class:`HandDetection`,
:class:`~exercises.base.FrameLandmarks` and :class:`~tracking.series.LandmarkSeries`.

Handedness convention
---------------------
MediaPipe Hands labels handedness *as if the image were mirrored* (a selfie preview). Video files
and camera frames here are not mirrored: they are what the sensor saw (a browser mirrors only the
preview it shows the user, not the frames it sends). On such a frame MediaPipe's ``"Left"`` is the
person's **right** hand, so :func:`anatomical_handedness` swaps the label; every ``handedness`` in
this package is the person's anatomical hand. Pass ``mirrored=True`` for frames that were flipped
horizontally (e.g. a recording app that saves the mirrored preview).

MediaPipe Pose's left/right labels are not used at all: the forearm is taken from the pose arm
whose wrist lies nearest the tracked hand's wrist in the image.

Cost of two-hand tracking
-------------------------
With ``max_num_hands=2`` and a single hand in view MediaPipe runs palm detection on every frame
(it keeps looking for the second hand), which roughly halves the speed. :class:`HandTracker`
therefore tracks one hand by default and, about every ``check_every_s`` seconds, runs a cheap
static two-hand detection on the current frame. Only when that finds two hands does it switch to
two-hand tracking (and back to one hand once a second hand has not been seen for
``revert_after_s``). The first frame is always checked, so a video with both hands in view is
tracked with two hands from its start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise, permutations
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

from exercises.base import FrameLandmarks
from tracking.series import (
    INDEX_MCP,
    MIDDLE_MCP,
    N_LANDMARKS,
    PINKY_MCP,
    RING_MCP,
    THUMB_TIP,
    WRIST,
    Handedness,
    LandmarkSeries,
)
from tracking.video import VideoInfo, read_video

HandChoice = Literal["auto", "left", "right"]
Progress = Callable[[int, int], None]

# MediaPipe Pose landmark indices of the arms (anatomical sides are not trusted, see module doc).
_POSE_ELBOWS = (13, 14)
_POSE_WRISTS = (15, 16)
# Elbow visibility (Pose's own 0..1 estimate) above which the forearm direction is trusted.
ELBOW_VISIBILITY = 0.6
# Seconds of frames without a hand kept for tracking back into them from where the hand was found again.
BACKTRACK_S = 2.0
# MediaPipe's full palm detector misses some hands that it finds on the frame flipped left to right, or that
# the lite model's palm detector finds. A video where the hand was found in fewer than RETRY_BELOW of the frames
# is tracked again these ways in turn, until a pass finds it in RETRY_BELOW of them; a pass is kept over the
# best before it when it finds the hand in RETRY_GAIN more of the frames.
RETRY_TRACKERS = ((1, True), (0, False), (0, True))  # (model_complexity, flip)
RETRY_BELOW = 0.9
RETRY_GAIN = 0.1


def anatomical_handedness(label: str, *, mirrored: bool = False) -> Handedness:
    """The person's hand for a MediaPipe handedness label ('Left'/'Right').

    MediaPipe assumes a mirrored image; on an unmirrored frame its 'Left' is the person's right.
    """
    is_left_label = label.lower().startswith("l")
    if mirrored:
        return "left" if is_left_label else "right"
    return "right" if is_left_label else "left"


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class HandDetection:
    """One candidate hand in one frame.

    Attributes
    ----------
    image : (21, 3) float64
        Normalized image coordinates (x, y in 0..1 of the frame, z relative depth).
    world : (21, 3) float64
        World landmarks in metres (origin near the hand's centre, camera-aligned axes).
    score : float
        MediaPipe's handedness confidence (the Python solution exposes no separate presence score;
        hands below the tracking threshold are not returned at all).
    handedness : 'left' or 'right'
        The person's anatomical hand by MediaPipe's classifier (see module docstring).
    chirality : float
        Geometric handedness evidence, positive for a right hand (see :func:`thumb_chirality`).
    """

    image: np.ndarray
    world: np.ndarray
    score: float
    handedness: Handedness
    chirality: float = 0.0

    @property
    def right_evidence(self) -> float:
        """Evidence for a right hand in -2..2: the classifier's margin plus the thumb's chirality.

        On rendered and real hands the classifier can hover near 50 % in tracking mode, while the
        thumb lying on the palmar side is a steady cue; either can decide when the other is unsure.
        """
        margin = (2 * self.score - 1) * (1 if self.handedness == "right" else -1)
        return float(margin + np.clip(self.chirality / 0.3, -1.0, 1.0))

    @property
    def likely_hand(self) -> Handedness:
        return "right" if self.right_evidence >= 0 else "left"

    @property
    def centroid(self) -> np.ndarray:
        return np.asarray(self.image[:, :2].mean(axis=0))

    @property
    def size(self) -> float:
        """Wrist to middle-finger MCP distance in normalized image units (a hand-size scale)."""
        return float(np.linalg.norm(self.image[MIDDLE_MCP, :2] - self.image[WRIST, :2]))


def thumb_chirality(image: np.ndarray, *, width: int, height: int, mirrored: bool = False) -> float:
    """Geometric handedness: positive for a right hand, negative for a left hand (unmirrored frame).

    The thumb tip lies on the palmar side of the palm plane. The palm normal taken from the
    wrist -> index MCP and wrist -> little MCP edges points palmar for one hand and dorsal for the
    other, so the side of the thumb tip tells the hands apart whichever way the palm faces. Uses
    MediaPipe's image landmarks (z on the scale of x), so it does not depend on the handedness head.
    Returned in units of the palm length (wrist to middle MCP); about 0.2-0.6 for a clear hand.
    """
    p = np.asarray(image, dtype=np.float64) * (width, height, width)
    normal = np.cross(p[INDEX_MCP] - p[WRIST], p[PINKY_MCP] - p[WRIST])
    norm = float(np.linalg.norm(normal))
    palm = float(np.linalg.norm(p[MIDDLE_MCP] - p[WRIST]))
    if norm < 1e-9 or palm < 1e-9 or not np.isfinite(norm):
        return 0.0
    palm_centre = p[[WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP]].mean(axis=0)
    value = float(np.dot(normal / norm, p[THUMB_TIP] - palm_centre) / palm)
    return -value if mirrored else value


def _quiet_mediapipe() -> Any:
    # glog defaults print INFO/WARNING lines for every graph; keep stderr readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mediapipe as mp

    return mp


def _readonly(rgb: np.ndarray) -> np.ndarray:
    """A read-only contiguous view: MediaPipe then wraps the buffer instead of copying it."""
    view = np.ascontiguousarray(rgb, dtype=np.uint8).view()
    view.flags.writeable = False
    return view


class _HandsGraph:
    """One MediaPipe Hands graph with a fixed number of hands (not thread-safe)."""

    def __init__(
        self,
        *,
        max_num_hands: int,
        model_complexity: int,
        static: bool,
        min_confidence: float,
        mirrored: bool,
        flip: bool = False,
    ) -> None:
        mp = _quiet_mediapipe()
        self._graph = mp.solutions.hands.Hands(
            static_image_mode=static,
            max_num_hands=max_num_hands,
            model_complexity=model_complexity,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        self._mirrored = mirrored
        self._flip = flip

    def detect(self, rgb: np.ndarray) -> list[HandDetection]:
        h, w = rgb.shape[:2]
        res = self._graph.process(_readonly(rgb[:, ::-1] if self._flip else rgb))
        if not res.multi_hand_landmarks:
            return []
        out = []
        for lms, wlms, hd in zip(
            res.multi_hand_landmarks, res.multi_hand_world_landmarks, res.multi_handedness, strict=True
        ):
            cls = hd.classification[0]
            image = np.array([(p.x, p.y, p.z) for p in lms.landmark], dtype=np.float64)
            world = np.array([(p.x, p.y, p.z) for p in wlms.landmark], dtype=np.float64)
            if self._flip:  # back to the frame as given (world axes are camera-aligned)
                image[:, 0] = 1.0 - image[:, 0]
                world[:, 0] = -world[:, 0]
            out.append(
                HandDetection(
                    image=image,
                    world=world,
                    score=float(cls.score),
                    handedness=anatomical_handedness(cls.label, mirrored=self._mirrored != self._flip),
                    chirality=thumb_chirality(image, width=w, height=h, mirrored=self._mirrored),
                )
            )
        return out

    def reset(self) -> None:
        self._graph.reset()

    def close(self) -> None:
        self._graph.close()


@dataclass(frozen=True)
class PoseArms:
    """Both arms from MediaPipe Pose in one frame (index 0 and 1 = Pose's two sides).

    ``wrist_image`` (2, 2) normalized image x, y; ``elbow_visibility`` (2,); ``wrist_visibility`` (2,);
    ``elbow_world``/``wrist_world`` (2, 3) metres in camera-aligned axes.
    """

    wrist_image: np.ndarray
    wrist_visibility: np.ndarray
    elbow_visibility: np.ndarray
    elbow_world: np.ndarray
    wrist_world: np.ndarray

    def side_nearest(self, hand_wrist_xy: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(self.wrist_image - hand_wrist_xy[None, :2], axis=1)))

    def forearm(self, side: int, *, min_visibility: float = ELBOW_VISIBILITY) -> np.ndarray | None:
        """Unit elbow -> wrist vector of ``side``, or None when the elbow or wrist is not visible."""
        if self.elbow_visibility[side] < min_visibility or self.wrist_visibility[side] < min_visibility:
            return None
        v = self.wrist_world[side] - self.elbow_world[side]
        n = float(np.linalg.norm(v))
        return v / n if n > 1e-6 else None


class PoseTracker:
    """MediaPipe Pose (tracking mode, model_complexity 1: the model the wheel ships) for forearms."""

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        mp = _quiet_mediapipe()
        self._graph = mp.solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def detect(self, rgb: np.ndarray) -> PoseArms | None:
        res = self._graph.process(_readonly(rgb))
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return None
        lm, wl = res.pose_landmarks.landmark, res.pose_world_landmarks.landmark
        return PoseArms(
            wrist_image=np.array([(lm[i].x, lm[i].y) for i in _POSE_WRISTS]),
            wrist_visibility=np.array([lm[i].visibility for i in _POSE_WRISTS]),
            elbow_visibility=np.array([lm[i].visibility for i in _POSE_ELBOWS]),
            elbow_world=np.array([(wl[i].x, wl[i].y, wl[i].z) for i in _POSE_ELBOWS]),
            wrist_world=np.array([(wl[i].x, wl[i].y, wl[i].z) for i in _POSE_WRISTS]),
        )

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> PoseTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _distinct(dets: list[HandDetection]) -> list[HandDetection]:
    """Drop a candidate that is a near-duplicate of a stronger one (same hand found twice)."""
    keep: list[HandDetection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(np.linalg.norm(d.centroid - k.centroid) > 0.5 * max(k.size, d.size) for k in keep):
            keep.append(d)
    return keep


class HandTracker:
    """Hand tracking on a stream of frames: one instance per thread or process.

    Parameters
    ----------
    hand
        For :meth:`process`: which hand to follow ('auto' keeps following the first hand found).
    max_num_hands
        1 or 2 fixes MediaPipe's number of hands; None (default) adapts (see module docstring).
    model_complexity
        0 (lite, faster) or 1 (full, more accurate) hand landmark model.
    min_confidence
        MediaPipe's detection and tracking thresholds.
    mirrored
        True when frames are horizontally flipped (affects handedness only).
    flip
        Show MediaPipe each frame flipped horizontally and flip its landmarks back. Its palm detector is
        not symmetric: it finds some hands only one way round.
    pose
        Also run MediaPipe Pose so :meth:`process` fills ``forearm``.
    check_every_s, revert_after_s
        Adaptive mode: how often to look for a second hand, and how long without one before
        returning to one-hand tracking.
    pose_retry_s
        While Pose finds no body, it is tried only this often (a miss costs a person detection).

    Examples
    --------
    >>> with HandTracker(hand="right") as tracker:  # doctest: +SKIP
    ...     for t, rgb in frames:
    ...         landmarks = tracker.process(t, rgb)
    """

    def __init__(
        self,
        *,
        hand: HandChoice = "auto",
        max_num_hands: int | None = None,
        model_complexity: int = 1,
        min_confidence: float = 0.5,
        mirrored: bool = False,
        flip: bool = False,
        pose: bool = False,
        check_every_s: float = 2.0,
        revert_after_s: float = 3.0,
        pose_retry_s: float = 0.5,
    ) -> None:
        if hand not in ("auto", "left", "right"):
            raise ValueError(f"hand must be 'auto', 'left' or 'right', not {hand!r}")
        if model_complexity not in (0, 1):
            raise ValueError("model_complexity must be 0 or 1")
        if max_num_hands not in (None, 1, 2):
            raise ValueError("max_num_hands must be 1, 2 or None (adaptive)")
        self.hand: HandChoice = hand
        self.model_complexity = model_complexity
        self._min_confidence = min_confidence
        self._mirrored = mirrored
        self._flip = flip
        self._adaptive = max_num_hands is None
        self.num_hands = max_num_hands or 1
        self._graphs: dict[int, _HandsGraph] = {}
        self._checker: _HandsGraph | None = None
        self._backward: _HandsGraph | None = None  # for track_back
        self._pose = PoseTracker(min_confidence=min_confidence) if pose else None
        self._check_every_s = check_every_s
        self._revert_after_s = revert_after_s
        self._last_check_t = -np.inf
        self._last_two_t = -np.inf
        self.two_hands_seen = False  # a second hand was in view at some point
        self.last_pose: PoseArms | None = None
        self._pose_seen = False
        self._last_pose_try_t = -np.inf
        self._pose_retry_s = pose_retry_s
        self._last_xy: np.ndarray | None = None  # where process() last found its hand
        self._last_t = -np.inf

    # -- frame by frame ------------------------------------------------------------------------
    def _graph(self, n: int) -> _HandsGraph:
        if n not in self._graphs:
            self._graphs[n] = self._new_graph(n, static=False, model_complexity=self.model_complexity)
        return self._graphs[n]

    def _new_graph(self, n: int, *, static: bool, model_complexity: int) -> _HandsGraph:
        return _HandsGraph(
            max_num_hands=n,
            model_complexity=model_complexity,
            static=static,
            min_confidence=self._min_confidence,
            mirrored=self._mirrored,
            flip=self._flip,
        )

    def _switch(self, n: int) -> None:
        if n != self.num_hands:
            self.num_hands = n
            if n in self._graphs:
                self._graphs[n].reset()  # its tracking state is stale

    def detect(self, rgb: np.ndarray, t: float | None = None) -> list[HandDetection]:
        """All candidate hands in this frame (tracking mode: call with consecutive frames).

        ``t`` (seconds) drives the adaptive one/two-hand switching; without it frames are assumed
        to be 1/30 s apart.
        """
        if t is None:
            t = (self._last_t + 1 / 30) if np.isfinite(self._last_t) else 0.0
        self._last_t = t
        if self._adaptive and self.num_hands == 1 and t - self._last_check_t >= self._check_every_s:
            self._last_check_t = t
            if self._checker is None:
                self._checker = self._new_graph(2, static=True, model_complexity=0)  # detection only: lite is enough
            if len(_distinct(self._checker.detect(rgb))) >= 2:
                self._switch(2)
                self._last_two_t = t
        dets = _distinct(self._graph(self.num_hands).detect(rgb))
        if len(dets) >= 2:
            self.two_hands_seen = True
            self._last_two_t = t
        elif self._adaptive and self.num_hands == 2 and t - self._last_two_t > self._revert_after_s:
            self._switch(1)
            self._last_check_t = t  # just saw one hand for a while: no need to check right away
        self.last_pose = None
        if self._pose is not None and (self._pose_seen or t - self._last_pose_try_t >= self._pose_retry_s):
            # Looking for a body that is not there costs a full person detection per frame: while
            # nobody is found, look only every pose_retry_s.
            self._last_pose_try_t = t
            self.last_pose = self._pose.detect(rgb)
            self._pose_seen = self.last_pose is not None
        return dets

    def track_back(self, found: np.ndarray, missed: Sequence[np.ndarray]) -> list[list[HandDetection]]:
        """The hand tracked backwards from ``found`` (a frame where it was found) into the frames before it.

        MediaPipe finds a hand in two steps: a palm detector, which misses hands it sees edge-on or curled
        (a wrist held straight seen from the little-finger side, a fist from three-quarters), and a landmark
        model that follows a hand from the previous frame's landmarks, which keeps them. A hand that came
        into view, or back into view, undetected is thus followed back from the first frame it was detected
        in. ``missed`` are the frames just before ``found``, in time order; returns their detections, in the
        same order, empty from the first frame where the hand was lost going back.
        """
        if self._backward is None:
            self._backward = self._new_graph(1, static=False, model_complexity=self.model_complexity)
        graph = self._backward
        out: list[list[HandDetection]] = [[] for _ in missed]
        if graph.detect(found):
            for k in range(len(missed) - 1, -1, -1):
                dets = graph.detect(missed[k])
                if not dets:
                    break
                out[k] = dets
        graph.reset()
        return out

    def process(self, t: float, rgb: np.ndarray) -> FrameLandmarks:
        """The requested hand in this frame, for the live page (arrays are None when not in view).

        Selection: with one candidate, that hand (a patient showing one hand is doing the exercise,
        even if MediaPipe's handedness disagrees); with two, the requested hand, or in 'auto' the one
        nearest to where the hand was last followed.
        """
        dets = self.detect(rgb, t)
        chosen = self._select_live(dets, t)
        if chosen is None:
            return FrameLandmarks(t=t, image=None, world=None, forearm=None, width=rgb.shape[1], height=rgb.shape[0])
        forearm = None
        if self.last_pose is not None:
            forearm = self.last_pose.forearm(self.last_pose.side_nearest(chosen.image[WRIST, :2]))
        return FrameLandmarks(
            t=t, image=chosen.image, world=chosen.world, forearm=forearm, width=rgb.shape[1], height=rgb.shape[0]
        )

    def _select_live(self, dets: list[HandDetection], t: float) -> HandDetection | None:
        if not dets:
            return None
        pool = dets
        if self.hand != "auto" and len(dets) > 1:
            pool = [d for d in dets if d.likely_hand == self.hand] or dets
        elif self.hand != "auto" and t - self._last_two_t < 1.0 and dets[0].likely_hand != self.hand:
            # Both hands were just in view and the one left looks like the other hand: unless it is
            # where the followed hand was, the followed hand is the one that went missing.
            last = self._last_xy
            if last is None or float(np.linalg.norm(dets[0].centroid - last)) > max(0.1, dets[0].size):
                return None
        if self._last_xy is not None and len(pool) > 1:
            last = self._last_xy
            chosen = min(pool, key=lambda d: float(np.linalg.norm(d.centroid - last)))
        else:
            chosen = max(pool, key=lambda d: d.score)
        self._last_xy = chosen.centroid
        return chosen

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        for g in self._graphs.values():
            g.close()
        self._graphs.clear()
        for extra in (self._checker, self._backward):
            if extra is not None:
                extra.close()
        self._checker, self._backward = None, None
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- choosing the scored hand over a whole video -------------------------------------------------


@dataclass(frozen=True)
class HandChoiceResult:
    """Which candidate of each frame is the scored hand (``index[i] == -1``: none)."""

    index: np.ndarray
    handedness: Handedness
    warnings: list[str] = field(default_factory=list)


_NEW_TRACK_COST = 10.0  # larger than any in-gate distance: join a track whenever one is in reach


def assign_tracks(
    t: np.ndarray, candidates: Sequence[Sequence[HandDetection]], *, max_gap_s: float = 1.0, gate: float = 0.25
) -> list[list[int]]:
    """Give each candidate a track id, so one physical hand keeps one id across frames.

    A candidate joins the recently seen track (within ``max_gap_s``) whose last centroid is nearest,
    jointly optimal over the frame's candidates, if that is closer than ``gate`` (normalized image
    units) or two hand sizes; otherwise it starts a new track.
    """
    ids: list[list[int]] = []
    last_xy: dict[int, np.ndarray] = {}
    last_t: dict[int, float] = {}
    n_tracks = 0
    for ti, dets in zip(t, candidates, strict=True):
        active = [k for k in last_xy if ti - last_t[k] <= max_gap_s]
        frame_ids = [-1] * len(dets)
        if dets and active:
            best: tuple[float, tuple[int, ...]] = (np.inf, ())
            # every way to give distinct active tracks (or none: -1) to the candidates
            options = [*active, *([-1] * len(dets))]
            for perm in set(permutations(options, len(dets))):
                cost = 0.0
                for d, k in zip(dets, perm, strict=True):
                    if k == -1:
                        cost += _NEW_TRACK_COST
                        continue
                    dist = float(np.linalg.norm(d.centroid - last_xy[k]))
                    cost += dist if dist <= max(gate, 2 * d.size) else np.inf
                if cost < best[0]:
                    best = (cost, perm)
            frame_ids = list(best[1]) if best[1] else frame_ids
        for j, d in enumerate(dets):
            if frame_ids[j] == -1:
                frame_ids[j] = n_tracks
                n_tracks += 1
            last_xy[frame_ids[j]] = d.centroid
            last_t[frame_ids[j]] = float(ti)
        ids.append(frame_ids)
    return ids


def _articulation_motion(seq: list[HandDetection]) -> float:
    """Summed frame-to-frame change of the hand's shape (landmarks relative to the wrist, per hand size)."""
    total = 0.0
    for a, b in pairwise(seq):
        ra = (a.image[:, :2] - a.image[WRIST, :2]) / max(a.size, 1e-6)
        rb = (b.image[:, :2] - b.image[WRIST, :2]) / max(b.size, 1e-6)
        total += float(np.linalg.norm(rb - ra, axis=1).mean())
    return total


def choose_hand(
    t: np.ndarray, candidates: Sequence[Sequence[HandDetection]], *, hand: HandChoice = "auto"
) -> HandChoiceResult:
    """Pick the scored hand in every frame of a video.

    With never more than one hand in a frame, every detection is that hand and its handedness is
    the confidence-weighted majority of MediaPipe's votes (a requested hand overrides it, with a
    warning when they disagree). With two hands in view, candidates are linked into tracks by
    proximity; each track's handedness is its majority vote (two tracks seen together get opposite
    hands); the requested hand, or in 'auto' the hand that moves most, is kept.
    """
    n = len(candidates)
    index = np.full(n, -1, dtype=np.int64)
    warnings: list[str] = []
    two = any(len(c) >= 2 for c in candidates)
    if not two:
        votes = sum(d.right_evidence for c in candidates for d in c)
        seen: Handedness = "right" if votes >= 0 else "left"
        for i, c in enumerate(candidates):
            if c:
                index[i] = 0
        if hand == "auto" or not (index >= 0).any():
            return HandChoiceResult(index, seen if hand == "auto" else hand, warnings)
        if hand != seen:
            warnings.append(
                f"The {hand} hand was chosen, but the tracked hand looks like a {seen} hand; "
                f"it was scored as the {hand} hand."
            )
        return HandChoiceResult(index, hand, warnings)

    ids = assign_tracks(t, candidates)
    tracks: dict[int, list[tuple[int, int]]] = {}  # track -> [(frame, candidate)]
    for i, frame_ids in enumerate(ids):
        for j, k in enumerate(frame_ids):
            tracks.setdefault(k, []).append((i, j))
    vote = {k: sum(candidates[i][j].right_evidence for i, j in members) for k, members in tracks.items()}
    label: dict[int, Handedness] = {k: "right" if v >= 0 else "left" for k, v in vote.items()}
    # Two tracks seen in the same frame are different hands: settle a shared label by vote margin.
    together: dict[tuple[int, int], int] = {}
    for frame_ids in ids:
        if len(frame_ids) >= 2:
            a, b = sorted(frame_ids[:2])
            together[(a, b)] = together.get((a, b), 0) + 1
    for (a, b), _ in sorted(together.items(), key=lambda kv: -kv[1]):
        if label[a] == label[b]:
            righter, lefter = (a, b) if vote[a] >= vote[b] else (b, a)
            label[righter], label[lefter] = "right", "left"

    if hand == "auto":
        motion = {"left": 0.0, "right": 0.0}
        for k, members in tracks.items():
            motion[label[k]] += _articulation_motion([candidates[i][j] for i, j in members])
        chosen: Handedness = "right" if motion["right"] >= motion["left"] else "left"
    else:
        chosen = hand
        if not any(lab == hand for lab in label.values()):
            warnings.append(f"The {hand} hand was not found in the video (only the other hand was seen).")
    # Longer tracks first: if two tracks share the chosen label in one frame, the longer one wins.
    for k in sorted(tracks, key=lambda k: -len(tracks[k])):
        if label[k] != chosen:
            continue
        for i, j in tracks[k]:
            if index[i] == -1:
                index[i] = j
    return HandChoiceResult(index, chosen, warnings)


# -- whole videos ---------------------------------------------------------------------------------


def track_video(
    path: str | os.PathLike[str],
    *,
    hand: str = "auto",
    max_side: int | None = 960,
    pose: bool = False,
    progress: Progress | None = None,
    model_complexity: int = 1,
    mirrored: bool = False,
    backtrack_s: float = BACKTRACK_S,
) -> tuple[VideoInfo, LandmarkSeries, list[str]]:
    """Track the scored hand through a video file.

    Where no hand was found, the hand is also tracked backwards from the frame it was found again in, up to
    ``backtrack_s`` seconds (:meth:`HandTracker.track_back`): MediaPipe's palm detector misses a hand seen
    edge-on (a straight wrist from the little-finger side) or curled into a fist from three-quarters, which
    its landmark model follows from a neighbouring frame. On the 26 rendered clips (of 540) where the hand
    was missed for a while, this found it in 304 of the 505 frames, among them the first one or two seconds
    of wrist flexion seen from the little-finger side; a frame-by-frame (live) tracker cannot do this.

    Where the hand was found in fewer than ``RETRY_BELOW`` of the frames, the video is tracked again on the
    frames flipped left to right and with the lite model (``RETRY_TRACKERS``), and a pass that found the hand
    in clearly more frames is kept, with a warning that says so: MediaPipe's palm detectors are not symmetric
    and differ between its two models.

    Parameters
    ----------
    path
        The video file.
    hand
        'left' or 'right' to score that hand; 'auto' scores the hand that moves most.
    max_side
        Frames are downscaled to this long side before tracking (None: source size).
    pose
        Also run MediaPipe Pose and fill ``series.forearm`` (unit elbow -> wrist vector).
    progress
        Called as ``progress(done, total)`` after each frame (``total`` is the expected count).
    model_complexity
        Hand landmark model: 1 (full, default) or 0 (lite).
    mirrored
        True for a horizontally flipped recording (affects handedness only).
    backtrack_s
        Seconds without a hand tracked backwards into (0: none). The frames are held in memory meanwhile.

    Returns
    -------
    video : VideoInfo
        The source video as decoded (exact frame count; upright source width/height).
    series : LandmarkSeries
        One row per decoded frame; NaN and ``present=False`` where the hand was not found.
    warnings : list of str
        Plain sentences about the input and the tracking.

    Raises
    ------
    UnusableInputError
        When the file cannot be used as a video.
    """
    if hand not in ("auto", "left", "right"):
        raise ValueError(f"hand must be 'auto', 'left' or 'right', not {hand!r}")
    choice_of: HandChoice = hand  # type: ignore[assignment]  # checked just above
    settings = _PassSettings(choice_of, model_complexity, mirrored, pose, backtrack_s)
    first = best = _track_pass(path, settings, max_side=max_side, progress=progress)
    for complexity, flip in RETRY_TRACKERS:
        if best.found >= RETRY_BELOW:
            break
        if (complexity, flip) != (model_complexity, False):
            # The same frames: Pose, which does not depend on the hand tracker, is not run again.
            retry = replace(settings, model_complexity=complexity, flip=flip, pose=False)
            alt = _track_pass(path, retry, max_side=max_side, progress=progress)
            best = alt if alt.found >= best.found + RETRY_GAIN else best
    video, warnings = best.video, list(best.warnings)
    if best is not first:
        ways = []
        if best.settings.model_complexity != model_complexity:
            ways.append("with its lite model")
        if best.settings.flip:
            ways.append("on the frames flipped left to right")
        warnings.append(
            f"MediaPipe found the hand in {first.found:.0%} of the frames; tracked {' '.join(ways)}, it found it in "
            f"{best.found:.0%}."
        )
    t_arr = np.asarray(best.times, dtype=np.float64)
    choice = choose_hand(t_arr, best.candidates, hand=choice_of)
    warnings += choice.warnings
    series = _build_series(t_arr, best.candidates, choice, video, first.arms if pose else None)
    series = series.with_(
        meta={
            "tracker": "mediapipe-hands",
            "model_complexity": best.settings.model_complexity,
            "flipped": int(best.settings.flip),
            "max_side": int(max_side or 0),
            "two_hands_in_view": int(best.two_hands),
            "source": Path(path).name,
        }
    )
    if pose and series.forearm is not None:
        warnings += forearm_warnings(series)
    return video, series, warnings


@dataclass(frozen=True)
class _PassSettings:
    """How :func:`track_video` runs MediaPipe (see :class:`HandTracker`)."""

    hand: HandChoice
    model_complexity: int
    mirrored: bool
    pose: bool
    backtrack_s: float
    flip: bool = False


@dataclass
class _Pass:
    """One pass of the tracker over a video: the candidate hands in every frame."""

    settings: _PassSettings
    video: VideoInfo
    warnings: list[str]
    times: list[float]
    candidates: list[list[HandDetection]]
    arms: list[PoseArms | None]
    two_hands: bool

    @property
    def found(self) -> float:
        """Share of the frames with a hand in them."""
        return sum(map(bool, self.candidates)) / max(1, len(self.candidates))


def _track_pass(
    path: str | os.PathLike[str], s: _PassSettings, *, max_side: int | None, progress: Progress | None = None
) -> _Pass:
    info, frames = read_video(path, max_side=max_side)
    times: list[float] = []
    candidates: list[list[HandDetection]] = []
    arms: list[PoseArms | None] = []
    with (
        frames,
        HandTracker(
            hand=s.hand, model_complexity=s.model_complexity, mirrored=s.mirrored, flip=s.flip, pose=s.pose
        ) as tracker,
    ):
        missed: list[tuple[int, float, np.ndarray]] = []  # the latest frames without a hand (backtrack_s)
        for t, rgb in frames:
            dets = tracker.detect(rgb, t)
            if not dets and s.backtrack_s > 0:
                missed = [m for m in missed if m[1] >= t - s.backtrack_s] + [(len(times), t, rgb)]
            elif missed:
                for (i, _, _), back in zip(missed, tracker.track_back(rgb, [m[2] for m in missed]), strict=True):
                    candidates[i] = back
                missed = []
            candidates.append(dets)
            times.append(t)
            if s.pose:
                arms.append(tracker.last_pose)
            if progress is not None:
                progress(len(times), max(info.frames, len(times)))
    return _Pass(s, frames.video_info(), list(frames.warnings), times, candidates, arms, tracker.two_hands_seen)


def _build_series(
    t: np.ndarray,
    candidates: Sequence[Sequence[HandDetection]],
    choice: HandChoiceResult,
    video: VideoInfo,
    arms: Sequence[PoseArms | None] | None,
) -> LandmarkSeries:
    n = len(t)
    image = np.full((n, N_LANDMARKS, 3), np.nan)
    world = np.full((n, N_LANDMARKS, 3), np.nan)
    score = np.zeros(n)
    for i, j in enumerate(choice.index):
        if j >= 0:
            d = candidates[i][j]
            image[i], world[i], score[i] = d.image, d.world, d.score
    present = choice.index >= 0
    forearm = None if arms is None else forearm_series(image, present, arms)
    return LandmarkSeries(
        t=t,
        image=image,
        world=world,
        present=present,
        score=score,
        handedness=choice.handedness,
        width=video.width,
        height=video.height,
        forearm=forearm,
    )


def forearm_series(image: np.ndarray, present: np.ndarray, arms: Sequence[PoseArms | None]) -> np.ndarray:
    """Unit elbow -> wrist per frame for the pose arm that holds the tracked hand (NaN elsewhere).

    The side is decided once per video (majority of nearest pose wrist), and a frame is used only
    when that pose wrist is close to the hand's wrist (otherwise Pose has lost the arm).
    """
    n = len(arms)
    out = np.full((n, 3), np.nan)
    votes = [0, 0]
    for i, a in enumerate(arms):
        if a is not None and present[i]:
            votes[a.side_nearest(image[i, WRIST, :2])] += 1
    if sum(votes) == 0:
        return out
    side = int(np.argmax(votes))
    for i, a in enumerate(arms):
        if a is None or not present[i]:
            continue
        hand_size = float(np.linalg.norm(image[i, MIDDLE_MCP, :2] - image[i, WRIST, :2]))
        if np.linalg.norm(a.wrist_image[side] - image[i, WRIST, :2]) > max(0.08, 1.5 * hand_size):
            continue
        v = a.forearm(side)
        if v is not None:
            out[i] = v
    return out


def forearm_warnings(series: LandmarkSeries) -> list[str]:
    assert series.forearm is not None
    seen = np.isfinite(series.forearm[:, 0])
    if not seen.any():
        return ["The elbow was never visible, so the forearm direction could not be measured."]
    rate = float(seen[series.present].mean()) if series.present.any() else 0.0
    if rate < 0.5:
        return [f"The elbow was visible in only {rate:.0%} of the tracked frames."]
    return []


__all__ = [
    "ELBOW_VISIBILITY",
    "HandChoiceResult",
    "HandDetection",
    "HandTracker",
    "PoseArms",
    "PoseTracker",
    "anatomical_handedness",
    "assign_tracks",
    "choose_hand",
    "forearm_series",
    "forearm_warnings",
    "thumb_chirality",
    "track_video",
]
