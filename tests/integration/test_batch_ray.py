"""``--engine ray`` on a local Ray instance gives the same outputs and tables as the local process pool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_batch_local import base_clips  # noqa: F401 - a fixture shared with the local-engine tests

from sessions.batch import plan_batch, run_batch


@pytest.mark.slow
def test_ray_and_local_engines_give_identical_tables(base_clips: list[tuple[Path, str]], tmp_path: Path) -> None:  # noqa: F811
    data = tmp_path / "videos"
    data.mkdir()
    video, exercise = base_clips[0]
    for name in ("a.mp4", "b/c.mp4"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, data / name)
    if len(base_clips) > 1:
        shutil.copyfile(base_clips[1][0], data / "d.mp4")
    (data / "broken.mp4").write_bytes(b"\x00" * 4096)
    items = plan_batch(data, exercise=exercise)

    local = run_batch(items, tmp_path / "local", workers=2, engine="local")
    ray = run_batch(items, tmp_path / "ray", workers=2, engine="ray")

    assert ray.scored == local.scored == len(items) - 1
    assert ray.errors == local.errors == {"unusable": 1}
    for table in ("sessions", "reps"):
        for ext, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
            a, b = read(tmp_path / "local" / f"{table}.{ext}"), read(tmp_path / "ray" / f"{table}.{ext}")
            pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local/errors.csv"), pd.read_csv(tmp_path / "ray/errors.csv"))
    for it in items[:1]:
        text = (tmp_path / "local" / "results" / f"{it.key}.json").read_text()
        assert text == (tmp_path / "ray" / "results" / f"{it.key}.json").read_text()

    # Resumable in the same way: a second Ray run over finished work starts no task (and no Ray).
    again = run_batch(items, tmp_path / "ray", workers=2, engine="ray")
    assert again.scored == 0 and again.already_done == len(items) - 1 and again.previous_errors == 1
