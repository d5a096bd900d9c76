"""Exercise scripts: the truth matches the parameters and the scripted geometry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synth.hand import ANGLE_INDEX, HandShape
from synth.scripts import EXERCISES, NEUTRAL_S, STILL_S, Motion, make_motion
from synth.video import ClipSpec, render_clip, truth_path


def _motion(ex: str, **kw: Any) -> Motion:
    return make_motion(ex, HandShape(), np.random.default_rng(0), **kw)


@pytest.mark.parametrize("ex", EXERCISES)
def test_every_clip_starts_still(ex: str) -> None:
    m = _motion(ex)
    hold = NEUTRAL_S if ex in ("wrist_flexion", "wrist_deviation", "pronation_supination") else STILL_S
    still = m.t <= hold - 1e-9
    assert still.sum() >= 10
    assert np.allclose(m.pose[still], m.pose[0])
    assert len(m.reps) > 0
    for r in m.reps:
        assert r["start_s"] <= r["peak_s"] <= r["end_s"] <= m.t[-1]
        assert r["start_s"] >= hold - 1e-6


def test_finger_tapping_truth() -> None:
    m = _motion("finger_tapping", reps=9, rate=2.0, amplitude=0.8, decrement_pct=30.0, hesitations=1, halts=1)
    assert len(m.reps) == 9
    amps = np.array([r["amplitude"] for r in m.reps])
    assert amps[0] == pytest.approx(0.8 * (1 - 0.3 / 9), abs=0.01)
    assert np.all(np.diff(amps) < 0)
    assert m.metrics["amplitude_decrement_pct"] == pytest.approx(
        (amps[:3].mean() - amps[-3:].mean()) / amps[:3].mean() * 100, abs=1e-3
    )
    assert m.metrics["hesitations"] == 2 and m.metrics["halts"] == 1
    assert 1.0 < m.metrics["frequency_hz"] < 2.1
    assert m.metrics["interval_cv"] > 0.05  # pauses make intervals irregular
    # touches really touch: tip distance at peak_s is ~0
    assert m.metrics["min_distance"] < 0.06


def test_opposition_order_and_skips() -> None:
    m = _motion("thumb_opposition", sequences=2, skip=(6,))
    assert [r["finger"] for r in m.reps] == ["index", "middle", "ring", "little", "index", "middle", "little"]
    assert m.metrics["completed_sequences"] == 1
    assert m.metrics["touches_per_finger"] == {"index": 2, "middle": 2, "ring": 1, "little": 2}


def test_wrist_flexion_peaks_match_pose() -> None:
    m = _motion("wrist_flexion", reps=2, flexion_deg=50.0, extension_deg=40.0)
    wf = m.pose[:, ANGLE_INDEX["wrist_flex"]]
    assert m.metrics["reference"] == "neutral"
    assert wf.max() == pytest.approx(m.metrics["max_flexion_deg"], abs=0.5)
    assert -wf.min() == pytest.approx(m.metrics["max_extension_deg"], abs=0.5)
    assert m.metrics["rom_deg"] == pytest.approx(m.metrics["max_flexion_deg"] + m.metrics["max_extension_deg"])


def test_finger_lifting_individuation() -> None:
    m = _motion("finger_lifting", lifts=1, coupling_scale=0.0)
    assert m.metrics["lifts_per_finger"] == {"index": 1, "middle": 1, "ring": 1, "little": 1}
    assert all(v == 1.0 for v in m.metrics["individuation_index"].values())


def test_truth_json_schema(tmp_path: Path) -> None:
    spec = ClipSpec("finger_tapping", seed=3, params={"reps": 3})
    out = tmp_path / "clip.mp4"
    render_clip(spec, out, write_video=False)
    doc = json.loads(truth_path(out).read_text())
    assert doc["schema"] == 1 and doc["exercise"] == "finger_tapping" and doc["hand"] == "right"
    T = doc["video"]["frames"]
    assert len(doc["frames"]["t"]) == T
    assert np.array(doc["frames"]["joints_world"]).shape == (T, 21, 3)
    ji = np.array(doc["frames"]["joints_image"])
    assert ji.shape == (T, 21, 2)
    assert np.all((ji > 0) & (ji < 1))
    assert doc["rep_count"] == 3 == len(doc["reps"])
    for k in ("frequency_hz", "amplitude_mean", "amplitude_decrement_pct", "interval_cv", "hesitations"):
        assert k in doc["metrics"]
    assert 0.35 < doc["render"]["hand_height_frac"] < 0.7
