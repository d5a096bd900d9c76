"""Synthetic inputs and stand-ins for the dashboard tests (no camera, no browser)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from streamlit.testing.v1 import AppTest

from dashboard.live_processor import LiveProcessor
from exercises.base import FrameLandmarks
from sessions.pipeline import Scored, score_series
from tracking.series import INDEX_TIP, MIDDLE_MCP, THUMB_TIP, LandmarkSeries
from tracking.video import VideoInfo

ROOT = Path(__file__).resolve().parents[3]  # where app.py and dashboard/ live

FPS = 30


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


class ScriptedTracker:
    """Stands in for MediaPipe: the hand of a patient tapping ``taps`` times at 2 Hz (unit test only)."""

    def __init__(self, taps: int, *, hidden: tuple[float, float] = (-1.0, -1.0)) -> None:
        self.taps = taps
        self.hidden = hidden
        self.calls: list[float] = []
        self.closed = False

    def process(self, t: float, rgb: np.ndarray) -> FrameLandmarks:
        self.calls.append(t)
        h, w = rgb.shape[:2]
        if self.hidden[0] <= t < self.hidden[1]:
            return FrameLandmarks(t=t, image=None, world=None, width=w, height=h)
        image, world = hand_frame(opening_at(t, rate_hz=2.0, taps=self.taps))
        return FrameLandmarks(t=t, image=image, world=world, width=w, height=h)

    def close(self) -> None:
        self.closed = True


def video_frame(i: int, *, brightness: int = 150) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), brightness, np.uint8), format="rgb24")
    frame.pts, frame.time_base = i, Fraction(1, FPS)
    return frame


# -- page tests (AppTest) ---------------------------------------------------------------------------

TIMEOUT = 60


@contextlib.contextmanager
def streamlit_option(name: str, value: object) -> Iterator[None]:
    """Set a Streamlit config option (as .streamlit/config.toml would) for the duration of a block."""
    from streamlit import config

    before = config.get_option(name)
    config.set_option(name, value)
    try:
        yield
    finally:
        config.set_option(name, before)


def run_page(page: str) -> None:
    import importlib

    importlib.import_module(f"dashboard.{page}").render()


def page_test(page: str) -> AppTest:
    return AppTest.from_function(run_page, args=(page,), default_timeout=TIMEOUT)


def scored_taps(taps: int) -> Scored:
    series = tapping_series(taps=taps)
    video = VideoInfo("clip.mp4", 30.0, len(series), float(series.t[-1]), 640, 480)
    return score_series(series, video, "finger_tapping")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def start_live_set(at: AppTest, fake_camera: dict[str, Any], *, reps: int, seconds: float) -> LiveProcessor:
    """Set the target on the page, make the processor as the page would and play ``seconds`` of taps to it."""
    at.number_input(key="live_reps").set_value(reps).run()
    proc = fake_camera["calls"][-1]["video_processor_factory"]()
    assert isinstance(proc, LiveProcessor)
    for i in range(int(seconds * FPS)):
        proc.process_frame(video_frame(i))
    return proc


def live_sessions(store: Any, patient_id: str) -> list[Any]:
    return [s for s in store.list_sessions(patient_id=patient_id) if s.source == "live"]


def write_video(path: Path, *, frames: int, size: tuple[int, int] = (320, 240), fps: int = FPS) -> Path:
    """A real H.264 MP4 of plain grey frames (no hand in it)."""
    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), 100 + i % 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def last_frame(video: bytes | Path) -> np.ndarray:
    """The last decoded frame (RGB) of an MP4 given as bytes or a path."""
    import io

    src = io.BytesIO(video) if isinstance(video, bytes) else str(video)
    with av.open(src, "r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames[-1]
