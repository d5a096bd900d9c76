"""Synthetic inputs and stand-ins for the dashboard tests (no camera, no browser)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # app.py and dashboard/ live at the repository root, outside the installed packages
    sys.path.insert(0, str(ROOT))

from tracking.series import INDEX_TIP, MIDDLE_MCP, THUMB_TIP, LandmarkSeries  # noqa: E402


def hand_frame(opening: float) -> tuple[np.ndarray, np.ndarray]:
    """(image, world) landmarks of a hand whose thumb-index tip distance is ``opening`` palm lengths."""
    world = np.zeros((21, 3))
    world[:, 1] = -np.linspace(0.0, 0.15, 21)  # a plausible spread of points up the hand
    world[MIDDLE_MCP] = (0.0, -0.09, 0.0)  # palm length 9 cm
    world[INDEX_TIP] = (0.03, -0.15, 0.0)
    world[THUMB_TIP] = world[INDEX_TIP] + (opening * 0.09, 0.0, 0.0)
    image = np.clip(0.5 + world * 2.0, 0.0, 1.0)
    image[:, 2] = 0.0
    return image, world


def opening_at(t: float, *, rate_hz: float, taps: int) -> float:
    """Thumb-index opening of a hand tapping ``taps`` times at ``rate_hz`` after 0.5 s open, then open."""
    phase = (t - 0.5) * rate_hz
    if phase < 0 or phase > taps:
        return 0.85
    return 0.05 + 0.8 * (0.5 + 0.5 * math.cos(2 * math.pi * phase))


def tapping_series(*, taps: int = 6, rate_hz: float = 2.0, fps: float = 30.0) -> LandmarkSeries:
    """A tracked right hand tapping ``taps`` times (world and image landmarks, all frames present)."""
    t = np.arange(0.0, 0.5 + taps / rate_hz + 1.0, 1.0 / fps)
    frames = [hand_frame(opening_at(x, rate_hz=rate_hz, taps=taps)) for x in t]
    return LandmarkSeries(
        t=t,
        image=np.stack([f[0] for f in frames]),
        world=np.stack([f[1] for f in frames]),
        present=np.ones(len(t), bool),
        score=np.ones(len(t)),
        handedness="right",
        width=640,
        height=480,
    )


class FakeState:
    def __init__(self, playing: bool) -> None:
        self.playing = playing


class FakeWebRtcContext:
    """What ``webrtc_streamer`` returns, without a browser: AppTest has no WebRTC runtime."""

    def __init__(self, processor: Any = None) -> None:
        self.state = FakeState(processor is not None)
        self.video_processor = processor
