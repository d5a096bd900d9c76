"""Shared pieces of the browser tests: where things are, what a clip holds, page helpers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HANDREHAB_CHROMIUM", "/usr/bin/chromium"))
SAMPLES = Path(os.environ.get("HANDREHAB_SAMPLES", ROOT / "sample_videos"))
SCREENSHOTS = Path(os.environ.get("HANDREHAB_SCREENSHOTS", ROOT / "tests" / "e2e" / "screenshots"))
# The fake camera's clip starts with the scene empty for LEAD_IN_S, as a patient getting into position:
# longer than START -> first analysed frame takes on this machine (1.4-2.9 s measured at load 12 on 2 cores).
LEAD_IN_S = 3.0
TAIL_S = 4.0  # then the last frame is held (the hand still) before the file loops
CAMERA_SIZE = (480, 360)
# Every getUserMedia stream is kept (so a test can stop the camera) and when the first one started (the fake
# camera plays its file from frame 0 when it is opened).
CAMERA_SPY = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const open = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = await open(constraints);
    window.top.__handrehabCameraAt ??= Date.now() / 1000;
    (window.__handrehabStreams ??= []).push(stream);
    return stream;
  };
})();
"""
CHROMIUM_FLAGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass(frozen=True)
class Clip:
    """A sample clip and what it truly contains."""

    path: Path
    exercise: str
    hand: str
    rep_count: int
    duration_s: float


@dataclass(frozen=True)
class Camera:
    """What the fake camera plays, in a loop: ``lead_in_s`` of empty scene, the clip, ``tail_s`` of its last frame."""

    path: Path
    clip: Clip
    lead_in_s: float
    tail_s: float
    first_tap_s: float  # when the clip's first tap starts, in the clip

    @property
    def duration_s(self) -> float:
        """The clip of N taps as the camera shows it: the empty lead-in and the taps (not the idle tail)."""
        return self.lead_in_s + self.clip.duration_s

    @property
    def loop_s(self) -> float:
        return self.duration_s + self.tail_s

    @property
    def second_loop_tap_s(self) -> float:
        """The earliest a tap of the file's second loop can start, from when the camera opened."""
        return self.loop_s + self.lead_in_s + self.first_tap_s


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    log: Path


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to ``tests/e2e/screenshots/NAME.png`` (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def write_camera_file(clip: Clip, out: Path, *, lead_in_s: float, tail_s: float, size: tuple[int, int]) -> Path:
    """Write the fake camera's ``.y4m``: the clip's empty background for ``lead_in_s``, the clip, its last frame held.

    The sample clips are rendered on a flat background, so the empty scene is that colour (the median of
    the first frame's border).
    """
    import av
    import numpy as np

    w, h = size
    with av.open(str(clip.path)) as container:
        frames = [f.reformat(width=w, height=h, format="yuv420p").to_ndarray() for f in container.decode(video=0)]
        container.seek(0)
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    empty_rgb = np.full((h, w, 3), np.median(border, axis=0), np.uint8)
    empty = av.VideoFrame.from_ndarray(empty_rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    fps = 30
    sequence = [empty] * round(lead_in_s * fps) + frames + [frames[-1]] * round(tail_s * fps)
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in sequence:
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(frame).tobytes())
    return out


def wait_for_app(page: Any, *, timeout_ms: int = 60_000) -> None:
    """Until the Streamlit script has finished its current run (the app root says ``notRunning``)."""
    page.wait_for_timeout(250)  # let a rerun triggered by the last action begin
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_dashboard(data_dir: Path, *, password: str | None = None) -> Iterator[Server]:
    """``streamlit run app.py`` on a free port with its own data folder (and password); stopped on exit."""
    log = data_dir.parent / f"streamlit-{data_dir.name}.log"
    port = _free_port()
    env = {
        **os.environ,
        "HANDREHAB_DATA_DIR": str(data_dir),
        "HANDREHAB_SAMPLES": str(SAMPLES),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HANDREHAB_PASSWORD", None)
    env.pop("HANDREHAB_DB_URL", None)
    if password is not None:
        env["HANDREHAB_PASSWORD"] = password
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "localhost",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url=url, data_dir=data_dir, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
