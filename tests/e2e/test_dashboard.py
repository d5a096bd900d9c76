"""The dashboard in a real browser: headless Chromium with a fake camera against ``streamlit run app.py``.

Each test opens its own tab (its own Streamlit session) on one shared server; screenshots of every
page go to ``tests/e2e/screenshots/``.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import expect

from .e2e_support import LEAD_IN_S, Clip, Server, run_dashboard, screenshot, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PATIENT_ID = "e2e-01"


def sidebar_add_patient(page: Any, *, name: str, patient_id: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    patient = sidebar.get_by_role("combobox", name="Patient")
    if patient.count() and patient.input_value() == f"{name} ({patient_id})":
        return
    details = sidebar.locator("details").filter(has_text="Add a patient")
    if not details.evaluate("el => el.open"):
        details.locator("summary").click()
    name_box = sidebar.get_by_role("textbox", name="Display name or pseudonym")
    name_box.fill(name)
    sidebar.get_by_role("textbox", name="Patient id (optional)").fill(patient_id)
    sidebar.get_by_role("button", name="Add patient").click()
    expect(sidebar.get_by_role("combobox", name="Patient")).to_have_value(f"{name} ({patient_id})")
    wait_for_app(page)


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    box = page.get_by_role("combobox", name=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    wait_for_app(page)


def metric_value(page: Any, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return str(metric.get_by_test_id("stMetricValue").inner_text()).strip()


def download(page: Any, name: str) -> bytes:
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=name).first.click()
    path = info.value.path()
    return Path(path).read_bytes()


def wait_until(condition: Any, *, timeout_s: float = 20.0) -> bool:
    """Poll ``condition()`` until it is true (the page's rerun may still be finishing)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def saved_settings(server: Server) -> dict[str, Any]:
    try:
        return dict(json.loads((server.data_dir / "settings.json").read_text()))
    except (OSError, ValueError):
        return {}


def open_store(server: Server) -> Any:
    from sessions.store import open_store as _open

    return _open(f"sqlite:///{server.data_dir / 'handrehab.db'}")


def test_score_a_recording_correct_it_and_download_everything(page: Any, server: Server, tapping_clip: Clip) -> None:
    page.goto(f"{server.url}/score")
    wait_for_app(page)
    sidebar_add_patient(page, name="E2E Patient", patient_id=PATIENT_ID)
    assert page.get_by_text("Up to 500 MB per file").is_visible()
    choose(page, "Exercise", "Finger tapping")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(tapping_clip.path))
    page.get_by_text(tapping_clip.path.name).wait_for()
    started = time.monotonic()
    page.get_by_role("button", name="Score", exact=True).click()
    page.get_by_test_id("stMetric").filter(has_text="Repetitions").first.wait_for(timeout=120_000)
    elapsed = time.monotonic() - started
    print(f"scoring: results after {elapsed:.1f} s for a {tapping_clip.duration_s:.1f} s clip")
    assert metric_value(page, "Repetitions") == str(tapping_clip.rep_count)

    # The annotated video is drawn after the numbers are shown, then plays in the page (H.264 in Chromium).
    video = page.locator("[data-testid='stVideo']").first
    video.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=\"stVideo\"]'); return v && v.readyState >= 1 }",
        timeout=30_000,
    )
    duration = page.evaluate("() => document.querySelector('[data-testid=\"stVideo\"]').duration")
    assert abs(duration - tapping_clip.duration_s) < 0.5
    wait_for_app(page)
    screenshot(page, "2_score_results")

    doc = json.loads(download(page, "Download JSON"))
    assert doc["schema"] == 1 and doc["rep_count"] == tapping_clip.rep_count
    reps = pd.read_csv(io.BytesIO(download(page, "Download CSV (one row per rep)")))
    assert len(reps) == tapping_clip.rep_count and {"start_s", "end_s", "peak_s"} <= set(reps.columns)
    pdf = download(page, "Download PDF report")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1
    metrics_before = doc["metrics"]

    # A therapist rejects the first rep: the count and metrics are recomputed and saved as a new version.
    reject = page.get_by_test_id("stMultiSelect").filter(has_text="Reject repetitions")
    reject.click()
    page.get_by_role("option", name="1", exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    page.get_by_role("button", name="Re-score with these corrections").click()
    page.get_by_text(re.compile(r"Saved as version 2 of session \d+")).wait_for(timeout=60_000)
    assert metric_value(page, "Repetitions") == str(tapping_clip.rep_count - 1)
    corrected = json.loads(download(page, "Download JSON"))
    assert corrected["rep_count"] == tapping_clip.rep_count - 1
    assert corrected["metrics"] != metrics_before
    store = open_store(server)
    (info,) = store.list_sessions(patient_id=PATIENT_ID)
    assert info.current_version == 2 and info.rep_count == tapping_clip.rep_count - 1
    assert [v.kind for v in store.versions(info.id)] == ["original", "corrected"]
    assert not any((server.data_dir / "uploads").glob("*")), "the raw upload must be deleted after scoring"
    screenshot(page, "2_score_corrected")

    # Progress: seed an older session so there is a first-vs-latest comparison, then open the page.
    first = store.get_session(info.id, version=1).result
    store.save_session(first, patient_id=PATIENT_ID, recorded_at=datetime.now(UTC) - timedelta(days=7))
    page.get_by_test_id("stSidebarNav").get_by_text("Progress").click()
    page.get_by_text("Latest compared with the first session").wait_for()
    wait_for_app(page)
    assert page.get_by_text("2 session(s) of Finger tapping").is_visible()
    assert page.locator(".js-plotly-plot").count() >= 3
    screenshot(page, "3_progress")
    # Checked last so that a slow machine still gets every other check of the flow.
    assert elapsed < 2 * tapping_clip.duration_s, f"results took {elapsed:.1f} s for a {tapping_clip.duration_s} s clip"


def test_sample_works_without_a_camera(page: Any, server: Server, tapping_clip: Clip) -> None:
    page.goto(f"{server.url}/samples")
    wait_for_app(page)
    choose(page, "Sample", tapping_clip.path.name)
    page.get_by_role("button", name="Score this sample").click()
    page.get_by_test_id("stMetric").filter(has_text="Repetitions").nth(1).wait_for(timeout=120_000)
    assert metric_value(page, "True repetitions") == str(tapping_clip.rep_count)
    assert page.get_by_test_id("stMetric").filter(has_text="Repetitions").nth(1).get_by_test_id(
        "stMetricValue"
    ).inner_text() == str(tapping_clip.rep_count)
    page.locator("[data-testid='stVideo']").nth(1).wait_for(timeout=120_000)
    wait_for_app(page)
    assert tapping_clip.path.exists(), "a bundled sample must never be deleted"
    screenshot(page, "4_samples")


def test_settings_are_saved(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/settings")
    wait_for_app(page)
    keep = page.get_by_role("switch", name="Keep raw videos after scoring")
    expect(keep).not_to_be_checked()  # privacy by default
    for wanted in (True, False):
        page.get_by_text("Keep raw videos after scoring", exact=True).click()
        expect(keep).to_be_checked(checked=wanted)
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for()
        assert wait_until(lambda want=wanted: saved_settings(server).get("keep_raw_video") is want)
        if wanted:
            screenshot(page, "5_settings")


def test_live_counter_counts_every_tap_once(page: Any, server: Server, tapping_clip: Clip) -> None:
    page.goto(server.url)
    wait_for_app(page)
    reps_box = page.get_by_test_id("stNumberInput").filter(has_text="Repetitions").locator("input")
    reps_box.fill(str(tapping_clip.rep_count))
    reps_box.press("Enter")
    wait_for_app(page)
    start = page.frame_locator("iframe[title*='webrtc']").get_by_role("button", name="START")
    start.click()
    # The clip starts at most LEAD_IN_S after the first frame is analysed (the camera file plays from START).
    page.get_by_text("frames/s analysed").wait_for(timeout=60_000)
    deadline = time.monotonic() + LEAD_IN_S + tapping_clip.duration_s + 2.0
    counts: list[int] = []
    counter = page.locator("#rep-counter")
    while time.monotonic() < deadline:
        counts.append(int(counter.get_attribute("data-count") or 0))
        if counts[-1] >= tapping_clip.rep_count:
            break
        time.sleep(0.2)
    budget = LEAD_IN_S + tapping_clip.duration_s + 2.0
    print(f"live: {counts[-1]} after {budget - (deadline - time.monotonic()):.1f} s of a {budget:.1f} s budget")
    assert counts and counts[-1] == tapping_clip.rep_count, f"counter went {counts}"
    assert counts == sorted(counts)
    screenshot(page, "1_live_counting")
    # The held last frame: nothing more is counted, and the set ends with its summary.
    time.sleep(2.0)
    assert int(counter.get_attribute("data-count") or 0) == tapping_clip.rep_count
    page.get_by_text("Set complete").wait_for(timeout=30_000)
    assert page.get_by_text(f"{tapping_clip.rep_count} repetitions in").is_visible()
    screenshot(page, "1_live_summary")
    page.frame_locator("iframe[title*='webrtc']").get_by_role("button", name="STOP").click()


def test_password_login_before_any_patient_data(page: Any, tmp_path: Path) -> None:
    with run_dashboard(tmp_path / "data", password="correct horse") as locked:
        page.goto(locked.url)
        wait_for_app(page)
        assert page.get_by_text("Log in to see patient data.").is_visible()
        assert not page.get_by_test_id("stSidebarNav").count()  # no pages, no patients
        screenshot(page, "0_login")
        page.get_by_role("textbox", name="Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Wrong password.").wait_for()
        page.get_by_role("textbox", name="Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Live exercise").wait_for()
        assert page.get_by_test_id("stSidebarNav").is_visible()
