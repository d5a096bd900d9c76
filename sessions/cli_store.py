"""Store commands of the ``handrehab`` CLI: patients, sessions, report and rescore.

``mount(app)`` adds them to the main Typer app::

    handrehab patients add|list|show|delete
    handrehab sessions list|show|export|delete
    handrehab report SESSION_ID | --patient ID [--out FILE.pdf]
    handrehab rescore [--patient ID] [--exercise NAME] [--since DATE]

Every command takes ``--db URL`` (default ``$HANDREHAB_DB_URL`` or the per-user SQLite file); list and
show commands take ``--json`` and then print only JSON on stdout. Errors are one ``error:`` line on
stderr with exit code 2.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sessions.cli_common import STORE_RETRY_S, err, fail
from sessions.store import SIDES, Store, StoreError, open_store

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL or SQLite file (default: $HANDREHAB_DB_URL or the per-user store)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
PatientOption = Annotated[str | None, typer.Option("--patient", "-p", help="Only this patient's sessions.")]
ExerciseOption = Annotated[str | None, typer.Option("--exercise", "-e", help="Only this exercise.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only sessions recorded on or after this date (YYYY-MM-DD[THH:MM]).")
]

patients_app = typer.Typer(help="Add, list, show and delete patients.", no_args_is_help=True)
sessions_app = typer.Typer(help="List, show, export and delete stored sessions.", no_args_is_help=True)
out = Console(soft_wrap=True)


def mount(app: typer.Typer) -> None:
    """Add the store commands to the main ``handrehab`` app."""
    app.add_typer(patients_app, name="patients")
    app.add_typer(sessions_app, name="sessions")
    app.command("report")(report)
    app.command("rescore")(rescore_command)


@contextlib.contextmanager
def _opened(db: str | None) -> Iterator[Store]:
    """The store, with store errors turned into one ``error:`` line and exit code 2."""
    try:
        store = open_store(db, max_retry_s=STORE_RETRY_S)
    except StoreError as e:
        fail(str(e))
    try:
        yield store
    except StoreError as e:
        fail(str(e))
    finally:
        store.close()


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def _when(t: Any) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


# -- patients ------------------------------------------------------------------------------------------------


@patients_app.command("add")
def patients_add(
    name: Annotated[str, typer.Argument(help="Display name (initials are enough).")],
    patient_id: Annotated[
        str | None, typer.Option("--id", help="Pseudonymous id (default: generated, e.g. p-1a2b3c4d).")
    ] = None,
    side: Annotated[str | None, typer.Option("--side", help=f"Affected side: {', '.join(SIDES)}.")] = None,
    notes: Annotated[str, typer.Option(help="Free-text notes.")] = "",
    as_json: JsonFlag = False,
    db: DbOption = None,
) -> None:
    """Add a patient and print their id."""
    with _opened(db) as store:
        pid = store.add_patient(name, patient_id=patient_id, affected_side=side, notes=notes)
        if as_json:
            _print_json(store.get_patient(pid).to_dict())
        else:
            out.print(pid, highlight=False)


@patients_app.command("list")
def patients_list(as_json: JsonFlag = False, db: DbOption = None) -> None:
    """List patients with their number of sessions."""
    with _opened(db) as store:
        patients = store.list_patients()
    if as_json:
        _print_json([p.to_dict() for p in patients])
        return
    table = Table("id", "name", "affected side", "sessions", "added")
    for p in patients:
        table.add_row(p.id, p.display_name, p.affected_side or "", str(p.session_count), _when(p.created_at))
    out.print(table)


@patients_app.command("show")
def patients_show(
    patient_id: Annotated[str, typer.Argument(help="Patient id.")], as_json: JsonFlag = False, db: DbOption = None
) -> None:
    """Show a patient and their sessions."""
    with _opened(db) as store:
        patient = store.get_patient(patient_id)
        sessions = store.list_sessions(patient_id=patient_id)
    if as_json:
        _print_json({**patient.to_dict(), "sessions": [s.to_dict() for s in sessions]})
        return
    out.print(f"[bold]{patient.display_name}[/] ({patient.id})", highlight=False)
    if patient.affected_side:
        out.print(f"affected side: {patient.affected_side}", highlight=False)
    if patient.notes:
        out.print(f"notes: {patient.notes}", highlight=False)
    out.print(_sessions_table(sessions))


@patients_app.command("delete")
def patients_delete(
    patient_id: Annotated[str, typer.Argument(help="Patient id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a patient and ALL their data (sessions, landmarks, kept videos). Cannot be undone."""
    with _opened(db) as store:
        patient = store.get_patient(patient_id)
        if not yes:
            typer.confirm(
                f"Delete {patient.display_name} ({patient.id}) and their {patient.session_count} session(s)?",
                abort=True,
                err=True,
            )
        n = store.delete_patient(patient_id)
    err.print(f"deleted patient {patient_id} and {n} session(s)", highlight=False)


