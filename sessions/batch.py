"""Researcher batch processing: score a folder of videos into per-video JSONs and tidy tables, resumably.

Layout of the output folder::

    results/<key>.json     schema-1 result per scored video, written last: the "done" marker
    landmarks/<key>.npz    the tracked landmark series (``tracking.series.load_series``)
    errors/<key>.json      why a video could not be scored (also a "done" marker unless retried)
    sessions.csv/.parquet  one row per scored video (subject, labels, quality, metrics)
    reps.csv/.parquet      one row per repetition
    errors.csv             one row per video that could not be scored

``<key>`` is stable per video: its relative path plus a fingerprint of the file's content (size and a
hash of its first and last 64 KiB) and the requested exercise and hand. A rerun therefore skips every
video whose result (or error) is already there, and redoes one whose file changed. Every file is
written atomically (temp + fsync + rename); the tables are rebuilt from the per-video files at the end
of every run, so a batch killed at any moment and started again does only what is missing.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import glob
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tracking.series import write_atomic
from tracking.video import UnusableInputError

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".mts", ".ts"}
)
HANDS = ("auto", "left", "right")
Engine = Literal["local", "ray"]
ErrorKind = Literal["unusable", "failed", "crash", "timeout"]

# Per-video time limit when none is given: generous for slow machines, short enough to catch a hang.
LIMIT_PER_VIDEO_SECOND = 10.0
LIMIT_BASE_S = 60.0
LIMIT_UNKNOWN_DURATION_S = 3600.0

_FINGERPRINT_BYTES = 64 * 1024
_TABLES = ("sessions.csv", "sessions.parquet", "reps.csv", "reps.parquet", "errors.csv")


class BatchInputError(ValueError):
    """The batch cannot start: no videos found, a bad manifest, an output folder in use."""


@dataclass(frozen=True)
class BatchItem:
    """One video to score and the labels that go with it into the tables."""

    path: str  # absolute
    rel: str  # relative to the batch root (posix), the row's ``path`` in the tables
    exercise: str  # a registered name or 'auto'
    hand: str  # 'auto', 'left' or 'right'
    key: str
    subject: str | None = None
    session: str | None = None

    def labels(self) -> dict[str, Any]:
        """What the per-video JSON records about the batch (under its top-level ``batch`` key)."""
        return {
            "key": self.key,
            "path": self.rel,
            "subject": self.subject,
            "session": self.session,
            "requested_exercise": self.exercise,
            "requested_hand": self.hand,
        }


@dataclass(frozen=True)
class VideoOutcome:
    """What scoring one video produced; built in a worker, written to disk by the driver."""

    key: str
    result: dict[str, Any] | None = None  # schema-1 result dict (with the ``batch`` labels)
    series: bytes | None = None  # LandmarkSeries.to_bytes()
    error_kind: ErrorKind | None = None
    error: str | None = None
    frames: int = 0
    duration_s: float = 0.0
    seconds: float = 0.0  # processing wall time

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass
class BatchSummary:
    total: int
    already_done: int = 0
    scored: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count, this run
    previous_errors: int = 0  # skipped because an earlier run recorded an error
    video_seconds: float = 0.0  # of the videos processed in this run
    frames: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    stored: int = 0
    store_errors: int = 0
    store_error: str | None = None  # the first one
    tables: dict[str, Path] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Video-seconds processed per wall-clock second in this run."""
        return self.video_seconds / self.wall_s if self.wall_s > 0 else 0.0


# -- planning --------------------------------------------------------------------------------------


def find_videos(source: str | os.PathLike[str]) -> tuple[Path, list[Path]]:
    """Videos under a folder (recursive), matched by a glob, or a single file.

    Returns
    -------
    root, paths
        ``root`` is the folder the relative names in the tables start from; ``paths`` are sorted.
    """
    text = os.fspath(source)
    p = Path(text).expanduser()
    if p.is_dir():
        root = p.resolve()
        found = [f for f in root.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and _visible(f.relative_to(root))]
        found = [f for f in found if f.is_file()]
    elif p.is_file():
        root, found = p.resolve().parent, [p.resolve()]
    elif glob.has_magic(text):
        root = _glob_root(text)
        found = [Path(f).resolve() for f in glob.glob(os.path.expanduser(text), recursive=True)]
        found = [f for f in found if f.is_file()]
    else:
        raise BatchInputError(f"{text} does not exist (give a folder, a video, or a glob such as 'data/**/*.mp4')")
    if not found:
        raise BatchInputError(f"no video files found in {text}")
    return root, sorted(set(found))


