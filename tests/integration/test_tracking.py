"""Real MediaPipe on the rendered sample videos: detection, handedness and landmark accuracy against truth.

Each sample ``sample_videos/NAME.mp4`` has ``NAME.truth.json`` with the true hand ('left'/'right') and
the true joints projected into the image (``frames.joints_image``, x/width and y/height).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracking.hands import track_video
from tracking.series import LandmarkSeries
from tracking.video import VideoInfo

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in (ROOT / "sample_videos").glob("*.mp4") if p.with_suffix(".truth.json").exists())

pytestmark = pytest.mark.slow


def truth_of(video: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(video.with_suffix(".truth.json").read_text())
    return data


@cache
def tracked(video: Path) -> tuple[VideoInfo, LandmarkSeries, list[str]]:
    return track_video(video)


def landmark_error(series: LandmarkSeries, joints_image: np.ndarray) -> np.ndarray:
    """Per-frame mean distance between tracked and true landmarks, in units of the frame's long side."""
    scale = np.array([series.width, series.height]) / max(series.width, series.height)
    d = (series.image[:, :, :2] - joints_image[:, :, :2]) * scale
    return np.asarray(np.linalg.norm(d, axis=2).mean(axis=1))


@pytest.mark.skipif(not SAMPLES, reason="no sample videos with truth in sample_videos/ yet")
@pytest.mark.parametrize("video", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_is_tracked_with_the_right_hand_and_accurate_landmarks(video: Path) -> None:
    truth = truth_of(video)
    info, series, warnings = tracked(video)
    assert (info.width, info.height) == (truth["video"]["width"], truth["video"]["height"])
    assert info.frames == len(series) == len(truth["frames"]["t"])
    np.testing.assert_allclose(series.t, truth["frames"]["t"], atol=2e-3)
    assert series.detection_rate >= 0.95, warnings
    assert series.handedness == truth["hand"]
    err = landmark_error(series, np.asarray(truth["frames"]["joints_image"], float))
    tracked_err = err[series.present]
    assert np.median(tracked_err) < 0.02, f"median landmark error {np.median(tracked_err):.3f} of frame size"
    assert np.percentile(tracked_err, 90) < 0.04
    # lost frames are kept as NaN rows, never dropped
    assert np.isnan(series.image[~series.present]).all()
    assert series.world.shape == series.image.shape
    assert np.nanmax(np.abs(series.world)) < 0.3  # metres around the hand centre
