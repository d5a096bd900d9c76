import math

import numpy as np
import pytest
from handkin import frames, poses, series_from_poses

from exercises.common import (
    ChannelSource,
    HandFrames,
    Median3,
    compute_channels,
    estimate_reference,
    infer_handedness,
    median3_channels,
    movement_offset,
    movement_onset,
    series_frames,
    spans_from_intervals,
)
from exercises.wrist_flexion import wrist_channels


def test_median3_removes_single_frame_spikes_and_restarts_after_gaps():
    m = Median3(max_gap_s=0.3)
    out = [m.update(i / 30, x) for i, x in enumerate([0, 0, 50, 0, 0])]
    assert max(out) == 0
    assert math.isnan(m.update(5 / 30, math.nan))
    assert m.update(2.0, 7.0) == 7.0  # after a long gap only the new sample counts


def test_median3_low_pass_lags_but_converges():
    m = Median3(smooth_s=0.1)
    out = [m.update(i / 30, 0.0 if i < 5 else 10.0) for i in range(60)]
    assert 0 < out[8] < 10 and out[-1] == pytest.approx(10, abs=1e-3)


def test_onset_and_offset_of_a_movement():
    x = np.array([0, 0, 0.1, 0, 0.2, 2, 6, 10, 6, 2, 0.3, 0, 0, 0], float)
    assert movement_onset(x, 0, 7, polarity=1) == 4  # last sample within 5 % of rest before the rise
    assert movement_offset(x, 0, 7, 13, polarity=1) == 10  # first sample back within 5 %
    assert movement_onset(-x, 0, 7, polarity=-1) == 4


def test_onset_of_a_rise_from_a_rest_that_drifted_up():
    # A neighbour's lift pulled this finger up 6 deg and it settled 1 deg higher (above 5 % of its own
    # 20 deg lift): the lift still starts at its own foot, not back at the start of the neighbour's.
    x = np.array([0, 0, 3, 6, 3, 1.2, 1.1, 1.0, 1.1, 5, 12, 20, 12, 2], float)
    assert movement_onset(x, 0, 11, polarity=1) == 7


def test_intervals_find_the_extreme_inside():
    t = np.arange(0, 3, 0.1)
    x = np.sin(t * 2)
    spans = spans_from_intervals([(1.5, 2.9), (0.0, 1.4)], t, x, polarity=-1)
    assert [s.start_s for s in spans] == [0.0, 1.5]
    assert spans[1].peak_s == pytest.approx(2.3, abs=0.11)
    with pytest.raises(ValueError):
        spans_from_intervals([(2.0, 1.0)], t, x, polarity=1)


def test_reference_kind_and_hold():
    t = np.arange(0, 3, 1 / 30)
    s = series_from_poses(t, poses(t), view="side", forearm=True)
    ref = estimate_reference(t, series_frames(s), handedness="right", present=s.present, reference_s=1.0)
    assert ref is not None and ref.kind == "forearm" and ref.t_ready == pytest.approx(1.0, abs=1 / 30)
    assert ref.image is not None and ref.image.shape == (21, 2)
    fa = s.forearm.copy()
    fa[:40] = np.nan  # elbow not seen during the hold
    ref2 = estimate_reference(
        t, series_frames(s.with_(forearm=fa)), handedness="right", present=s.present, reference_s=1.0
    )
    assert ref2 is not None and ref2.kind == "neutral"
    empty = HandFrames.empty(3)
    assert (
        estimate_reference(np.arange(3.0), empty, handedness="right", present=np.zeros(3, bool), reference_s=1.0)
        is None
    )


def test_live_source_replays_the_hold_and_matches_offline():
    t = np.arange(0, 3, 1 / 30)
    s = series_from_poses(t, poses(t, wrist_flex=lambda tt: 30 * np.sin(tt * 3) * (tt > 1.2)), view="side")
    raw, _ = compute_channels(s, wrist_channels, reference_s=1.0)
    offline = median3_channels(t, raw)
    src = ChannelSource(wrist_channels, handedness="right", reference_s=1.0)
    samples = [x for f in frames(s) for x in src.push(f)]
    assert len(samples) == len(t)  # every frame comes out once the hold is over
    live = np.array([v["wrist_flexion"] for _, v in samples])
    np.testing.assert_allclose(live, offline["wrist_flexion"], atol=1e-9)


@pytest.mark.parametrize("side", ["right", "left"])
def test_infer_handedness_from_geometry(side):
    t = np.arange(0, 0.2, 1 / 30)
    s = series_from_poses(t, poses(t), side=side, view="back", yaw=30)
    assert infer_handedness(s.world[0]) == side
