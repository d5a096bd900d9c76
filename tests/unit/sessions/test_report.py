"""PDF reports: they render, have pages and figures, and carry the patient, the numbers and the history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from store_testdata import make_result, tapping_series, video_info

from exercises.registry import get_exercise
from metrics.rom import NORMAL_ROM, compute_joint_rom
from sessions.pipeline import score_series
from sessions.report import _rom_items, format_change, metric_label, plot_signal, progress_report, session_report
from sessions.store import NotFoundError, Store, open_store

pypdf = pytest.importorskip("pypdf")

NAME = "José Núñez-Łukasz Ødegård"


def read_pdf(path: Path) -> tuple[int, int, str]:
    """Pages, embedded images and the text of a PDF."""
    reader = pypdf.PdfReader(path)
    images = sum(len(page.images) for page in reader.pages)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), images, " ".join(text.split())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(tmp_path_factory.mktemp("report") / "s.db")
    pid = s.add_patient(NAME, patient_id="P7", affected_side="left")
    t0 = datetime(2025, 4, 1, 10, tzinfo=UTC)
    for k, amplitudes in enumerate([(0.4,) * 6, (0.6,) * 8, (0.8, 0.75, 0.7, 0.6, 0.5, 0.45, 0.4, 0.3)]):
        series = tapping_series(amplitudes, seed=k)
        scored = score_series(
            series, video_info(series), "finger_tapping", warnings=["Low light in the room."] * (k == 2)
        )
        s.save_scored(scored, patient_id=pid, recorded_at=t0 + timedelta(days=7 * k))
    last = s.get_session(3)
    kept = [(r["start_s"], r["end_s"]) for r in last.result.reps[1:]]
    tracking = last.info.tracking_warnings or []
    corrected = score_series(series, video_info(series), "finger_tapping", reps=kept, warnings=tracking).result
    s.add_correction(3, corrected, author="Dr. Æsa", note="first tap was a false start")
    wrist = make_result(4, exercise="wrist_flexion")
    wrist = replace(
        wrist, metrics={"max_flexion_deg": 61.5, "max_extension_deg": 44.0, "rom_deg": 105.5, "reference": "neutral"}
    )
    s.save_session(wrist, patient_id=pid, recorded_at=t0 + timedelta(days=30))
    s.save_session(make_result(2, exercise="mystery_exercise"))
    yield s
    s.close()


def test_session_report_has_the_signal_the_comparison_and_the_versions(store: Store, tmp_path: Path) -> None:
    path = session_report(store, 3, tmp_path / "session.pdf")
    pages, images, text = read_pdf(path)
    assert pages >= 1 and images >= 1  # the main signal with the reps marked
    assert NAME in text and "affected side: left" in text
    assert f"{get_exercise('finger_tapping').title} — session report" in text
    assert "first (2025-04-01)" in text and "previous (2025-04-08)" in text
    assert "Repetitions 6 8 7" in text  # first, previous, this (the corrected count)
    assert "corrected" in text and "Dr. Æsa" in text and "first tap was a false start" in text
    assert "Low light in the room." in text
    reps = store.get_session(3).result.reps
    assert len(reps) == 7 and f"7 {reps[-1]['start_s']:.3g}" in text  # last row of the rep table


def test_an_older_version_can_be_reported(store: Store, tmp_path: Path) -> None:
    _, _, text = read_pdf(session_report(store, 3, tmp_path / "v1.pdf", version=1))
    assert "analysis version 1 of 2 (original" in text


def test_session_report_shows_rom_against_normal_without_landmarks(store: Store, tmp_path: Path) -> None:
    pages, images, text = read_pdf(session_report(store, 4, tmp_path / "wrist.pdf"))
    assert pages >= 1 and images == 1  # the ROM chart; no signal without landmarks
    assert "Range of motion against the normal range" in text and "AAOS" in text
    assert "No landmarks were stored" in text
    assert "first recorded session of this exercise" in text


def test_a_session_of_an_unknown_exercise_without_patient_still_renders(store: Store, tmp_path: Path) -> None:
    pages, images, text = read_pdf(session_report(store, 5, tmp_path / "unknown.pdf"))
    assert pages >= 1 and images == 0
    assert "(unattributed)" in text and "not attributed to a patient" in text


def test_progress_report_covers_every_exercise_of_the_patient(store: Store, tmp_path: Path) -> None:
    pages, images, text = read_pdf(progress_report(store, "P7", tmp_path / "progress.pdf"))
    assert pages >= 1 and images >= 1
    assert NAME in text and "4 session(s)" in text
    titles = [get_exercise(name).title for name in ("finger_tapping", "wrist_flexion")]
    assert f"{titles[0]} — 3 session(s)" in text and f"{titles[1]} — 1 session(s)" in text
    assert "3 v2 7" in text  # session 3, current version 2, 7 reps
    with pytest.raises(NotFoundError, match="no sessions"):
        progress_report(store, "P7", tmp_path / "none.pdf", exercise="thumb_opposition")


def test_plot_signal_makes_a_png_even_with_gaps() -> None:
    t = np.linspace(0, 3, 91)
    x = np.cos(2 * np.pi * t)
    x[10:20] = np.nan
    reps = [{"start_s": 0.5, "end_s": 1.5, "peak_s": 1.0}]
    png = plot_signal(t, x, reps=reps, label="Opening", unit="norm", normal_range=(0, 1), rejected=[(1.5, 2.5)])
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_labels_and_changes_read_naturally() -> None:
    assert metric_label("frequency_hz") == "Frequency (Hz)"
    assert metric_label("rom_deg") == "ROM (°)"
    assert metric_label("touches_per_finger.index") == "Touches per finger: index"
    assert metric_label("interval_cv") == "Interval CV"
    assert format_change(10, 12.5) == "+2.5 (+25%)"
    assert format_change(4, 3) == "−1 (−25%)"
    assert format_change(None, 3) == "–"


def test_rom_items_come_from_the_exercises_rom_metric() -> None:
    angle = np.linspace(-40, 60, 201)  # extension to 40°, flexion to 60°
    rom = compute_joint_rom(angle, normal=NORMAL_ROM["wrist_flex"]).to_dict()
    items = _rom_items("wrist_flexion", {"max_flexion_deg": 58.0, "rom": {"wrist_flex": rom}})
    labels = [label for label, _, _ in items]
    assert labels == ["Flexion", "Extension"]
    assert items[0][1:] == (58.0, 80.0)  # the exercise's own peak where it reports one
    assert items[1][1] == pytest.approx(-float(rom["low_deg"] or 0)) and items[1][2] == 70.0  # else the robust extreme
    # Two joints get the joint in the label; a result without 'rom' falls back to the contract's keys.
    two = _rom_items("x", {"rom": {"index_mcp_flex": rom, "index_pip_flex": rom}})
    assert [label for label, _, _ in two][:2] == ["index mcp flex: flexion", "index mcp flex: extension"]
    assert _rom_items("wrist_flexion", {"max_flexion_deg": 50.0}) == [("Wrist flexion", 50.0, 80.0)]
