"""Suite specs, content-hash caching and the command line."""

from __future__ import annotations

import json
from pathlib import Path

from synth.__main__ import main
from synth.scene import BACKGROUND_KINDS, SKIN_TONES
from synth.scripts import EXERCISES
from synth.suite import SAMPLE_SPECS, make_suite, render_cached, spec_hash, suite_specs
from synth.video import ClipSpec, truth_path


def test_suite_is_varied() -> None:
    specs = suite_specs(5, seed=0)
    assert len(specs) >= 40
    assert {s.exercise for s in specs} == set(EXERCISES)
    assert {s.skin for s in specs} == set(SKIN_TONES)
    assert {s.background for s in specs} == set(BACKGROUND_KINDS)
    assert len({s.view for s in specs}) >= 6
    assert {s.side for s in specs} == {"left", "right"}
    assert len({spec_hash(s) for s in specs}) == len(specs)
    assert [spec_hash(s) for s in suite_specs(5, seed=0)] == [spec_hash(s) for s in specs]
    assert spec_hash(specs[0]) != spec_hash(suite_specs(5, seed=1)[0])


def test_samples_cover_every_exercise() -> None:
    assert set(SAMPLE_SPECS) == set(EXERCISES)
    assert all((s.width, s.height, s.fps) == (640, 480, 30.0) for s in SAMPLE_SPECS.values())


def test_cli_render_and_cache(tmp_path: Path) -> None:
    out = tmp_path / "tiny.mp4"
    args = ["render", "--exercise", "finger_spread", "--out", str(out), "--width", "160", "--height", "120"]
    args += ["--fps", "10", "--reps", "1", "--param", "period=0.6"]
    assert main(args) == 0
    truth = json.loads(truth_path(out).read_text())
    assert truth["rep_count"] == 1 and truth["video"]["width"] == 160
    assert out.stat().st_size > 1000
    # render_cached reuses a clip whose truth carries the same hash
    spec = ClipSpec("finger_spread", width=160, height=120, fps=10.0, params={"reps": 1, "period": 0.6})
    cached = tmp_path / "cached.mp4"
    render_cached(spec, cached)
    mtime = cached.stat().st_mtime_ns
    render_cached(spec, cached)
    assert cached.stat().st_mtime_ns == mtime
    assert json.loads(truth_path(cached).read_text())["render"]["hash"] == spec_hash(spec)


def test_a_suite_of_some_exercises_renders_only_their_clips_of_the_whole_suite(tmp_path: Path) -> None:
    whole = {f"{s.exercise}_{spec_hash(s)}.mp4" for s in suite_specs(1, 3, heldout=True)}
    clips = make_suite(1, 3, tmp_path, heldout=True, only=["finger_spread"])
    assert [c.name.rsplit("_", 1)[0] for c in clips] == ["finger_spread"] and clips[0].name in whole
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == [clips[0].name]
