"""Make ``dashboard_fakes`` (beside these tests) and ``dashboard``/``app.py`` (at the repository root) importable,
and give each page test an isolated data folder and a fake camera.

With ``--import-mode=importlib`` pytest puts neither folder on ``sys.path``, and ``dashboard/`` is not
one of the installed packages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parents[2]):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from dashboard_fakes import FakeWebRtcContext, ScriptedTracker, streamlit_option  # noqa: E402


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder (database, settings, uploads) for one test; localhost, no password, no samples."""
    folder = tmp_path / "data"
    monkeypatch.setenv("HANDREHAB_DATA_DIR", str(folder))
    monkeypatch.delenv("HANDREHAB_DB_URL", raising=False)
    monkeypatch.delenv("HANDREHAB_PASSWORD", raising=False)
    monkeypatch.setenv("HANDREHAB_SAMPLES", str(tmp_path / "no_samples"))
    with streamlit_option("server.address", "localhost"):
        yield folder


@pytest.fixture
def fake_camera(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Replace the WebRTC component and MediaPipe (AppTest has no browser, and no camera to track).

    Put a processor in ``holder['processor']`` to simulate a playing camera. ``holder['calls']`` has the
    arguments of each call: its ``video_processor_factory()`` makes the processor the page would, whose
    tracker sees a hand tapping 10 times at 2 Hz (``holder['trackers']``).
    """
    import streamlit_webrtc

    import dashboard.live_processor

    holder: dict[str, Any] = {"processor": None, "calls": [], "trackers": []}

    def fake_streamer(**kwargs: Any) -> FakeWebRtcContext:
        holder["calls"].append(kwargs)
        return FakeWebRtcContext(holder["processor"])

    def scripted_tracker(**settings: Any) -> ScriptedTracker:
        holder["trackers"].append(ScriptedTracker(10))
        return holder["trackers"][-1]

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake_streamer)
    monkeypatch.setattr(dashboard.live_processor, "make_tracker", scripted_tracker)
    yield holder
