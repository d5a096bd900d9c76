"""Every registered exercise on its renderer script's movement (exact landmarks, no camera).

The scripts in ``synth.scripts`` are what the rendered clips are made of; here their forward kinematics
feed the exercises directly, so each exercise is checked against the true reps, gets the per-rep quality
fields, and its streaming detector counts the same reps at the same peaks as the offline analysis.
"""

from __future__ import annotations

import numpy as np
import pytest
from handkin import frames, series_from_poses

from exercises.registry import exercise_names, get_exercise
from synth.hand import HandShape
from synth.scripts import make_motion
from synth.video import VIEWS

QUALITY = {"start_s", "peak_s", "end_s", "duration_s", "sparc", "partly_untracked"}


def scripted(name: str, side: str = "right"):
    motion = make_motion(name, HandShape(side=side), np.random.default_rng(7), fps=30.0)
    base, yaw, pitch, roll = VIEWS[motion.view]
    series = series_from_poses(
        motion.t, motion.pose, side=side, view=base, yaw=yaw, pitch=pitch, roll=roll, noise_m=0.0005, forearm=True
    )
    return motion, series


@pytest.mark.parametrize("name", exercise_names())
def test_counts_the_scripted_reps_with_quality_fields(name):
    motion, series = scripted(name)
    analysis = get_exercise(name).analyze(series)
    assert len(analysis.reps) == len(motion.reps)
    for rep, true in zip(analysis.reps, motion.reps, strict=True):
        assert set(rep) >= QUALITY
        assert rep["start_s"] <= rep["peak_s"] <= rep["end_s"]
        assert rep["duration_s"] == pytest.approx(rep["end_s"] - rep["start_s"])
        assert rep["sparc"] < 0 and rep["partly_untracked"] is False
        assert abs(rep["peak_s"] - true["peak_s"]) < 0.5 * (true["end_s"] - true["start_s"])
        if "finger" in true:
            assert rep["finger"] == true["finger"]


@pytest.mark.parametrize("name", exercise_names())
def test_streaming_detector_gives_the_offline_reps(name):
    _, series = scripted(name, side="left")
    exercise = get_exercise(name)
    analysis = exercise.analyze(series)
    live = exercise.live() if name == "finger_tapping" else exercise.live(handedness=series.handedness)  # type: ignore[call-arg]
    states = [live.update(f) for f in frames(series)]
    done = [s.last_rep for s in states if s.rep_completed and s.last_rep]
    assert states[-1].rep_count == len(analysis.reps) == len(done) > 0
    tol = 1.0 / 30 if name == "finger_tapping" else 1e-9  # offline refines tap contacts within a frame
    for a, b in zip(sorted(done, key=lambda r: r["peak_s"]), analysis.reps, strict=True):
        assert a["peak_s"] == pytest.approx(b["peak_s"], abs=tol)
        assert a.get("finger") == b.get("finger")
