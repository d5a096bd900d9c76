"""The store under real concurrency and real crashes, on SQLite and on PostgreSQL.

Writers are separate processes running this file as a script (``python test_store_concurrency.py ...``),
so they contend for the database exactly as batch workers or several dashboard users do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


# -- what the child processes run ---------------------------------------------------------------------------


def _series(frames: int, seed: int) -> object:
    from tracking.series import LandmarkSeries

    rng = np.random.default_rng(seed)
    return LandmarkSeries(
        t=np.arange(frames) / 30.0,
        image=rng.random((frames, 21, 3)),
        world=rng.normal(0, 0.05, (frames, 21, 3)),
        present=np.ones(frames, bool),
        score=np.full(frames, 0.9),
        handedness="right",
        width=640,
        height=480,
    )


def _result(writer: int, i: int) -> object:
    from sessions.result import SessionResult
    from tracking.video import VideoInfo

    n = 1 + (writer * 7 + i) % 6
    reps = [{"start_s": k * 0.5, "end_s": k * 0.5 + 0.4, "peak_s": k * 0.5 + 0.2, "amplitude": 0.5} for k in range(n)]
    video = VideoInfo(path=f"w{writer}/clip{i}.mp4", fps=30.0, frames=90, duration_s=3.0, width=640, height=480)
    metrics = {"frequency_hz": 2.0, "writer": writer, "index": i, "touches_per_finger": {"index": n}}
    return SessionResult("finger_tapping", video, "right", 1.0, [], reps, metrics)


def _worker(url: str, writer: int, count: int, barrier: str, frames: int, shared: bool) -> None:
    from sessions.store import open_store

    # All writers start together, once every one has imported: say ready, wait for the go.
    Path(barrier, f"ready-{writer}").touch()
    while not Path(barrier, "go").exists():
        time.sleep(0.005)
    store = open_store(url)  # on a fresh database: the writers race to create the schema too
    for i in range(count):
        key = f"shared-{i}" if shared else f"w{writer}-{i}"
        store.save_session(
            _result(writer, i),  # type: ignore[arg-type]
            source="batch",
            series=_series(frames, writer * 100_000 + i),  # type: ignore[arg-type]
            idempotency_key=key,
            params={"writer": writer},
        )
    store.close()


def _saver_to_kill(url: str, frames: int, pause_in_transaction: bool) -> None:
    """Save sessions forever, printing each committed id; optionally freeze inside the second save's
    transaction (after its landmark series is written, before the commit) and say so."""
    from sqlalchemy import event

    from sessions.store import open_store

    store = open_store(url)
    saves = 0

    @event.listens_for(store.engine, "after_cursor_execute")
    def _freeze(conn: object, cursor: object, statement: str, *args: object) -> None:
        if pause_in_transaction and saves == 1 and statement.startswith("INSERT INTO landmark_series"):
            print("IN-TRANSACTION", flush=True)
            time.sleep(60)

    i = 0
    while True:
        sid = store.save_session(_result(0, i), series=_series(frames, i))  # type: ignore[arg-type]
        saves += 1
        print(f"SAVED {sid}", flush=True)
        i += 1


if __name__ == "__main__":
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "worker":
        _worker(url, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7] == "1")
    else:
        _saver_to_kill(url, int(sys.argv[3]), mode == "freeze")
    sys.exit(0)


# -- the tests -------------------------------------------------------------------------------------------------

import pytest  # noqa: E402  (the child processes above do not need pytest)
from sqlalchemy import text  # noqa: E402

from sessions.store import open_store  # noqa: E402


def _spawn(*args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.Popen(
        [sys.executable, str(HERE), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _check_consistent(url: str) -> dict[str, int]:
    """Every stored session is whole: one current version, its reps and metrics, its landmarks."""
    store = open_store(url)
    with store.engine.connect() as conn:

        def q(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar_one())

        counts = {
            "sessions": q("SELECT count(*) FROM sessions"),
            "versions": q("SELECT count(*) FROM analysis_versions"),
            "series": q("SELECT count(*) FROM landmark_series"),
            "reps": q("SELECT count(*) FROM reps"),
            "metrics": q("SELECT count(*) FROM metrics"),
        }
        assert counts["versions"] == counts["series"] == counts["sessions"]
        assert q("SELECT count(*) FROM sessions s LEFT JOIN analysis_versions v ON v.session_id = s.id "
                 "AND v.version = s.current_version WHERE v.id IS NULL") == 0  # fmt: skip
        assert q("SELECT count(*) FROM analysis_versions v WHERE rep_count <> "
                 "(SELECT count(*) FROM reps r WHERE r.version_id = v.id)") == 0  # fmt: skip
        assert q("SELECT count(*) FROM analysis_versions v WHERE NOT EXISTS "
                 "(SELECT 1 FROM metrics m WHERE m.version_id = v.id)") == 0  # fmt: skip
    store.close()
    return counts


def _run_writers(url: str, barrier: Path, *, writers: int, count: int, frames: int, shared: bool) -> float:
    """Run ``writers`` processes from a common start; returns the seconds from the start to the last exit."""
    procs = [_spawn("worker", url, w, count, barrier, frames, int(shared)) for w in range(writers)]
    deadline = time.time() + 120
    while len(list(barrier.glob("ready-*"))) < writers and time.time() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    start = time.time()
    (barrier / "go").touch()
    outputs = [p.communicate(timeout=240) for p in procs]
    seconds = time.time() - start
    for p, (stdout, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr
        assert stderr == "" and stdout == ""  # no error, no warning shown to any writer
    return seconds


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], ids=["sqlite", "postgresql"]
)
def test_four_processes_write_1000_sessions_and_none_is_lost(
    backend: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url"))
    seconds = _run_writers(url, tmp_path, writers=4, count=250, frames=20, shared=False)
    counts = _check_consistent(url)
    assert counts["sessions"] == 1000
    store = open_store(url)
    with store.engine.connect() as conn:
        keys = conn.execute(text("SELECT idempotency_key FROM sessions")).scalars().all()
    assert sorted(keys) == sorted(f"w{w}-{i}" for w in range(4) for i in range(250))  # none lost, none twice
    assert sum(s.rep_count for s in store.list_sessions()) == sum(
        1 + (w * 7 + i) % 6 for w in range(4) for i in range(250)
    )
    store.close()
    with capsys.disabled():
        print(f"\n[{backend}] 4 writers x 250 sessions: {seconds:.1f} s ({1000 / seconds:.0f} sessions/s)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], ids=["sqlite", "postgresql"]
)
def test_writers_racing_on_the_same_idempotency_keys_store_each_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url"))
    _run_writers(url, tmp_path, writers=3, count=40, frames=5, shared=True)
    assert _check_consistent(url)["sessions"] == 40


def _kill_mid_save(url: str, *, freeze: bool, frames: int, after_s: float = 0.0) -> list[int]:
    open_store(url).close()
    proc = _spawn("freeze" if freeze else "burst", url, frames)
    assert proc.stdout is not None
    saved: list[int] = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("SAVED"):
            saved.append(int(line.split()[1]))
            if not freeze and len(saved) == 1:
                time.sleep(after_s)
                break
        elif line.startswith("IN-TRANSACTION"):
            break
        elif not line:
            pytest.fail(f"the saver died on its own: {proc.stderr.read() if proc.stderr else ''}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    for line in proc.stdout.read().splitlines():  # saves committed after the last line we read
        if line.startswith("SAVED"):
            saved.append(int(line.split()[1]))
    return saved


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], ids=["sqlite", "postgresql"]
)
def test_a_process_killed_inside_a_save_leaves_none_of_that_session(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url"))
    saved = _kill_mid_save(url, freeze=True, frames=300)
    assert len(saved) == 1  # the first save committed; the second was frozen, then killed, before its commit
    if backend == "postgresql":
        time.sleep(0.5)  # the server notices the dead client and rolls its transaction back
    counts = _check_consistent(url)
    assert counts["sessions"] == 1
    store = open_store(url)
    assert [s.id for s in store.list_sessions()] == saved
    assert store.get_series(saved[0]) is not None
    store.save_session(_result(1, 1))  # type: ignore[arg-type]  # the store is still writable
    if backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()


@pytest.mark.slow
def test_kills_at_random_moments_leave_only_whole_sessions(sqlite_url: str) -> None:
    rng = np.random.default_rng(7)
    committed: set[int] = set()
    for _ in range(3):
        committed |= set(_kill_mid_save(sqlite_url, freeze=False, frames=400, after_s=float(rng.uniform(0, 0.3))))
        counts = _check_consistent(sqlite_url)
        # Whatever the child printed was committed; at most one save may have committed unreported.
        assert len(committed) <= counts["sessions"] <= len(committed) + 3