# -- sessions ------------------------------------------------------------------------------------------------


def _sessions_table(sessions: list[Any]) -> Table:
    table = Table("id", "recorded", "patient", "exercise", "hand", "source", "reps", "tracked", "version")
    for s in sessions:
        table.add_row(
            str(s.id),
            _when(s.recorded_at),
            s.patient_id or "",
            s.exercise,
            s.hand,
            s.source,
            str(s.rep_count),
            f"{s.detection_rate:.0%}",
            str(s.current_version),
        )
    return table


@sessions_app.command("list")
def sessions_list(
    patient: PatientOption = None,
    exercise: ExerciseOption = None,
    since: SinceOption = None,
    as_json: JsonFlag = False,
    db: DbOption = None,
) -> None:
    """List stored sessions, oldest first (current versions)."""
    with _opened(db) as store:
        sessions = store.list_sessions(patient_id=patient, exercise=exercise, since=since)
    if as_json:
        _print_json([s.to_dict() for s in sessions])
    else:
        out.print(_sessions_table(sessions))


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    version: Annotated[int | None, typer.Option(help="Show this analysis version (default: the current one).")] = None,
    as_json: JsonFlag = False,
    db: DbOption = None,
) -> None:
    """Show one session: its result, and the history of its analysis versions."""
    with _opened(db) as store:
        rec = store.get_session(session_id, version=version)
        versions = store.versions(session_id)
    if as_json:
        _print_json({**rec.to_dict(), "versions": [v.to_dict(with_result=False) for v in versions]})
        return
    info, r = rec.info, rec.result
    out.print(
        f"[bold]session {info.id}[/] · {info.exercise} · {r.hand} hand · recorded {_when(info.recorded_at)} · "
        f"patient {info.patient_id or '(none)'} · source {info.source}",
        highlight=False,
    )
    out.print(f"[bold]{r.rep_count}[/] repetitions · hand tracked in {r.detection_rate:.0%} of frames")
    metrics = Table("metric", "value", box=None)
    for key, value in r.metrics.items():
        metrics.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
    out.print(metrics)
    for w in r.warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)
    history = Table("version", "kind", "when", "by", "reps", "note")
    for v in versions:
        mark = " (shown)" if v.version == rec.version.version else ""
        history.add_row(
            f"{v.version}{mark}", v.kind, _when(v.created_at), v.author or "", str(v.result.rep_count), v.note
        )
    out.print(history)


