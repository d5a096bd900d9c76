"""Page logic with Streamlit's AppTest (no browser): each page on an isolated data folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from dashboard_fakes import (
    ROOT,
    TIMEOUT,
    live_sessions,
    page_test,
    scored_taps,
    start_live_set,
    streamlit_option,
    texts,
    video_frame,
)
from streamlit.testing.v1 import AppTest

from dashboard.results import ScoredItem
from sessions.store import open_store


def test_app_opens_on_the_live_page_with_no_ice_servers(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Live exercise"
    (call,) = fake_camera["calls"]
    assert call["rtc_configuration"] == {"iceServers": []}
    assert call["async_processing"] is True
    assert call["media_stream_constraints"]["audio"] is False
    assert "data-count='0'" in texts(at)


def test_turn_server_from_settings_reaches_the_camera(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    from dashboard.state import Settings, save_settings

    save_settings(data_dir, Settings(turn_url="turn:relay.example.org:3478", turn_username="u", turn_credential="p"))
    page_test("live").run()
    (call,) = fake_camera["calls"]
    assert call["rtc_configuration"]["iceServers"][0]["urls"] == ["turn:relay.example.org:3478"]


def test_finished_live_set_is_summarised_and_saved_once(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    at = page_test("live")
    at.session_state["patient_id"] = "p1"
    at.run()
    proc = start_live_set(at, fake_camera, reps=4, seconds=6.0)
    assert proc.snapshot().done
    fake_camera["processor"] = proc
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "data-count='4'" in shown
    assert [h.value for h in at.subheader] == ["Set complete"]
    assert any("4 repetitions in" in s.value for s in at.success)
    assert "Saved to p1's history" in shown
    (saved,) = live_sessions(store, "p1")
    assert saved.rep_count == 4
    # The camera then stops (STOP, the stream ends): the finished set is not saved a second time.
    proc.on_ended()
    fake_camera["processor"] = None
    at.run()
    assert "Saved to p1's history" in texts(at)
    assert [s.id for s in live_sessions(store, "p1")] == [saved.id]


def test_next_set_starts_from_zero_on_the_same_stream(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    at = page_test("live").run()
    proc = start_live_set(at, fake_camera, reps=2, seconds=2.0)
    fake_camera["processor"] = proc
    at.run()
    assert "Not saved: choose a patient" in texts(at)
    fake_camera["processor"] = None  # the camera stops after the click, so the page's loop ends
    at.button(key="live_new_set").click().run()
    assert proc.snapshot().rep_count == 0 and not proc.snapshot().done


def test_camera_lost_mid_set_saves_the_set_so_far(
    data_dir: Path, fake_camera: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.live_processor

    monkeypatch.setattr(dashboard.live_processor, "STALL_S", 0.5)
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    at = page_test("live")
    at.session_state["patient_id"] = "p1"
    at.run()
    proc = start_live_set(at, fake_camera, reps=10, seconds=2.3)  # three taps of ten, then no more frames
    fake_camera["processor"] = proc
    at.run()  # the page follows the set until the watchdog ends it
    assert not at.exception
    assert [h.value for h in at.subheader] == ["The camera stopped"]
    assert any("3 repetitions in" in w.value for w in at.warning)
    (saved,) = live_sessions(store, "p1")
    assert saved.rep_count == 3
    proc.on_ended()  # the stream ends later: nothing more is saved
    fake_camera["processor"] = None
    at.run()
    assert [s.id for s in live_sessions(store, "p1")] == [saved.id]


def test_stop_mid_set_saves_the_set_so_far_once(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    at = page_test("live")
    at.session_state["patient_id"] = "p1"
    at.run()
    proc = start_live_set(at, fake_camera, reps=3, seconds=2.5)  # a first set, to its target
    fake_camera["processor"] = proc
    at.run()
    fake_camera["processor"] = None
    at.button(key="live_new_set").click().run()
    for i in range(int(2.5 * 30), int(3.8 * 30)):  # some taps of the next set...
        proc.process_frame(video_frame(i))
    count = proc.snapshot().rep_count
    assert 1 <= count < 3 and not proc.snapshot().done
    threading.Timer(0.3, proc.on_ended).start()  # ...then STOP: the stream ends as the page reruns
    at.run()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Set stopped"]
    assert any(f"{count} repetitions in" in i.value for i in at.info)
    assert [s.rep_count for s in live_sessions(store, "p1")] == [3, count]


def test_score_page_lists_limits_and_waits_for_files(data_dir: Path) -> None:
    at = page_test("score").run()
    assert not at.exception
    assert any("MB per file" in c.value and "mp4" in c.value for c in at.caption)
    assert at.button(key="score_go").disabled
    assert at.selectbox(key="score_exercise").options[:2] == ["recognise it from the movement", "Finger tapping"]


def test_rejecting_a_rep_rescoring_and_saving_the_correction(data_dir: Path) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    scored = scored_taps(6)
    sid = store.save_scored(scored, patient_id="p1")
    item = ScoredItem.new("clip.mp4", scored, session_id=sid, key="k1")
    at = page_test("score")
    at.session_state["score_items"] = [item]
    at.run()
    assert not at.exception
    assert at.metric[0].label == "Repetitions" and at.metric[0].value == "6"
    assert at.button(key="k1_apply_0").disabled
    at.multiselect(key="k1_reject_0").set_value([1]).run()
    at.button(key="k1_apply_0").click().run()
    assert not at.exception
    assert at.metric[0].value == "5"
    assert any(f"Saved as version 2 of session {sid}" in s.value for s in at.success)
    record = store.get_session(sid)
    assert record.version.kind == "corrected" and record.result.rep_count == 5
    assert record.version.manual_reps is not None and len(record.version.manual_reps) == 5
    assert record.result.metrics["frequency_hz"] == pytest.approx(scored.result.metrics["frequency_hz"], rel=0.05)


def test_adding_a_missed_rep(data_dir: Path) -> None:
    scored = scored_taps(4)
    item = ScoredItem.new("clip.mp4", scored, session_id=None, key="k2")
    at = page_test("score")
    at.session_state["score_items"] = [item]
    at.run()
    last_end = scored.result.reps[-1]["end_s"]
    at.number_input(key="k2_add_start").set_value(round(last_end + 0.05, 2))
    at.number_input(key="k2_add_end").set_value(round(last_end + 0.45, 2))
    at.button(key="k2_add").click().run()
    at.button(key="k2_apply_0").click().run()
    assert not at.exception
    assert at.metric[0].value == "5"


def test_progress_compares_first_and_latest(data_dir: Path) -> None:
    store = open_store()
    store.add_patient("Ada", patient_id="p1")
    for taps in (4, 7):
        store.save_scored(scored_taps(taps), patient_id="p1")
    at = page_test("progress")
    at.session_state["patient_id"] = "p1"
    at.run()
    assert not at.exception
    comparison = at.dataframe[0].value
    reps = comparison[comparison["metric"] == "Repetitions"].iloc[0]
    assert (reps["first"], reps["latest"]) == ("4", "7")
    assert len(at.get("plotly_chart")) >= 3


def test_progress_without_patients_says_what_to_do(data_dir: Path) -> None:
    at = page_test("progress").run()
    assert not at.exception
    assert at.info and "Add a patient" in at.info[0].value


def test_samples_page_shows_truth_or_says_how_to_get_samples(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page_test("samples").run()
    assert at.warning and "make samples" in at.warning[0].value
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "finger_tapping.mp4").write_bytes(b"\x00" * 16)
    truth = {"exercise": "finger_tapping", "hand": "left", "rep_count": 10}
    (folder / "finger_tapping.truth.json").write_text(json.dumps(truth))
    monkeypatch.setenv("HANDREHAB_SAMPLES", str(folder))
    at = page_test("samples").run()
    assert not at.exception
    assert at.metric[0].value == "10"


def test_settings_are_validated_and_saved(data_dir: Path) -> None:
    at = page_test("settings").run()
    assert not at.exception
    assert at.toggle(key="setting_keep_raw_video").value is False
    at.text_input(key="setting_turn_url").set_value("stun:wrong.example.org")
    at.button[0].click().run()
    assert at.error and "TURN" in at.error[0].value
    assert not (data_dir / "settings.json").exists()
    at.text_input(key="setting_turn_url").set_value("turn:relay.example.org")
    at.toggle(key="setting_keep_raw_video").set_value(True)
    at.button[0].click().run()
    assert at.success
    saved = json.loads((data_dir / "settings.json").read_text())
    assert saved["keep_raw_video"] is True and saved["turn_url"] == "turn:relay.example.org"
    # A second edit after saving is not lost.
    at.toggle(key="setting_keep_raw_video").set_value(False)
    at.button[0].click().run()
    assert json.loads((data_dir / "settings.json").read_text())["keep_raw_video"] is False


def test_password_is_required_before_any_patient_data(
    data_dir: Path, fake_camera: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDREHAB_PASSWORD", "s3cret")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["handrehab"]
    assert not fake_camera["calls"]  # no page was drawn
    at.text_input(key="login_password").set_value("wrong")
    at.button[0].click().run()
    assert at.error and at.error[0].value == "Wrong password."
    assert [t.value for t in at.title] == ["handrehab"]
    at.text_input(key="login_password").set_value("s3cret")
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Live exercise"


def test_exposed_without_a_password_shows_nothing(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    with streamlit_option("server.address", "0.0.0.0"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert at.error and "HANDREHAB_PASSWORD" in at.error[0].value
    assert not at.title and not fake_camera["calls"]


def test_unset_address_means_every_interface_and_needs_a_password(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    with streamlit_option("server.address", None):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert at.error and not fake_camera["calls"]


def test_gauge_target_is_remembered(data_dir: Path, fake_camera: dict[str, Any]) -> None:
    from dashboard.state import load_value_target

    at = page_test("live").run()
    key = "live_target_None_finger_tapping"
    assert load_value_target(data_dir, patient_id=None, exercise="finger_tapping") is None  # nothing written yet
    at.number_input(key=key).set_value(0.7).run()
    assert load_value_target(data_dir, patient_id=None, exercise="finger_tapping") == 0.7
    assert page_test("live").run().number_input(key=key).value == 0.7


def test_several_recordings_are_shown_and_corrected_independently(data_dir: Path) -> None:
    items = [
        ScoredItem.new(f"clip{n}.mp4", s, session_id=None, key=f"k{n}")
        for n, s in ((3, scored_taps(3)), (5, scored_taps(5)))
    ]
    at = page_test("score")
    at.session_state["score_items"] = items
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "Repetitions"] == ["3", "5"]
    at.multiselect(key="k5_reject_0").set_value([2, 3]).run()
    at.button(key="k5_apply_0").click().run()
    assert [m.value for m in at.metric if m.label == "Repetitions"] == ["3", "3"]


def score_garbage(data_dir: str) -> None:
    from pathlib import Path

    import streamlit as st

    from dashboard.results import score_file
    from dashboard.uploads import save_upload

    path = save_upload(Path(data_dir), "clip.mp4", b"this is not a video")
    item = score_file(
        path,
        name="clip.mp4",
        exercise="finger_tapping",
        hand="auto",
        patient_id=None,
        owned=True,
        keep_video=False,
    )
    st.write(f"item: {item}")


def test_unusable_upload_is_reported_and_deleted(data_dir: Path) -> None:
    at = AppTest.from_function(score_garbage, args=(str(data_dir),), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("clip.mp4: ")
    assert "item: None" in texts(at)
    assert not any((data_dir / "uploads").iterdir())