def read_manifest(
    manifest: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> list[dict[str, str]]:
    """Rows of a manifest CSV: ``path`` plus optional ``exercise``, ``hand``, ``subject``, ``session``.

    Column names are case-insensitive; ``video``/``file`` are accepted for ``path``, ``subject_id``,
    ``patient``/``patient_id`` for ``subject``, ``session_label``/``label`` for ``session``. Relative paths
    are resolved against ``root`` (default: the manifest's folder). Empty cells mean "use the default".
    """
    aliases = {
        "path": ("path", "video", "file", "filename"),
        "exercise": ("exercise",),
        "hand": ("hand",),
        "subject": ("subject", "subject_id", "patient", "patient_id"),
        "session": ("session", "session_label", "label"),
    }
    mpath = Path(manifest)
    try:
        text = mpath.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise BatchInputError(f"cannot read the manifest {manifest}: {e.strerror or e}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    columns = {name: next((header[a] for a in names if a in header), None) for name, names in aliases.items()}
    if columns["path"] is None:
        raise BatchInputError(f"the manifest {manifest} needs a 'path' column (found: {', '.join(header) or 'none'})")
    base = Path(root) if root is not None else mpath.parent
    rows = []
    for line_no, raw in enumerate(reader, start=2):
        row = {k: (raw.get(c) or "").strip() for k, c in columns.items() if c is not None}
        if not row["path"]:
            continue
        hand = row.get("hand", "").lower()
        if hand and hand not in HANDS:
            raise BatchInputError(f"manifest line {line_no}: hand must be auto, left or right, not {hand!r}")
        row["hand"] = hand
        given = Path(row["path"]).expanduser()
        row["abs"] = str((given if given.is_absolute() else base / given).resolve())
        rows.append(row)
    if not rows:
        raise BatchInputError(f"the manifest {manifest} lists no videos")
    return rows


def plan_batch(
    source: str | os.PathLike[str] | None,
    *,
    exercise: str,
    hand: str = "auto",
    manifest: str | os.PathLike[str] | None = None,
) -> list[BatchItem]:
    """The videos of a batch with their exercise, hand, labels and stable keys, sorted by relative path.

    Parameters
    ----------
    source
        A folder, a glob or a video. With a ``manifest`` it is optional and only the folder that
        relative manifest paths start from.
    exercise, hand
        Defaults for videos the manifest does not specify.
    manifest
        CSV with a ``path`` column (see :func:`read_manifest`).
    """
    if hand not in HANDS:
        raise BatchInputError(f"hand must be auto, left or right, not {hand!r}")
    items: dict[str, BatchItem] = {}
    if manifest is not None:
        root = Path(source).expanduser().resolve() if source is not None else Path(manifest).resolve().parent
        if source is not None and not root.is_dir():
            raise BatchInputError(f"with --manifest, INPUT must be the folder the manifest paths start from: {source}")
        for row in read_manifest(manifest, root=root):
            path = Path(row["abs"])
            rel = _relative(path, root, fallback=row["path"])
            ex, hd = row.get("exercise") or exercise, row.get("hand") or hand
            key = video_key(path, rel, exercise=ex, hand=hd)
            items[key] = BatchItem(str(path), rel, ex, hd, key, row.get("subject") or None, row.get("session") or None)
    else:
        if source is None:
            raise BatchInputError("give a folder, a glob or a manifest")
        root, paths = find_videos(source)
        for path in paths:
            rel = _relative(path, root, fallback=str(path))
            key = video_key(path, rel, exercise=exercise, hand=hand)
            items[key] = BatchItem(str(path), rel, exercise, hand, key)
    return sorted(items.values(), key=lambda it: (it.rel, it.key))


def video_key(path: str | os.PathLike[str], rel: str, *, exercise: str, hand: str) -> str:
    """A file-name-safe key, stable across runs and machines, that changes when the file changes.

    The readable part is the relative path; the digest covers the path, the file's size and its first
    and last 64 KiB (a copy with new mtimes keeps its key; an edited or truncated file gets a new one),
    and the requested exercise and hand (scoring the same video as another exercise is new work).
    """
    h = hashlib.blake2b(digest_size=8)
    for part in (rel, exercise, hand):
        h.update(part.encode() + b"\0")
    h.update(_fingerprint(Path(path)))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__")).strip("._")[:80] or "video"
    return f"{slug}-{h.hexdigest()}"


def _fingerprint(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_FINGERPRINT_BYTES)
            if size > 2 * _FINGERPRINT_BYTES:
                f.seek(size - _FINGERPRINT_BYTES)
            tail = f.read(_FINGERPRINT_BYTES)
    except OSError:
        return b"missing"  # the worker reports the real problem; the key changes once the file appears
    return size.to_bytes(8, "little") + hashlib.blake2b(head + tail, digest_size=16).digest()


def _relative(path: Path, root: Path, *, fallback: str) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(fallback).as_posix()


def _visible(rel: Path) -> bool:
    # Hidden files include macOS "._name.mp4" resource forks, which are not videos.
    return not any(part.startswith(".") for part in rel.parts)


def _glob_root(pattern: str) -> Path:
    parts: list[str] = []
    for part in Path(os.path.expanduser(pattern)).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts).resolve() if parts else Path.cwd()


# -- the per-video function (runs in a worker process or a Ray task) ---------------------------------


def score_item(
    item: BatchItem, notify: Callable[[str, Any], None] | None = None, *, max_side: int = 960
) -> VideoOutcome:
    """Score one video; never raises for a bad video (the error is in the outcome).

    ``notify(kind, value)`` receives ``("duration", seconds or None)`` once the file is probed (the
    pool sets the time limit from it) and, at most four times a second, ``("progress", (done, total))``
    frames while tracking.
    """
    from sessions.pipeline import score_video

    started = time.perf_counter()
    send = notify or (lambda kind, value: None)
    duration = probe_duration(item.path)
    send("duration", duration)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 0.25:
            last[0] = now
            send("progress", (done, total))

    def failed(kind: ErrorKind, message: str) -> VideoOutcome:
        return VideoOutcome(item.key, error_kind=kind, error=message, seconds=time.perf_counter() - started)

    try:
        scored = score_video(item.path, item.exercise, hand=item.hand, max_side=max_side, progress=progress)
    except UnusableInputError as e:
        return failed("unusable", str(e))
    except FileNotFoundError:
        return failed("unusable", f"{item.rel} does not exist")
    except Exception as e:  # a bug or a decoder error must cost one row, not the batch
        return failed("failed", f"{type(e).__name__}: {e}")
    result = scored.result.to_dict()
    result["batch"] = item.labels()
    return VideoOutcome(
        item.key,
        result=result,
        series=scored.series.to_bytes(),
        frames=int(scored.result.video.frames),
        duration_s=float(scored.result.video.duration_s),
        seconds=time.perf_counter() - started,
    )


def warm_up() -> None:
    """Load the tracking stack and models once per worker, before its first video (so it is not timed)."""
    with contextlib.suppress(Exception):
        import numpy as np

        import exercises.registry
        import sessions.pipeline
        from tracking.hands import HandTracker

        exercises.registry.exercise_names()
        with HandTracker() as tracker:
            tracker.detect(np.zeros((64, 64, 3), np.uint8), 0.0)
        del sessions.pipeline


def probe_duration(path: str | os.PathLike[str]) -> float | None:
    """The video's duration in seconds from its container, or None if it cannot be read quickly."""
    try:
        import av

        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return float(container.duration) / 1e6
            if stream.frames and stream.average_rate:
                return float(stream.frames / stream.average_rate)
    except Exception:
        return None
    return None


def time_limit_for(duration_s: float | None, *, timeout_s: float | None) -> float:
    """Seconds one video may take: ``timeout_s`` if given, else 10 s per video second + 60 s."""
    if timeout_s is not None:
        return timeout_s
    if duration_s is None:
        return LIMIT_UNKNOWN_DURATION_S
    return LIMIT_BASE_S + LIMIT_PER_VIDEO_SECOND * duration_s


# -- running ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutput:
    """Paths inside a batch output folder."""

    root: Path

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def landmarks(self) -> Path:
        return self.root / "landmarks"

    @property
    def errors(self) -> Path:
        return self.root / "errors"

    @property
    def stored(self) -> Path:
        return self.root / "stored"

    def result(self, key: str) -> Path:
        return self.results / f"{key}.json"

    def series(self, key: str) -> Path:
        return self.landmarks / f"{key}.npz"

    def error(self, key: str) -> Path:
        return self.errors / f"{key}.json"

    def stored_marker(self, key: str) -> Path:
        return self.stored / key


def run_batch(
    items: Sequence[BatchItem],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    engine: Engine = "local",
    ray_address: str | None = None,
    timeout_s: float | None = None,
    max_side: int = 960,
    retry_errors: bool = False,
    db_url: str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Score every item not already done into ``out_dir``, then rebuild the tables.

    Parameters
    ----------
    items
        From :func:`plan_batch`.
    out_dir
        Output folder (created). Only one batch may write into it at a time.
    workers
        Processes (local) or concurrent tasks (Ray, local cluster). Default: all cores.
    engine
        ``'local'``: a crash- and hang-proof process pool. ``'ray'``: the same per-video function as Ray tasks.
    ray_address
        Address of an existing Ray cluster (``'auto'``, ``'ray://head:10001'``); None starts Ray locally.
    timeout_s
        Fixed time limit per video; default 10 s per second of video + 60 s.
    max_side
        Frames whose long side exceeds this are downscaled before tracking.
    retry_errors
        Also redo videos an earlier run recorded as errors.
    db_url
        Also save every scored session to this store (``sessions.store``), once.
    on_event
        ``on_event(kind, info)`` for progress display: ``'start'`` (total, todo, done), ``'progress'``
        (key, frames, total_frames), ``'video'`` (key, outcome summary).

    Returns
    -------
    BatchSummary
    """
    if engine not in ("local", "ray"):
        raise BatchInputError(f"engine must be local or ray, not {engine!r}")
    out = BatchOutput(Path(out_dir))
    emit = on_event or (lambda kind, info: None)
    summary = BatchSummary(total=len(items))
    started = time.perf_counter()
    with _exclusive(out.root):
        _remove_stale_temps(out)
        todo = []
        for it in items:
            if out.result(it.key).exists():
                summary.already_done += 1
            elif out.error(it.key).exists() and not retry_errors:
                summary.previous_errors += 1
            else:
                todo.append(it)
        emit("start", {"total": len(items), "todo": len(todo), "done": len(items) - len(todo)})
        store = _open_store(db_url) if db_url else None
        try:
            by_key = {it.key: it for it in todo}
            for outcome in _run_engine(
                todo,
                engine=engine,
                workers=workers,
                ray_address=ray_address,
                timeout_s=timeout_s,
                max_side=max_side,
                log_path=out.root / "workers.log",
                emit=emit,
            ):
                _save_outcome(out, by_key[outcome.key], outcome, summary)
                if outcome.ok and store is not None:
                    _store_safely(store, out, by_key[outcome.key], summary)
                emit(
                    "video",
                    {
                        "key": outcome.key,
                        "ok": outcome.ok,
                        "frames": outcome.frames,
                        "duration_s": outcome.duration_s,
                        "error": outcome.error,
                    },
                )
        except KeyboardInterrupt:
            summary.interrupted = True
        if store is not None:
            if not summary.interrupted:  # results of an earlier, killed run that never reached the store
                for it in items:
                    if out.result(it.key).exists():
                        _store_safely(store, out, it, summary)
            store.close()
        summary.tables = write_tables(items, out.root)
    summary.wall_s = time.perf_counter() - started
    return summary


def _run_engine(
    todo: Sequence[BatchItem],
    *,
    engine: Engine,
    workers: int | None,
    ray_address: str | None,
    timeout_s: float | None,
    max_side: int,
    log_path: Path,
    emit: Callable[[str, dict[str, Any]], None],
) -> Iterator[VideoOutcome]:
    if not todo:
        return
    fn = functools.partial(score_item, max_side=max_side)
    if engine == "ray":
        from sessions.batch_ray import run_ray

        yield from run_ray(fn, todo, workers=workers, address=ray_address, timeout_s=timeout_s)
        return
    from sessions.batch_pool import TaskDone, TaskFailed, TaskMessage, run_pool

    # Until the worker has probed the file only the probe runs; a fixed --timeout applies from the start.
    first_limit = timeout_s if timeout_s is not None else LIMIT_BASE_S
    limit = functools.partial(time_limit_for, timeout_s=timeout_s)
    durations: dict[str, float] = {}

    tasks = ((it.key, it) for it in todo)
    with contextlib.closing(
        run_pool(
            fn,
            tasks,
            workers=min(workers or os.cpu_count() or 1, len(todo)),
            first_limit_s=first_limit,
            limit_for_duration=limit,
            initializer=warm_up,
            log_path=log_path,
        )
    ) as ev:
        for event in ev:
            if isinstance(event, TaskDone):
                yield event.value
            elif isinstance(event, TaskFailed):
                kind: ErrorKind = event.kind
                yield VideoOutcome(
                    event.task_id, error_kind=kind, error=event.message, duration_s=durations.get(event.task_id, 0.0)
                )
            elif isinstance(event, TaskMessage) and event.kind == "duration" and event.value is not None:
                durations[event.task_id] = float(event.value)
            elif isinstance(event, TaskMessage) and event.kind == "progress":
                done, total = event.value
                emit("progress", {"key": event.task_id, "frames": done, "total_frames": total})


def _save_outcome(out: BatchOutput, item: BatchItem, outcome: VideoOutcome, summary: BatchSummary) -> None:
    summary.video_seconds += outcome.duration_s
    summary.frames += outcome.frames
    if outcome.ok:
        assert outcome.result is not None and outcome.series is not None
        write_atomic(out.series(item.key), outcome.series)
        # The result is written last: it is the marker that this video is done.
        write_atomic(out.result(item.key), (json.dumps(outcome.result, indent=2, allow_nan=False) + "\n").encode())
        out.error(item.key).unlink(missing_ok=True)
        summary.scored += 1
    else:
        record = {**item.labels(), "exercise": item.exercise, "kind": outcome.error_kind, "message": outcome.error}
        write_atomic(out.error(item.key), (json.dumps(record, indent=2) + "\n").encode())
        kind = outcome.error_kind or "failed"
        summary.errors[kind] = summary.errors.get(kind, 0) + 1


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Hold an advisory lock on ``root`` (released by the kernel even on SIGKILL)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".batch.lock").open("w") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchInputError(
                f"another batch is writing into {root}; wait for it or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _remove_stale_temps(out: BatchOutput) -> None:
    """Temp files of ``write_atomic`` left by a killed run (safe: we hold the folder's lock)."""
    for folder in (out.root, out.results, out.landmarks, out.errors):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


# -- store -----------------------------------------------------------------------------------------


def _open_store(db_url: str) -> Any:
    try:
        from sessions.store import StoreError, open_store
    except ImportError:
        raise BatchInputError("--db needs the session store (sessions.store), which is not installed") from None
    try:
        return open_store(db_url)
    except StoreError as e:
        raise BatchInputError(str(e)) from None


def _store_safely(store: Any, out: BatchOutput, item: BatchItem, summary: BatchSummary) -> None:
    """Save one video; a failing store (server down, disk full) never stops the batch.

    The video stays unmarked and is saved by the next run.
    """
    try:
        summary.stored += _store_one(store, out, item)
    except Exception as e:
        summary.store_errors += 1
        summary.store_error = summary.store_error or f"{type(e).__name__}: {e}"


def _store_one(store: Any, out: BatchOutput, item: BatchItem) -> int:
    """Save one finished video to the store, once. Returns 1 if this call saved it.

    The store's idempotency key (video SHA-256, exercise, batch key) makes a save after a kill between
    "saved" and "marker written" return the existing session instead of a duplicate; the marker file
    only spares the look-up on reruns. The subject becomes the patient (created when new); videos without
    a subject are stored as unattributed research data.
    """
    from sessions import store as store_mod
    from sessions.result import SessionResult
    from tracking.series import load_series

    marker = out.stored_marker(item.key)
    if marker.exists():
        return 0
    result = SessionResult.from_dict(json.loads(out.result(item.key).read_text()))
    series = load_series(out.series(item.key)) if out.series(item.key).exists() else None
    if item.subject:
        _ensure_patient(store, item.subject)
    sha = store_mod.file_sha256(item.path) if Path(item.path).is_file() else None
    key = store_mod.make_idempotency_key(sha or item.key, result.exercise, f"batch:{item.key}")
    sid = store.save_session(
        result,
        patient_id=item.subject,
        source="batch",
        series=series,
        idempotency_key=key,
        video_sha256=sha,
    )
    write_atomic(marker, f"{sid}\n".encode())
    return 1


def _ensure_patient(store: Any, patient_id: str) -> None:
    from sessions.store import NotFoundError, StoreError

    try:
        store.get_patient(patient_id)
    except NotFoundError:
        with contextlib.suppress(StoreError):  # created meanwhile by another writer
            store.add_patient(patient_id, patient_id=patient_id)


# -- tables ----------------------------------------------------------------------------------------


def build_tables(items: Sequence[BatchItem], out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``sessions``, ``reps`` and ``errors`` DataFrames from the per-video files of ``items``.

    Rows follow the items' order (sorted by relative path), so two runs over the same finished work
    (whatever the engine or the order videos finished in) give identical tables.
    """
    import pandas as pd

    out = BatchOutput(Path(out_dir))
    sessions: list[dict[str, Any]] = []
    reps: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for it in items:
        ident = {"key": it.key, "path": it.rel, "subject": it.subject, "session": it.session}
        rfile = out.result(it.key)
        if rfile.exists():
            d = json.loads(rfile.read_text())
            sessions.append({**ident, **_session_row(d)})
            for i, rep in enumerate(d.get("reps", []), start=1):
                row = {**ident, "exercise": d["exercise"], "hand": d["hand"], "rep": i}
                row.update(_flatten(rep, taken=row))
                reps.append(row)
        elif out.error(it.key).exists():
            e = json.loads(out.error(it.key).read_text())
            errors.append({**ident, "exercise": it.exercise, "kind": e.get("kind"), "message": e.get("message")})
    id_cols = ["key", "path", "subject", "session"]
    return {
        "sessions": pd.DataFrame(sessions, columns=None if sessions else [*id_cols, "exercise", "hand", "rep_count"]),
        "reps": pd.DataFrame(reps, columns=None if reps else [*id_cols, "exercise", "hand", "rep"]),
        "errors": pd.DataFrame(errors, columns=[*id_cols, "exercise", "kind", "message"]),
    }


def write_tables(items: Sequence[BatchItem], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``sessions``/``reps`` as CSV and Parquet and ``errors.csv`` atomically; returns their paths."""
    root = Path(out_dir)
    tables = build_tables(items, root)
    written: dict[str, Path] = {}
    for name, df in tables.items():
        path = root / f"{name}.csv"
        write_atomic(path, df.to_csv(index=False).encode())
        written[path.name] = path
        if name != "errors":
            path = root / f"{name}.parquet"
            buf = io.BytesIO()
            _parquet_safe(df).to_parquet(buf, index=False)
            write_atomic(path, buf.getvalue())
            written[path.name] = path
    return written


def _session_row(d: dict[str, Any]) -> dict[str, Any]:
    video = d.get("video", {})
    quality = d.get("quality", {})
    row: dict[str, Any] = {
        "exercise": d["exercise"],
        "hand": d["hand"],
        "rep_count": d["rep_count"],
        "detection_rate": quality.get("detection_rate"),
        "duration_s": video.get("duration_s"),
        "fps": video.get("fps"),
        "frames": video.get("frames"),
        "width": video.get("width"),
        "height": video.get("height"),
        "warnings": " | ".join(quality.get("warnings", [])),
    }
    recognition = d.get("recognition")
    if isinstance(recognition, dict):
        row["recognition_confidence"] = recognition.get("confidence")
    row.update(_flatten(d.get("metrics", {}), taken=row))
    return row


def _flatten(values: dict[str, Any], *, taken: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'touches_per_finger': {'index': 3}}`` -> ``{'touches_per_finger_index': 3}``; lists become JSON text."""
    flat: dict[str, Any] = {}
    for k, v in values.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, taken=taken, prefix=f"{name}_"))
            continue
        if name in taken:  # never overwrite an identity column with a metric of the same name
            name = f"metric_{name}"
        flat[name] = json.dumps(v) if isinstance(v, list) else v
    return flat


def _parquet_safe(df: Any) -> Any:
    """Columns that mix types across exercises (e.g. numbers and text) are stored as text in Parquet."""
    import pyarrow as pa

    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object:
            try:
                pa.array(df[col], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                df[col] = df[col].map(lambda v: None if v is None else str(v))
    return df
