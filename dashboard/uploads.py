"""Where uploaded and derived videos go: only inside the data folder, only under generated names.

The name a browser sends with an upload is the user's (or an attacker's) text: it may hold ``../``, an
absolute path, NUL or other control characters, or be very long. It is used for two things only: its
extension, checked against the video types we read, and, cleaned by :func:`shown_name`, in messages.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import Path

from dashboard.state import VIDEO_TYPES

UPLOADS = "uploads"
ANNOTATED = "annotated"


class UploadRejectedError(ValueError):
    """The upload cannot be accepted (its message is one sentence for the user)."""


def shown_name(name: str, *, limit: int = 80) -> str:
    """An uploaded file's name as it is safe to show: its last part, control characters as '?', shortened."""
    base = re.split(r"[\\/]", name)[-1] or name
    clean = "".join("?" if unicodedata.category(c).startswith("C") else c for c in base)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def video_suffix(name: str) -> str:
    """The lower-case extension of an uploaded file name, if it is a video type we read."""
    suffix = Path(name.replace("\0", "")).suffix.lower().lstrip(".")
    if suffix not in VIDEO_TYPES:
        raise UploadRejectedError(
            f"'{shown_name(name)}' is not a video this dashboard reads ({', '.join(VIDEO_TYPES)})."
        )
    return suffix


def save_upload(data_dir: Path, name: str, data: bytes, *, max_bytes: int | None = None) -> Path:
    """Write an uploaded file under a random name in ``data_dir/uploads`` (the user's name is never a path).

    Parameters
    ----------
    data_dir : Path
        The data folder; the file goes into its ``uploads`` folder.
    name : str
        The name the browser sent: only its extension is used.
    data : bytes
        The file's contents.
    max_bytes : int, optional
        Refuse files larger than this (the upload limit); None: no limit.

    Raises
    ------
    UploadRejectedError
        When the name has no video extension, or the file is empty or over ``max_bytes``.
    """
    suffix = video_suffix(name)
    if not data:
        raise UploadRejectedError(f"'{shown_name(name)}' is empty.")
    if max_bytes is not None and len(data) > max_bytes:
        raise UploadRejectedError(
            f"'{shown_name(name)}' is {_megabytes(len(data))}, over the limit of {_megabytes(max_bytes)} per file."
        )
    from tracking.series import write_atomic

    path = data_dir / UPLOADS / f"{uuid.uuid4().hex}.{suffix}"
    write_atomic(path, data)
    return path


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"


def annotated_path(data_dir: Path) -> Path:
    """A fresh generated path for an annotated video."""
    return data_dir / ANNOTATED / f"{uuid.uuid4().hex}.mp4"


def discard(path: Path, *, data_dir: Path) -> None:
    """Delete a file we wrote, refusing anything outside the data folder (e.g. a bundled sample)."""
    if path.resolve().is_relative_to(data_dir.resolve()):
        path.unlink(missing_ok=True)
