"""The session store on SQLite and on a real PostgreSQL server (``db_url`` runs each test on both)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import OperationalError
from store_testdata import ThresholdExercise, make_result, tapping_series, video_info

import exercises.registry as registry
from sessions import store as store_mod
from sessions.pipeline import score_series
from sessions.rescore import rescore
from sessions.store import (
    MIGRATIONS_DIR,
    Base,
    NotFoundError,
    StoreError,
    describe_changes,
    open_store,
    upgrade_schema,
)

TABLES = ("patients", "sessions", "analysis_versions", "reps", "metrics", "landmark_series", "videos")


def row_counts(store: store_mod.Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[store_mod.Store]:
    s = open_store(db_url, files_dir=tmp_path / "files")
    yield s
    s.close()


@pytest.fixture
def threshold_exercise(monkeypatch: pytest.MonkeyPatch) -> ThresholdExercise:
    ex = ThresholdExercise(min_prominence=0.1)
    real = registry._registry()
    monkeypatch.setattr(registry, "_registry", lambda: {**real, ex.name: ex})
    return ex


# -- schema ---------------------------------------------------------------------------------------------


def test_open_creates_the_schema_of_the_models_at_head(store: store_mod.Store) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == "0001"
        assert compare_metadata(ctx, Base.metadata) == []  # migrations and models agree
    again = open_store(store.engine.url.render_as_string(hide_password=False))  # idempotent re-open
    assert again.count_sessions() == 0
    again.close()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
    s.close()


def test_a_database_from_newer_software_is_refused_untouched(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    pid = s.add_patient("Ana")
    with s.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00d'")
    s.close()
    with pytest.raises(StoreError, match="newer than this version"):
        open_store(sqlite_url)
    s = open_store(sqlite_url, upgrade=False)
    assert s.get_patient(pid).display_name == "Ana"
    s.close()


def test_an_upgrade_that_rebuilds_tables_keeps_every_row(tmp_path: Path) -> None:
    """SQLite rebuilds a table to alter it; with foreign keys on, dropping the old parent table would
    cascade-delete the child rows. The upgrade must keep them all and leave a backup of the old file."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0002_patient_birth_year.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "0002"
            down_revision = "0001"
            branch_labels = None
            depends_on = None


            def upgrade():
                with op.batch_alter_table("patients", recreate="always") as batch:
                    batch.add_column(sa.Column("birth_year", sa.Integer(), nullable=True))
                with op.batch_alter_table("sessions", recreate="always") as batch:
                    batch.alter_column("hand", type_=sa.String(16))
            """
        )
    )
    db = tmp_path / "old.db"
    s = open_store(db)
    pid = s.add_patient("Bea")
    sid = s.save_session(make_result(4), patient_id=pid, series=tapping_series((0.5,) * 3))
    s.add_correction(sid, make_result(3), author="dr x")
    before = row_counts(s)
    assert upgrade_schema(s.engine, script_location=scripts) == "0001"
    assert row_counts(s) == before
    assert s.get_session(sid).result.rep_count == 3
    assert [v.version for v in s.versions(sid)] == [1, 2]
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0002"
    backup = sqlite3.connect(tmp_path / "old.db.bak-0001")
    assert backup.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    backup.close()
    s.close()


# -- patients -----------------------------------------------------------------------------------------------


def test_patients_are_added_listed_and_refused_when_duplicate(store: store_mod.Store) -> None:
    pid = store.add_patient("José Núñez-Łukasz", affected_side="left", notes="stroke 2024")
    generated = store.add_patient("Zoë")
    assert pid.startswith("p-") and generated != pid
    assert store.add_patient("Named", patient_id="P001") == "P001"
    got = store.get_patient(pid)
    assert (got.display_name, got.affected_side, got.notes) == ("José Núñez-Łukasz", "left", "stroke 2024")
    assert got.created_at.tzinfo is not None
    assert [p.id for p in store.list_patients()] == sorted([pid, generated, "P001"])
    with pytest.raises(StoreError, match="already exists"):
        store.add_patient("Other", patient_id="P001")
    with pytest.raises(StoreError, match="affected side"):
        store.add_patient("X", affected_side="middle")
    with pytest.raises(NotFoundError):
        store.get_patient("nobody")


# -- sessions -----------------------------------------------------------------------------------------------


def test_a_saved_session_comes_back_whole(store: store_mod.Store, tmp_path: Path) -> None:
    series = tapping_series((0.8, 0.6, 0.7))
    series = series.with_(present=series.present.copy())
    series.present[5:9] = False
    series.world[5:9] = np.nan
    scored = score_series(series, video_info(series, str(tmp_path / "clip.mp4")), "finger_tapping")
    pid = store.add_patient("Ana")
    when = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    sid = store.save_scored(scored, patient_id=pid, source="upload", recorded_at=when)

    rec = store.get_session(sid)
    assert rec.result.to_dict() == scored.result.to_dict()
    assert rec.info.recorded_at == when
    assert (rec.info.patient_id, rec.info.exercise, rec.info.source) == (pid, "finger_tapping", "upload")
    assert rec.info.detection_rate == pytest.approx(series.detection_rate)
    assert rec.version.kind == "original" and rec.version.version == rec.info.current_version == 1
    assert rec.version.software_version == store_mod.software_version()
    assert "TAP_PARAMS" in (rec.version.params or {})  # the thresholds the analysis used
    assert rec.has_series and not rec.has_video

    back = store.get_series(sid)
    assert back is not None
    for name in ("t", "image", "world", "present", "score"):
        np.testing.assert_array_equal(getattr(back, name), getattr(series, name))
    counts = row_counts(store)
    assert counts["reps"] == scored.result.rep_count == 3
    assert counts["metrics"] >= 5


def test_params_given_by_the_caller_are_recorded(store: store_mod.Store) -> None:
    sid = store.save_session(make_result(2), params={"min_prominence": 0.2, "window": (1, 2)})
    assert store.get_session(sid).version.params == {"min_prominence": 0.2, "window": [1, 2]}


def test_bad_arguments_are_refused_with_a_message(store: store_mod.Store) -> None:
    with pytest.raises(StoreError, match="source"):
        store.save_session(make_result(1), source="fax")
    with pytest.raises(NotFoundError, match="no patient"):
        store.save_session(make_result(1), patient_id="ghost")
    with pytest.raises(NotFoundError):
        store.get_session(12345)
    assert store.count_sessions() == 0


def test_sessions_are_listed_oldest_first_and_filtered(store: store_mod.Store) -> None:
    a, b = store.add_patient("A"), store.add_patient("B")
    t0 = datetime(2025, 1, 1, 9, tzinfo=UTC)
    ids = [
        store.save_session(make_result(3), patient_id=a, recorded_at=t0 + timedelta(days=2)),
        store.save_session(make_result(4), patient_id=a, recorded_at=t0),
        store.save_session(make_result(5, exercise="wrist_flexion"), patient_id=a, recorded_at=t0 + timedelta(days=1)),
        store.save_session(make_result(6), patient_id=b, recorded_at=t0 + timedelta(days=3)),
    ]
    assert [s.id for s in store.list_sessions()] == [ids[1], ids[2], ids[0], ids[3]]
    assert [s.id for s in store.list_sessions(patient_id=a, exercise="finger_tapping")] == [ids[1], ids[0]]
    assert [s.rep_count for s in store.list_sessions(since="2025-01-02")] == [5, 3, 6]
    assert [s.id for s in store.list_sessions(since=t0 + timedelta(days=1), until=t0 + timedelta(days=3))] == [
        ids[2],
        ids[0],
    ]
    with pytest.raises(StoreError, match="not a date"):
        store.list_sessions(since="last tuesday")


def test_an_idempotency_key_prevents_duplicates(store: store_mod.Store) -> None:
    key = store_mod.make_idempotency_key("ab" * 32, "finger_tapping", "batch:clip1")
    first = store.save_session(make_result(3), source="batch", idempotency_key=key)
    again = store.save_session(make_result(3), source="batch", idempotency_key=key)
    other = store.save_session(make_result(3), source="batch", idempotency_key=key + "x")
    assert first == again != other
    assert store.count_sessions() == 2
    assert store.find_session(key) == first


def test_the_video_is_fingerprinted_and_kept_only_on_request(store: store_mod.Store, tmp_path: Path) -> None:
    video = tmp_path / "session.mp4"
    video.write_bytes(b"not really a video but bytes are bytes" * 100)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    files = tmp_path / "files"

    plain = store.save_session(make_result(2, path=str(video)))
    assert store.get_session(plain).info.video_sha256 == digest
    assert store.get_video(plain) is None and not (files / "videos").exists()

    kept = store.save_session(make_result(2, path=str(video)), keep_video=True, video_in_db=False)
    blob = store.save_session(make_result(2), video_path=video, keep_video=True, video_in_db=True)
    assert store.get_video(kept) == store.get_video(blob) == video.read_bytes()
    assert [p.name for p in (files / "videos").iterdir()] == [f"{digest}.mp4"]
    assert store.get_session(kept).has_video
    default = store.save_session(make_result(2), video_path=video, keep_video=True)
    assert store.get_video(default) == video.read_bytes()
    with store.engine.connect() as conn:  # a file beside SQLite; a blob on a server every client can reach
        as_file = conn.execute(sa.text(f"SELECT file IS NOT NULL FROM videos WHERE session_id = {default}")).scalar()
    assert bool(as_file) == (store.engine.dialect.name == "sqlite")

    store.delete_session(kept)  # identical videos share one file: kept while a session still refers to it
    assert (files / "videos" / f"{digest}.mp4").exists() == bool(as_file)
    store.delete_session(default)
    assert not (files / "videos" / f"{digest}.mp4").exists()
    with pytest.raises(StoreError, match="does not exist"):
        store.save_session(make_result(1), video_path=tmp_path / "missing.mp4", keep_video=True)


# -- versions ------------------------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_and_the_original_is_kept(store: store_mod.Store) -> None:
    sid = store.save_session(make_result(5))
    original = store.get_session(sid).result
    corrected = make_result(5)
    corrected = corrected.__class__(**{**corrected.__dict__, "reps": corrected.reps[1:]})
    v = store.add_correction(sid, corrected, author="Dr. Ødegaard", note="rep 1 was a twitch")
    assert v == 2
    rec = store.get_session(sid)
    assert rec.info.current_version == 2 and rec.result.rep_count == 4
    assert rec.version.kind == "corrected" and rec.version.author == "Dr. Ødegaard"
    assert rec.version.changes is not None
    assert rec.version.changes["rep_count"] == [5, 4]
    assert rec.version.changes["reps_removed"] == [[0.5, 0.95]]
    assert rec.version.manual_reps == [[r["start_s"], r["end_s"]] for r in corrected.reps]
    assert store.get_session(sid, version=1).result.to_dict() == original.to_dict()
    assert [x.kind for x in store.versions(sid)] == ["original", "corrected"]
    assert store.list_sessions()[0].rep_count == 4  # lists show the current version
    with pytest.raises(StoreError, match="author"):
        store.add_correction(sid, corrected, author=" ")
    with pytest.raises(StoreError, match="wrist_flexion"):
        store.add_correction(sid, make_result(1, exercise="wrist_flexion"), author="x")


def test_describe_changes_lists_removed_added_reps_and_metrics() -> None:
    old, new = make_result(3).to_dict(), make_result(2, scale=2.0).to_dict()
    ch = describe_changes(old, new)
    assert ch["rep_count"] == [3, 2]
    assert ch["reps_removed"] == [[1.5, 1.95]]
    assert ch["metrics"]["frequency_hz"] == [2.0, 4.0]
    assert "reps_added" not in ch
    assert describe_changes(old, old) == {}


def test_rescoring_after_a_threshold_change_keeps_both_versions(
    store: store_mod.Store, threshold_exercise: ThresholdExercise
) -> None:
    series = tapping_series((0.8, 0.2) * 4)  # 4 deep taps and 4 shallow ones
    scored = score_series(series, video_info(series), threshold_exercise.name)
    assert scored.result.rep_count == 8
    sid = store.save_scored(scored, patient_id=store.add_patient("Ana"))
    assert store.get_session(sid).version.params == {"min_prominence": 0.1, "normal_range": [0.0, 1.2]}

    assert [r.new_version for r in rescore(store)] == [None]  # same thresholds, same result: nothing stored

    threshold_exercise.min_prominence = 0.4  # the shallow taps no longer count
    (outcome,) = rescore(store, exercise=threshold_exercise.name, author="tuning-2025")
    assert (outcome.old_version, outcome.new_version) == (1, 2)
    assert (outcome.rep_count_before, outcome.rep_count_after) == (8, 4)
    v1, v2 = store.versions(sid)
    assert (v1.kind, v1.result.rep_count, v1.params["min_prominence"]) == ("original", 8, 0.1)  # type: ignore[index]
    assert (v2.kind, v2.result.rep_count, v2.params["min_prominence"]) == ("rescored", 4, 0.4)  # type: ignore[index]
    assert v2.author == "tuning-2025" and v2.changes and v2.changes["rep_count"] == [8, 4]
    assert store.get_session(sid).result.rep_count == 4


def test_rescoring_keeps_a_therapists_reps_unless_asked_to_redetect(
    store: store_mod.Store, threshold_exercise: ThresholdExercise
) -> None:
    series = tapping_series((0.8,) * 6)
    scored = score_series(series, video_info(series), threshold_exercise.name)
    sid = store.save_scored(scored)
    kept = [(r["start_s"], r["end_s"]) for r in scored.result.reps[:4]]
    corrected = score_series(series, video_info(series), threshold_exercise.name, reps=kept).result
    store.add_correction(sid, corrected, author="therapist")

    threshold_exercise.min_prominence = 0.05
    (first,) = rescore(store)
    assert first.rep_count_after == 4  # the therapist's four reps, metrics recomputed
    assert store.versions(sid)[-1].manual_reps is not None
    (second,) = rescore(store, keep_manual_reps=False)
    assert (second.new_version, second.rep_count_after) == (4, 6)
    assert [v.kind for v in store.versions(sid)] == ["original", "corrected", "rescored", "rescored"]


def test_rescore_skips_sessions_without_landmarks(store: store_mod.Store) -> None:
    sid = store.save_session(make_result(3))
    (outcome,) = rescore(store)
    assert outcome.session_id == sid and outcome.new_version is None
    assert outcome.skipped is not None and "landmarks" in outcome.skipped


# -- deletion and history ----------------------------------------------------------------------------------


def test_deleting_a_patient_deletes_all_their_data_and_nothing_else(store: store_mod.Store, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00video" * 50)
    gone, stays = store.add_patient("Gone Person"), store.add_patient("Stays")
    for k in range(3):
        sid = store.save_session(make_result(3 + k), patient_id=gone, series=tapping_series((0.5,)), video_path=video)
        store.add_correction(sid, make_result(2), author="x")
    store.save_session(make_result(2, path=str(video)), patient_id=gone, keep_video=True)
    other = store.save_session(make_result(7), patient_id=stays, series=tapping_series((0.5,)))
    assert store.delete_patient(gone) == 4
    counts = row_counts(store)
    assert counts["patients"] == 1 and counts["sessions"] == 1 and counts["landmark_series"] == 1
    assert counts["analysis_versions"] == 1 and counts["reps"] == 7 and counts["videos"] == 0
    assert not list((tmp_path / "files").rglob("*.mp4"))
    assert store.get_session(other).result.rep_count == 7
    with pytest.raises(NotFoundError):
        store.delete_patient(gone)


def test_a_deleted_patients_name_does_not_linger_in_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    s = open_store(db)
    pid = s.add_patient("Xylophone-Quartermaine", notes="Zyzzyva-Notes-Marker")
    s.save_session(make_result(2), patient_id=pid)
    s.delete_patient(pid)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    assert b"Xylophone-Quartermaine" not in raw and b"Zyzzyva-Notes-Marker" not in raw
    s.close()


def test_history_has_one_row_per_session_with_every_numeric_metric(store: store_mod.Store) -> None:
    pid = store.add_patient("Ana")
    t0 = datetime(2025, 2, 1, tzinfo=UTC)
    for day, scale in ((3, 1.5), (1, 1.0), (2, 1.2)):
        store.save_session(make_result(3, scale=scale), patient_id=pid, recorded_at=t0 + timedelta(days=day))
    store.save_session(make_result(9, exercise="wrist_flexion"), patient_id=pid)
    hist = store.history(pid, "finger_tapping")
    assert len(hist) == 3
    assert list(hist["frequency_hz"]) == pytest.approx([2.0, 2.4, 3.0])  # ordered by time
    assert list(hist["touches_per_finger.index"]) == [3, 3, 3]
    assert {"session_id", "recorded_at", "version", "kind", "rep_count", "detection_rate"} <= set(hist.columns)
    assert "reference" not in hist.columns  # text metrics are not plotted
    assert len(store.history(pid)) == 4
    with pytest.raises(NotFoundError):
        store.history("ghost")


# -- locations and retries -------------------------------------------------------------------------------------


def test_default_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HANDREHAB_DB_URL", raising=False)
    monkeypatch.setenv("HANDREHAB_DATA_DIR", str(tmp_path / "data"))
    assert store_mod.default_url() == f"sqlite:///{tmp_path / 'data' / 'handrehab.db'}"
    s = open_store()
    assert (tmp_path / "data" / "handrehab.db").exists()
    s.close()
    monkeypatch.setenv("HANDREHAB_DB_URL", "postgresql://u@h/db")
    assert store_mod.normalize_url(None) == "postgresql+psycopg://u@h/db"
    assert store_mod.normalize_url("x.db") == f"sqlite:///{Path('x.db').resolve()}"


def test_a_locked_database_is_retried_silently(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
        return 42

    assert s._retry(flaky) == 42 and len(calls) == 3

    def broken() -> None:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError):
        s._retry(broken)
    s.close()


def test_a_writer_waits_for_another_writers_lock(sqlite_url: str) -> None:
    s = open_store(sqlite_url, busy_timeout_s=0.05)  # short timeout: the store's own retries must take over
    blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    import threading

    threading.Timer(0.4, blocker.rollback).start()
    sid = s.save_session(make_result(2))
    assert s.get_session(sid).result.rep_count == 2
    blocker.close()
    s.close()


def test_concurrent_corrections_get_consecutive_versions(store: store_mod.Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sid = store.save_session(make_result(5))
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda k: store.add_correction(sid, make_result(4 - k % 3), author=f"t{k}"), range(8)))
    assert sorted(versions) == list(range(2, 10))
    assert [v.version for v in store.versions(sid)] == list(range(1, 10))
    assert store.get_session(sid).info.current_version == 9
