"""``handrehab batch``: score a folder of videos into tidy tables (mounted in ``sessions.cli``)."""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sessions.cli_common import err, fail


def batch(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (created; a rerun resumes in it).", show_default=False)
    ],
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="INPUT",
            help="Folder (searched recursively for videos), glob such as 'data/**/*.mp4', or a video. "
            "With --manifest: the folder relative manifest paths start from (default: the manifest's folder).",
            show_default=False,
        ),
    ] = None,
    exercise: Annotated[
        str, typer.Option("--exercise", "-e", help="Exercise name, or 'auto' to recognise it per video.")
    ] = "auto",
    hand: Annotated[str, typer.Option(help="Which hand to score: auto, left or right.")] = "auto",
    manifest: Annotated[
        Path | None,
        typer.Option(help="CSV with a 'path' column and optional exercise, hand, subject, session columns."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Parallel worker processes (default: all cores).")
    ] = None,
    engine: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address ('auto', 'HOST:6379', 'ray://HOST:10001'); implies ray.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Time limit per video in seconds (default: 10 s per second of video + 60 s)."),
    ] = None,
    max_side: Annotated[int, typer.Option(help="Downscale frames whose long side exceeds this before tracking.")] = 960,
    retry_errors: Annotated[bool, typer.Option(help="Also redo videos an earlier run could not score.")] = False,
    db: Annotated[
        str | None, typer.Option(help="Also save every session to this store (SQLAlchemy URL or SQLite file).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Score many videos: per-video JSON and landmarks, reps/sessions tables (CSV, Parquet), errors.csv.

    Killed and started again with the same arguments, it only does what is missing.
    """
    from sessions.batch import BatchInputError, plan_batch, run_batch

    if ray_address is not None:
        engine = "ray"
    if engine not in ("local", "ray"):
        fail(f"--engine must be local or ray, not {engine!r}")
    if hand not in ("auto", "left", "right"):
        fail(f"--hand must be auto, left or right, not {hand!r}")
    if workers is not None and workers < 1:
        fail("--workers must be at least 1")
    if timeout is not None and timeout <= 0:
        fail("--timeout must be positive")
    if max_side < 64:
        fail("--max-side must be at least 64 pixels")
    try:
        items = plan_batch(source, exercise=exercise, hand=hand, manifest=manifest)
    except BatchInputError as e:
        fail(str(e))
    _check_exercises({it.exercise for it in items})
    display = BatchProgress(enabled=not quiet)
    # A scheduler's SIGTERM (SLURM, Kubernetes) stops the batch like Ctrl-C: the tables are still rebuilt.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with display:
            summary = run_batch(
                items,
                out,
                workers=workers,
                engine=engine,  # type: ignore[arg-type]
                ray_address=ray_address,
                timeout_s=timeout,
                max_side=max_side,
                retry_errors=retry_errors,
                db_url=db,
                on_event=display.on_event,
            )
    except BatchInputError as e:
        fail(str(e))
    except KeyboardInterrupt:  # while the tables were being written: the next run rewrites them
        err.print("[yellow]interrupted:[/] run the same command again to finish")
        raise typer.Exit(130) from None
    print_batch_summary(summary, out)
    if summary.interrupted:
        raise typer.Exit(130)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_exercises(names: set[str]) -> None:
    from exercises.registry import exercise_names

    known = set(exercise_names())
    unknown = sorted(n for n in names if n != "auto" and n not in known)
    if unknown:
        fail(f"unknown exercise {', '.join(map(repr, unknown))}; choose one of: auto, {', '.join(sorted(known))}")
    if "auto" in names and importlib.util.find_spec("exercises.recognize") is None:
        fail("--exercise auto needs exercise recognition, which this installation lacks; name the exercise")


class BatchProgress:
    """A rich progress bar on stderr: videos done, frames per second, ETA (fed by ``run_batch`` events)."""

    def __init__(self, *, enabled: bool = True) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]Scoring[/]"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[videos]} videos"),
            TextColumn("{task.fields[errors]}"),
            TextColumn("{task.fields[fps]} frames/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            disable=not enabled,
        )
        self._task = self._progress.add_task("batch", total=None, done=0, videos="?", errors="", fps="-")
        self._done = 0
        self._errors = 0
        self._frames_done = 0  # of finished videos in this run
        self._running: dict[str, tuple[int, int]] = {}  # key -> (frames, expected frames)
        self._started = time.perf_counter()

    def __enter__(self) -> BatchProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def on_event(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "start":
            self._done = int(info["done"])
            self._started = time.perf_counter()
            self._progress.update(
                self._task,
                total=max(1, int(info["total"])),
                completed=self._done,
                done=self._done,
                videos=info["total"],
            )
        elif kind == "progress":
            self._running[info["key"]] = (int(info["frames"]), int(info["total_frames"]))
        elif kind == "video":
            self._running.pop(info["key"], None)
            self._done += 1
            self._errors += 0 if info["ok"] else 1
            self._frames_done += int(info["frames"])
        else:
            return
        # In-flight videos count by the fraction of their frames done, so the ETA moves smoothly.
        partial = sum(f / t for f, t in self._running.values() if t > 0)
        frames = self._frames_done + sum(f for f, _ in self._running.values())
        elapsed = time.perf_counter() - self._started
        self._progress.update(
            self._task,
            completed=self._done + min(partial, len(self._running)),
            done=self._done,
            errors=f"[red]{self._errors} error{'s' if self._errors > 1 else ''}[/]" if self._errors else "",
            fps=f"{frames / elapsed:.0f}" if elapsed > 0 and frames else "-",
        )


def print_batch_summary(summary: Any, out: Path) -> None:
    """The end-of-run summary (stdout)."""
    console = Console()
    table = Table(title="Batch summary", box=None, show_header=False)
    table.add_row("videos", str(summary.total))
    table.add_row("scored in this run", str(summary.scored))
    table.add_row("already done", str(summary.already_done))
    errs = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.errors.items())) or "none"
    table.add_row("errors in this run", errs)
    if summary.previous_errors:
        table.add_row("errors from earlier runs", f"{summary.previous_errors} (redo them with --retry-errors)")
    if summary.stored or summary.store_errors:
        table.add_row("saved to the store", str(summary.stored))
    if summary.store_errors:
        table.add_row("not saved (retried next run)", f"{summary.store_errors}: {summary.store_error}")
    if summary.video_seconds:
        table.add_row(
            "throughput",
            f"{summary.video_seconds:.0f} s of video in {summary.wall_s:.0f} s "
            f"({summary.throughput:.2f}× real time, {summary.frames / max(summary.wall_s, 1e-9):.0f} frames/s)",
        )
    table.add_row("wall time", f"{summary.wall_s:.1f} s")
    table.add_row("tables", os.fspath(out / "sessions.csv") + ", reps.csv, errors.csv (+ .parquet)")
    console.print(table)
    if summary.interrupted:
        err.print("[yellow]interrupted:[/] run the same command again to finish the remaining videos")


if __name__ == "__main__":  # python -m sessions.cli_batch (the same command as `handrehab batch`)
    typer.run(batch)
