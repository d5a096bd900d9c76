"""The Ray engine of the batch: the same per-video function as Ray tasks, on this machine or a cluster.

The driver (the machine running ``handrehab batch``) plans the work, submits one task per video, and
writes every output itself, so workers need to read the videos but never the output folder. See
docs/batch.md for pointing it at a cluster.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sessions.batch import BatchItem, VideoOutcome, probe_duration, time_limit_for

# Code shipped to cluster workers with the job (their Python environment must have the dependencies).
_PACKAGES = ("tracking", "exercises", "metrics", "sessions")


def run_ray(
    fn: Callable[[BatchItem], VideoOutcome],
    items: Sequence[BatchItem],
    *,
    workers: int | None,
    address: str | None = None,
    timeout_s: float | None = None,
    max_retries: int = 1,
    poll_s: float = 0.5,
) -> Iterator[VideoOutcome]:
    """Run ``fn(item)`` as one Ray task per item and yield the outcomes as they finish.

    Parameters
    ----------
    fn
        The per-video function (``functools.partial(score_item, max_side=...)``); it returns errors
        for bad videos instead of raising.
    items
        Videos to process; their paths must be readable at the same path on every Ray node.
    workers
        Tasks in flight (default: the cluster's CPUs). With no ``address`` a local Ray is started with
        this many CPUs (default: all cores).
    address
        An existing cluster (``'auto'``, ``'HOST:6379'``, ``'ray://HOST:10001'``); None = local.
    timeout_s
        Fixed limit per video; default from the video's duration (see ``time_limit_for``). A task past
        its limit is cancelled with ``force=True``, which kills its worker process.
    max_retries
        Ray re-runs a task whose worker process died this many times before reporting a crash.
    poll_s
        Longest wait between deadline checks.
    """
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(address=address, workers=workers)
    try:
        capacity = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=max_retries)(_run_task)
        queue = deque(items)
        running: dict[Any, tuple[BatchItem, float, float | None]] = {}  # ref -> (item, deadline, duration)
        while queue or running:
            while queue and len(running) < capacity:
                item = queue.popleft()
                # Probed here (cheap) because a Ray task cannot tell the driver its length before it ends.
                duration = probe_duration(item.path)
                deadline = time.monotonic() + time_limit_for(duration, timeout_s=timeout_s)
                running[remote.remote(fn, item)] = (item, deadline, duration)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=poll_s)
            for ref in ready:
                item, _deadline, duration = running.pop(ref)
                yield _outcome(ray, ref, item, duration)
            now = time.monotonic()
            for ref, (item, deadline, duration) in list(running.items()):
                if now > deadline:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
                    del running[ref]
                    limit = time_limit_for(duration, timeout_s=timeout_s)
                    yield VideoOutcome(
                        item.key,
                        error_kind="timeout",
                        error=f"processing took longer than the limit of {limit:.3g} s",
                        duration_s=duration or 0.0,
                    )
    finally:
        if started_here:
            ray.shutdown()


def _init_ray(*, address: str | None, workers: int | None) -> None:
    import os

    import ray

    if address is None:
        ray.init(
            num_cpus=workers or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        return
    import importlib

    modules = [importlib.import_module(name) for name in _PACKAGES]
    ray.init(address=address, runtime_env={"py_modules": modules}, log_to_driver=False)


def _run_task(fn: Callable[[BatchItem], VideoOutcome], item: BatchItem) -> VideoOutcome:
    return fn(item)


def _outcome(ray: Any, ref: Any, item: BatchItem, duration: float | None) -> VideoOutcome:
    try:
        value: VideoOutcome = ray.get(ref)
        return value
    except ray.exceptions.WorkerCrashedError:
        message = "the worker process crashed while processing this video"
        kind = "crash"
    except ray.exceptions.RayTaskError as e:
        message = f"{type(e.cause).__name__}: {e.cause}" if e.cause is not None else str(e).splitlines()[0]
        kind = "failed"
    except ray.exceptions.RayError as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        kind = "crash"
    return VideoOutcome(item.key, error_kind=kind, error=message, duration_s=duration or 0.0)  # type: ignore[arg-type]
