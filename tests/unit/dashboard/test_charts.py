from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.charts import gauge_html, history_figure, rep_extents, rep_range_figure, signal_figure
from exercises.base import Signal


def _signal() -> Signal:
    t = np.linspace(0.0, 4.0, 401)
    value = np.cos(2 * np.pi * t)  # one cycle per second
    value[350:360] = np.nan  # a tracking gap after the reps
    return Signal("angle", "deg", t, value)


REPS = [
    {"start_s": 0.0, "peak_s": 0.5, "end_s": 1.0},
    {"start_s": 1.0, "peak_s": 1.5, "end_s": 2.0},
    {"start_s": 2.0, "peak_s": 2.5, "end_s": 3.0},
]


def test_signal_figure_marks_every_rep_and_the_rejected_ones() -> None:
    fig = signal_figure(_signal(), REPS, normal_range=(-0.5, 0.5), rejected=[2])
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 1 + len(REPS)  # the normal band and one span per rep
    labels = [a.text for a in fig.layout.annotations]
    assert labels == ["1", "<s>2</s>", "3"]
    peaks = fig.data[1]
    np.testing.assert_allclose(peaks.x, [0.5, 1.5, 2.5])
    np.testing.assert_allclose(peaks.y, [-1.0, -1.0, -1.0], atol=1e-3)


def test_rep_extents_read_the_curve_inside_each_rep() -> None:
    extents = rep_extents(_signal(), [*REPS, {"start_s": 3.5, "peak_s": 3.55, "end_s": 3.58}])
    for lo, hi in extents[:3]:
        assert lo == pytest.approx(-1.0, abs=1e-3) and hi == pytest.approx(1.0, abs=1e-3)
    assert all(math.isnan(v) for v in extents[3])  # inside the gap: nothing to show


def test_rep_range_figure_floats_bars_from_low_to_high() -> None:
    fig = rep_range_figure([(0.1, 0.9), (0.2, 0.7)], label="opening", unit="norm", normal_range=(0.0, 1.2))
    bar = fig.data[0]
    np.testing.assert_allclose(bar.base, [0.1, 0.2])
    np.testing.assert_allclose(bar.y, [0.8, 0.5])
    assert list(bar.x) == ["1", "2"]


def test_gauge_shows_value_target_and_normal_range() -> None:
    html = gauge_html(40.0, label="Wrist <angle>", unit="deg", normal_range=(0.0, 80.0), target=60.0)
    assert "data-value='40.0'" in html
    assert "40°" in html and "target 60°" in html
    assert "Wrist &lt;angle&gt;" in html  # labels are escaped
    assert "data-value=''" in gauge_html(math.nan, label="x", unit="norm", normal_range=None)


def test_history_axis_starts_at_zero_for_positive_metrics() -> None:
    fig = history_figure(["2024-01-01", "2024-02-01"], [2.8, 2.9], label="Frequency (Hz)")
    assert fig.layout.yaxis.rangemode == "tozero"
    fig = history_figure(["2024-01-01", "2024-02-01"], [-3.0, 5.0], label="Decrement (%)")
    assert fig.layout.yaxis.rangemode is None
