from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.uploads import UploadRejectedError, annotated_path, discard, save_upload


def test_upload_is_written_inside_the_data_folder_under_a_generated_name(tmp_path: Path) -> None:
    path = save_upload(tmp_path, "../../etc/Patient Jane Doe.MP4", b"\x00\x01video")
    assert path.parent == tmp_path / "uploads"
    assert path.suffix == ".mp4"
    assert "Jane" not in path.name and len(path.stem) == 32
    assert path.read_bytes() == b"\x00\x01video"


@pytest.mark.parametrize(("name", "data"), [("notes.txt", b"x"), ("clip", b"x"), ("clip.mp4", b"")])
def test_rejected_uploads(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(UploadRejectedError):
        save_upload(tmp_path, name, data)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_discard_never_deletes_outside_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    inside = save_upload(data, "a.mp4", b"x")
    outside = tmp_path / "sample.mp4"
    outside.write_bytes(b"x")
    discard(inside, data_dir=data)
    discard(outside, data_dir=data)
    assert not inside.exists()
    assert outside.exists()


def test_annotated_paths_are_fresh(tmp_path: Path) -> None:
    a, b = annotated_path(tmp_path), annotated_path(tmp_path)
    assert a != b and a.suffix == ".mp4" and a.is_relative_to(tmp_path)
