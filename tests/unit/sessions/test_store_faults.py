"""Saving when the disk is full or another program holds the database: a retry, one clear error, nothing partial.

The faults are real: a small tmpfs filled to the last byte (mounting needs root, as CI runs), and an SQLite
file held by another connection's ``BEGIN EXCLUSIVE``.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import sqlalchemy as sa
from store_testdata import make_result, tapping_series

from sessions.store import Store, StoreError, open_store

ROOT = Path(__file__).resolve().parents[3]
TABLES = ("patients", "sessions", "analysis_versions", "reps", "metrics", "landmark_series", "videos")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB filesystem (tmpfs), unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a small tmpfs and must run as root (as CI does)")
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode:
            subprocess.run(["umount", "-l", str(mnt)], check=True)  # a file still open: detach it anyway


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def empty_wal(store: Store) -> None:
    """Fold the write-ahead log into the database file and truncate it, so the next write must grow it."""
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def kept_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def some_video(folder: Path, size: int = 2 << 20) -> Path:
    """A file the store keeps as the session's video (the store does not decode it)."""
    path = folder / "séance 1.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


# -- database full -------------------------------------------------------------------------------------


def test_a_full_disk_rolls_the_session_back_and_removes_its_video_file(small_disk: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"  # kept videos on a disk with room: only the database write fails
    store = open_store(small_disk / "handrehab.db", files_dir=files)
    try:
        store.add_patient("A. B.", patient_id="p1")
        first = store.save_session(make_result(3), patient_id="p1", series=tapping_series())
        before = row_counts(store)
        empty_wal(store)
        filler = fill(small_disk)
        with pytest.raises(StoreError) as raised:
            store.save_session(
                make_result(4),
                patient_id="p1",
                series=tapping_series(),
                video_path=some_video(tmp_path),
                keep_video=True,
            )
        message = str(raised.value)
        assert message.startswith("could not save the session: the disk is full (")
        assert "handrehab.db" in message and "\n" not in message
        assert row_counts(store) == before  # nothing of the session: no row, no version, no series
        assert kept_files(files) == []  # the video copied for it was removed again
        assert [s.id for s in store.list_sessions()] == [first]  # reading still works on a full disk

        filler.unlink()  # space again: the same store saves normally
        second = store.save_session(make_result(4), patient_id="p1", video_path=some_video(tmp_path), keep_video=True)
        assert store.get_session(second).result.rep_count == 4
        assert len(kept_files(files)) == 1
    finally:
        store.close()


def test_a_full_disk_while_keeping_the_video_leaves_no_file_and_no_session(small_disk: Path, tmp_path: Path) -> None:
    store = open_store(tmp_path / "handrehab.db", files_dir=small_disk)
    try:
        store.add_patient("A. B.", patient_id="p1")
        fill(small_disk)
        os.truncate(small_disk / "filler", 7 << 20)  # 1 MB left: half the video fits, then ENOSPC
        with pytest.raises(StoreError, match=r"^could not save the session: the disk is full \(.+\)$"):
            store.save_session(make_result(2), patient_id="p1", video_path=some_video(tmp_path), keep_video=True)
        assert kept_files(small_disk) == [small_disk / "filler"]  # the half-copied temporary file is gone
        assert store.count_sessions() == 0
    finally:
        store.close()


# -- database locked -------------------------------------------------------------------------------------


def test_a_locked_database_is_retried_then_refused_with_nothing_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "handrehab.db"
    files = tmp_path / "files"
    store = open_store(db, files_dir=files, max_retry_s=1.0)
    other = sqlite3.connect(db, isolation_level=None)  # another program (e.g. a database browser)
    try:
        store.add_patient("A. B.", patient_id="p1")
        before = row_counts(store)
        other.execute("BEGIN EXCLUSIVE")
        start = time.monotonic()
        with caplog.at_level(logging.DEBUG, logger="sessions.store"), pytest.raises(StoreError) as raised:
            store.save_session(make_result(2), patient_id="p1", video_path=some_video(tmp_path), keep_video=True)
        waited = time.monotonic() - start
        assert str(raised.value).startswith("could not save the session: the database is locked by another program (")
        assert str(db) in str(raised.value)
        assert sum("retrying" in r.message for r in caplog.records) >= 1  # tried again before giving up
        assert 0.9 < waited < 4.0  # the budget asked for, not the batch default of minutes
        other.rollback()
        assert row_counts(store) == before
        assert kept_files(files) == []

        sid = store.save_session(make_result(2), patient_id="p1")  # the lock gone: saved at once
        assert store.get_session(sid).result.rep_count == 2
    finally:
        other.close()
        store.close()


def test_other_writes_are_refused_the_same_way(tmp_path: Path) -> None:
    db = tmp_path / "handrehab.db"
    store = open_store(db, max_retry_s=0.2)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        sid = store.save_session(make_result(2))
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match=r"^could not save the patient: the database is locked"):
            store.add_patient("C. D.")
        with pytest.raises(StoreError, match=r"^could not save the new version: the database is locked"):
            store.add_correction(sid, make_result(1), author="therapist")
        with pytest.raises(StoreError, match=r"^could not delete the session: the database is locked"):
            store.delete_session(sid)
        other.rollback()
        assert store.get_session(sid).info.current_version == 1
    finally:
        other.close()
        store.close()


def test_the_retry_budget_must_not_be_negative(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="max_retry_s"):
        open_store(tmp_path / "x.db", max_retry_s=-1)


# -- the command line --------------------------------------------------------------------------------------


def short_clip(path: Path, frames: int = 10) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            img = np.full((120, 160, 3), 60 + 10 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def score_and_save(clip: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessions.cli", "score", str(clip), "--patient", "p1", "--db", str(db), "--json", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, "GLOG_minloglevel": "2"},
    )


def assert_one_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: could not save the session: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.slow
def test_cli_save_on_a_full_disk_is_one_error_line(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "handrehab.db"
    clip = short_clip(tmp_path / "clip.mp4")
    store = open_store(db)
    try:
        store.add_patient("A. B.", patient_id="p1")
        empty_wal(store)  # this connection stays open, so the log file exists and any write must grow it
        fill(small_disk)
        proc = score_and_save(clip, db)
        assert_one_error(proc, "the disk is full")
        assert store.count_sessions() == 0
    finally:
        store.close()


@pytest.mark.slow
def test_cli_save_to_a_locked_database_is_one_error_line(tmp_path: Path) -> None:
    db = tmp_path / "handrehab.db"
    clip = short_clip(tmp_path / "clip.mp4")
    with open_store(db) as store:
        store.add_patient("A. B.", patient_id="p1")
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        proc = score_and_save(clip, db)
        assert_one_error(proc, "the database is locked by another program")
        other.rollback()
    finally:
        other.close()
    with open_store(db) as store:
        assert store.count_sessions() == 0
