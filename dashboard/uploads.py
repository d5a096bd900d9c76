"""Where uploaded and derived videos go: only inside the data folder, only under generated names."""

from __future__ import annotations

import uuid
from pathlib import Path

from dashboard.state import VIDEO_TYPES

UPLOADS = "uploads"
ANNOTATED = "annotated"


class UploadRejectedError(ValueError):
    """The upload cannot be accepted (its message is one sentence for the user)."""


def video_suffix(name: str) -> str:
    """The lower-case extension of an uploaded file name, if it is a video type we read."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in VIDEO_TYPES:
        raise UploadRejectedError(f"{name!r} is not a video this dashboard reads ({', '.join(VIDEO_TYPES)}).")
    return suffix


def save_upload(data_dir: Path, name: str, data: bytes) -> Path:
    """Write an uploaded file under a random name in ``data_dir/uploads`` (the user's name is never a path).

    Raises
    ------
    UploadRejectedError
        When the name has no video extension or the file is empty.
    """
    suffix = video_suffix(name)
    if not data:
        raise UploadRejectedError(f"{name!r} is empty.")
    from tracking.series import write_atomic

    path = data_dir / UPLOADS / f"{uuid.uuid4().hex}.{suffix}"
    write_atomic(path, data)
    return path


def annotated_path(data_dir: Path) -> Path:
    """A fresh generated path for an annotated video."""
    return data_dir / ANNOTATED / f"{uuid.uuid4().hex}.mp4"


def discard(path: Path, *, data_dir: Path) -> None:
    """Delete a file we wrote, refusing anything outside the data folder (e.g. a bundled sample)."""
    if path.resolve().is_relative_to(data_dir.resolve()):
        path.unlink(missing_ok=True)
