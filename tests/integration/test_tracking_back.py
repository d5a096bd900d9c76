"""Real MediaPipe on a rendered clip whose hand the palm detector misses at first: tracked back into.

Wrist flexion filmed from the little-finger side (held-out suite, seed 2): MediaPipe's palm detector does not
find the straight hand seen edge-on during the first 1.6 s, its landmark model follows it from a later frame.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sessions.pipeline import score_tracked
from synth.suite import render_cached
from synth.video import ClipSpec, truth_path
from tracking.hands import track_video

pytestmark = pytest.mark.slow

EDGE_ON_START = ClipSpec(
    exercise="wrist_flexion",
    seed=203037,
    side="right",
    skin="brown",
    background="beige",
    lighting="right",
    view="side_ulnar",
    fps=24.0,
    width=640,
    height=480,
    hand_size=0.9337600022298527,
    finger_scale=(1.0936148728660913, 0.9583558074051304, 0.9020564681400587, 1.0551755668139369, 0.9058352205087968),
    girth=1.154575050176914,
    fill=0.508767551501561,
    noise=4.06136426842095,
    jpeg_quality=60,
    blur_subframes=1,
    view_jitter=6.0,
    crf=23,
    params={
        "reps": 3,
        "period": 2.488670812344666,
        "flexion_deg": 40.05000368511291,
        "extension_deg": 57.1262030726833,
    },
)


def test_a_hand_the_palm_detector_misses_is_tracked_back_from_where_it_was_found(tmp_path):
    clip = render_cached(EDGE_ON_START, tmp_path / "wrist_flexion_side_ulnar.mp4")
    truth = json.loads(truth_path(clip).read_text())
    _, forward, _ = track_video(clip, pose=True, backtrack_s=0.0)
    video, series, warnings = track_video(clip, pose=True)
    start = series.t < 1.0  # the neutral hold the angles are measured from
    assert forward.present[start].mean() < 0.2
    assert series.present[start].mean() > 0.9 and series.present.mean() > 0.97
    # Frames that were tracked anyway keep their landmarks.
    both = forward.present & series.present
    assert np.allclose(forward.image[both], series.image[both])
    result = score_tracked(series, video, "wrist_flexion", warnings=warnings).result
    assert result.rep_count == truth["rep_count"] == 3
    assert not any("already moving" in w for w in result.warnings)
    assert abs(result.metrics["max_flexion_deg"] - truth["metrics"]["max_flexion_deg"]) < 10.0
    assert abs(result.metrics["max_extension_deg"] - truth["metrics"]["max_extension_deg"]) < 10.0
