"""Batch planning, keys, manifests, resumption bookkeeping and tables (no tracking: see
tests/integration/test_batch_local.py for real videos)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from sessions.batch import (
    LIMIT_BASE_S,
    BatchInputError,
    BatchItem,
    BatchOutput,
    _exclusive,
    build_tables,
    find_videos,
    plan_batch,
    read_manifest,
    run_batch,
    time_limit_for,
    video_key,
    write_tables,
)


def touch(path: Path, data: bytes = b"not really a video") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    touch(root / "s01" / "a.mp4", b"a" * 1000)
    touch(root / "s01" / "B.MOV", b"b" * 1000)
    touch(root / "s02" / "deep" / "c.webm", b"c" * 200_000)
    touch(root / "s02" / "notes.txt")
    touch(root / "s02" / "._c.mp4")  # macOS resource fork
    touch(root / ".hidden" / "d.mp4")
    return root


def test_a_folder_is_searched_recursively_for_videos_only(folder: Path) -> None:
    root, paths = find_videos(folder)
    assert root == folder.resolve()
    assert [p.relative_to(root).as_posix() for p in paths] == ["s01/B.MOV", "s01/a.mp4", "s02/deep/c.webm"]


def test_a_glob_and_a_single_file_are_accepted(folder: Path) -> None:
    root, paths = find_videos(f"{folder}/**/*.mp4")
    assert root == folder.resolve()
    assert [p.name for p in paths] == ["a.mp4"]
    root, paths = find_videos(folder / "s01" / "a.mp4")
    assert root == (folder / "s01").resolve() and len(paths) == 1


def test_missing_or_empty_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="does not exist"):
        find_videos(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="no video files"):
        find_videos(tmp_path / "empty")


def test_keys_are_stable_and_change_with_content_exercise_and_hand(folder: Path) -> None:
    first = plan_batch(folder, exercise="finger_tapping")
    again = plan_batch(folder, exercise="finger_tapping")
    assert [it.key for it in first] == [it.key for it in again]
    assert len({it.key for it in first}) == len(first)
    assert first[1].key.startswith("s01__a.mp4-")
    # A copy with a new modification time keeps its key (content fingerprint, not mtime).
    video = folder / "s01" / "a.mp4"
    os.utime(video, (1, 1))
    assert video_key(video, "s01/a.mp4", exercise="finger_tapping", hand="auto") == first[1].key
    # Other exercise, other hand, changed content: new work.
    assert video_key(video, "s01/a.mp4", exercise="wrist_flexion", hand="auto") != first[1].key
    assert video_key(video, "s01/a.mp4", exercise="finger_tapping", hand="left") != first[1].key
    big = folder / "s02" / "deep" / "c.webm"
    key = video_key(big, "s02/deep/c.webm", exercise="finger_tapping", hand="auto")
    data = bytearray(big.read_bytes())
    data[-10] ^= 0xFF  # an edit near the end of a large file
    big.write_bytes(bytes(data))
    assert video_key(big, "s02/deep/c.webm", exercise="finger_tapping", hand="auto") != key
    big.write_bytes(bytes(data[:150_000]))  # truncated
    assert video_key(big, "s02/deep/c.webm", exercise="finger_tapping", hand="auto") != key


def test_a_manifest_gives_per_video_exercise_hand_and_labels(folder: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "Video,Exercise,Hand,Subject_ID,Session_Label\n"
        "s01/a.mp4,wrist_flexion,left,P01,baseline\n"
        f"{folder / 's02' / 'deep' / 'c.webm'},,,P02,week 4\n"
        ",,,,\n"
    )
    items = plan_batch(folder, exercise="finger_tapping", hand="auto", manifest=manifest)
    assert [(it.rel, it.exercise, it.hand, it.subject, it.session) for it in items] == [
        ("s01/a.mp4", "wrist_flexion", "left", "P01", "baseline"),
        ("s02/deep/c.webm", "finger_tapping", "auto", "P02", "week 4"),
    ]
    assert Path(items[0].path) == (folder / "s01" / "a.mp4").resolve()


def test_manifest_paths_default_to_the_manifest_folder(folder: Path) -> None:
    manifest = folder / "list.csv"
    manifest.write_text("path,subject\ns01/a.mp4,P9\n")
    (item,) = plan_batch(None, exercise="auto", manifest=manifest)
    assert item.rel == "s01/a.mp4" and item.subject == "P9"


def test_bad_manifests_are_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("subject\nP1\n")
    with pytest.raises(BatchInputError, match="'path' column"):
        read_manifest(bad)
    bad.write_text("path,hand\na.mp4,both\n")
    with pytest.raises(BatchInputError, match="line 2: hand"):
        read_manifest(bad)
    with pytest.raises(BatchInputError, match="cannot read"):
        read_manifest(tmp_path / "missing.csv")


def test_the_default_time_limit_grows_with_the_video() -> None:
    assert time_limit_for(30.0, timeout_s=None) == LIMIT_BASE_S + 300.0
    assert time_limit_for(30.0, timeout_s=5.0) == 5.0
    assert time_limit_for(None, timeout_s=None) >= 600


def fake_result(item: BatchItem, *, reps: int, exercise: str = "finger_tapping") -> dict[str, object]:
    return {
        "schema": 1,
        "exercise": exercise,
        "video": {"path": item.path, "fps": 30.0, "frames": 90, "duration_s": 3.0, "width": 640, "height": 480},
        "hand": "right",
        "quality": {"detection_rate": 0.97, "warnings": ["w1", "w2"]},
        "rep_count": reps,
        "reps": [{"start_s": i, "end_s": i + 0.5, "peak_s": i + 0.2, "amplitude": 0.1 * i} for i in range(reps)],
        "metrics": {"frequency_hz": 2.0, "touches_per_finger": {"index": 2, "little": 1}, "hand": "x", "tips": [1, 2]},
        "batch": item.labels(),
    }


def finish(
    out: BatchOutput, item: BatchItem, result: dict[str, object] | None = None, error: str | None = None
) -> None:
    if result is not None:
        out.results.mkdir(parents=True, exist_ok=True)
        out.result(item.key).write_text(json.dumps(result))
    else:
        out.errors.mkdir(parents=True, exist_ok=True)
        out.error(item.key).write_text(json.dumps({"kind": "unusable", "message": error}))


def test_tables_are_tidy_and_follow_the_items(folder: Path, tmp_path: Path) -> None:
    items = plan_batch(folder, exercise="finger_tapping")
    out = BatchOutput(tmp_path / "out")
    finish(out, items[0], fake_result(items[0], reps=3))
    finish(out, items[1], fake_result(items[1], reps=0, exercise="thumb_opposition"))
    finish(out, items[2], error="The file is not a video.")
    t = build_tables(items, out.root)
    sessions, reps, errors = t["sessions"], t["reps"], t["errors"]
    assert list(sessions["path"]) == [items[0].rel, items[1].rel]
    assert list(sessions["rep_count"]) == [3, 0]
    assert sessions.loc[0, "touches_per_finger_index"] == 2  # nested metrics are flattened
    assert sessions.loc[0, "metric_hand"] == "x" and sessions.loc[0, "hand"] == "right"  # no clobbering
    assert json.loads(sessions.loc[0, "tips"]) == [1, 2]
    assert sessions.loc[0, "warnings"] == "w1 | w2"
    assert len(reps) == 3 and list(reps["rep"]) == [1, 2, 3]
    assert set(reps["path"]) == {items[0].rel}
    assert list(reps["amplitude"]) == pytest.approx([0.0, 0.1, 0.2])
    assert list(errors["path"]) == [items[2].rel] and errors.loc[0, "message"] == "The file is not a video."


def test_written_tables_round_trip_through_csv_and_parquet(folder: Path, tmp_path: Path) -> None:
    items = plan_batch(folder, exercise="finger_tapping")
    out = BatchOutput(tmp_path / "out")
    for it in items:
        finish(out, it, fake_result(it, reps=2))
    bad = dict(fake_result(items[0], reps=1))
    bad["metrics"] = {"frequency_hz": "n/a"}  # a column that mixes text and numbers across videos
    out.result(items[0].key).write_text(json.dumps(bad))
    paths = write_tables(items, out.root)
    assert set(paths) == {"sessions.csv", "sessions.parquet", "reps.csv", "reps.parquet", "errors.csv"}
    s_csv, s_pq = pd.read_csv(paths["sessions.csv"]), pd.read_parquet(paths["sessions.parquet"])
    assert len(s_csv) == len(s_pq) == 3
    assert list(s_pq["key"]) == [it.key for it in items]
    assert len(pd.read_parquet(paths["reps.parquet"])) == 1 + 2 + 2
    assert pd.read_csv(paths["errors.csv"]).empty
    assert not list(out.root.glob(".*.tmp"))


def test_finished_and_failed_videos_are_not_redone_and_leftovers_are_cleaned(folder: Path, tmp_path: Path) -> None:
    items = plan_batch(folder, exercise="finger_tapping")
    out = BatchOutput(tmp_path / "out")
    finish(out, items[0], fake_result(items[0], reps=1))
    finish(out, items[1], fake_result(items[1], reps=2))
    finish(out, items[2], error="broken")
    stale = out.results / f".{items[2].key}.json.abc123.tmp"  # a write cut short by a kill
    stale.write_text("{")
    events: list[str] = []
    summary = run_batch(items, out.root, workers=1, on_event=lambda kind, info: events.append(kind))
    assert (summary.already_done, summary.previous_errors, summary.scored) == (2, 1, 0)
    assert events == ["start"]  # nothing to do: no worker was started
    assert not stale.exists()
    assert len(pd.read_csv(out.root / "sessions.csv")) == 2
    assert len(pd.read_csv(out.root / "errors.csv")) == 1


def test_one_batch_at_a_time_per_output_folder(folder: Path, tmp_path: Path) -> None:
    items = plan_batch(folder, exercise="finger_tapping")
    with _exclusive(tmp_path / "out"), pytest.raises(BatchInputError, match="another batch"):
        run_batch(items, tmp_path / "out", workers=1)