@sessions_app.command("export")
def sessions_export(
    session_ids: Annotated[list[int] | None, typer.Argument(help="Session ids (default: all that match).")] = None,
    patient: PatientOption = None,
    exercise: ExerciseOption = None,
    since: SinceOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv (sessions.csv + reps.csv) or json.")] = "csv",
    out_path: Annotated[
        str | None,
        typer.Option("--out", "-o", help="csv: a folder (default: current); json: a file, or '-' for stdout."),
    ] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="json: include every version.")] = False,
    names: Annotated[bool, typer.Option("--names", help="Include patients' display names (off: pseudonymous).")] = (
        False
    ),
    db: DbOption = None,
) -> None:
    """Export sessions (current versions) as tidy CSV tables or one JSON document."""
    from sessions.export import export_document, select_records, write_csv, write_json

    if fmt not in ("csv", "json"):
        fail(f"--format must be csv or json, not {fmt!r}")
    with _opened(db) as store:
        records = select_records(store, session_ids=session_ids, patient_id=patient, exercise=exercise, since=since)
        if fmt == "json":
            doc = export_document(store, records, all_versions=all_versions, include_names=names)
            if out_path in (None, "-"):
                _print_json(doc)
            else:
                err.print(f"wrote {write_json(doc, out_path)} ({len(records)} sessions)", highlight=False)
            return
    if out_path == "-":
        fail("CSV export writes two files; give a folder with --out")
    paths = write_csv(records, out_path or ".")
    err.print(f"wrote {', '.join(map(str, paths))} ({len(records)} sessions)", highlight=False)


@sessions_app.command("delete")
def sessions_delete(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete one session with all its versions, landmarks and kept video."""
    with _opened(db) as store:
        info = store.get_session(session_id).info
        if not yes:
            typer.confirm(
                f"Delete session {session_id} ({info.exercise}, {_when(info.recorded_at)})?", abort=True, err=True
            )
        store.delete_session(session_id)
    err.print(f"deleted session {session_id}", highlight=False)


# -- report and rescore ----------------------------------------------------------------------------------------


def report(
    session_id: Annotated[
        int | None, typer.Argument(help="Session id (or use --patient for a progress report).")
    ] = None,
    patient: Annotated[str | None, typer.Option("--patient", "-p", help="Progress report for this patient.")] = None,
    exercise: ExerciseOption = None,
    version: Annotated[int | None, typer.Option(help="Session report: this analysis version.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="PDF file to write.")] = None,
    db: DbOption = None,
) -> None:
    """Write a PDF: one session's report, or a patient's progress report with --patient."""
    from sessions.report import progress_report, session_report

    if (session_id is None) == (patient is None):
        fail("give either a SESSION_ID or --patient ID")
    if out_path is not None and out_path.suffix.lower() != ".pdf":
        fail(f"--out must be a .pdf file, not {out_path}")
    with _opened(db) as store:
        if session_id is not None:
            path = session_report(store, session_id, out_path or Path(f"session-{session_id}.pdf"), version=version)
        else:
            assert patient is not None
            path = progress_report(store, patient, out_path or Path(f"progress-{patient}.pdf"), exercise=exercise)
    err.print(f"wrote {path}", highlight=False)


def rescore_command(
    patient: PatientOption = None,
    exercise: ExerciseOption = None,
    since: SinceOption = None,
    redetect: Annotated[
        bool, typer.Option("--redetect", help="Detect reps afresh, even where a therapist corrected them.")
    ] = False,
    author: Annotated[str, typer.Option(help="Recorded as the author of the new versions.")] = "rescore",
    note: Annotated[str, typer.Option(help="Recorded with the new versions.")] = "",
    as_json: JsonFlag = False,
    db: DbOption = None,
) -> None:
    """Re-score stored sessions from their landmarks with the current analysis; old versions are kept."""
    from sessions.rescore import rescore

    with _opened(db) as store:
        done = rescore(
            store,
            patient_id=patient,
            exercise=exercise,
            since=since,
            author=author,
            note=note,
            keep_manual_reps=not redetect,
        )
    if as_json:
        _print_json([r.to_dict() for r in done])
        return
    table = Table("session", "exercise", "reps before", "reps after", "new version")
    for r in done:
        after = "" if r.rep_count_after is None else str(r.rep_count_after)
        status = str(r.new_version) if r.new_version else (f"skipped: {r.skipped}" if r.skipped else "unchanged")
        table.add_row(str(r.session_id), r.exercise, str(r.rep_count_before), after, status)
    out.print(table)
    changed = sum(r.new_version is not None for r in done)
    err.print(f"{len(done)} session(s) checked, {changed} new version(s) stored", highlight=False)
