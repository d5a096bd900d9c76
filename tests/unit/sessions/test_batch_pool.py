"""The crash- and hang-proof worker pool, with small task functions (the real video function is tested in
tests/integration/test_batch_local.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from typing import Any

import pytest

from sessions.batch_pool import TaskDone, TaskFailed, TaskMessage, run_pool


def square_or_misbehave(arg: Any, notify: Any) -> Any:
    """Module level so spawned workers can import it."""
    if arg == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if arg == "exit":
        os._exit(3)
    if arg == "hang":
        time.sleep(60)
    if arg == "raise":
        raise RuntimeError("boom")
    if arg == "slow-but-announced":
        notify("duration", 5.0)
        time.sleep(1.5)
        return "finished"
    notify("progress", (arg, arg))
    return arg * arg, os.getpid()


def run(tasks: list[tuple[str, Any]], *, workers: int = 2, first_limit_s: float = 30.0) -> list[Any]:
    return list(
        run_pool(
            square_or_misbehave,
            tasks,
            workers=workers,
            first_limit_s=first_limit_s,
            limit_for_duration=lambda d: 2.0 * (d or 1.0),
        )
    )


def outcomes(events: list[Any]) -> dict[str, Any]:
    final = [e for e in events if isinstance(e, TaskDone | TaskFailed)]
    by_id = {e.task_id: e for e in final}
    assert len(by_id) == len(final), "exactly one outcome per task"
    return by_id


def test_every_task_runs_once_and_workers_are_reused() -> None:
    events = run([(f"t{i}", i) for i in range(8)])
    done = outcomes(events)
    assert sorted(done) == sorted(f"t{i}" for i in range(8))
    assert all(isinstance(e, TaskDone) and e.value[0] == int(k[1:]) ** 2 for k, e in done.items())
    assert len({e.value[1] for e in done.values()}) <= 2  # two long-lived processes did all the work
    progress = [e for e in events if isinstance(e, TaskMessage) and e.kind == "progress"]
    assert {e.task_id for e in progress} == set(done)


@pytest.mark.slow
def test_crashing_and_raising_tasks_cost_one_outcome_each_and_the_pool_goes_on() -> None:
    tasks = [("a", 2), ("seg", "segfault"), ("b", 3), ("exit", "exit"), ("c", 4), ("err", "raise"), ("d", 5)]
    done = outcomes(run(tasks))
    assert set(done) == {k for k, _ in tasks}
    assert isinstance(done["seg"], TaskFailed) and done["seg"].kind == "crash"
    assert "SIGSEGV" in done["seg"].message
    assert isinstance(done["exit"], TaskFailed) and done["exit"].kind == "crash"
    assert "exit code 3" in done["exit"].message
    assert isinstance(done["err"], TaskFailed) and done["err"].kind == "failed"
    assert "boom" in done["err"].message
    for k, n in (("a", 2), ("b", 3), ("c", 4), ("d", 5)):
        assert isinstance(done[k], TaskDone) and done[k].value[0] == n * n


@pytest.mark.slow
def test_a_hung_task_is_killed_at_its_limit_and_a_reported_duration_extends_it() -> None:
    t0 = time.monotonic()
    done = outcomes(run([("hang", "hang"), ("announced", "slow-but-announced"), ("x", 7)], first_limit_s=1.0))
    elapsed = time.monotonic() - t0
    assert isinstance(done["hang"], TaskFailed) and done["hang"].kind == "timeout"
    # The announced task ran 1.5 s, past the first 1 s limit, because it reported a 5 s duration (limit 10 s).
    assert isinstance(done["announced"], TaskDone) and done["announced"].value == "finished"
    assert isinstance(done["x"], TaskDone)
    assert elapsed < 20


def test_closing_the_pool_early_leaves_no_worker_behind() -> None:
    gen = run_pool(
        square_or_misbehave,
        [("h1", "hang"), ("quick", 1), ("h2", "hang")],
        workers=2,
        first_limit_s=60,
        limit_for_duration=lambda d: 60.0,
    )
    first = next(e for e in gen if isinstance(e, TaskDone))  # one worker is still stuck in "hang"
    assert first.task_id == "quick"
    assert len([p for p in mp.active_children() if p.is_alive()]) == 2
    gen.close()
    assert not [p for p in mp.active_children() if p.is_alive()]


def slow_start() -> None:
    time.sleep(1.5)


def broken_start() -> None:
    os._exit(4)


def test_start_up_time_does_not_count_against_a_task_limit() -> None:
    events = list(
        run_pool(
            square_or_misbehave,
            [("a", 3)],
            workers=1,
            first_limit_s=1.0,
            limit_for_duration=lambda d: 1.0,
            initializer=slow_start,
        )
    )
    assert [type(e) for e in events if not isinstance(e, TaskMessage)] == [TaskDone]


def test_workers_that_cannot_start_stop_the_pool_with_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="start-up"):
        list(
            run_pool(
                square_or_misbehave,
                [("a", 3)],
                workers=1,
                first_limit_s=5,
                limit_for_duration=lambda d: 5.0,
                initializer=broken_start,
            )
        )


def test_zero_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(run_pool(square_or_misbehave, [], workers=0, first_limit_s=1, limit_for_duration=lambda d: 1.0))
