"""Angle-based exercises end to end on the rendered samples: real MediaPipe, scored against the renderer's truth."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from exercises.base import FrameLandmarks
from exercises.registry import get_exercise
from sessions.pipeline import Scored, score_video

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"

pytestmark = pytest.mark.slow

# Peak-angle metrics compared with the truth, and the largest error accepted (degrees).
ANGLES = {
    "wrist_flexion": (("max_flexion_deg", "max_extension_deg"), 7.0),
    "wrist_deviation": (("max_radial_deg", "max_ulnar_deg"), 7.0),
    "pronation_supination": (("max_pronation_deg", "max_supination_deg"), 12.0),
    "thumb_flexion": (("max_mcp_flex_deg", "max_ip_flex_deg"), 10.0),
}
EXERCISES = (
    "thumb_opposition",
    "finger_lifting",
    "wrist_flexion",
    "grip",
    "finger_spread",
    "wrist_deviation",
    "pronation_supination",
    "thumb_flexion",
)


@cache
def scored(name: str) -> Scored:
    return score_video(SAMPLES / f"{name}.mp4", name)


def truth(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("name", EXERCISES)
def test_sample_reps_and_angles_match_truth(name):
    result, tr = scored(name).result, truth(name)
    assert result.rep_count == tr["rep_count"]
    keys, tol = ANGLES.get(name, ((), 0.0))
    for key in keys:
        assert result.metrics[key] == pytest.approx(tr["metrics"][key], abs=tol), key
    if name in ("thumb_opposition", "finger_lifting"):
        assert [r["finger"] for r in result.reps] == [r["finger"] for r in tr["reps"]]
    if name == "thumb_opposition":
        assert result.metrics["completed_sequences"] == tr["metrics"]["completed_sequences"]
    if name == "finger_lifting":
        # The lift is read from the image and scales with the camera's elevation (exercises.finger_lifting): this
        # clip reads high even from its true 2-D joints (40-50° for 28-34° lifts); the accuracy bench measures
        # the mean over the suites (5.2-5.4° there).
        got, want = result.metrics["lift_angle_deg"], tr["metrics"]["lift_angle_deg"]
        assert np.mean([abs(got[f] - want[f]) for f in want]) < 12.0
    if name == "grip":
        assert result.metrics["closure_pct_mean"] == pytest.approx(tr["metrics"]["closure_pct_mean"], abs=12.0)
    if name == "finger_spread":
        assert result.metrics["spread_deg_mean"] == pytest.approx(tr["metrics"]["spread_deg_mean"], abs=7.0)
    json.loads(result.to_json())  # schema-1 JSON without NaN


@pytest.mark.parametrize("name", EXERCISES)
def test_live_detector_agrees_on_the_tracked_frames(name):
    sc = scored(name)
    series = sc.series
    live = get_exercise(name).live(handedness=series.handedness)  # type: ignore[call-arg]
    states = []
    for i in range(len(series)):
        ok = bool(series.present[i])
        fa = None if series.forearm is None else series.forearm[i]
        frame = FrameLandmarks(
            t=float(series.t[i]),
            image=series.image[i] if ok else None,
            world=series.world[i] if ok else None,
            forearm=fa if fa is not None and np.isfinite(fa).all() else None,
            width=series.width,
            height=series.height,
        )
        states.append(live.update(frame))
    peaks = sorted(s.last_rep["peak_s"] for s in states if s.rep_completed and s.last_rep)
    assert states[-1].rep_count == sc.result.rep_count
    np.testing.assert_allclose(peaks, sorted(r["peak_s"] for r in sc.result.reps), atol=1e-9)
