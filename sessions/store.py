"""Persistent storage of patients, sessions and their analysis versions (SQLite by default, PostgreSQL by URL).

A session is saved in one transaction: its metadata, the original analysis version (full schema-1 result,
reps, flattened metrics), the compressed landmark series (so it can be re-scored later without the video)
and, only when asked, the raw video. A therapist's correction or a re-score adds a new version; the latest
is current and older ones are kept.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` (so two
writers never deadlock upgrading a read lock), queue on an OS file lock (woken as soon as the previous
writer is done) and are retried on "database is locked", so several processes can write to one file at
once without losing anything or showing an error. A write that cannot be done, because the disk is full or
another program holds the database locked past the retry budget (``open_store(max_retry_s=...)``), raises a
:class:`StoreError` of one plain sentence and leaves nothing behind: the transaction is rolled back and a
video file kept for it removed. The schema is managed by Alembic and upgraded to head when a store is opened
(see :func:`open_store`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import functools
import hashlib
import json
import logging
import math
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

from sessions.result import SessionResult, _clean
from tracking.series import LandmarkSeries

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handling only
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

    from sessions.pipeline import Scored

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("live", "upload", "batch", "cli")
SIDES: tuple[str, ...] = ("left", "right", "both")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


class StoreError(ValueError):
    """A request the store cannot satisfy (unknown id, bad argument, full disk, lasting lock ...); one sentence."""


class NotFoundError(StoreError, LookupError):
    """No patient or session with that id."""


# -- locations ---------------------------------------------------------------------------------------


def data_dir() -> Path:
    """The per-user data folder: ``$HANDREHAB_DATA_DIR`` or the platform's user data dir for 'handrehab'."""
    env = os.environ.get("HANDREHAB_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("handrehab"))


def default_url() -> str:
    """``$HANDREHAB_DB_URL`` or an SQLite file ``handrehab.db`` in :func:`data_dir`."""
    return os.environ.get("HANDREHAB_DB_URL") or f"sqlite:///{data_dir() / 'handrehab.db'}"


def normalize_url(url: str | os.PathLike[str] | None) -> str:
    """A SQLAlchemy URL from a URL, a plain file path (taken as SQLite) or None (the default)."""
    text = default_url() if url is None or str(url) == "" else str(url)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith(("postgresql://", "postgres://")):
        # The psycopg 3 driver is the one installed; plain postgresql:// would ask for psycopg2.
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


@functools.cache
def software_version() -> str:
    try:
        return metadata.version("handrehab")
    except metadata.PackageNotFoundError:
        return "unknown"


def file_sha256(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (the video fingerprint)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_idempotency_key(video_sha256: str, exercise: str, label: str) -> str:
    """Key under which a batch run stores a video's session, so a re-run finds it instead of duplicating it."""
    return f"{video_sha256}:{exercise}:{label}"


# -- schema --------------------------------------------------------------------------------------------

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps naive UTC text, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)  # a naive value is taken as local time
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class PatientRow(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # pseudonymous
    display_name: Mapped[str] = mapped_column(String(200))
    affected_side: Mapped[str | None] = mapped_column(String(8))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    sessions: Mapped[list[SessionRow]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids of deleted sessions are never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    exercise: Mapped[str] = mapped_column(String(64), index=True)
    hand: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    video_path: Mapped[str] = mapped_column(Text, default="")
    video_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    software_version: Mapped[str] = mapped_column(String(64))
    detection_rate: Mapped[float] = mapped_column(Float)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    # Warnings from tracking the video (not from the analysis), carried over when the session is re-scored.
    tracking_warnings: Mapped[list[str] | None] = mapped_column(JSONType)

    patient: Mapped[PatientRow | None] = relationship(back_populates="sessions")
    versions: Mapped[list[VersionRow]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True, order_by="VersionRow.version"
    )
    series: Mapped[SeriesRow | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    video: Mapped[VideoRow | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class VersionRow(Base):
    """One analysis of a session: the original, a therapist's correction or a re-score."""

    __tablename__ = "analysis_versions"
    __table_args__ = (UniqueConstraint("session_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # what differs from the version before
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # thresholds/parameters used
    manual_reps: Mapped[list[list[float]] | None] = mapped_column(JSONType)  # rep intervals set by a person
    software_version: Mapped[str] = mapped_column(String(64))
    rep_count: Mapped[int] = mapped_column(Integer)
    detection_rate: Mapped[float] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the full schema-1 result

    session: Mapped[SessionRow] = relationship(back_populates="versions")
    reps: Mapped[list[RepRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True, order_by="RepRow.idx")
    metrics: Mapped[list[MetricRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class RepRow(Base):
    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("analysis_versions.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    peak_s: Mapped[float | None] = mapped_column(Float)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the other per-rep fields


class MetricRow(Base):
    """One metric of one version, nested keys flattened with dots (``touches_per_finger.index``)."""

    __tablename__ = "metrics"

    version_id: Mapped[int] = mapped_column(ForeignKey("analysis_versions.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(255))


class SeriesRow(Base):
    __tablename__ = "landmark_series"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(16))  # 'npz' = LandmarkSeries.to_bytes
    frames: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class VideoRow(Base):
    """The raw video, kept only when the user opted in: a blob, or a file in the data folder."""

    __tablename__ = "videos"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    file: Mapped[str | None] = mapped_column(String(255))  # relative to the store's data folder


# -- records handed out (plain values, never live ORM objects) ---------------------------------------


@dataclasses.dataclass(frozen=True)
class PatientRecord:
    id: str
    display_name: str
    affected_side: str | None
    notes: str
    created_at: datetime
    session_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "created_at": self.created_at.isoformat()}


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """A session's metadata and its current version's headline numbers (what lists show)."""

    id: int
    patient_id: str | None
    exercise: str
    hand: str
    source: str
    recorded_at: datetime
    created_at: datetime
    video_path: str
    video_sha256: str | None
    software_version: str
    detection_rate: float
    idempotency_key: str | None
    current_version: int
    rep_count: int
    tracking_warnings: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recorded_at"], d["created_at"] = self.recorded_at.isoformat(), self.created_at.isoformat()
        return d


@dataclasses.dataclass(frozen=True)
class VersionRecord:
    session_id: int
    version: int
    kind: str
    created_at: datetime
    author: str | None
    note: str
    changes: dict[str, Any] | None
    params: dict[str, Any] | None
    manual_reps: list[list[float]] | None
    software_version: str
    result: SessionResult

    def to_dict(self, *, with_result: bool = True) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "result"}
        d["created_at"] = self.created_at.isoformat()
        if with_result:
            d["result"] = self.result.to_dict()
        return d


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A session with one analysis version (the current one unless another was asked for)."""

    info: SessionInfo
    version: VersionRecord
    has_series: bool
    has_video: bool

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def result(self) -> SessionResult:
        return self.version.result

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.info.to_dict(),
            "has_series": self.has_series,
            "has_video": self.has_video,
            "version": self.version.to_dict(),
        }


# -- engine set-up ---------------------------------------------------------------------------------------


def _make_engine(url: str, *, busy_timeout_s: float) -> Engine:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = u.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Pooled connections: closing the last connection to a WAL database checkpoints and deletes the WAL,
    # which would cost an fsync or two per transaction. (The in-memory database needs one shared connection.)
    memory = not database or database == ":memory:"
    engine = create_engine(
        url,
        poolclass=StaticPool if memory else QueuePool,
        pool_size=2,
        max_overflow=8,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN cannot be IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")  # first: the next pragmas may wait
        if database and database != ":memory:":
            _retry_sqlite(lambda: cur.execute("PRAGMA journal_mode = WAL"))
        cur.execute("PRAGMA synchronous = FULL")  # a committed session survives a power cut too
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA secure_delete = ON")  # deleted patient data is overwritten, not just unlinked
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _retry_sqlite(fn: Callable[[], T], *, attempts: int = 50) -> T:
    for i in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if ("locked" not in str(e) and "busy" not in str(e)) or i == attempts - 1:
                raise
            time.sleep(0.01 * (1 + i))
    raise AssertionError("unreachable")


def _is_transient(exc: BaseException) -> bool:
    """Lock contention or a serialization conflict: the whole transaction can simply run again."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01", "55P03"):  # serialization, deadlock, lock n/a
        return True
    msg = str(orig).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in msg or "database is busy" in msg)


# -- migrations ----------------------------------------------------------------------------------------------


def _alembic_config(script_location: Path) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def upgrade_schema(engine: Engine, *, script_location: Path = MIGRATIONS_DIR, backup: bool = True) -> str | None:
    """Bring the database to the newest schema revision; returns the revision it was at before.

    Runs in one transaction holding the database's write lock (``BEGIN IMMEDIATE`` on SQLite, an advisory
    lock on PostgreSQL), so concurrent openers never race and a failed upgrade changes nothing. On SQLite
    foreign keys are switched off while migrating, because Alembic's batch mode re-creates tables and a
    ``DROP TABLE`` with foreign keys on would cascade-delete every child row; the keys are checked before
    committing. An SQLite file that holds data is copied to ``<file>.bak-<revision>`` first.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(script_location)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    known = {rev.revision for rev in script.walk_revisions()}

    def current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    with engine.connect() as conn:
        before = current(conn)
        conn.rollback()
    if before == head:
        return before

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Straight to the driver: PRAGMA foreign_keys is a no-op inside a transaction, which SQLAlchemy would begin.
            _raw(conn).execute("PRAGMA foreign_keys = OFF")
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7391602813)")  # any fixed key of ours
            before = current(conn)
            if before == head:
                return before
            if before is not None and before not in known:
                raise StoreError(
                    f"the database schema (revision {before}) is newer than this version of handrehab; "
                    "upgrade handrehab to open it"
                )
            if sqlite and before is not None and backup:
                _backup_sqlite(engine, suffix=f".bak-{before}")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if sqlite:
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise StoreError(f"schema upgrade would break {len(bad)} references; nothing was changed")
        if sqlite:
            _raw(conn).execute("PRAGMA foreign_keys = ON")
    log.info("database schema upgraded from %s to %s", before, head)
    return before


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def _backup_sqlite(engine: Engine, *, suffix: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    target = Path(database + suffix)
    src = sqlite3.connect(database, timeout=60)
    try:
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    return target


# -- the store -------------------------------------------------------------------------------------------


def open_store(
    url: str | os.PathLike[str] | None = None,
    *,
    files_dir: str | os.PathLike[str] | None = None,
    busy_timeout_s: float = 30.0,
    max_retry_s: float = 120.0,
    upgrade: bool = True,
) -> Store:
    """Open (creating and upgrading as needed) the store at ``url``.

    Parameters
    ----------
    url : str or path, optional
        A SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg://user@host/db``) or an SQLite file
        path. Default: ``$HANDREHAB_DB_URL``, else ``handrehab.db`` in the per-user data folder.
    files_dir : path, optional
        Where opted-in raw videos are kept as files. Default: the SQLite file's folder, else
        :func:`data_dir`.
    busy_timeout_s : float
        How long a writer waits for another one's lock before retrying (at most half of ``max_retry_s``,
        so a locked database is always tried at least twice).
    max_retry_s : float
        How long a write keeps retrying a locked database before it gives up with a :class:`StoreError`
        (at most about 1.5 times this). The default suits batch jobs; someone waiting at a screen wants a
        few seconds.
    upgrade : bool
        Upgrade the schema to the newest revision (never loses data; see :func:`upgrade_schema`).
    """
    if max_retry_s < 0:
        raise StoreError(f"max_retry_s must be 0 or more, not {max_retry_s}")
    busy_timeout_s = min(busy_timeout_s, max_retry_s / 2)
    full = normalize_url(url)

    def cannot(reason: object) -> StoreError:
        return StoreError(f"cannot open the database {_redact(full)}: {' '.join(str(reason).split())}")

    try:
        engine = _make_engine(full, busy_timeout_s=busy_timeout_s)
    except Exception as e:  # malformed URL, missing driver, folder that cannot be made
        raise cannot(e) from None
    if files_dir is None:
        db = engine.url.database if engine.dialect.name == "sqlite" else None
        folder = Path(db).parent if db and db != ":memory:" else data_dir()
    else:
        folder = Path(files_dir)
    store = Store(engine, data_folder=folder, max_retry_s=max_retry_s, busy_timeout_s=busy_timeout_s)
    if upgrade:
        try:
            store._retry(lambda: upgrade_schema(engine))
        except (DBAPIError, OSError) as e:  # server down, wrong password, unreadable file ...
            engine.dispose()
            raise cannot(e.orig if isinstance(e, DBAPIError) else e) from None
    return store


def _redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class Store:
    """Repository over one database. Thread-safe; each method is one transaction."""

    def __init__(
        self, engine: Engine, *, data_folder: Path, max_retry_s: float = 120.0, busy_timeout_s: float = 30.0
    ) -> None:
        self.engine = engine
        self.data_folder = data_folder
        self.max_retry_s = max_retry_s
        self.busy_timeout_s = busy_timeout_s
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._lock_path = f"{database}.writelock" if database and database != ":memory:" else None
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine,
            expire_on_commit=False,
        )

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------
    def _retry(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.max_retry_s
        delay = 0.005
        while True:
            try:
                return fn()
            except DBAPIError as e:
                if not _is_transient(e) or time.monotonic() > deadline:
                    raise
                log.debug("transient database conflict, retrying: %s", e.orig)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _write(self, fn: Callable[[Session], T], *, action: str) -> T:
        """Run ``fn`` in one write transaction, retried while the database is locked.

        ``action`` ("save the session") words the :class:`StoreError` raised when the disk is full or the
        lock outlasts the retry budget; the transaction is then rolled back.
        """

        def once() -> T:
            with self._write_lock(), self._writer() as s, s.begin():
                return fn(s)

        with self._explained(action):
            return self._retry(once)

    @contextlib.contextmanager
    def _explained(self, action: str) -> Iterator[None]:
        """Turn a full disk, or a database still locked after the retries, into one plain StoreError."""
        try:
            yield
        except (DBAPIError, OSError) as e:
            reason = self._fault(e)
            if reason is None:
                raise
            raise StoreError(f"could not {action}: {reason}") from e

    def _fault(self, exc: DBAPIError | OSError) -> str | None:
        """The cause of a failed write in plain words when it lies outside this program, else None."""
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        where = database or self.url
        if isinstance(exc, OSError):
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                return None
            return f"the disk is full ({exc.strerror} in {self.data_folder})"
        detail = " ".join(str(exc.orig).split())
        if getattr(exc.orig, "sqlstate", None) == "53100" or "database or disk is full" in detail.lower():
            return f"the disk is full ({detail}: {where})"
        if _is_transient(exc):  # still locked once the retry budget is spent
            return f"the database is locked by another program (still locked after {self.max_retry_s:g} s: {where})"
        return None

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Queue this process's SQLite writers on an OS file lock before ``BEGIN IMMEDIATE``.

        SQLite's own busy handler sleeps up to 100 ms between attempts, so contended writers idle while the
        database is free; a waiter on ``flock`` is woken as soon as the holder is done, and the kernel
        releases the lock of a killed process. Polls with a short sleep so a stuck holder cannot block us
        longer than the busy timeout (after which SQLite's own locking takes over). No-op elsewhere.
        """
        if self._lock_path is None or fcntl is None:
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.busy_timeout_s
            delay = 0.0005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.005)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _read(self, fn: Callable[[Session], T]) -> T:
        def once() -> T:
            with self._sessions() as s, s.begin():
                return fn(s)

        return self._retry(once)

    # -- patients --------------------------------------------------------------------------------------
    def add_patient(
        self,
        display_name: str,
        *,
        patient_id: str | None = None,
        affected_side: str | None = None,
        notes: str = "",
    ) -> str:
        """Add a patient; returns the pseudonymous id (generated as ``p-xxxxxxxx`` when not given)."""
        if affected_side is not None and affected_side not in SIDES:
            raise StoreError(f"affected side must be one of {', '.join(SIDES)}, not {affected_side!r}")
        if not display_name.strip():
            raise StoreError("a patient needs a display name")
        pid = patient_id or f"p-{uuid.uuid4().hex[:8]}"

        def add(s: Session) -> str:
            if s.get(PatientRow, pid) is not None:
                raise StoreError(f"patient {pid!r} already exists")
            s.add(
                PatientRow(
                    id=pid, display_name=display_name, affected_side=affected_side, notes=notes, created_at=_now()
                )
            )
            return pid

        try:
            return self._write(add, action="save the patient")
        except IntegrityError:
            raise StoreError(f"patient {pid!r} already exists") from None

    def get_patient(self, patient_id: str) -> PatientRecord:
        def get(s: Session) -> PatientRecord:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError(f"no patient {patient_id!r}")
            n = s.scalar(select(func.count(SessionRow.id)).where(SessionRow.patient_id == patient_id)) or 0
            return _patient_record(row, n)

        return self._read(get)

    def list_patients(self) -> list[PatientRecord]:
        def get(s: Session) -> list[PatientRecord]:
            counts = dict(
                s.execute(
                    select(SessionRow.patient_id, func.count(SessionRow.id)).group_by(SessionRow.patient_id)
                ).all()
            )
            rows = s.scalars(select(PatientRow).order_by(PatientRow.id)).all()
            return [_patient_record(r, counts.get(r.id, 0)) for r in rows]

        return self._read(get)

    def delete_patient(self, patient_id: str) -> int:
        """Delete a patient and all their data (sessions, versions, landmarks, videos); returns sessions deleted."""

        def delete(s: Session) -> tuple[int, list[str]]:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError(f"no patient {patient_id!r}")
            ids = list(s.scalars(select(SessionRow.id).where(SessionRow.patient_id == patient_id)))
            files = list(
                s.scalars(select(VideoRow.file).where(VideoRow.session_id.in_(ids), VideoRow.file.is_not(None)))
            )
            s.delete(row)
            return len(ids), [f for f in files if f]

        n, files = self._write(delete, action="delete the patient")
        self._forget(files)
        self._scrub()
        return n

    # -- sessions ----------------------------------------------------------------------------------------
    def save_session(
        self,
        result: SessionResult,
        *,
        patient_id: str | None = None,
        source: str = "upload",
        series: LandmarkSeries | None = None,
        video_path: str | os.PathLike[str] | None = None,
        keep_video: bool = False,
        video_in_db: bool | None = None,
        params: Mapping[str, Any] | None = None,
        recorded_at: datetime | None = None,
        idempotency_key: str | None = None,
        video_sha256: str | None = None,
        tracking_warnings: Sequence[str] | None = None,
    ) -> int:
        """Save a scored session in one transaction; returns its id.

        Parameters
        ----------
        result : SessionResult
            The schema-1 result; stored whole as version 1 ('original').
        patient_id : str, optional
            An existing patient (None for unattributed research data).
        source : {'live', 'upload', 'batch', 'cli'}
        series : LandmarkSeries, optional
            Stored compressed so the session can be re-scored without the video.
        video_path : path, optional
            The analysed video; default ``result.video.path`` when that file exists. Its SHA-256 is the
            session's fingerprint.
        keep_video : bool
            Keep the raw video (off by default: videos of patients are not stored unless asked).
        video_in_db : bool, optional
            Keep it as a blob in the database rather than as a file in the data folder. Default: a blob on a
            database server (every client can read it), a file beside an SQLite store.
        params : mapping, optional
            Thresholds and parameters the analysis used; default: read from the exercise (see
            :func:`exercise_params`).
        recorded_at : datetime, optional
            When the session took place (default now).
        idempotency_key : str, optional
            When a session with this key exists, its id is returned and nothing is written (see
            :func:`make_idempotency_key`).
        video_sha256 : str, optional
            The fingerprint when the caller already has it (skips hashing the file).
        tracking_warnings : sequence of str, optional
            The result's warnings that came from tracking rather than from the analysis, so a re-score can
            keep them (:meth:`save_scored` works them out).
        """
        if source not in SOURCES:
            raise StoreError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        if idempotency_key is not None:
            found = self.find_session(idempotency_key)
            if found is not None:
                return found
        vpath = _existing(video_path) or _existing(result.video.path)
        if video_path is not None and vpath is None and keep_video:
            raise StoreError(f"cannot keep the video: {video_path} does not exist")
        sha = video_sha256 or (file_sha256(vpath) if vpath else None)
        result_dict = result.to_dict()
        params_dict = _clean(dict(params)) if params is not None else exercise_params(result.exercise)
        series_bytes = series.to_bytes() if series is not None else None
        video_file: str | None = None
        video_blob: bytes | None = None
        if keep_video and vpath is not None:
            if video_in_db or (video_in_db is None and self.engine.dialect.name != "sqlite"):
                video_blob = vpath.read_bytes()
            else:
                with self._explained("save the session"):
                    video_file = self._keep_video_file(vpath, sha or file_sha256(vpath))
        now = _now()

        session_values = {
            "patient_id": patient_id,
            "exercise": result.exercise,
            "hand": result.hand,
            "source": source,
            "recorded_at": recorded_at or now,
            "created_at": now,
            "video_path": str(result.video.path),
            "video_sha256": sha,
            "software_version": software_version(),
            "detection_rate": float(result.detection_rate),
            "idempotency_key": idempotency_key,
            "current_version": 1,
            "tracking_warnings": list(tracking_warnings) if tracking_warnings is not None else None,
        }
        version = _version_values(
            result_dict, version=1, kind="original", author=None, note="", changes=None, params=params_dict, now=now
        )
        video_values = None
        if vpath is not None and (video_file or video_blob is not None):
            video_values = {
                "sha256": sha or "",
                "filename": vpath.name[:255],
                "size": vpath.stat().st_size,
                "data": video_blob,
                "file": video_file,
            }

        def save(s: Session) -> int:
            # Everything was prepared above: the write lock is held only for the inserts themselves.
            if patient_id is not None and s.get(PatientRow, patient_id) is None:
                raise NotFoundError(f"no patient {patient_id!r}")
            sid = s.execute(insert(SessionRow).returning(SessionRow.id), [session_values]).scalar_one()
            _insert_version(s, sid, version)
            if series_bytes is not None and series is not None:
                s.execute(
                    insert(SeriesRow),
                    [{"session_id": sid, "format": "npz", "frames": len(series), "data": series_bytes}],
                )
            if video_values is not None:
                s.execute(insert(VideoRow), [{"session_id": sid, **video_values}])
            return int(sid)

        try:
            return self._write(save, action="save the session")
        except IntegrityError:
            if idempotency_key is not None:  # another process saved the same key first
                found = self.find_session(idempotency_key)
                if found is not None:
                    self._forget([video_file] if video_file else [])
                    return found
            raise
        except BaseException:
            # No partial session: the transaction was rolled back, so remove the video file kept for it
            # (unless another session shares it). A store too broken to tell keeps the file, not the error.
            with contextlib.suppress(DBAPIError, OSError):
                self._forget([video_file] if video_file else [])
            raise

    def save_scored(self, scored: Scored, **kwargs: Any) -> int:
        """:meth:`save_session` for a ``sessions.pipeline.Scored`` (the pipeline's output).

        Stores its landmark series and tells tracking warnings from analysis warnings; keyword arguments are
        those of :meth:`save_session`.
        """
        own = set(scored.analysis.warnings)
        kwargs.setdefault("tracking_warnings", [w for w in scored.result.warnings if w not in own])
        kwargs.setdefault("series", scored.series)
        return self.save_session(scored.result, **kwargs)

    def find_session(self, idempotency_key: str) -> int | None:
        return self._read(
            lambda s: s.scalar(select(SessionRow.id).where(SessionRow.idempotency_key == idempotency_key))
        )

    def get_session(self, session_id: int, *, version: int | None = None) -> SessionRecord:
        """A session with its current version (or ``version``)."""

        def get(s: Session) -> SessionRecord:
            row = s.get(SessionRow, session_id)
            if row is None:
                raise NotFoundError(f"no session {session_id}")
            want = version or row.current_version
            v = s.scalar(select(VersionRow).where(VersionRow.session_id == session_id, VersionRow.version == want))
            if v is None:
                raise NotFoundError(f"session {session_id} has no version {want}")
            has_series = s.scalar(select(func.count()).where(SeriesRow.session_id == session_id)) or 0
            has_video = s.scalar(select(func.count()).where(VideoRow.session_id == session_id)) or 0
            return SessionRecord(_session_info(row, v.rep_count), _version_record(v), bool(has_series), bool(has_video))

        return self._read(get)

    def list_sessions(
        self,
        *,
        patient_id: str | None = None,
        exercise: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[SessionInfo]:
        """Sessions, oldest first, filtered by patient, exercise and time (``since`` inclusive, ``until`` not)."""
        q = _current_query(
            select(SessionRow, VersionRow.rep_count),
            patient_id=patient_id,
            exercise=exercise,
            since=since,
            until=until,
            ids=ids,
        )
        return self._read(lambda s: [_session_info(row, n) for row, n in s.execute(q)])

    def list_records(
        self,
        *,
        patient_id: str | None = None,
        exercise: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[SessionRecord]:
        """Like :meth:`list_sessions` but with each session's current version (one query, for exports)."""
        has_series = select(SeriesRow.session_id).where(SeriesRow.session_id == SessionRow.id).exists()
        has_video = select(VideoRow.session_id).where(VideoRow.session_id == SessionRow.id).exists()
        q = _current_query(
            select(SessionRow, VersionRow, has_series, has_video),
            patient_id=patient_id,
            exercise=exercise,
            since=since,
            until=until,
            ids=ids,
        )
        return self._read(
            lambda s: [
                SessionRecord(_session_info(row, v.rep_count), _version_record(v), bool(hs), bool(hv))
                for row, v, hs, hv in s.execute(q)
            ]
        )

    def count_sessions(self) -> int:
        return self._read(lambda s: s.scalar(select(func.count(SessionRow.id))) or 0)

    def versions(self, session_id: int) -> list[VersionRecord]:
        """Every analysis version of a session, oldest first."""

        def get(s: Session) -> list[VersionRecord]:
            if s.get(SessionRow, session_id) is None:
                raise NotFoundError(f"no session {session_id}")
            rows = s.scalars(select(VersionRow).where(VersionRow.session_id == session_id).order_by(VersionRow.version))
            return [_version_record(v) for v in rows]

        return self._read(get)

    def get_series(self, session_id: int) -> LandmarkSeries | None:
        """The stored landmark series, or None when the session was saved without one."""
        data = self._read(lambda s: s.scalar(select(SeriesRow.data).where(SeriesRow.session_id == session_id)))
        return LandmarkSeries.from_bytes(data) if data is not None else None

    def get_video(self, session_id: int) -> bytes | None:
        """The kept raw video's bytes, or None when it was not kept."""

        def get(s: Session) -> tuple[bytes | None, str | None] | None:
            row = s.get(VideoRow, session_id)
            return None if row is None else (row.data, row.file)

        found = self._read(get)
        if found is None:
            return None
        blob, file = found
        return blob if blob is not None else (self.data_folder / file).read_bytes() if file else None

    def add_version(
        self,
        session_id: int,
        new_result: SessionResult,
        *,
        kind: str,
        author: str | None = None,
        note: str = "",
        params: Mapping[str, Any] | None = None,
        manual_reps: Sequence[Sequence[float]] | None = None,
    ) -> int:
        """Store ``new_result`` as the session's next (and now current) version; returns its number."""
        if kind not in ("original", "corrected", "rescored"):
            raise StoreError(f"unknown version kind {kind!r}")
        result_dict = new_result.to_dict()

        def add(s: Session) -> int:
            # Row lock on PostgreSQL, so two concurrent corrections get versions n+1 and n+2 (SQLite's
            # BEGIN IMMEDIATE already serializes writers).
            row = s.get(SessionRow, session_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no session {session_id}")
            if new_result.exercise != row.exercise:
                raise StoreError(f"session {session_id} is {row.exercise}, not {new_result.exercise}")
            prev = s.scalar(
                select(VersionRow).where(VersionRow.session_id == session_id, VersionRow.version == row.current_version)
            )
            last = s.scalar(select(func.max(VersionRow.version)).where(VersionRow.session_id == session_id)) or 0
            values = _version_values(
                result_dict,
                version=last + 1,
                kind=kind,
                author=author,
                note=note,
                changes=describe_changes(prev.result if prev else None, result_dict),
                params=_clean(dict(params)) if params is not None else (prev.params if prev else None),
                now=_now(),
            )
            values["row"]["manual_reps"] = (
                [[float(a), float(b)] for a, b in manual_reps] if manual_reps is not None else None
            )
            _insert_version(s, session_id, values)
            row.current_version = last + 1
            row.detection_rate = float(new_result.detection_rate)
            return last + 1

        return self._write(add, action="save the new version")

    def add_correction(self, session_id: int, new_result: SessionResult, *, author: str, note: str = "") -> int:
        """A therapist's corrected result (e.g. a rejected rep) as a new version; the old one is kept.

        The corrected reps' intervals are recorded, so a later re-score keeps the therapist's reps.
        """
        if not author.strip():
            raise StoreError("a correction needs an author")
        reps = [(float(r["start_s"]), float(r["end_s"])) for r in new_result.reps]
        return self.add_version(session_id, new_result, kind="corrected", author=author, note=note, manual_reps=reps)

    def delete_session(self, session_id: int) -> None:
        def delete(s: Session) -> list[str]:
            row = s.get(SessionRow, session_id)
            if row is None:
                raise NotFoundError(f"no session {session_id}")
            files = [row.video.file] if row.video is not None and row.video.file else []
            s.delete(row)
            return files

        self._forget(self._write(delete, action="delete the session"))
        self._scrub()

    # -- analysis helpers ---------------------------------------------------------------------------------
    def history(self, patient_id: str, exercise: str | None = None) -> pd.DataFrame:
        """One row per session (current versions, oldest first): time, reps, detection rate and every metric.

        Columns: ``session_id, recorded_at, exercise, version, kind, rep_count, detection_rate`` then one
        column per (flattened) metric; non-numeric metrics are left out.
        """
        import pandas as pd  # imported here: writers (batch workers) never pay for it

        def get(s: Session) -> pd.DataFrame:
            q = (
                select(
                    SessionRow.id,
                    SessionRow.recorded_at,
                    SessionRow.exercise,
                    VersionRow.version,
                    VersionRow.kind,
                    VersionRow.rep_count,
                    VersionRow.detection_rate,
                    VersionRow.id,
                )
                .join(
                    VersionRow,
                    (VersionRow.session_id == SessionRow.id) & (VersionRow.version == SessionRow.current_version),
                )
                .where(SessionRow.patient_id == patient_id)
                .order_by(SessionRow.recorded_at, SessionRow.id)
            )
            if exercise is not None:
                q = q.where(SessionRow.exercise == exercise)
            rows = s.execute(q).all()
            base = pd.DataFrame(
                [r[:7] for r in rows],
                columns=["session_id", "recorded_at", "exercise", "version", "kind", "rep_count", "detection_rate"],
            )
            vids = [r[7] for r in rows]
            if not vids:
                return base
            metrics = s.execute(
                select(MetricRow.version_id, MetricRow.name, MetricRow.value).where(
                    MetricRow.version_id.in_(vids), MetricRow.value.is_not(None)
                )
            )
            by_version: dict[int, dict[str, float | None]] = {}
            for vid, name, value in metrics:
                by_version.setdefault(vid, {})[name] = value
            wide = pd.DataFrame([by_version.get(v, {}) for v in vids])
            wide = wide.reindex(sorted(wide.columns), axis=1)
            return pd.concat([base, wide], axis=1)

        if self._read(lambda s: s.get(PatientRow, patient_id)) is None:
            raise NotFoundError(f"no patient {patient_id!r}")
        return self._read(get)

    # -- files --------------------------------------------------------------------------------------------------
    def _keep_video_file(self, path: Path, sha: str) -> str:
        """Copy the video into the data folder under its fingerprint (atomic; identical videos share a file)."""
        rel = f"videos/{sha}{path.suffix.lower()}"
        target = self.data_folder / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(path, tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return rel

    def _scrub(self) -> None:
        """After deleting personal data from SQLite, checkpoint the WAL into the database file and empty it.

        Old copies of the deleted pages would otherwise linger in the WAL (secure_delete zeroes them in the
        main file only). Best effort: a concurrent reader can keep the WAL from being emptied until a later checkpoint.
        """
        if self.engine.dialect.name != "sqlite":
            return
        with contextlib.suppress(DBAPIError), self.engine.connect() as conn:
            _raw(conn).execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _forget(self, files: Sequence[str]) -> None:
        """Remove kept video files that no session refers to any more."""
        for rel in set(files):

            def references(s: Session, rel: str = rel) -> int:
                return s.scalar(select(func.count()).where(VideoRow.file == rel)) or 0

            if not self._read(references):
                (self.data_folder / rel).unlink(missing_ok=True)


# -- helpers ---------------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: datetime | date | str) -> datetime:
    """A datetime from a datetime, a date (midnight local time) or an ISO string (``2024-05-01[T10:00]``)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise StoreError(f"not a date or time: {value!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.astimezone(UTC)


def _existing(path: str | os.PathLike[str] | None) -> Path | None:
    if path is None or str(path) in ("", "-"):
        return None
    p = Path(path)
    return p if p.is_file() else None


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metric dicts as dotted keys: ``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists become JSON text."""
    flat: dict[str, Any] = {}
    for k, v in metrics.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            flat.update(flatten_metrics(v, prefix=f"{key}."))
        elif isinstance(v, list | tuple):
            flat[key] = json.dumps(v)
        else:
            flat[key] = v
    return flat


def _metric_values(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"name": name[:128], "value": float(value), "text": None}
    if isinstance(value, int | float):
        f = float(value)
        return {"name": name[:128], "value": f if math.isfinite(f) else None, "text": None}
    return {"name": name[:128], "value": None, "text": None if value is None else str(value)[:255]}


def _version_values(
    result: dict[str, Any],
    *,
    version: int,
    kind: str,
    author: str | None,
    note: str,
    changes: dict[str, Any] | None,
    params: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """The rows of one analysis version (the version, its reps, its metrics) as plain values."""
    row = {
        "version": version,
        "kind": kind,
        "created_at": now,
        "author": author,
        "note": note,
        "changes": changes,
        "params": params,
        "manual_reps": None,
        "software_version": software_version(),
        "rep_count": len(result.get("reps", [])),
        "detection_rate": float(result["quality"]["detection_rate"]),
        "result": result,
    }
    reps = [
        {
            "idx": i,
            "start_s": rep.get("start_s"),
            "end_s": rep.get("end_s"),
            "peak_s": rep.get("peak_s"),
            "fields": {k: v for k, v in rep.items() if k not in ("start_s", "end_s", "peak_s")},
        }
        for i, rep in enumerate(result.get("reps", []))
    ]
    metrics = [_metric_values(name, value) for name, value in flatten_metrics(result.get("metrics", {})).items()]
    return {"row": row, "reps": reps, "metrics": metrics}


def _insert_version(s: Session, session_id: int, values: dict[str, Any]) -> int:
    """Insert a version prepared by :func:`_version_values` (bulk inserts: one statement per table)."""
    vid = s.execute(
        insert(VersionRow).returning(VersionRow.id), [{"session_id": session_id, **values["row"]}]
    ).scalar_one()
    if values["reps"]:
        s.execute(insert(RepRow), [{"version_id": vid, **r} for r in values["reps"]])
    if values["metrics"]:
        s.execute(insert(MetricRow), [{"version_id": vid, **m} for m in values["metrics"]])
    return int(vid)


def describe_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """What differs between two schema-1 results: rep count, reps removed/added (by start time), metrics."""
    if old is None:
        return {}
    changes: dict[str, Any] = {}
    if old.get("rep_count") != new.get("rep_count"):
        changes["rep_count"] = [old.get("rep_count"), new.get("rep_count")]
    old_reps = {(r.get("start_s"), r.get("end_s")) for r in old.get("reps", [])}
    new_reps = {(r.get("start_s"), r.get("end_s")) for r in new.get("reps", [])}
    if removed := sorted(old_reps - new_reps, key=_rep_sort_key):
        changes["reps_removed"] = [list(r) for r in removed]
    if added := sorted(new_reps - old_reps, key=_rep_sort_key):
        changes["reps_added"] = [list(r) for r in added]
    a, b = flatten_metrics(old.get("metrics", {})), flatten_metrics(new.get("metrics", {}))
    metric_changes = {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
    if metric_changes:
        changes["metrics"] = metric_changes
    return changes


def _rep_sort_key(r: tuple[Any, Any]) -> float:
    return r[0] if isinstance(r[0], int | float) else math.inf


def exercise_params(exercise: str) -> dict[str, Any]:
    """The thresholds an exercise analyses with, recorded with each analysis version.

    Collected from the exercise object (public numeric, numeric-tuple and dataclass-valued attributes) and
    from its module (upper-case constants holding a dataclass, such as a ``RepParams``). Returns an empty
    dict for an exercise this installation does not know.
    """
    try:
        from exercises.registry import get_exercise

        ex = get_exercise(exercise)
    except Exception:  # unknown exercise or one that cannot be imported: nothing to record
        return {}
    out: dict[str, Any] = {}
    for name in sorted(n for n in dir(ex) if not n.startswith("_")):
        value = getattr(ex, name, None)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[name] = dataclasses.asdict(value)
        elif isinstance(value, bool | int | float) or (
            isinstance(value, tuple) and value and all(isinstance(x, int | float) for x in value)
        ):
            out[name] = value
        elif isinstance(value, enum.Enum):
            out[name] = value.value
    module = sys.modules.get(type(ex).__module__)
    for name, value in sorted(vars(module).items() if module else ()):
        if name.isupper() and dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[name] = dataclasses.asdict(value)
    return _clean(out)


def _current_query(
    q: Any,
    *,
    patient_id: str | None,
    exercise: str | None,
    since: datetime | date | str | None,
    until: datetime | date | str | None,
    ids: Sequence[int] | None,
) -> Any:
    """``q`` joined to each session's current version, filtered, oldest first."""
    q = q.join(
        VersionRow, (VersionRow.session_id == SessionRow.id) & (VersionRow.version == SessionRow.current_version)
    ).order_by(SessionRow.recorded_at, SessionRow.id)
    if patient_id is not None:
        q = q.where(SessionRow.patient_id == patient_id)
    if exercise is not None:
        q = q.where(SessionRow.exercise == exercise)
    if since is not None:
        q = q.where(SessionRow.recorded_at >= parse_time(since))
    if until is not None:
        q = q.where(SessionRow.recorded_at < parse_time(until))
    if ids is not None:
        q = q.where(SessionRow.id.in_(list(ids)))
    return q


def _patient_record(row: PatientRow, n: int) -> PatientRecord:
    return PatientRecord(row.id, row.display_name, row.affected_side, row.notes or "", row.created_at, n)


def _session_info(row: SessionRow, rep_count: int) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        patient_id=row.patient_id,
        exercise=row.exercise,
        hand=row.hand,
        source=row.source,
        recorded_at=row.recorded_at,
        created_at=row.created_at,
        video_path=row.video_path,
        video_sha256=row.video_sha256,
        software_version=row.software_version,
        detection_rate=row.detection_rate,
        idempotency_key=row.idempotency_key,
        current_version=row.current_version,
        rep_count=rep_count,
        tracking_warnings=row.tracking_warnings,
    )


def _version_record(v: VersionRow) -> VersionRecord:
    return VersionRecord(
        session_id=v.session_id,
        version=v.version,
        kind=v.kind,
        created_at=v.created_at,
        author=v.author,
        note=v.note or "",
        changes=v.changes,
        params=v.params,
        manual_reps=v.manual_reps,
        software_version=v.software_version,
        result=SessionResult.from_dict(v.result),
    )


__all__ = [
    "NotFoundError",
    "PatientRecord",
    "SessionInfo",
    "SessionRecord",
    "Store",
    "StoreError",
    "VersionRecord",
    "data_dir",
    "default_url",
    "describe_changes",
    "exercise_params",
    "file_sha256",
    "flatten_metrics",
    "make_idempotency_key",
    "open_store",
    "parse_time",
    "upgrade_schema",
]
