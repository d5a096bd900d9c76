import math

import numpy as np
import pytest
from handkin import assert_live_matches, bumps, series_from_poses

from exercises.common import image_pixels, run_detector
from exercises.thumb_opposition import (
    MIRRORED_FINGER,
    MirrorGuard,
    ThumbOpposition,
    closest_approach,
    finger_bend,
    sequence_stats,
)
from metrics.opposition import thumb_tip_image_distances
from synth.hand import FINGERS, HandShape
from synth.scripts import make_motion
from tracking.series import DIGIT_CHAINS, FINGERTIPS


def _image(world: np.ndarray) -> np.ndarray:
    """handkin's camera: image landmarks of (changed) world landmarks."""
    return 0.5 + world * 3.0 * np.array([480 / 640, 1.0, 480 / 640])


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
        assert got["tip_distance"] < 0.1
    assert a.metrics["touches_per_finger"] == m.metrics["touches_per_finger"]
    assert a.metrics["completed_sequences"] == m.metrics["completed_sequences"] == 1
    assert a.metrics["order_errors"] == 1  # the skipped ring finger
    assert a.metrics["kapandji_stage"] == 6 and a.metrics["furthest_finger"] == "little"
    assert a.metrics["time_per_touch_s"] > 0
    assert_live_matches(ThumbOpposition(), s, a)


def test_therapist_intervals_name_the_finger_reached(clip):
    m, s = clip
    a = ThumbOpposition().analyze(s, reps=[(r["start_s"], r["end_s"]) for r in m.reps[:3]])
    assert [r["finger"] for r in a.reps] == [r["finger"] for r in m.reps[:3]]


def test_stopping_short_of_the_fingertips_is_not_a_touch():
    m = make_motion("thumb_opposition", HandShape(), np.random.default_rng(1), sequences=1)
    s = series_from_poses(m.t, m.pose, view="palm")
    assert [r["finger"] for r in ThumbOpposition().analyze(s).reps] == list(FINGERS)
    world = s.world.copy()
    rest = world[0, 4]
    world[:, 4] = rest + (world[:, 4] - rest) * 0.3  # the thumb tip only gets 30 % of the way
    short = s.with_(world=world, image=_image(world))
    d = thumb_tip_image_distances(image_pixels(short.image, short.width, short.height))
    aimed = [np.nanmin(d[r["finger"]][(s.t >= r["start_s"]) & (s.t <= r["end_s"])]) for r in m.reps]
    assert min(aimed) > 0.35  # 3-7 cm short of the fingertip it aimed at, on a 9 cm palm
    a = ThumbOpposition().analyze(short)
    assert a.reps == [] and a.warnings


@pytest.mark.parametrize(("gap", "touched"), [(0.5, True), (0.6, False)])
def test_a_touch_is_within_0_55_palm_lengths(gap, touched):
    """MediaPipe keeps the tips of a real touch up to half a palm length apart in its worst views."""
    m = make_motion("thumb_opposition", HandShape(), np.random.default_rng(1), sequences=1)
    s = series_from_poses(m.t, m.pose, view="palm")
    little = m.reps[-1]
    during = (s.t >= little["start_s"]) & (s.t <= little["end_s"])
    tip = FINGERTIPS["little"]
    world = s.world.copy()
    away = world[0, tip] - world[0, 4]
    away[2] = 0.0
    palm = np.linalg.norm(world[0, 9] - world[0, 0])
    d = np.linalg.norm(world[:, tip] - world[:, 4], axis=-1)
    short = gap * palm * np.clip(1 - d / d[0], 0, 1)  # drawn short of the thumb, the closer the more
    world[during, tip] += (short[:, None] * away / np.linalg.norm(away))[during]
    fingers = [r["finger"] for r in ThumbOpposition().analyze(s.with_(world=world, image=_image(world))).reps]
    assert fingers == (list(FINGERS) if touched else list(FINGERS[:3]))


def _mirror(landmarks: np.ndarray) -> np.ndarray:
    """MediaPipe's mirror-image mistake: the finger labels run little -> index (the thumb stays)."""
    out = landmarks.copy()
    for f, g in MIRRORED_FINGER.items():
        out[..., list(DIGIT_CHAINS[f][1:]), :] = landmarks[..., list(DIGIT_CHAINS[g][1:]), :]
    return out


def test_mirrored_finger_labels_are_put_back():
    m = make_motion("thumb_opposition", HandShape(), np.random.default_rng(4), sequences=1)
    s = series_from_poses(m.t, m.pose, view="palm", noise_m=0.0005, seed=5)
    held = np.zeros(len(s), bool)
    for r in m.reps[1:]:  # mirrored while the thumb holds the middle, ring and little fingertips
        held |= np.abs(s.t - r["peak_s"]) < 0.15
    world, image = s.world.copy(), s.image.copy()
    world[held], image[held] = _mirror(world[held]), _mirror(image[held])
    mirrored = s.with_(world=world, image=image)
    a = ThumbOpposition().analyze(mirrored)
    assert [r["finger"] for r in a.reps] == list(FINGERS)
    assert_live_matches(ThumbOpposition(), mirrored, a)

    class Unguarded(ThumbOpposition):
        def stage(self) -> MirrorGuard:
            return MirrorGuard(min_facing=math.inf)  # never takes a frame as mirrored

    unguarded = [r["finger"] for r in Unguarded().analyze(mirrored).reps]
    assert unguarded != list(FINGERS)  # the test mirrors enough to matter


