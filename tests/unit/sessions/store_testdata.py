"""Synthetic sessions for the store, export and report tests (a helper module, not a test module).

``tapping_series`` is a rigid hand whose thumb tip and index tip open and close with a known number of taps
of known amplitude; ``ThresholdExercise`` is a minimal exercise with one adjustable threshold, to test
re-scoring after a threshold change without depending on a real exercise's tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exercises.base import Analysis, Signal
from metrics.reps import RepParams, find_reps
from sessions.result import SessionResult
from tracking.series import INDEX_TIP, MIDDLE_MCP, THUMB_TIP, WRIST, LandmarkSeries
from tracking.video import VideoInfo

PALM_M = 0.09
# A flat hand in metres (x right, y up the fingers), before the thumb and index tips are moved.
_BASE = np.array(
    [[0.0, -0.045, 0.0]]
    + [[-0.03 - 0.01 * k, -0.03 + 0.017 * k, 0.0] for k in range(4)]  # thumb CMC..tip
    + [[dx, 0.045 + dy, 0.0] for dx in (0.02, 0.0, -0.018, -0.034) for dy in (0.0, 0.035, 0.055, 0.07)]
)


def openings(t: np.ndarray, amplitudes: Sequence[float], *, period: float = 0.5, lead: float = 0.5) -> np.ndarray:
    """Thumb–index opening in palm lengths: open at 1.0, each tap k closes to ``1 - amplitudes[k]`` and back."""
    y = np.ones_like(t)
    for k, a in enumerate(amplitudes):
        t0 = lead + k * period
        inside = (t >= t0) & (t < t0 + period)
        y[inside] = 1.0 - a * 0.5 * (1 - np.cos(2 * np.pi * (t[inside] - t0) / period))
    return y


def tapping_series(
    amplitudes: Sequence[float] = (0.8,) * 10,
    *,
    fps: float = 30.0,
    period: float = 0.5,
    hand: str = "right",
    seed: int = 0,
) -> LandmarkSeries:
    """A tapping hand with one tap per amplitude (tip distance closes by ``amplitude`` palm lengths)."""
    duration = 1.0 + period * len(amplitudes)
    t = np.arange(0, duration, 1 / fps)
    gap = openings(t, amplitudes, period=period) * PALM_M
    world = np.repeat(_BASE[None], len(t), axis=0).copy()
    palm = np.linalg.norm(_BASE[MIDDLE_MCP] - _BASE[WRIST])
    world *= PALM_M / palm
    pinch = np.array([-0.02, 0.09, 0.0])
    world[:, THUMB_TIP] = pinch + np.c_[-gap / 2, np.zeros_like(gap), np.zeros_like(gap)]
    world[:, INDEX_TIP] = pinch + np.c_[gap / 2, np.zeros_like(gap), np.zeros_like(gap)]
    world += np.random.default_rng(seed).normal(0, 1e-5, world.shape)
    image = world[..., [0, 1, 2]] * np.array([2.0, -2.0, 1.0]) + np.array([0.5, 0.5, 0.0])
    return LandmarkSeries(
        t=t,
        image=image,
        world=world,
        present=np.ones(len(t), bool),
        score=np.full(len(t), 0.95),
        handedness=hand,  # type: ignore[arg-type]
        width=640,
        height=480,
    )


def video_info(series: LandmarkSeries, path: str = "clip.mp4") -> VideoInfo:
    return VideoInfo(
        path=path,
        fps=series.fps,
        frames=len(series),
        duration_s=float(series.t[-1]) if len(series) else 0.0,
        width=series.width,
        height=series.height,
    )


def make_result(
    n_reps: int = 5,
    *,
    exercise: str = "finger_tapping",
    path: str = "clip.mp4",
    hand: str = "right",
    scale: float = 1.0,
    detection_rate: float = 0.97,
    warnings: Sequence[str] = (),
) -> SessionResult:
    """A schema-1 result built directly (no analysis): ``n_reps`` reps 0.5 s apart, metrics scaled by ``scale``."""
    reps = [
        {
            "start_s": 0.5 + 0.5 * i,
            "end_s": 0.95 + 0.5 * i,
            "peak_s": 0.75 + 0.5 * i,
            "duration_s": 0.45,
            "amplitude": round(0.8 * scale - 0.01 * i, 4),
            "partly_untracked": False,
        }
        for i in range(n_reps)
    ]
    metrics: dict[str, Any] = {
        "frequency_hz": 2.0 * scale,
        "amplitude_mean": 0.8 * scale,
        "amplitude_decrement_pct": 5.0,
        "interval_cv": 0.05,
        "hesitations": 0,
        "touches_per_finger": {"index": n_reps, "middle": 0, "ring": 0, "little": 0},
        "reference": "neutral",
    }
    video = VideoInfo(path=path, fps=30.0, frames=150, duration_s=5.0, width=640, height=480)
    return SessionResult(exercise, video, hand, detection_rate, list(warnings), reps, metrics)


@dataclass
class ThresholdExercise:
    """Counts dips of the thumb–index opening deeper than ``min_prominence`` (a stand-in with one threshold)."""

    min_prominence: float = 0.1
    name: str = "threshold_tapping"
    title: str = "Threshold tapping"
    instructions: str = "Tap."
    value_label: str = "Thumb–index opening"
    normal_range: tuple[float, float] | None = (0.0, 1.2)

    def signal(self, series: LandmarkSeries) -> np.ndarray:
        w = series.world
        palm = np.linalg.norm(w[:, MIDDLE_MCP] - w[:, WRIST], axis=1)
        return np.asarray(np.linalg.norm(w[:, THUMB_TIP] - w[:, INDEX_TIP], axis=1) / palm)

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        t, x = np.asarray(series.t, float), self.signal(series)
        if reps is None:
            params = RepParams(min_prominence=self.min_prominence, rel_prominence=0.0, polarity=-1)
            windows = [(e.start_t, e.end_t, e.peak_t) for e in find_reps(t, x, params)]
        else:
            windows = []
            for a, b in reps:
                inside = (t >= a) & (t <= b)
                windows.append((a, b, float(t[inside][np.argmin(x[inside])])))
        out = []
        for a, b, p in windows:
            inside = (t >= a) & (t <= b)
            out.append(
                {
                    "start_s": a,
                    "end_s": b,
                    "peak_s": p,
                    "duration_s": b - a,
                    "amplitude": float(np.max(x[inside]) - np.min(x[inside])),
                }
            )
        amps = [r["amplitude"] for r in out]
        metrics = {"amplitude_mean": float(np.mean(amps)) if amps else 0.0, "taps": len(out)}
        warnings = [] if out else ["No taps were found."]
        return Analysis(self.name, out, metrics, warnings, [Signal("opening", "norm", t, x)])

    def live(self) -> Any:
        raise NotImplementedError
