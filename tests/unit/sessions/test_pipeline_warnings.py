"""The pipeline's own quality warnings: recordings too short to measure, and the hand out of view."""

from __future__ import annotations

import numpy as np
import pytest
from store_testdata import tapping_series, video_info

from sessions.pipeline import find_gaps, score_series


def test_find_gaps_marks_runs_of_missing_frames() -> None:
    t = np.arange(20) / 10
    present = np.ones(20, bool)
    present[3:9] = False  # 0.3 .. 0.9 s: the hand is back at 0.9 s
    present[15:] = False  # the last 0.5 s
    assert find_gaps(t, present, min_s=0.4) == [(pytest.approx(0.3), pytest.approx(0.9))]
    assert find_gaps(t, present, min_s=0.1) == [(pytest.approx(0.3), pytest.approx(0.9)), (1.5, 1.9)]
    assert find_gaps(t, np.ones(20, bool), min_s=0.1) == []


def test_a_gap_is_marked_with_its_times_and_taps_are_not_counted_across_it() -> None:
    series = tapping_series()  # 10 taps, one every 0.5 s from 0.5 s
    present = series.present.copy()
    present[(series.t >= 1.6) & (series.t < 3.1)] = False
    gappy = series.with_(
        present=present,
        image=np.where(present[:, None, None], series.image, np.nan),
        world=np.where(present[:, None, None], series.world, np.nan),
    )
    result = score_series(gappy, video_info(gappy), "finger_tapping").result
    assert "The hand was out of view at 1.6–3.1 s; no repetition is counted across a gap." in result.warnings
    assert all(r["end_s"] <= 1.6 or r["start_s"] >= 3.1 for r in result.reps)
    assert 5 <= result.rep_count < 10


def test_a_recording_too_short_to_measure_says_so() -> None:
    series = tapping_series().slice(0, 10)  # 0.3 s
    result = score_series(series, video_info(series), "finger_tapping").result
    assert any(w.startswith("The recording is too short") and "10 frames" in w for w in result.warnings)
    full = tapping_series()
    assert not any("too short" in w for w in score_series(full, video_info(full), "finger_tapping").result.warnings)
