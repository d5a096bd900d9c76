"""Saving while the database is locked or the disk is full: the store retries, then the page says so clearly,
stays usable, and nothing partial is stored.

The faults are real: another connection holding SQLite's exclusive lock, and a small tmpfs filled to the
last byte (mounting needs root, as the tests run here and in CI).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_fakes import live_sessions, page_test, scored_taps, start_live_set, texts, video_frame, write_video

from dashboard import context
from dashboard.results import ScoredItem
from sessions.store import open_store


@contextlib.contextmanager
def locked(db: Path, *, release_after_s: float | None = None) -> Iterator[None]:
    """Hold ``db``'s exclusive lock from another connection (until the block ends, or ``release_after_s``)."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    timer = threading.Timer(release_after_s, conn.rollback) if release_after_s is not None else None
    if timer is not None:
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.join()
        if conn.in_transaction:
            conn.rollback()
        conn.close()


@pytest.fixture
def short_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A half-second retry budget instead of the dashboard's few seconds, to keep these tests quick."""
    monkeypatch.setattr(context, "STORE_RETRY_S", 0.5)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The data folder on a real 8 MB filesystem (tmpfs), unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a small tmpfs and must run as root (as CI does)")
    folder = tmp_path / "data"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
    monkeypatch.setenv("HANDREHAB_DATA_DIR", str(folder))
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False, capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # the page's store still has it open


def fill(disk: Path) -> Path:
    """Fold the database's write-ahead log into it (so the next write must grow a file), then fill ``disk``."""
    with sqlite3.connect(disk / "handrehab.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def correction_page(store: Any, *, taps: int = 6) -> tuple[Any, int]:
    """The Score page showing a saved session of ``taps`` taps, with rep 1 selected for rejection."""
    sid = store.save_scored(scored_taps(taps), patient_id="p1")
    at = page_test("score")
    at.session_state["score_items"] = [ScoredItem.new("clip.mp4", scored_taps(taps), session_id=sid, key="k1")]
    at.run()
    at.multiselect(key="k1_reject_0").set_value([1]).run()
    return at, sid


def patient_store() -> Any:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    return store


# -- locked -------------------------------------------------------------------------------------------


def test_correction_waits_a_few_seconds_for_a_lock_then_says_so(data_dir: Path) -> None:
    store = patient_store()
    at, sid = correction_page(store)
    with locked(data_dir / "handrehab.db"):
        started = time.monotonic()
        at.button(key="k1_apply_0").click().run()
        waited = time.monotonic() - started
        assert not at.exception
        (error,) = at.error
        assert error.value.startswith("The correction was not saved, so nothing changed: Could not save the new")
        assert "the database is locked by another program" in error.value and error.value.endswith("Try again.")
        assert at.metric[0].value == "6"  # the page still shows what the store holds
        assert store.get_session(sid).version.version == 1
    print(f"locked database: the page gave up after {waited:.1f} s (retry budget {context.STORE_RETRY_S} s)")
    assert context.STORE_RETRY_S <= waited < 1.5 * context.STORE_RETRY_S + 3.0
    at.button(key="k1_apply_0").click().run()  # unlocked: the same click now saves
    assert any(f"Saved as version 2 of session {sid}" in s.value for s in at.success)
    assert not at.error and at.metric[0].value == "5"


def test_correction_is_saved_when_the_lock_goes_within_the_retries(data_dir: Path) -> None:
    store = patient_store()
    at, sid = correction_page(store)
    with locked(data_dir / "handrehab.db", release_after_s=1.0):
        at.button(key="k1_apply_0").click().run()
    assert not at.error
    assert any(f"Saved as version 2 of session {sid}" in s.value for s in at.success)
    assert store.get_session(sid).result.rep_count == 5


def test_live_set_on_a_locked_database_is_reported_and_the_next_is_saved(
    data_dir: Path, fake_camera: dict[str, Any], short_retry: None
) -> None:
    store = patient_store()
    at = page_test("live")
    at.session_state["patient_id"] = "p1"
    at.run()
    with locked(data_dir / "handrehab.db"):
        proc = start_live_set(at, fake_camera, reps=3, seconds=2.5)
        fake_camera["processor"] = proc
        at.run()
        assert not at.exception
        assert [h.value for h in at.subheader] == ["Set complete"]  # the patient still gets the summary
        (error,) = at.error
        assert error.value.startswith("The set was not saved: could not save the session: the database is locked")
        assert "Saved to" not in texts(at)
    assert live_sessions(store, "p1") == []
    fake_camera["processor"] = None
    at.button(key="live_new_set").click().run()
    for i in range(int(2.5 * 30), int(4.5 * 30)):  # the next three taps, with the database free again
        proc.process_frame(video_frame(i))
    fake_camera["processor"] = proc
    at.run()
    assert not at.error and "Saved to p1's history" in texts(at)
    assert [s.rep_count for s in live_sessions(store, "p1")] == [3]


def test_upload_on_a_locked_database_is_shown_but_not_saved(data_dir: Path, tmp_path: Path, short_retry: None) -> None:
    patient_store()
    clip = write_video(tmp_path / "clip.mp4", frames=20).read_bytes()
    at = page_test("score").run()
    at.file_uploader(key="score_files").set_value(("clip.mp4", clip, "video/mp4"))
    at.selectbox(key="score_exercise").set_value("finger_tapping")
    with locked(data_dir / "handrehab.db"):
        at.button(key="score_go").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The result was not saved: Could not save the session: the database is locked")
    assert at.metric[0].label == "Repetitions"  # the result is still shown
    assert open_store().list_sessions() == []
    at.button(key="score_go").click().run()  # the page is still usable: scoring again saves it
    assert not at.error and len(open_store().list_sessions()) == 1


# -- disk full ----------------------------------------------------------------------------------------


def test_correction_on_a_full_disk_is_reported_and_nothing_changes(small_disk: Path) -> None:
    store = patient_store()
    at, sid = correction_page(store)
    filler = fill(small_disk)
    at.button(key="k1_apply_0").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The correction was not saved, so nothing changed: Could not save the new version:")
    assert "the disk is full" in error.value
    assert [v.version for v in store.versions(sid)] == [1]
    filler.unlink()
    at.button(key="k1_apply_0").click().run()
    assert [v.version for v in store.versions(sid)] == [1, 2]


def test_live_set_on_a_full_disk_is_reported_and_not_half_saved(small_disk: Path, fake_camera: dict[str, Any]) -> None:
    store = patient_store()
    at = page_test("live")
    at.session_state["patient_id"] = "p1"
    at.run()
    filler = fill(small_disk)
    proc = start_live_set(at, fake_camera, reps=3, seconds=2.5)
    fake_camera["processor"] = proc
    at.run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The set was not saved: could not save the session: the disk is full")
    filler.unlink()
    assert store.list_sessions() == []  # no session, no half of one


def test_upload_on_a_full_disk_is_refused_clearly(small_disk: Path, tmp_path: Path) -> None:
    patient_store()
    clip = write_video(tmp_path / "clip.mp4", frames=20).read_bytes()
    at = page_test("score").run()
    filler = fill(small_disk)
    at.file_uploader(key="score_files").set_value(("clip.mp4", clip, "video/mp4"))
    at.button(key="score_go").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value == "clip.mp4 could not be stored for scoring: No space left on device."
    assert not any((small_disk / "uploads").glob("*"))  # no partial upload either
    filler.unlink()
    at.button(key="score_go").click().run()
    assert not at.error and len(open_store().list_sessions()) == 1
