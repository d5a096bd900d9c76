"""Stored sessions as tidy tables (one row per session, one row per rep) and as JSON documents.

Exports are pseudonymous by default: patients appear by id; display names only when asked for.
Files are written atomically (a reader never sees half a file).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sessions.store import SessionRecord, Store, flatten_metrics, software_version
from tracking.series import write_atomic

SESSION_COLUMNS = (
    "session_id",
    "patient_id",
    "exercise",
    "hand",
    "source",
    "recorded_at",
    "version",
    "version_kind",
    "rep_count",
    "detection_rate",
    "warnings",
    "video_sha256",
    "video_path",
    "software_version",
)
REP_COLUMNS = (
    "session_id",
    "patient_id",
    "exercise",
    "hand",
    "recorded_at",
    "version",
    "rep",
    "start_s",
    "end_s",
    "peak_s",
)


def sessions_table(records: Sequence[SessionRecord]) -> pd.DataFrame:
    """One row per session (its current version): metadata, then one column per flattened metric.

    A metric whose name clashes with a metadata column is prefixed ``metric.``.
    """
    rows = []
    for rec in records:
        info, v = rec.info, rec.version
        row: dict[str, Any] = {
            "session_id": info.id,
            "patient_id": info.patient_id,
            "exercise": info.exercise,
            "hand": info.hand,
            "source": info.source,
            "recorded_at": info.recorded_at.isoformat(),
            "version": v.version,
            "version_kind": v.kind,
            "rep_count": v.result.rep_count,
            "detection_rate": v.result.detection_rate,
            "warnings": " | ".join(v.result.warnings),
            "video_sha256": info.video_sha256,
            "video_path": info.video_path,
            "software_version": v.software_version,
        }
        for key, value in flatten_metrics(v.result.metrics).items():
            row[f"metric.{key}" if key in SESSION_COLUMNS else key] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=_columns(SESSION_COLUMNS, rows))
    return frame


def reps_table(records: Sequence[SessionRecord]) -> pd.DataFrame:
    """One row per rep of each session's current version; per-rep fields flattened into columns."""
    rows = []
    for rec in records:
        info, v = rec.info, rec.version
        for i, rep in enumerate(v.result.reps, start=1):
            row: dict[str, Any] = {
                "session_id": info.id,
                "patient_id": info.patient_id,
                "exercise": info.exercise,
                "hand": info.hand,
                "recorded_at": info.recorded_at.isoformat(),
                "version": v.version,
                "rep": i,
            }
            for key, value in flatten_metrics(rep).items():
                row[f"rep.{key}" if key in row else key] = value
            rows.append(row)
    return pd.DataFrame(rows, columns=_columns(REP_COLUMNS, rows))


def _columns(fixed: Sequence[str], rows: list[dict[str, Any]]) -> list[str]:
    extra: dict[str, None] = {}
    for row in rows:
        extra.update((k, None) for k in row if k not in fixed)
    return [*fixed, *extra]


def export_document(
    store: Store,
    records: Sequence[SessionRecord],
    *,
    all_versions: bool = False,
    include_names: bool = False,
) -> dict[str, Any]:
    """A JSON-ready document: the sessions with their schema-1 results (and every version if asked)."""
    patient_ids = sorted({r.info.patient_id for r in records if r.info.patient_id is not None})
    patients = []
    for pid in patient_ids:
        p = store.get_patient(pid).to_dict()
        if not include_names:
            p.pop("display_name", None)
            p.pop("notes", None)
        patients.append(p)
    sessions = []
    for rec in records:
        item: dict[str, Any] = {**rec.info.to_dict(), "has_series": rec.has_series, "has_video": rec.has_video}
        item["current"] = rec.version.to_dict(with_result=False)
        item["result"] = rec.result.to_dict()
        if all_versions:
            item["versions"] = [v.to_dict() for v in store.versions(rec.info.id)]
        sessions.append(item)
    return {
        "handrehab_export": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "software_version": software_version(),
        "patients": patients,
        "sessions": sessions,
    }


def select_records(
    store: Store,
    *,
    session_ids: Sequence[int] | None = None,
    patient_id: str | None = None,
    exercise: str | None = None,
    since: datetime | date | str | None = None,
) -> list[SessionRecord]:
    """The sessions to export (all when no filter is given), oldest first."""
    return store.list_records(
        patient_id=patient_id, exercise=exercise, since=since, ids=list(session_ids) if session_ids else None
    )


def write_csv(records: Sequence[SessionRecord], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``sessions.csv`` and ``reps.csv`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = []
    for name, frame in (("sessions.csv", sessions_table(records)), ("reps.csv", reps_table(records))):
        buf = io.StringIO()
        frame.to_csv(buf, index=False)
        write_atomic(out / name, buf.getvalue().encode())
        paths.append(out / name)
    return paths


def write_json(document: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write an :func:`export_document` as indented UTF-8 JSON."""
    write_atomic(Path(path), (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode())
    return Path(path)
