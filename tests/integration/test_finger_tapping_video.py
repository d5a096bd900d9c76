"""Finger tapping end to end on the rendered sample: real MediaPipe, scored against the renderer's truth."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from exercises.base import FrameLandmarks
from exercises.finger_tapping import FingerTapping
from sessions.pipeline import Scored, score_video

ROOT = Path(__file__).resolve().parents[2]
VIDEO = ROOT / "sample_videos" / "finger_tapping.mp4"

pytestmark = pytest.mark.slow


@cache
def scored() -> Scored:
    return score_video(VIDEO, "finger_tapping")


def truth() -> dict:
    return json.loads(VIDEO.with_suffix(".truth.json").read_text())


def test_sample_taps_and_metrics_match_truth():
    result, tr = scored().result, truth()
    assert result.rep_count == tr["rep_count"]
    m, tm = result.metrics, tr["metrics"]
    assert m["frequency_hz"] == pytest.approx(tm["frequency_hz"], rel=0.03)
    assert m["interval_cv"] == pytest.approx(tm["interval_cv"], abs=0.03)
    assert m["hesitations"] == tm["hesitations"]
    assert m["amplitude_decrement_pct"] == pytest.approx(tm["amplitude_decrement_pct"], abs=6.0)
    contacts = np.array([r["peak_s"] for r in result.reps])
    assert np.abs(contacts - np.array(tr["events"]["touch_s"])).max() < 0.03
    json.loads(result.to_json())  # schema-1 JSON without NaN


def test_live_detector_counts_the_same_taps_on_the_tracked_frames():
    series = scored().series
    live = FingerTapping().live()
    states = [
        live.update(
            FrameLandmarks(
                t=float(series.t[i]),
                image=series.image[i] if series.present[i] else None,
                world=series.world[i] if series.present[i] else None,
                width=series.width,
                height=series.height,
            )
        )
        for i in range(len(series))
    ]
    offline = [r["peak_s"] for r in scored().analysis.reps]
    live_peaks = [s.last_rep["peak_s"] for s in states if s.rep_completed and s.last_rep]
    assert states[-1].rep_count == len(offline)
    assert live_peaks == pytest.approx(offline, abs=1.0 / 30)
