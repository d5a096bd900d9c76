"""Scoring pipeline: video -> landmarks (tracking) -> reps and metrics (exercises) -> SessionResult."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from exercises.base import Analysis
from exercises.registry import get_exercise
from sessions.result import SessionResult
from tracking.series import LandmarkSeries
from tracking.video import VideoInfo

Progress = Callable[[int, int], None]  # (frames done, frames expected or 0 if unknown)
# Shorter than this from first to last frame, no movement can make a repetition (a fast tap takes ~0.2 s).
MIN_SPAN_S = 0.5
# A recording whose movement fits the chosen exercise less than OWN_FIT and another one at least OTHER_FIT
# (recognition scores: 1 is a clear, moderate performance) shows the wrong exercise. Only the first
# CHECK_WINDOW_S are checked: recognition costs a few ms a frame.
OWN_FIT, OTHER_FIT, CHECK_WINDOW_S = 0.5, 1.0, 30.0
# The hand missing for at least this long is a gap worth telling the user about (reps never span one).
MIN_GAP_S = 0.5


@dataclass(frozen=True)
class Scored:
    result: SessionResult
    series: LandmarkSeries
    analysis: Analysis


def score_series(
    series: LandmarkSeries,
    video: VideoInfo,
    exercise: str,
    *,
    reps: Sequence[tuple[float, float]] | None = None,
    warnings: Sequence[str] = (),
) -> Scored:
    """Analyse an already tracked series (re-scoring and therapist corrections start here)."""
    analysis = get_exercise(exercise).analyze(series, reps=reps)
    quality = list(dict.fromkeys([*warnings, *_tracking_warnings(series)]))  # re-scoring passes them back in
    result = SessionResult.from_analysis(analysis, video, series.handedness, series.detection_rate, quality)
    return Scored(result, series, analysis)


def score_video(
    path: str | Path,
    exercise: str,
    *,
    hand: str = "auto",
    max_side: int = 960,
    progress: Progress | None = None,
) -> Scored:
    """Track ``path`` and score it. Raises ``UnusableInputError`` when the file cannot be used."""
    from tracking.hands import track_video

    video, series, warnings = track_video(
        path, hand=hand, max_side=max_side, pose=needs_pose(exercise), progress=progress
    )
    return score_tracked(series, video, exercise, warnings=warnings)


def needs_pose(exercise: str) -> bool:
    """Whether scoring ``exercise`` tracks MediaPipe Pose too (for the forearm)."""
    return exercise != "auto" and bool(getattr(get_exercise(exercise), "needs_pose", False))


def score_tracked(series: LandmarkSeries, video: VideoInfo, exercise: str, *, warnings: Sequence[str] = ()) -> Scored:
    """Score a freshly tracked recording: as :func:`score_series`, plus the checks made once per recording.

    Whether the movement looks like another exercise is checked here, once: the warning is kept with the
    session's tracking warnings when it is re-scored. ``exercise='auto'`` recognises the exercise first.
    """
    if exercise != "auto":
        return score_series(series, video, exercise, warnings=[*warnings, *_other_exercise(series, exercise)])
    return score_recognized(series, video, warnings=warnings)


def score_recognized(series: LandmarkSeries, video: VideoInfo, *, warnings: Sequence[str] = ()) -> Scored:
    """``--exercise auto``: tell the exercise from the movement, then score it as that exercise."""
    from exercises.recognize import recognize_exercise

    name, confidence, scores = recognize_exercise(series)
    notes = list(warnings)
    if confidence < 0.5:
        notes.append(
            f"The exercise could not be recognised with confidence (best guess {name}, {confidence:.0%}); "
            "choose the exercise explicitly for a reliable score."
        )
    scored = score_series(series, video, name, warnings=notes)
    recognition = {"exercise": name, "confidence": confidence, "scores": scores}
    result = replace(scored.result, extra={**scored.result.extra, "recognition": recognition})
    return replace(scored, result=result)


def _tracking_warnings(series: LandmarkSeries) -> list[str]:
    n = len(series)
    if n == 0:
        return ["The video has no frames that could be analysed."]
    notes = []
    span = float(series.t[-1] - series.t[0])
    if span < MIN_SPAN_S:
        frames = "one frame" if n == 1 else f"{n} frames"
        notes.append(f"The recording is too short to measure a repetition ({frames} over {span:.2f} s).")
    if not series.present.any():
        notes.append("No hand was found in the video: nothing could be measured.")
        return notes
    if series.detection_rate < 0.8:
        rate = series.detection_rate
        notes.append(f"The hand was tracked in only {rate:.0%} of frames; measurements may be incomplete.")
    if gaps := find_gaps(series.t, series.present, min_s=MIN_GAP_S):
        spans = ", ".join(f"{a:.1f}–{b:.1f} s" for a, b in gaps[:3])
        more = f" and {len(gaps) - 3} more times" if len(gaps) > 3 else ""
        notes.append(f"The hand was out of view at {spans}{more}; no repetition is counted across a gap.")
    return notes


def find_gaps(t: np.ndarray, present: np.ndarray, *, min_s: float) -> list[tuple[float, float]]:
    """Spans ``(start_s, end_s)`` of at least ``min_s`` in which the hand was missing.

    A gap runs from its first missing frame to the next frame with the hand (or the last frame).
    """
    missing = np.r_[False, ~np.asarray(present, bool), False]
    edges = np.flatnonzero(np.diff(missing.astype(np.int8)))
    gaps = []
    for first, after in zip(edges[::2], edges[1::2], strict=True):
        start, end = float(t[first]), float(t[min(after, len(t) - 1)])
        if end - start >= min_s:
            gaps.append((start, end))
    return gaps


def _other_exercise(series: LandmarkSeries, exercise: str) -> list[str]:
    """A warning when the movement is clearly another exercise than the one scored (its numbers mean little)."""
    from exercises.recognize import recognize_exercise

    if len(series) == 0 or not series.present.any():
        return []
    stop = int(np.searchsorted(series.t, series.t[0] + CHECK_WINDOW_S))
    best, _, fits = recognize_exercise(series.slice(0, stop))
    own = fits.get(exercise)
    if own is None or own >= OWN_FIT or best == exercise or fits[best] < OTHER_FIT:
        return []
    chosen, seen = get_exercise(exercise).title, get_exercise(best).title
    return [
        f"The movement does not look like {chosen} (it fits {min(own, 1):.0%}) but like {seen}: "
        f"check the exercise chosen; these numbers may not describe what was done."
    ]
