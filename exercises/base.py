"""What every exercise provides: offline analysis of a whole series and a live, frame-by-frame detector.

The live detector and the offline analysis share one rep state machine (``metrics.reps``), fed the
same per-frame signal, so they count the same reps on the same frames by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tracking.series import LandmarkSeries


@dataclass(frozen=True)
class Signal:
    """One 1-D signal an exercise derives from the landmarks (for plots, overlays and the ROM gauge)."""

    name: str
    unit: str  # 'deg' or 'norm' (a distance divided by palm length) ...
    t: np.ndarray
    value: np.ndarray  # NaN where the hand was not tracked


@dataclass(frozen=True)
class Analysis:
    """The outcome of one exercise on one series; ``sessions.result`` turns it into schema-1 JSON.

    ``reps`` items always have ``start_s``, ``end_s``, ``peak_s`` (seconds) plus per-rep fields
    (``duration_s``, ``sparc``, ``partly_untracked`` and exercise-specific values).
    """

    exercise: str
    reps: list[dict[str, Any]]
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)  # the first one is the main signal


@dataclass(frozen=True)
class FrameLandmarks:
    """One frame of one hand, as the live path sees it (None for the arrays = hand not in view)."""

    t: float
    image: np.ndarray | None  # (21, 3)
    world: np.ndarray | None  # (21, 3)
    forearm: np.ndarray | None = None  # (3,) unit elbow->wrist, when pose is tracked
    width: int = 0  # frame size in pixels (0 = unknown); image landmarks are normalized to it
    height: int = 0
    handedness: str | None = None  # the person's hand ('left'/'right') when known: signs flexion angles


@dataclass(frozen=True)
class LiveState:
    """What the live page shows after each frame."""

    rep_count: int
    value: float  # current value of the main signal (NaN when no hand)
    unit: str
    rep_completed: bool = False  # True on the frame a rep is counted (for a tick sound/flash)
    last_rep: dict[str, Any] | None = None  # per-rep fields of the last counted rep
    prompt: str | None = None  # a short instruction for the patient, e.g. "Move your hand into view"


class LiveDetector(Protocol):
    def update(self, frame: FrameLandmarks) -> LiveState: ...


class Exercise(Protocol):
    """An exercise registered by name in ``exercises.registry``."""

    name: str
    title: str  # human label, e.g. "Finger tapping"
    instructions: str  # one or two plain sentences for the patient
    value_label: str  # what the gauge shows, e.g. "Thumb–index opening"
    normal_range: tuple[float, float] | None  # of the main signal, for the gauge and plots

    def analyze(self, series: LandmarkSeries, *, reps: Sequence[tuple[float, float]] | None = None) -> Analysis:
        """Score ``series``.

        With ``reps`` (start_s, end_s) given, use those intervals instead of detecting them:
        this is how a therapist's correction re-computes the metrics.
        """
        ...

    def live(self) -> LiveDetector:
        """A fresh streaming detector with the same thresholds as :meth:`analyze`."""
        ...
