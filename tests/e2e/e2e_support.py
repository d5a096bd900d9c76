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
