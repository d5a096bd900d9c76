"""A small process pool that survives its workers: one task per worker at a time, a time limit per task.

``concurrent.futures.ProcessPoolExecutor`` marks the whole pool broken when one worker dies and has no
per-task time limit, and it cannot say which task killed the worker. Batch processing of videos needs
all three: a video that segfaults MediaPipe or hangs must cost one error row, not the batch. Here each
worker is a spawned process with its own pipe; the parent always knows which task a worker holds, kills
it when its deadline passes, records the task as failed, and starts a replacement.

Workers are long-lived, so whatever the task function caches per process (a MediaPipe graph, imported
modules) is reused across tasks.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal

# A task function is called as fn(arg, notify); notify(kind, value) sends a message to the parent
# ("progress" with (done, total) frames, "duration" with the video's length in seconds, ...).
Notify = Callable[[str, Any], None]
TaskFn = Callable[[Any, Notify], Any]


@dataclass(frozen=True)
class TaskDone:
    task_id: str
    value: Any


@dataclass(frozen=True)
class TaskFailed:
    """The worker died, hung past its deadline, or the task function raised."""

    task_id: str
    kind: Literal["crash", "timeout", "failed"]
    message: str


@dataclass(frozen=True)
class TaskMessage:
    """An intermediate message sent by a running task through ``notify``."""

    task_id: str
    kind: str
    value: Any


PoolEvent = TaskDone | TaskFailed | TaskMessage


def run_pool(
    fn: TaskFn,
    tasks: Iterable[tuple[str, Any]],
    *,
    workers: int,
    first_limit_s: float,
    limit_for_duration: Callable[[float | None], float],
    initializer: Callable[[], None] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    poll_s: float = 0.25,
) -> Generator[PoolEvent, None, None]:
    """Run ``fn(arg, notify)`` for every ``(task_id, arg)`` in spawned worker processes.

    Parameters
    ----------
    fn
        A module-level (picklable) function. Its return value must be picklable.
    tasks
        ``(task_id, arg)`` pairs; consumed lazily as workers become free.
    workers
        Number of worker processes.
    first_limit_s
        Seconds a task may run, counted from when the worker received it, until the task reports its
        size with a ``"duration"`` message.
    limit_for_duration
        ``limit_for_duration(value)`` replaces that limit when a ``"duration"`` message arrives (a video's
        length, known once the worker has opened it; None if it could not be probed).
    initializer
        Run once in each worker before it takes tasks (imports, model loading), so that start-up time
        never counts against a task's limit.
    log_path
        Append the workers' stdout and stderr (library chatter, native crash messages) to this file.
    poll_s
        Longest wait between checks of deadlines and dead workers.

    Yields
    ------
    TaskDone, TaskFailed or TaskMessage
        In the order they happen. Exactly one ``TaskDone`` or ``TaskFailed`` per task.

    Notes
    -----
    Closing the generator (or an exception in the consumer) kills all workers. Workers also die with
    the parent process (Linux ``PR_SET_PDEATHSIG``), so a SIGKILL of the parent leaves no orphans.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ctx = mp.get_context("spawn")
    queue = iter(tasks)
    exhausted = False
    start = functools.partial(_Worker.start, ctx, fn, initializer, None if log_path is None else os.fspath(log_path))
    # A slot is None after its worker was killed or crashed; a replacement starts only when there is a
    # task for it (so a crash on the last video costs no useless start-up).
    pool: list[_Worker | None] = [start() for _ in range(workers)]
    failed_starts = 0

    def take() -> tuple[str, Any] | None:
        nonlocal exhausted
        nxt = None if exhausted else next(queue, None)
        exhausted = nxt is None
        return nxt

    try:
        while True:
            for i, w in enumerate(pool):
                if w is None:
                    if (nxt := take()) is not None:
                        pool[i] = w = start()
                        w.pending = nxt
                    continue
                if w.ready and w.task_id is None:
                    nxt = w.pending or take()
                    w.pending = None
                    if nxt is not None:
                        w.assign(*nxt, limit=first_limit_s)
            live = [w for w in pool if w is not None]
            busy = [w for w in live if w.task_id is not None or w.pending is not None]
            if exhausted and not busy:
                return
            now = time.monotonic()
            timeout = min([poll_s, *(max(0.0, w.deadline - now) for w in busy)])
            watched = [w for w in live if w.task_id is not None or not w.ready]
            wait([w.conn for w in watched] + [w.proc.sentinel for w in watched], timeout=timeout)
            for i, w in enumerate(pool):
                if w is None:
                    continue
                if w.task_id is None:
                    if not w.ready:
                        w.poll_ready()
                    if not w.proc.is_alive():  # died while starting or idle: replace it, keeping its task
                        failed_starts += not w.ready
                        if failed_starts > 3 * workers:
                            raise RuntimeError(f"worker processes keep dying at start-up (exit code {w.proc.exitcode})")
                        w.stop()
                        replacement = start()
                        replacement.pending = w.pending
                        pool[i] = replacement
                    continue
                events, running = w.drain(limit_for_duration)
                yield from events
                if not running:
                    continue
                if not w.proc.is_alive():
                    # Messages sent just before death were drained above; what is left is a crash.
                    yield TaskFailed(w.task_id, "crash", _death_message(w.proc.exitcode))
                    w.stop()
                    pool[i] = None
                elif time.monotonic() > w.deadline:
                    limit = w.deadline - w.started
                    yield TaskFailed(w.task_id, "timeout", f"processing took longer than the limit of {limit:.3g} s")
                    w.stop()
                    pool[i] = None
    finally:
        for w in pool:
            if w is not None:
                w.stop()


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    ready: bool = False  # the worker has started and run its initializer
    pending: tuple[str, Any] | None = None  # the task it takes once ready
    task_id: str | None = None
    started: float = 0.0
    deadline: float = float("inf")

    @classmethod
    def start(cls, ctx: Any, fn: TaskFn, initializer: Callable[[], None] | None, log_path: str | None) -> _Worker:
        parent, child = ctx.Pipe(duplex=True)
        args = (child, fn, initializer, log_path, os.getpid())
        proc = ctx.Process(target=_worker_main, args=args, daemon=True)
        proc.start()
        child.close()
        return cls(proc=proc, conn=parent)

    def assign(self, task_id: str, arg: Any, *, limit: float) -> None:
        self.task_id, self.started = task_id, time.monotonic()
        self.deadline = self.started + limit
        # A worker that is already dead is noticed as a crash on the next check.
        with contextlib.suppress(OSError):
            self.conn.send((task_id, arg))

    def poll_ready(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            while self.conn.poll():
                kind, _ = self.conn.recv()
                self.ready = self.ready or kind == "ready"

    def drain(self, limit_for_duration: Callable[[float | None], float]) -> tuple[list[PoolEvent], bool]:
        """Read everything the worker has sent. Returns the events and whether the task is still running."""
        events: list[PoolEvent] = []
        task_id = self.task_id
        assert task_id is not None
        try:
            while self.conn.poll():
                kind, value = self.conn.recv()
                if kind == "done":
                    events.append(TaskDone(task_id, value))
                elif kind == "raised":
                    events.append(TaskFailed(task_id, "failed", value))
                else:
                    if kind == "duration":
                        self.deadline = self.started + limit_for_duration(value)
                    events.append(TaskMessage(task_id, kind, value))
                    continue
                self.task_id, self.deadline = None, float("inf")
                return events, False
        except (EOFError, OSError):
            pass  # pipe closed by a dying worker: the caller sees it dead
        return events, True

    def stop(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError):
                os.kill(self.proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
        self.proc.join(timeout=5)
        self.conn.close()


def _worker_main(
    conn: Connection, fn: TaskFn, initializer: Callable[[], None] | None, log_path: str | None, parent_pid: int
) -> None:
    _die_with_parent(parent_pid)
    if log_path is not None:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    # Ctrl-C goes to the whole process group; the parent decides what to do and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        _task_id, arg = msg

        def notify(kind: str, value: Any) -> None:
            conn.send((kind, value))

        try:
            value = fn(arg, notify)
        except Exception as e:  # the task function should return errors itself; this is the safety net
            conn.send(("raised", f"{type(e).__name__}: {e}"))
        else:
            conn.send(("done", value))


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when the parent dies, so a killed batch leaves no orphans."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process crashed ({name}) while processing this video"
    return f"the worker process exited unexpectedly (exit code {exitcode}) while processing this video"
