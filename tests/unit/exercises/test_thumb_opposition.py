import numpy as np
import pytest
from handkin import assert_live_matches, series_from_poses

from exercises.thumb_opposition import ThumbOpposition, sequence_stats
from metrics.angles import tip_distances
from synth.hand import FINGERS, HandShape
from synth.scripts import make_motion


@pytest.fixture(scope="module", params=["right", "left"])
def clip(request):
    side = request.param
    m = make_motion("thumb_opposition", HandShape(side=side), np.random.default_rng(4), sequences=2, skip=(5,))
    return m, series_from_poses(m.t, m.pose, side=side, view="palm", noise_m=0.0005, seed=5)


def test_touches_attributed_to_the_right_finger(clip):
    m, s = clip
    a = ThumbOpposition().analyze(s)
    assert [r["finger"] for r in a.reps] == [r["finger"] for r in m.reps]
    for got, want in zip(a.reps, m.reps, strict=True):
        assert abs(got["peak_s"] - want["peak_s"]) < 0.2
        assert got["start_s"] < got["peak_s"] < got["end_s"]
    assert a.metrics["touches_per_finger"] == m.metrics["touches_per_finger"]
    assert a.metrics["completed_sequences"] == m.metrics["completed_sequences"] == 1
    assert a.metrics["order_errors"] == 1  # the skipped ring finger
    assert a.metrics["kapandji_stage"] == 6 and a.metrics["furthest_finger"] == "little"
    assert_live_matches(ThumbOpposition(), s, a)


def test_therapist_intervals_name_the_nearest_finger(clip):
    m, s = clip
    a = ThumbOpposition().analyze(s, reps=[(r["start_s"], r["end_s"]) for r in m.reps[:3]])
    assert [r["finger"] for r in a.reps] == [r["finger"] for r in m.reps[:3]]


def test_stopping_short_of_the_fingertips_is_not_a_touch():
    m = make_motion("thumb_opposition", HandShape(), np.random.default_rng(1), sequences=1)
    s = series_from_poses(m.t, m.pose, view="palm")
    world = s.world.copy()
    rest = world[0, 4]
    world[:, 4] = rest + (world[:, 4] - rest) * 0.4  # the thumb tip only gets 40 % of the way
    closest = min(np.nanmin(d) for d in tip_distances(world, depth_weight=0.5).values())
    assert closest > ThumbOpposition.touch_threshold  # about 3 cm short on a 9 cm palm
    a = ThumbOpposition().analyze(s.with_(world=world))
    assert a.reps == [] and a.warnings


def test_sequence_stats():
    st = sequence_stats(["index", "middle", "ring", "little", "index", "ring", "little", "index", "middle"])
    assert st["completed_sequences"] == 1
    assert st["order_errors"] == 1
    assert st["kapandji_stage"] == 6
    assert sequence_stats([])["kapandji_stage"] == 0
    assert set(FINGERS) >= {sequence_stats(["middle"])["furthest_finger"]}
