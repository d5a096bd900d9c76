"""Shared pieces of the browser tests: where things are, what a clip holds, page helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HANDREHAB_CHROMIUM", "/usr/bin/chromium"))
SAMPLES = Path(os.environ.get("HANDREHAB_SAMPLES", ROOT / "sample_videos"))
SCREENSHOTS = Path(os.environ.get("HANDREHAB_SCREENSHOTS", ROOT / "tests" / "e2e" / "screenshots"))
LEAD_IN_S = 10.0  # longer than connecting and loading the models takes on a busy machine
TAIL_S = 12.0
CAMERA_SIZE = (480, 360)
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


def wait_for_app(page: Any, *, timeout_ms: int = 60_000) -> None:
    """Until the Streamlit script has finished its current run (the app root says ``notRunning``)."""
    page.wait_for_timeout(250)  # let a rerun triggered by the last action begin
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)
