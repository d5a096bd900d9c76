"""Database fixtures: an SQLite file per test, and a throwaway PostgreSQL cluster for the whole test session.

The PostgreSQL cluster is made with the server's own ``initdb``/``pg_ctl`` (Debian: package ``postgresql``)
in a temporary folder, listens on 127.0.0.1 on a free port with trust authentication, and is stopped and
deleted at the end. As root the server runs as the ``postgres`` user (it refuses to run as root).
Tests that need it are marked ``postgres``; without the server binaries they are skipped with the reason
(and fail under CI, whose set-up installs the server).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bindir() -> Path | None:
    env = os.environ.get("HANDREHAB_PG_BIN")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="handrehab-pg-"))
        self.data = self.root / "data"
        self.port = 0
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        r = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        for _ in range(5):  # the free port may be taken by someone else before the server binds it
            self.port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
            )
            log = str(self.root / "server.log")
            r = self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", opts, "-w", "start")
            if r.returncode == 0:
                return
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()}\n{log}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL (no database) of a throwaway PostgreSQL server running for the test session."""
    bindir = _pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        message = "PostgreSQL server binaries not found (Debian: apt-get install postgresql; make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing server is a broken set-up, not a reason to skip
        pytest.skip(message)
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> str:
    """URL of one database on the test server, shared by the tests (each gets its own schema in it)."""
    import psycopg

    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "handrehab_test"')
    return f"{postgres_server}/handrehab_test"


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    """URL of a fresh, empty schema on the test server (a schema is much quicker to make than a database).

    The URL sets ``search_path``, so everything the store creates (including Alembic's version table)
    lands in that schema; it is dropped afterwards.
    """
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = postgres_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield f"{postgres_database}?options=-csearch_path%3D{name}"
    with psycopg.connect(plain, autocommit=True) as conn:
        # Sessions a test left open would block the drop.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = 'handrehab_test' AND state = 'idle in transaction'"
        )
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Restore ``__main__`` after each test.

    Streamlit's AppTest runs page scripts as ``__main__``; left in place, every later ``spawn``-started
    worker process would re-run that script at start-up.
    """
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
