"""Real MediaPipe on videos derived from a right-hand sample: mirrored (a left hand), phone-rotated,
two hands in view, and the frame-by-frame live path.

Mirroring a right hand's video gives a left hand's video with known truth (x -> 1 - x), so the
handedness convention is checked in both directions on the same footage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tracking.hands import HandTracker, track_video
from tracking.video import read_video

ROOT = Path(__file__).resolve().parents[2]
MAX_FRAMES = 75  # 2.5 s at 30 fps: enough to lock on and move, cheap enough for CI
TWO_HAND_FRAMES = 45  # two-hand tracking costs twice as much per frame

pytestmark = pytest.mark.slow


def _right_hand_sample() -> Path | None:
    for p in sorted((ROOT / "sample_videos").glob("*.mp4")):
        truth = p.with_suffix(".truth.json")
        if truth.exists() and json.loads(truth.read_text()).get("hand") == "right":
            return p
    return None


SAMPLE = _right_hand_sample()
Source = tuple[list[float], list[np.ndarray], dict[str, Any]]  # times, RGB frames, truth
needs_sample = pytest.mark.skipif(SAMPLE is None, reason="no right-hand sample video with truth yet")


@pytest.fixture(scope="module")
def source() -> Source:
    assert SAMPLE is not None
    _, frames = read_video(SAMPLE, max_side=None)
    ts, imgs = [], []
    for t, rgb in frames:
        ts.append(t)
        imgs.append(rgb)
        if len(imgs) >= MAX_FRAMES:
            break
    frames.close()
    truth = json.loads(SAMPLE.with_suffix(".truth.json").read_text())
    return ts, imgs, truth


def write(path: Path, imgs: list[np.ndarray], *, rotation: int | None = None) -> Path:
    h, w = imgs[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        assert isinstance(s, av.VideoStream)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for img in imgs:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def mean_error(image: np.ndarray, truth_xy: np.ndarray) -> float:
    return float(np.nanmedian(np.linalg.norm(image[:, :, :2] - truth_xy, axis=2)))


@needs_sample
def test_mirrored_right_hand_is_a_left_hand(tmp_path: Path, source: Source) -> None:
    _, imgs, truth = source
    video = write(tmp_path / "mirrored.mp4", [img[:, ::-1] for img in imgs])
    _, series, _ = track_video(video)
    assert series.detection_rate >= 0.95
    assert series.handedness == "left"
    true_xy = np.asarray(truth["frames"]["joints_image"], float)[: len(series), :, :2].copy()
    true_xy[..., 0] = 1 - true_xy[..., 0]
    assert mean_error(series.image, true_xy) < 0.02


@needs_sample
@pytest.mark.parametrize("rotation", [90, -90])
def test_phone_rotation_is_undone_before_tracking(tmp_path: Path, source: Source, rotation: int) -> None:
    _, imgs, truth = source
    # store what a phone sensor would: the frame turned away, with a matrix that turns it back for display
    raw = [np.rot90(img, -rotation // 90) for img in imgs]
    video = write(tmp_path / f"phone{rotation}.mp4", raw, rotation=rotation)
    info, series, _ = track_video(video)
    assert (info.width, info.height) == (truth["video"]["width"], truth["video"]["height"])
    assert series.detection_rate >= 0.95 and series.handedness == truth["hand"]
    true_xy = np.asarray(truth["frames"]["joints_image"], float)[: len(series), :, :2]
    assert mean_error(series.image, true_xy) < 0.02


@pytest.fixture(scope="module")
def two_hands_video(tmp_path_factory: pytest.TempPathFactory, source: Source) -> Path:
    _, imgs, _ = source
    still_left_hand = imgs[0][:, ::-1]
    frames = [np.concatenate([img, still_left_hand], axis=1) for img in imgs[:TWO_HAND_FRAMES]]
    return write(tmp_path_factory.mktemp("two") / "two.mp4", frames)


@needs_sample
@pytest.mark.parametrize(
    ("hand", "expect_side", "expect_hand"),
    [("auto", "image-left", "right"), ("right", "image-left", "right"), ("left", "image-right", "left")],
)
def test_two_hands_in_view_keep_the_chosen_one(
    two_hands_video: Path,
    hand: str,
    expect_side: str,
    expect_hand: str,
) -> None:
    """The person's right hand moves (image left, as a camera facing them sees it); their left hand,
    a mirrored still frame, rests on the image right."""
    _, series, _ = track_video(two_hands_video, hand=hand)
    assert series.meta["two_hands_in_view"] == 1
    assert series.handedness == expect_hand
    assert series.detection_rate >= 0.9
    wrist_x = series.image[series.present, 0, 0]
    on_left = wrist_x < 0.5
    assert on_left.all() if expect_side == "image-left" else (~on_left).all(), "switched hands mid-video"


@needs_sample
def test_live_process_matches_the_offline_tracking(source: Source) -> None:
    ts, imgs, truth = source
    found = []
    with HandTracker(hand="right") as tracker:
        for t, img in zip(ts, imgs, strict=True):
            fl = tracker.process(t, img)
            assert fl.t == t and (fl.width, fl.height) == (img.shape[1], img.shape[0])
            found.append(fl.image if fl.image is not None else np.full((21, 3), np.nan))
    image = np.stack(found)
    assert np.isfinite(image[:, 0, 0]).mean() >= 0.95
    true_xy = np.asarray(truth["frames"]["joints_image"], float)[: len(image), :, :2]
    assert mean_error(image, true_xy) < 0.02


@needs_sample
def test_progress_is_reported_per_frame(tmp_path: Path, source: Source) -> None:
    _, imgs, _ = source
    video = write(tmp_path / "short.mp4", imgs[:20])
    calls: list[tuple[int, int]] = []
    progress: Callable[[int, int], None] = lambda done, total: calls.append((done, total))  # noqa: E731
    _, series, _ = track_video(video, progress=progress)
    assert [c[0] for c in calls] == list(range(1, len(series) + 1))
    assert all(total >= done for done, total in calls)
