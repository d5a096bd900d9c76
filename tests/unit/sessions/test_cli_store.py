"""The store commands (patients, sessions, report, rescore) through Typer, as the user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from store_testdata import make_result, tapping_series, video_info
from typer.testing import CliRunner

from sessions.cli_store import mount
from sessions.pipeline import score_series
from sessions.store import open_store

app = typer.Typer()
mount(app)
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_patients_add_list_show_delete(db: str) -> None:
    code, pid, _ = run("patients", "add", "Ørjan Ñuñez", "--side", "right", "--db", db)
    pid = pid.strip()
    assert code == 0 and pid.startswith("p-")
    assert run("patients", "add", "Second", "--id", "P2", "--db", db)[0] == 0
    code, stdout, _ = run("patients", "list", "--json", "--db", db)
    listed = json.loads(stdout)
    assert code == 0 and {p["id"] for p in listed} == {pid, "P2"}
    assert next(p for p in listed if p["id"] == pid)["display_name"] == "Ørjan Ñuñez"
    code, stdout, _ = run("patients", "show", "P2", "--json", "--db", db)
    assert code == 0 and json.loads(stdout)["sessions"] == []
    code, _, stderr = run("patients", "delete", "P2", "--yes", "--db", db)
    assert code == 0 and "deleted patient P2" in stderr
    assert [p["id"] for p in json.loads(run("patients", "list", "--json", "--db", db)[1])] == [pid]


def test_errors_are_one_line_with_exit_code_2(db: str) -> None:
    for args in (
        ("patients", "show", "ghost"),
        ("patients", "add", "X", "--side", "sideways"),
        ("sessions", "show", "99"),
        ("sessions", "list", "--since", "yesterday-ish"),
        ("report",),
        ("report", "1", "--out", "x.txt"),
        ("sessions", "export", "--format", "xml"),
    ):
        code, stdout, stderr = run(*args, "--db", db)
        assert code == 2, args
        assert stderr.startswith("error: ") and stderr.count("\n") == 1, (args, stderr)
        assert stdout == ""


def test_sessions_list_show_export_delete(db: str, tmp_path: Path) -> None:
    store = open_store(db)
    pid = store.add_patient("A")
    ids = [store.save_session(make_result(n), patient_id=pid) for n in (3, 4)]
    ids.append(store.save_session(make_result(5, exercise="wrist_flexion")))
    store.add_correction(ids[0], make_result(2), author="ot", note="two reps were noise")
    store.close()

    code, stdout, _ = run("sessions", "list", "--patient", pid, "--json", "--db", db)
    assert code == 0 and [s["rep_count"] for s in json.loads(stdout)] == [2, 4]
    code, stdout, _ = run("sessions", "list", "--exercise", "wrist_flexion", "--json", "--db", db)
    assert [s["id"] for s in json.loads(stdout)] == [ids[2]]
    code, stdout, _ = run("sessions", "show", str(ids[0]), "--json", "--db", db)
    shown = json.loads(stdout)
    assert shown["version"]["result"]["rep_count"] == 2 and len(shown["versions"]) == 2
    code, stdout, _ = run("sessions", "show", str(ids[0]), "--version", "1", "--json", "--db", db)
    assert json.loads(stdout)["version"]["result"]["rep_count"] == 3
    code, stdout, _ = run("sessions", "show", str(ids[0]), "--db", db)
    assert code == 0 and "two reps were noise" in stdout

    code, _, _ = run("sessions", "export", "--out", str(tmp_path / "csv"), "--db", db)
    assert code == 0 and (tmp_path / "csv" / "sessions.csv").read_text().count("\n") == 4
    code, stdout, _ = run("sessions", "export", str(ids[1]), "--format", "json", "--db", db)
    assert code == 0 and [s["id"] for s in json.loads(stdout)["sessions"]] == [ids[1]]

    assert run("sessions", "delete", str(ids[1]), "--yes", "--db", db)[0] == 0
    assert len(json.loads(run("sessions", "list", "--json", "--db", db)[1])) == 2


def test_rescore_and_report_commands(db: str, tmp_path: Path) -> None:
    store = open_store(db)
    pid = store.add_patient("A")
    series = tapping_series((0.7,) * 5)
    sid = store.save_scored(score_series(series, video_info(series), "finger_tapping"), patient_id=pid)
    store.save_session(make_result(3), patient_id=pid)  # no landmarks: cannot be re-scored
    store.close()

    code, stdout, _ = run("rescore", "--patient", pid, "--json", "--db", db)
    outcomes = json.loads(stdout)
    assert code == 0 and [o["new_version"] for o in outcomes] == [None, None]
    assert outcomes[1]["skipped"] and not outcomes[0]["skipped"]

    pdf = tmp_path / "r.pdf"
    code, _, stderr = run("report", str(sid), "--out", str(pdf), "--db", db)
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF") and str(pdf) in stderr
    code, _, _ = run("report", "--patient", pid, "--out", str(tmp_path / "p.pdf"), "--db", db)
    assert code == 0 and (tmp_path / "p.pdf").stat().st_size > 1000


def test_a_file_that_is_not_a_database_is_refused_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("shopping list\n" * 200)
    code, stdout, stderr = run("patients", "list", "--db", str(bad))
    assert code == 2 and stdout == ""
    assert stderr.startswith("error: cannot open the database") and stderr.count("\n") == 1
    assert bad.read_text() == "shopping list\n" * 200  # untouched