def test_mirror_guard():
    fingers = {f: float(k) for k, f in enumerate(FINGERS)}
    values = {"nearest": 0.0, "reach": 0.1, **fingers, **{f"world_{f}": 10.0 + v for f, v in fingers.items()}}
    values |= {f"length_{f}": 20.0 + v for f, v in fingers.items()}
    guard = MirrorGuard(persist_s=1.0)
    t = np.arange(0.0, 4.0, 1 / 30)
    facing = np.where((t >= 1.0) & (t < 1.3) | (t >= 2.0), -0.6, 0.6)  # a glimpse, then turned over
    facing[15] = 0.05  # the outline collapses for one frame
    out = [guard.update(float(ti), {**values, "facing": float(fi)}) for ti, fi in zip(t, facing, strict=True)]
    assert np.isnan(out[15]["reach"]) and np.isnan(out[15]["index"]) and out[15]["facing"] == 0.05
    for ti, o in zip(t, out, strict=True):
        swapped = 1.0 <= ti < 1.3 or 2.0 <= ti < 3.0  # mirrored until the other side has lasted persist_s
        if ti == t[15]:
            continue
        assert o["mirrored"] == float(swapped), ti
        assert o["index"] == (3.0 if swapped else 0.0) and o["world_ring"] == (11.0 if swapped else 12.0), ti
        assert o["length_little"] == (20.0 if swapped else 23.0), ti
        assert o["back"] == float(ti >= 3.0 - 1e-9), ti  # the palm faced the camera until the hand turned


def test_closest_approach_is_relative_to_the_open_hand():
    rest = np.array([0.8, 1.2, 1.4, 1.6])
    d = np.array(
        [
            [0.8, 0.30, 0.40, 0.8],  # the index is passed at 0.3 palm lengths (ratio 0.38) ...
            [1.2, 0.40, 0.10, 1.2],  # ... on the way to the middle fingertip (ratio 0.33, then 0.08)
            [1.4, 1.00, 0.90, 1.4],
            [1.6, 1.40, 1.30, 1.6],
        ]
    )
    on = np.array([False, True, True, False])
    assert closest_approach(d, rest, on=on, mirrored=np.zeros(4, bool)) == (1, 2)
    # Mirrored samples count only when the thumb was on the fingers in fewer than min_frames others.
    assert closest_approach(d, rest, on=on, mirrored=np.array([0, 0, 1, 0], bool), min_frames=1) == (1, 1)
    assert closest_approach(d, rest, on=on, mirrored=np.array([0, 0, 1, 0], bool)) == (1, 2)
    assert closest_approach(d, np.full(4, np.nan), on=on, mirrored=np.zeros(4, bool)) == (1, 2)  # absolute
    assert closest_approach(np.full((4, 3), np.nan), rest, on=on[:3], mirrored=np.zeros(3, bool)) is None


def test_the_finger_touched_bent_to_meet_the_thumb():
    # Rendered from the back and from above the palm, MediaPipe drew the thumb nearer a neighbour of the
    # fingertip it touched; the touched finger bent (its image length changed by 0.66 of its length, median),
    # the neighbour hardly (0.10).
    rest = np.array([1.0, 1.0, 1.0, 1.0])
    d = np.array([[1.0, 0.6, 0.30], [1.0, 0.5, 0.35], [1.0, 0.9, 0.8], [1.0, 1.0, 1.0]])
    on = np.array([False, True, True])
    assert closest_approach(d, rest, on=on, mirrored=np.zeros(3, bool)) == (0, 2)
    length = np.array([[0.9, 0.9, 0.88], [0.9, 0.6, 0.35], [0.8, 0.8, 0.8], [0.7, 0.7, np.nan]])
    bend = finger_bend(length, length[:, 0])
    np.testing.assert_allclose(bend, [0.022, 0.611, 0.0, 0.0], atol=1e-3)
    assert closest_approach(d, rest, on=on, mirrored=np.zeros(3, bool), bend=bend) == (1, 2)
    # Where no finger bent the choice is the plain relative one.
    flat = finger_bend(np.full((4, 3), 0.8), np.full(4, 0.8))
    assert closest_approach(d, rest, on=on, mirrored=np.zeros(3, bool), bend=flat) == (0, 2)
    assert np.isnan(finger_bend(np.full((4, 2), np.nan), np.full(4, 0.8))).all()


