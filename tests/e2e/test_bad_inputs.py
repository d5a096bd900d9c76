"""Bad uploads in a real browser: the Score page says what is wrong and keeps working."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .e2e_support import Clip, Server, screenshot, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def choose_exercise(page: Any, option: str) -> None:
    box = page.get_by_role("combobox", name="Exercise").first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    wait_for_app(page)


def test_a_text_named_mp4_is_refused_and_the_next_upload_scores(page: Any, server: Server, tapping_clip: Clip) -> None:
    page.goto(f"{server.url}/score")
    wait_for_app(page)
    choose_exercise(page, "Finger tapping")
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    # The name a browser sends is the sender's text: here a path out of the data folder, for a text file.
    uploader.set_input_files(
        {"name": "../../../tmp/notes from the phone.mp4", "mimeType": "video/mp4", "buffer": b"not a video\n" * 200}
    )
    page.get_by_test_id("stFileChip").first.wait_for()  # uploaded (its long name is shortened on the chip)
    page.get_by_role("button", name="Score", exact=True).click()
    alert = page.get_by_test_id("stAlert").filter(has_text="not a video file")
    alert.first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert re.search(r"notes from the phone\.mp4", alert.first.inner_text())
    assert page.get_by_test_id("stException").count() == 0  # a message, never a traceback
    screenshot(page, "bad_upload_refused")
    uploads = server.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # the refused upload is not kept
    assert not list(server.data_dir.rglob("notes*")) and not Path("/tmp/notes from the phone.mp4").exists()

    # The page still works: the sample clip, uploaded next, is scored.
    page.get_by_role("button", name=re.compile(r"^Remove .*notes from the phone\.mp4")).click()
    wait_for_app(page)
    uploader.set_input_files(str(tapping_clip.path))
    page.get_by_text(tapping_clip.path.name).wait_for()
    page.get_by_role("button", name="Score", exact=True).click()
    reps = page.get_by_test_id("stMetric").filter(has_text="Repetitions").first
    reps.wait_for(timeout=120_000)
    assert reps.get_by_test_id("stMetricValue").inner_text().strip() == str(tapping_clip.rep_count)
    assert page.get_by_test_id("stAlert").filter(has_text="not a video file").count() == 0
