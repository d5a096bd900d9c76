"""Every sample video, end to end: tracked with MediaPipe, scored, stored, re-scored, reported as a PDF.

Each ``sample_videos/NAME.mp4`` with its ``NAME.truth.json`` (which names the exercise) is scored once for
the module; the stored landmark series then drive the report's signal plot without the video.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sessions.pipeline import score_video
from sessions.report import progress_report, session_report
from sessions.rescore import rescore
from sessions.store import Store, file_sha256, open_store

pypdf = pytest.importorskip("pypdf")

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in (ROOT / "sample_videos").glob("*.mp4") if p.with_suffix(".truth.json").exists())
PATIENT = "Søren Ñandú-Ærø"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, int]]]:
    """A store with one session per sample video (all for one patient, a day apart)."""
    store = open_store(tmp_path_factory.mktemp("samples") / "store.db")
    pid = store.add_patient(PATIENT, patient_id="S1", affected_side="right")
    ids: dict[str, int] = {}
    t0 = datetime(2025, 6, 1, 9, tzinfo=UTC)
    for k, video in enumerate(SAMPLES):
        exercise = json.loads(video.with_suffix(".truth.json").read_text())["exercise"]
        scored = score_video(video, exercise)
        ids[video.stem] = store.save_scored(
            scored, patient_id=pid, source="upload", video_path=video, recorded_at=t0 + timedelta(days=k)
        )
    yield store, ids
    store.close()


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLES, reason="no sample videos with truth in sample_videos/ yet")
@pytest.mark.parametrize("video", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_sample_video_gets_a_session_report_with_its_signal(
    video: Path, stored: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    store, ids = stored
    rec = store.get_session(ids[video.stem])
    assert rec.has_series and rec.info.video_sha256 == file_sha256(video)
    reader = pypdf.PdfReader(session_report(store, rec.id, tmp_path / f"{video.stem}.pdf"))
    assert len(reader.pages) >= 1
    assert sum(len(page.images) for page in reader.pages) >= 1  # the main signal recomputed from landmarks
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert PATIENT in text and f"Repetitions {rec.result.rep_count}" in text


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLES, reason="no sample videos with truth in sample_videos/ yet")
def test_the_samples_make_a_progress_report_and_rescore_without_video(
    stored: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    store, _ = stored
    reader = pypdf.PdfReader(progress_report(store, "S1", tmp_path / "progress.pdf"))
    assert len(reader.pages) >= 1
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert f"{len(SAMPLES)} session(s)" in text
    outcomes = rescore(store, patient_id="S1")
    assert len(outcomes) == len(SAMPLES) and not any(o.skipped for o in outcomes)
    # Same code, same thresholds, same landmarks: re-scoring reproduces every stored result exactly.
    assert all(o.new_version is None and o.rep_count_after == o.rep_count_before for o in outcomes)
