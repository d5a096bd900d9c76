"""The ``handrehab`` command line: score a video, and the store, report and batch commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sessions.cli_common import STORE_RETRY_S, err, fail

app = typer.Typer(
    name="handrehab",
    help="Count repetitions and measure range of motion of hand-rehabilitation exercises in videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _setup() -> None:
    quiet_native_stderr()


def quiet_native_stderr() -> None:
    """Keep MediaPipe's native log lines (written straight to file descriptor 2) off the terminal.

    Python's own ``sys.stderr`` moves to a duplicate of the terminal, so our messages, progress bars
    and any traceback still show; only native writes to fd 2 are discarded. Set
    ``HANDREHAB_NATIVE_LOGS=1`` to see them.
    """
    if os.environ.get("HANDREHAB_NATIVE_LOGS") or not hasattr(sys.stderr, "fileno"):
        return
    try:
        sys.stderr.flush()
        keep = os.dup(sys.stderr.fileno())
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no real file descriptor (e.g. captured by a test runner)
        return
    sys.stderr = os.fdopen(keep, "w", buffering=1, errors="backslashreplace")
    os.dup2(devnull, 2)
    os.close(devnull)


@app.command()
def score(
    video: Annotated[Path, typer.Argument(help="Video file (mp4, mov, avi, mkv, webm ...).")],
    exercise: Annotated[str, typer.Option("--exercise", "-e", help="Exercise name, or 'auto' to recognise it.")] = (
        "finger_tapping"
    ),
    hand: Annotated[str, typer.Option(help="Which hand to score: auto (the one that moves most), left or right.")] = (
        "auto"
    ),
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the schema-1 result JSON to PATH, or '-' for stdout only.")
    ] = None,
    annotate: Annotated[Path | None, typer.Option(help="Write the video with skeleton and counter here.")] = None,
    landmarks: Annotated[Path | None, typer.Option(help="Save the tracked landmark series (.npz) here.")] = None,
    max_side: Annotated[int, typer.Option(help="Downscale frames whose long side exceeds this before tracking.")] = 960,
    patient: Annotated[str | None, typer.Option(help="Save the session to this patient's history.")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default: the embedded SQLite store).")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Never write to the store.")] = False,
    keep_video: Annotated[bool, typer.Option(help="Also store the raw video (off by default, for privacy).")] = False,
) -> None:
    """Score one video and print a summary (or the result JSON)."""
    from sessions.pipeline import score_video
    from tracking.series import save_series, write_atomic
    from tracking.video import UnusableInputError

    if hand not in ("auto", "left", "right"):
        fail(f"--hand must be auto, left or right, not {hand!r}")
    check_exercise(exercise)
    if max_side < 64:
        fail("--max-side must be at least 64 pixels")
    quiet = json_out == "-"
    try:
        with progress_bar(f"Tracking {video.name}", enabled=not quiet) as progress:
            scored = score_video(video, exercise, hand=hand, max_side=max_side, progress=progress)
    except UnusableInputError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot read {video}: {e.strerror or e}")
    result = scored.result
    try:
        if landmarks is not None:
            save_series(scored.series, landmarks)
        if annotate is not None:
            from sessions.annotate import annotate_video

            annotate_video(video, scored, annotate, max_side=max_side)
        if json_out is not None and json_out != "-":
            write_atomic(Path(json_out), (result.to_json() + "\n").encode())
    except OSError as e:  # a full disk, a folder that cannot be written
        fail(f"cannot write {e.filename or 'the output'}: {e.strerror or e}")
    if json_out == "-":
        sys.stdout.write(result.to_json() + "\n")
    else:
        print_summary(result)
    if patient and not no_save:
        from sessions.store import StoreError, open_store

        try:
            with open_store(db, max_retry_s=STORE_RETRY_S) as store:
                sid = store.save_scored(
                    scored,
                    patient_id=patient,
                    source="cli",
                    video_path=video if keep_video else None,
                    keep_video=keep_video,
                )
        except StoreError as e:  # no such patient, disk full, database locked: nothing was saved
            fail(str(e))
        err.print(f"saved session {sid} for patient {patient}")


@app.command()
def exercises() -> None:
    """List the exercises handrehab can score."""
    from exercises.registry import exercise_names, get_exercise

    table = Table("name", "exercise", "how to do it")
    for name in exercise_names():
        ex = get_exercise(name)
        table.add_row(name, ex.title, ex.instructions)
    Console().print(table)


def check_exercise(name: str) -> None:
    from exercises.registry import exercise_names

    names = exercise_names()
    if name != "auto" and name not in names:
        fail(f"unknown exercise {name!r}; choose one of: auto, {', '.join(names)}")


class progress_bar:  # noqa: N801 - used like a function in a with-statement
    """A rich progress bar on stderr, fed by the pipeline's ``progress(done, total)`` callback."""

    def __init__(self, label: str, *, enabled: bool = True) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} frames"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not enabled,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> progress_bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total or None)


def print_summary(result: object) -> None:
    from sessions.result import SessionResult

    assert isinstance(result, SessionResult)
    console = Console()
    v = result.video
    console.print(
        f"[bold]{result.exercise}[/] · {result.hand} hand · {v.duration_s:.1f} s, {v.frames} frames at "
        f"{v.fps:.1f} fps ({v.width}×{v.height}) · hand tracked in {result.detection_rate:.0%} of frames"
    )
    console.print(f"[bold]{result.rep_count}[/] repetitions")
    metrics = Table("metric", "value", box=None)
    for key, value in result.metrics.items():
        metrics.add_row(key, format_value(value))
    console.print(metrics)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        spans = [f"{v['start_s']:.1f}–{v['end_s']:.1f} s" for v in value if isinstance(v, dict) and "start_s" in v]
        return ", ".join(spans) if len(spans) == len(value) else ", ".join(map(format_value, value))
    return str(value)


def _mount_subcommands() -> None:
    """Commands that live in their own modules (kept small: one concern each)."""
    from sessions import cli_store
    from sessions.cli_batch import batch

    app.command(help=batch.__doc__)(batch)
    cli_store.mount(app)


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
