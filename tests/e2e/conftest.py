"""Browser fixtures: the dashboard served by ``streamlit run app.py`` and headless Chromium with a fake camera.

The fake camera plays a ``.y4m`` made from ``sample_videos/finger_tapping.mp4``: the empty scene for
``LEAD_IN_S`` (the patient getting into position; the WebRTC connection is set up meanwhile), the clip,
then its last frame held for ``TAIL_S``. Chromium plays the file from its first frame when the page
opens the camera, and loops it; a second loop starts with the empty scene again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .e2e_support import (
    CAMERA_SIZE,
    CAMERA_SPY,
    CHROMIUM,
    CHROMIUM_FLAGS,
    LEAD_IN_S,
    SAMPLES,
    TAIL_S,
    Camera,
    Clip,
    Server,
    run_dashboard,
    screenshot,
    write_camera_file,
)


def _needs(tool: str, path: Path | None = None) -> None:
    if (path is not None and not path.exists()) or (path is None and shutil.which(tool) is None):
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="session")
def tapping_clip() -> Clip:
    """``sample_videos/finger_tapping.mp4`` and its truth."""
    video = SAMPLES / "finger_tapping.mp4"
    truth_file = SAMPLES / "finger_tapping.truth.json"
    if not video.exists() or not truth_file.exists():
        pytest.skip(f"no sample clip {video} (render the samples first: make samples)")
    truth = json.loads(truth_file.read_text())
    return Clip(
        path=video,
        exercise=truth["exercise"],
        hand=truth["hand"],
        rep_count=int(truth["rep_count"]),
        duration_s=float(truth["video"]["duration_s"]),
    )


@pytest.fixture(scope="session")
def camera(tapping_clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> Camera:
    """The fake camera's clip (see module docstring)."""
    truth = json.loads((SAMPLES / "finger_tapping.truth.json").read_text())
    out = tmp_path_factory.mktemp("camera") / "finger_tapping.y4m"
    write_camera_file(tapping_clip, out, lead_in_s=LEAD_IN_S, tail_s=TAIL_S, size=CAMERA_SIZE)
    return Camera(out, tapping_clip, LEAD_IN_S, TAIL_S, first_tap_s=float(truth["reps"][0]["start_s"]))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard as a patient's own computer runs it: localhost, no password."""
    with run_dashboard(tmp_path_factory.mktemp("data")) as found:
        yield found


@pytest.fixture(scope="session")
def browser_context(camera: Camera, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium (fresh profile) whose camera plays ``camera``; pages keep their camera streams."""
    _needs("chromium", CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera.path}"],
            accept_downloads=True,
            viewport={"width": 1400, "height": 2000},
        )
        context.add_init_script(CAMERA_SPY)
        try:
            yield context
        finally:
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab (its own Streamlit session); a failing test leaves a screenshot ``FAILED_<test>.png``."""
    tab = browser_context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed and not tab.is_closed():
            screenshot(tab, f"FAILED_{request.node.name}")
        tab.close()
