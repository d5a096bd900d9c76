"""Scoring pipeline: video -> landmarks (tracking) -> reps and metrics (exercises) -> SessionResult."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from exercises.base import Analysis
from exercises.registry import get_exercise
from sessions.result import SessionResult
from tracking.series import LandmarkSeries
from tracking.video import VideoInfo

Progress = Callable[[int, int], None]  # (frames done, frames expected or 0 if unknown)
# Shorter than this from first to last frame, no movement can make a repetition (a fast tap takes ~0.2 s).
MIN_SPAN_S = 0.5


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

    needs_pose = exercise != "auto" and getattr(get_exercise(exercise), "needs_pose", False)
    video, series, warnings = track_video(path, hand=hand, max_side=max_side, pose=needs_pose, progress=progress)
    if exercise != "auto":
        return score_series(series, video, exercise, warnings=warnings)
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
    elif series.detection_rate < 0.8:
        rate = series.detection_rate
        notes.append(f"The hand was tracked in only {rate:.0%} of frames; measurements may be incomplete.")
    return notes
