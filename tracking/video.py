"""Video files and cameras as lazy frame generators (the I/O edge of tracking)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class UnusableInputError(ValueError):
    """The input cannot be used at all (missing, empty, not a video, no frames, unreadable).

    The message is one plain sentence for the user; the CLI prints it after ``error:`` and exits 2.
    """


@dataclass(frozen=True)
class VideoInfo:
    """What the result JSON reports about the source video (the ``video`` object of schema 1)."""

    path: str
    fps: float
    frames: int
    duration_s: float
    width: int  # of the upright (rotation-corrected) frames
    height: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
