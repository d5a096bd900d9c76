"""Fixtures for the dashboard tests: an isolated data folder and a stand-in for the WebRTC component."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_fakes import FakeWebRtcContext


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder (database, settings, uploads) for one test; no password, no samples."""
    folder = tmp_path / "data"
    monkeypatch.setenv("HANDREHAB_DATA_DIR", str(folder))
    monkeypatch.delenv("HANDREHAB_DB_URL", raising=False)
    monkeypatch.delenv("HANDREHAB_PASSWORD", raising=False)
    monkeypatch.setenv("HANDREHAB_SAMPLES", str(tmp_path / "no_samples"))
    return folder


@pytest.fixture
def fake_camera(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Replace the WebRTC component; put a processor in ``holder['processor']`` to simulate a playing camera."""
    import streamlit_webrtc

    holder: dict[str, Any] = {"processor": None, "calls": []}

    def fake_streamer(**kwargs: Any) -> FakeWebRtcContext:
        holder["calls"].append(kwargs)
        return FakeWebRtcContext(holder["processor"])

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake_streamer)
    yield holder