def _channels(t: np.ndarray, reach: np.ndarray, tips: dict[str, np.ndarray], *, back: float = 0.0):
    """Detector input: image and world distances alike, palm (or back) toward the camera."""
    return {
        "reach": reach,
        **tips,
        **{f"world_{f}": v for f, v in tips.items()},
        "mirrored": np.zeros_like(t),
        "back": np.full_like(t, back),
    }


def test_passing_over_a_finger_on_the_way_is_one_touch_of_the_finger_reached():
    t = np.arange(0.0, 3.0, 1 / 30)
    reach = 0.7 - bumps(t, [1.5], 1.6, 0.68)  # one excursion onto the fingers
    tips = {
        "index": 0.9 - bumps(t, [1.0], 0.5, 0.6),  # swept past at 0.3 palm lengths
        "middle": 1.2 - bumps(t, [1.5], 1.2, 1.18),  # reached and held
        "ring": np.full_like(t, 1.4),
        "little": np.full_like(t, 1.6),
    }
    events = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips))
    assert [e["finger"] for e in events] == ["middle"]
    assert events[0]["event"].peak_t == pytest.approx(1.5, abs=0.04)
    assert events[0]["start_s"] < 1.0 < events[0]["event"].end_t


@pytest.mark.parametrize(("width", "touches"), [(0.4, 1), (0.08, 0)])
def test_a_touch_is_held_briefly_a_sweep_is_not(width, touches):
    t = np.arange(0.0, 2.0, 1 / 60)
    reach = 0.7 - bumps(t, [1.0], width, 0.7)  # below the reach threshold for width / 2 s
    tips = {f: np.full_like(t, 1.2) for f in FINGERS} | {"index": 0.9 - bumps(t, [1.0], width, 0.9)}
    events = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips))
    assert len(events) == touches


def test_from_the_back_the_reach_decides():
    t = np.arange(0.0, 3.0, 1 / 30)
    reach = 0.7 - bumps(t, [1.5], 1.0, 0.65)
    tips = {f: np.full_like(t, 1.0 + 0.2 * k) for k, f in enumerate(FINGERS)}
    tips["ring"] = tips["ring"] - bumps(t, [1.5], 1.0, 0.6)  # the hidden fingertip is guessed 0.8 away
    palm = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips))
    back = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips, back=1.0))
    assert palm == [] and [e["finger"] for e in back] == ["ring"]


def test_from_the_back_a_touch_drawn_short_of_the_fingers_counts():
    """A thumb hidden behind the middle fingertip it touches is drawn 0.48 off the fingers; it opens by 0.34."""
    t = np.arange(0.0, 5.0, 1 / 30)
    reach = 0.82 - bumps(t, [1.0, 2.2, 3.4], 0.8, np.array([0.7, 0.34, 0.34]))
    tips = {f: np.full_like(t, 1.0 + 0.2 * k) for k, f in enumerate(FINGERS)}
    tips["middle"] = tips["middle"] - bumps(t, [1.0, 2.2, 3.4], 0.8, 0.5)
    back = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips, back=1.0))
    assert [e["finger"] for e in back] == ["middle"] * 3


def test_when_the_thumb_never_leaves_the_fingers_the_fingertip_distance_counts():
    t = np.arange(0.0, 4.0, 1 / 30)
    reach = np.full_like(t, 0.1)  # a camera looking along the thumb: always over the fingers
    tips = {f: np.full_like(t, 1.2) for f in FINGERS} | {"index": 0.8 - bumps(t, [1.0, 2.0, 3.0], 0.6, 0.75)}
    events = run_detector(ThumbOpposition().detector(), t, _channels(t, reach, tips))
    assert [e["finger"] for e in events] == ["index"] * 3
    np.testing.assert_allclose([e["event"].peak_t for e in events], [1.0, 2.0, 3.0], atol=0.04)


def test_back_view_series_counts_touches_with_the_fingertips_hidden():
    m = make_motion("thumb_opposition", HandShape(), np.random.default_rng(1), sequences=1)
    for view, count in (("back", 4), ("palm", 0)):
        s = series_from_poses(m.t, m.pose, view=view)
        world = s.world.copy()
        tips = [FINGERTIPS[f] for f in FINGERS]
        world[:, tips] = world[:1, tips]  # the landmark model keeps the bent fingertips where they were open
        a = ThumbOpposition().analyze(s.with_(world=world, image=_image(world)))
        assert len(a.reps) == count, view


def test_sequence_stats():
    st = sequence_stats(["index", "middle", "ring", "little", "index", "ring", "little", "index", "middle"])
    assert st["completed_sequences"] == 1
    assert st["order_errors"] == 1
    assert st["kapandji_stage"] == 6
    assert sequence_stats([])["kapandji_stage"] == 0
    assert set(FINGERS) >= {sequence_stats(["middle"])["furthest_finger"]}
