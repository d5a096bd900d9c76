"""The committed sample videos: decodable everywhere, and MediaPipe tracks the synthetic hand.

The tracker is the project's own ``tracking.track_video`` (MediaPipe Hands, model complexity 1).
Landmark error is measured in pixels against the projected true joints of the truth JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from synth.scripts import EXERCISES

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
TIPS = [4, 8, 12, 16, 20]


def _truth(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("name", EXERCISES)
def test_sample_exists_and_decodes(name: str) -> None:
    path = SAMPLES / f"{name}.mp4"
    truth = _truth(name)
    assert truth["schema"] == 1 and truth["exercise"] == name
    assert 3.0 <= truth["video"]["duration_s"] <= 8.0
    assert (truth["video"]["width"], truth["video"]["height"], truth["video"]["fps"]) == (640, 480, 30.0)
    assert path.stat().st_size < 1_500_000
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        n = sum(1 for _ in c.decode(video=0))
    assert n == truth["video"]["frames"]
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (480, 640, 3)


def _track(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (present (T,), image xy (T,21,2), handedness)."""
    try:
        from tracking.hands import track_video
    except ImportError:  # pragma: no cover - tracking/ not importable: use MediaPipe directly
        track_video = None  # type: ignore[assignment]
    if track_video is not None:
        _, series, _ = track_video(path, hand="auto", max_side=None)
        return np.asarray(series.present), np.asarray(series.image)[..., :2], str(series.handedness)
    import mediapipe as mp  # pragma: no cover

    present, xy, hands = [], [], []  # pragma: no cover
    with (
        mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=1, model_complexity=1) as h,
        av.open(str(path)) as c,
    ):  # pragma: no cover
        for fr in c.decode(video=0):
            r = h.process(fr.to_ndarray(format="rgb24"))
            if r.multi_hand_landmarks:
                present.append(True)
                xy.append([[p.x, p.y] for p in r.multi_hand_landmarks[0].landmark])
                hands.append("right" if r.multi_handedness[0].classification[0].label == "Left" else "left")
            else:
                present.append(False)
                xy.append(np.full((21, 2), np.nan))
    return np.array(present), np.array(xy), max(set(hands), key=hands.count) if hands else "?"  # pragma: no cover


@pytest.mark.slow
@pytest.mark.parametrize("name", EXERCISES)
def test_mediapipe_tracks_sample(name: str) -> None:
    truth = _truth(name)
    present, xy, hand = _track(SAMPLES / f"{name}.mp4")
    assert len(present) == truth["video"]["frames"]
    rate = present.mean()
    assert rate >= 0.95, f"detection rate {rate:.3f}"
    assert hand == truth["hand"]
    wh = np.array([truth["video"]["width"], truth["video"]["height"]])
    true_px = np.array(truth["frames"]["joints_image"]) * wh
    det_px = xy * wh
    err = np.linalg.norm(det_px - true_px, axis=-1)[present]  # (n, 21)
    assert np.median(err) < 12.0, f"median landmark error {np.median(err):.1f} px"
    # finger topology: each detected fingertip is nearest to its own true fingertip
    # (true tips closer than 20 px to each other, e.g. while touching, are not told apart)
    tt = true_px[present][:, TIPS]
    d = np.linalg.norm(det_px[present][:, TIPS, None, :] - tt[:, None, :, :], axis=-1)
    sep = np.linalg.norm(tt[:, :, None, :] - tt[:, None, :, :], axis=-1)
    d = np.where((sep < 20.0) & ~np.eye(5, dtype=bool), np.inf, d)
    correct = (d.argmin(-1) == np.arange(5)).mean()
    assert correct >= 0.9, f"fingertip topology correct in {correct:.2%} of tip detections"
