"""Reviewing a result: correcting a stored session from Progress, and the annotated video after a correction.

The raw video is kept only while its review lasts; the page redraws the annotated video from it after
each correction, and says so when it is gone instead of showing a video of the old reps.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
from dashboard_fakes import last_frame, page_test, scored_taps, write_video
from streamlit.testing.v1 import AppTest

from dashboard.raw_video import RawVideo
from dashboard.results import NO_RAW_VIDEO, ScoredItem
from sessions.annotate import annotate_video
from sessions.store import open_store


def counter_box(frame: np.ndarray) -> np.ndarray:
    """The top-left panel where the annotated video shows the rep count."""
    return frame[:40, :60].astype(float)


def videos(at: AppTest) -> list[object]:
    return list(at.get("video"))


def test_correction_redraws_the_video_with_the_corrected_reps(data_dir: Path, tmp_path: Path) -> None:
    scored = scored_taps(6)
    src = write_video(tmp_path / "raw.mp4", frames=len(scored.series))
    item = ScoredItem.new("clip.mp4", scored, session_id=None, raw=RawVideo(src, data_dir=data_dir, owned=False))
    item.key = "k1"
    at = page_test("score")
    at.session_state["score_items"] = [item]
    at.run()
    assert not at.exception and len(videos(at)) == 1
    before = item.video
    assert before is not None
    at.multiselect(key="k1_reject_0").set_value([1]).run()
    at.button(key="k1_apply_0").click().run()
    assert not at.exception
    assert at.metric[0].value == "5"
    assert len(videos(at)) == 1 and item.video is not None and item.video != before
    # The redrawn video ends on 5 reps, as the corrected result; the first one ended on 6.
    original = annotate_video(src, scored, tmp_path / "original.mp4")
    corrected = annotate_video(src, item.scored, tmp_path / "corrected.mp4")
    shown = counter_box(last_frame(item.video))
    assert np.abs(shown - counter_box(last_frame(corrected))).mean() < 1.0
    assert np.abs(shown - counter_box(last_frame(original))).mean() > 5.0
    assert src.exists()  # a file the review does not own (a bundled sample) is never deleted


def test_without_the_raw_video_the_page_says_so_instead_of_a_stale_video(data_dir: Path) -> None:
    scored = scored_taps(6)
    upload = data_dir / "uploads" / "0123abcd.mp4"
    upload.parent.mkdir(parents=True)
    write_video(upload, frames=len(scored.series))
    raw = RawVideo(upload, data_dir=data_dir, owned=True)
    item = ScoredItem.new("clip.mp4", scored, session_id=None, raw=raw, key="k1")
    at = page_test("score")
    at.session_state["score_items"] = [item]
    at.run()
    assert len(videos(at)) == 1
    raw.release()  # the review's raw video is gone
    assert not upload.exists()
    at.multiselect(key="k1_reject_0").set_value([1]).run()
    at.button(key="k1_apply_0").click().run()
    assert at.metric[0].value == "5"
    assert videos(at) == []
    assert NO_RAW_VIDEO in [c.value for c in at.caption]


def test_raw_upload_lasts_as_long_as_its_review(data_dir: Path, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mp4", frames=20).read_bytes()
    at = page_test("score").run()
    at.file_uploader(key="score_files").set_value(("my clip.mp4", clip, "video/mp4"))
    at.selectbox(key="score_exercise").set_value("finger_tapping")
    at.button(key="score_go").click().run()
    assert not at.exception
    (first,) = (data_dir / "uploads").iterdir()  # kept under a generated name while reviewed
    assert first.name != "my clip.mp4" and first.suffix == ".mp4"
    assert len(videos(at)) == 1
    store = open_store()
    (info,) = store.list_sessions()
    assert not store.get_session(info.id).has_video  # never in the store unless Settings say so
    at.button(key="score_go").click().run()  # a new review replaces it
    (second,) = (data_dir / "uploads").iterdir()
    assert second != first and not first.exists()


def test_raw_video_is_deleted_with_the_state_that_holds_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "uploads").mkdir(parents=True)
    upload = write_video(data_dir / "uploads" / "0123abcd.mp4", frames=5)
    state = {"raw": RawVideo(upload, data_dir=data_dir, owned=True)}  # what a browser session's state holds
    gc.collect()
    assert upload.exists()
    del state  # Streamlit drops a closed session's state (after server.disconnectedSessionTTL)
    gc.collect()
    assert not upload.exists()


def test_raw_video_never_deletes_what_it_does_not_own(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    outside = write_video(tmp_path / "sample.mp4", frames=5)
    RawVideo(outside, data_dir=data_dir, owned=True).release()  # outside the data folder
    RawVideo(outside, data_dir=tmp_path, owned=False).release()  # a bundled sample
    gc.collect()
    assert outside.exists()


def test_progress_review_corrects_a_stored_session(data_dir: Path) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    sid = store.save_scored(scored_taps(6), patient_id="p1")
    at = page_test("progress")
    at.session_state["patient_id"] = "p1"
    at.run()
    assert not at.exception
    review = at.selectbox(key="progress_review_session")
    (option,) = review.options
    assert option.endswith(f"· 6 reps · version 1 (original) · session {sid}")
    review.set_value(sid).run()
    assert at.metric[0].value == "6"
    reps = at.dataframe[-1].value
    assert len(reps) == 6
    assert NO_RAW_VIDEO in [c.value for c in at.caption]  # not kept, not in this browser session: said, not shown
    at.multiselect(key=f"s{sid}v1_reject_0").set_value([2]).run()
    at.button(key=f"s{sid}v1_apply_0").click().run()
    assert not at.exception
    assert any(f"Saved as version 2 of session {sid}" in s.value for s in at.success)
    assert at.metric[0].value == "5"
    record = store.get_session(sid)
    assert (record.version.version, record.version.kind, record.result.rep_count) == (2, "corrected", 5)
    sessions = next(d.value for d in at.dataframe if "kind" in d.value.columns)  # the history, corrected
    assert list(sessions["version"]) == [2] and list(sessions["rep_count"]) == [5]


def test_progress_review_draws_a_kept_raw_video_from_a_copy_it_deletes(data_dir: Path, tmp_path: Path) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    scored = scored_taps(4)
    src = write_video(tmp_path / "session.mp4", frames=len(scored.series))
    sid = store.save_scored(scored, patient_id="p1", video_path=src, keep_video=True)
    at = page_test("progress")
    at.session_state["patient_id"] = "p1"
    at.run()
    at.selectbox(key="progress_review_session").set_value(sid).run()
    assert not at.exception and len(videos(at)) == 1
    (copy,) = (data_dir / "uploads").iterdir()
    at.selectbox(key="progress_review_session").set_value(None).run()  # the review ends
    assert not copy.exists()
    assert store.get_video(sid) == src.read_bytes()  # the kept video itself stays in the store
