"""Exports of stored sessions: tidy CSV tables and a JSON document that round-trips the schema-1 results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from store_testdata import make_result

from sessions.export import export_document, reps_table, select_records, sessions_table, write_csv, write_json
from sessions.result import SessionResult
from sessions.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "s.db")
    pid = s.add_patient("Émilie Dœuf", patient_id="P1", notes="private note")
    t0 = datetime(2025, 5, 1, 9, tzinfo=UTC)
    for k, n in enumerate((3, 5, 2)):
        s.save_session(make_result(n, scale=1 + k / 10), patient_id=pid, recorded_at=t0 + timedelta(days=k))
    s.save_session(make_result(4, exercise="wrist_flexion"), recorded_at=t0 + timedelta(days=9))
    s.add_correction(1, make_result(2), author="ot")
    yield s
    s.close()


def test_sessions_table_has_one_row_per_session_with_flat_metrics(store: Store) -> None:
    frame = sessions_table(select_records(store))
    assert list(frame["session_id"]) == [1, 2, 3, 4]
    assert list(frame["rep_count"]) == [2, 5, 2, 4]  # session 1 shows its corrected version
    assert list(frame["version"]) == [2, 1, 1, 1]
    assert frame.loc[1, "frequency_hz"] == pytest.approx(2.2)
    assert frame.loc[0, "touches_per_finger.index"] == 2
    assert frame["patient_id"].tolist()[:3] == ["P1"] * 3 and frame["patient_id"].isna().tolist()[3]


def test_reps_table_has_one_row_per_rep(store: Store) -> None:
    frame = reps_table(select_records(store, patient_id="P1"))
    assert len(frame) == 2 + 5 + 2
    assert list(frame[frame.session_id == 2]["rep"]) == [1, 2, 3, 4, 5]
    assert {"start_s", "end_s", "peak_s", "amplitude", "partly_untracked"} <= set(frame.columns)
    assert (frame["end_s"] > frame["start_s"]).all()


def test_csv_files_read_back_as_the_same_tables(store: Store, tmp_path: Path) -> None:
    records = select_records(store, exercise="finger_tapping", since="2025-05-02")
    paths = write_csv(records, tmp_path / "out")
    assert [p.name for p in paths] == ["sessions.csv", "reps.csv"]
    sessions = pd.read_csv(paths[0])
    reps = pd.read_csv(paths[1])
    assert list(sessions["session_id"]) == [2, 3]
    assert len(reps) == 7
    assert sessions["frequency_hz"].tolist() == pytest.approx(sessions_table(records)["frequency_hz"].tolist())


def test_json_export_round_trips_results_and_is_pseudonymous_by_default(store: Store, tmp_path: Path) -> None:
    records = select_records(store)
    path = write_json(export_document(store, records, all_versions=True), tmp_path / "e.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert len(doc["sessions"]) == 4
    for item, rec in zip(doc["sessions"], records, strict=True):
        assert SessionResult.from_dict(item["result"]).to_dict() == rec.result.to_dict()
    assert [v["kind"] for v in doc["sessions"][0]["versions"]] == ["original", "corrected"]
    assert doc["patients"] == [
        {"id": "P1", "affected_side": None, "created_at": doc["patients"][0]["created_at"], "session_count": 3}
    ]
    text = path.read_text(encoding="utf-8")
    assert "Émilie" not in text and "private note" not in text
    named = export_document(store, records, include_names=True)
    assert named["patients"][0]["display_name"] == "Émilie Dœuf"


def test_an_empty_selection_gives_empty_tables_with_the_fixed_columns(store: Store) -> None:
    records = select_records(store, patient_id="nobody")
    assert records == []
    assert list(sessions_table(records).columns)[:3] == ["session_id", "patient_id", "exercise"]
    assert reps_table(records).empty
