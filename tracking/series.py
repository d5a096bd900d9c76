"""The landmark time series every exercise reads: one hand, one video, NaN where the hand was lost."""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

Handedness = Literal["left", "right"]

N_LANDMARKS = 21
# MediaPipe hand landmark order.
WRIST = 0
THUMB_CMC, THUMB_MCP, THUMB_IP, THUMB_TIP = 1, 2, 3, 4
INDEX_MCP, INDEX_PIP, INDEX_DIP, INDEX_TIP = 5, 6, 7, 8
MIDDLE_MCP, MIDDLE_PIP, MIDDLE_DIP, MIDDLE_TIP = 9, 10, 11, 12
RING_MCP, RING_PIP, RING_DIP, RING_TIP = 13, 14, 15, 16
PINKY_MCP, PINKY_PIP, PINKY_DIP, PINKY_TIP = 17, 18, 19, 20

FINGERS = ("index", "middle", "ring", "little")
# Landmark chain per digit, base to tip (the thumb starts at the wrist: CMC is its first joint).
DIGIT_CHAINS: dict[str, tuple[int, ...]] = {
    "thumb": (WRIST, THUMB_CMC, THUMB_MCP, THUMB_IP, THUMB_TIP),
    "index": (WRIST, INDEX_MCP, INDEX_PIP, INDEX_DIP, INDEX_TIP),
    "middle": (WRIST, MIDDLE_MCP, MIDDLE_PIP, MIDDLE_DIP, MIDDLE_TIP),
    "ring": (WRIST, RING_MCP, RING_PIP, RING_DIP, RING_TIP),
    "little": (WRIST, PINKY_MCP, PINKY_PIP, PINKY_DIP, PINKY_TIP),
}
FINGERTIPS = {"thumb": THUMB_TIP, "index": INDEX_TIP, "middle": MIDDLE_TIP, "ring": RING_TIP, "little": PINKY_TIP}
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

_ARRAYS = ("t", "image", "world", "present", "score", "forearm")


@dataclass(frozen=True)
class LandmarkSeries:
    """Landmarks of one hand over a video.

    Attributes
    ----------
    t : (T,) float64
        Seconds from the video's own frame timestamps (variable frame rate is kept).
    image : (T, 21, 3) float64
        Normalized image coordinates (x, y in 0..1 of width/height, z relative depth).
    world : (T, 21, 3) float64
        MediaPipe world landmarks in metres, origin near the hand's centre, camera-aligned axes.
    present : (T,) bool
        False where the hand was not tracked; ``image``/``world`` are NaN there. Frames are never dropped.
    score : (T,) float64
        Detection confidence (0 where absent).
    handedness : 'left' or 'right'
        The anatomical hand of the person (see ``tracking.hands`` for the mirroring convention).
    width, height : int
        Frame size in pixels of the analysed (upright) video.
    forearm : (T, 3) float64 or None
        Unit vector elbow -> wrist in the same camera-aligned axes as ``world`` (from MediaPipe Pose),
        NaN where the elbow was not visible; None when pose was not run.
    """

    t: np.ndarray
    image: np.ndarray
    world: np.ndarray
    present: np.ndarray
    score: np.ndarray
    handedness: Handedness
    width: int
    height: int
    forearm: np.ndarray | None = None
    meta: dict[str, str | float | int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.t)
        if self.image.shape != (n, N_LANDMARKS, 3) or self.world.shape != (n, N_LANDMARKS, 3):
            raise ValueError(f"landmark arrays must be ({n}, 21, 3), got {self.image.shape} and {self.world.shape}")
        if self.present.shape != (n,) or self.score.shape != (n,):
            raise ValueError("present and score must have one value per frame")
        if self.forearm is not None and self.forearm.shape != (n, 3):
            raise ValueError("forearm must be (T, 3)")
        if self.handedness not in ("left", "right"):
            raise ValueError(f"handedness must be 'left' or 'right', not {self.handedness!r}")

    def __len__(self) -> int:
        return len(self.t)

    @property
    def detection_rate(self) -> float:
        return float(self.present.mean()) if len(self) else 0.0

    @property
    def fps(self) -> float:
        """Median frame rate from the timestamps (robust to variable frame rate)."""
        if len(self) < 2:
            return 0.0
        dt = np.diff(self.t)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if len(dt) else 0.0

    def with_(self, **changes: object) -> LandmarkSeries:
        return replace(self, **changes)  # type: ignore[arg-type]

    def slice(self, start: int, stop: int) -> LandmarkSeries:
        fa = None if self.forearm is None else self.forearm[start:stop]
        return replace(
            self,
            t=self.t[start:stop],
            image=self.image[start:stop],
            world=self.world[start:stop],
            present=self.present[start:stop],
            score=self.score[start:stop],
            forearm=fa,
        )

    @classmethod
    def empty(cls, handedness: Handedness = "right", width: int = 0, height: int = 0) -> LandmarkSeries:
        return cls(
            t=np.zeros(0),
            image=np.zeros((0, N_LANDMARKS, 3)),
            world=np.zeros((0, N_LANDMARKS, 3)),
            present=np.zeros(0, bool),
            score=np.zeros(0),
            handedness=handedness,
            width=width,
            height=height,
        )

    # -- persistence -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Lossless compressed ``.npz`` bytes (used by files and by the store)."""
        buf = io.BytesIO()
        arrays = {k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}
        header = {"handedness": self.handedness, "width": self.width, "height": self.height, "meta": self.meta}
        np.savez_compressed(buf, header=np.array(json.dumps(header)), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LandmarkSeries:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            fa = z["forearm"] if "forearm" in z.files else None
            return cls(
                t=z["t"],
                image=z["image"],
                world=z["world"],
                present=z["present"].astype(bool),
                score=z["score"],
                handedness=header["handedness"],
                width=int(header["width"]),
                height=int(header["height"]),
                forearm=fa,
                meta=header.get("meta", {}),
            )


def save_series(series: LandmarkSeries, path: str | os.PathLike[str]) -> Path:
    """Write ``series`` to ``path`` (.npz) atomically: a reader never sees a half-written file."""
    path = Path(path)
    write_atomic(path, series.to_bytes())
    return path


def load_series(path: str | os.PathLike[str]) -> LandmarkSeries:
    return LandmarkSeries.from_bytes(Path(path).read_bytes())


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (mkstemp's 0600 would hide results from their owner's tools)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
