"""Hostile upload names and sizes: nothing is written outside the data folder, nor under the sender's name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dashboard.uploads import UploadRejectedError, save_upload, shown_name

HOSTILE = [
    "../../../../tmp/evil.mp4",
    "/etc/cron.daily/evil.mp4",
    "..\\..\\Windows\\System32\\evil.MP4",
    "clip\x00.mp4",
    "séance 1 · 手 🎥.mov",
    "x" * 5000 + ".mp4",
    "\u202eevil\u202d.mp4",  # right-to-left override: the name would read backwards
    "clip.mp4/",
]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_is_only_an_extension(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    path = save_upload(data, name, b"\x00\x00\x00\x18ftypmp42")
    assert re.fullmatch(r"[0-9a-f]{32}\.(mp4|mov)", path.name)
    assert path.parent == data / "uploads" and path.resolve().is_relative_to(data.resolve())
    assert files_under(tmp_path) == [path]  # nothing anywhere else, not even a folder's worth of ../
    assert path.read_bytes() == b"\x00\x00\x00\x18ftypmp42"
    assert not Path("/tmp/evil.mp4").exists()


@pytest.mark.parametrize("name", ["evil.sh", "clip.mp4\x00.sh", "../../.bashrc", "clip.mp4/../run.py", ".mp4", ""])
def test_a_name_without_a_video_extension_is_refused_in_one_clean_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(UploadRejectedError) as raised:
        save_upload(tmp_path, name, b"data")
    message = str(raised.value)
    assert "is not a video this dashboard reads (mp4, mov" in message
    assert not any(c in message for c in "\x00\n\r") and "/" not in message.split(" is not")[0]
    assert files_under(tmp_path) == []


def test_an_upload_over_the_limit_is_refused_with_the_limit_in_the_message(tmp_path: Path) -> None:
    limit = 2 << 20  # 2 MB
    with pytest.raises(UploadRejectedError) as raised:
        save_upload(tmp_path, "../big.mp4", os.urandom(limit + 300_000), max_bytes=limit)
    assert str(raised.value) == "'big.mp4' is 2.3 MB, over the limit of 2 MB per file."
    assert files_under(tmp_path) == []
    exactly = save_upload(tmp_path, "ok.mp4", b"v" * limit, max_bytes=limit)  # the limit itself is allowed
    assert exactly.stat().st_size == limit


def test_shown_names_are_safe_to_print() -> None:
    assert shown_name("../../etc/passwd.mp4") == "passwd.mp4"
    assert shown_name("C:\\Users\\ann\\clip.mov") == "clip.mov"
    assert shown_name("a\x00b\nc\u202e.mp4") == "a?b?c?.mp4"
    long = shown_name("y" * 1000 + ".mp4")
    assert len(long) == 80 and long.endswith("…")
