"""A local camera as a lazy frame generator (OpenCV), for scripts and desktop use.

The browser's live page gets its frames from WebRTC instead; this is the same ``(t, rgb)`` contract
as :func:`tracking.video.read_video`, with ``t`` from a monotonic clock since the first frame.
Frames are not mirrored (see the handedness note in :mod:`tracking.hands`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import cv2
import numpy as np

from tracking.video import UnusableInputError, frame_size_after


def read_camera(
    index: int = 0, *, max_side: int | None = 960, max_frames: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, rgb)`` from camera ``index`` until it stops delivering frames.

    Parameters
    ----------
    index
        OpenCV camera index (0 is the default camera).
    max_side
        Frames whose longer side exceeds this are downscaled to it (area interpolation).
    max_frames
        Stop after this many frames (None: until the camera stops or the consumer stops).

    Raises
    ------
    UnusableInputError
        On the first ``next()`` when there is no such camera or it delivers no frame.
    """
    cap = _open_quietly(index)
    try:
        if not cap.isOpened():
            raise UnusableInputError(f"no camera found at index {index}")
        ok, bgr = cap.read()
        if not ok or bgr is None:
            raise UnusableInputError(f"camera {index} did not deliver any frame")
        t0 = time.monotonic()
        n = 0
        while ok and bgr is not None:
            t = time.monotonic() - t0
            h, w = bgr.shape[:2]
            tw, th = frame_size_after(w, h, max_side=max_side)
            if (tw, th) != (w, h):
                bgr = cv2.resize(bgr, (tw, th), interpolation=cv2.INTER_AREA)
            yield t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            n += 1
            if max_frames is not None and n >= max_frames:
                return
            ok, bgr = cap.read()
    finally:
        cap.release()


def _open_quietly(index: int) -> cv2.VideoCapture:
    """Open the camera without OpenCV's own error lines on stderr (we raise a clear one instead)."""
    level = cv2.getLogLevel()
    cv2.setLogLevel(0)  # 0 = silent
    try:
        return cv2.VideoCapture(index)
    finally:
        cv2.setLogLevel(level)


__all__ = ["read_camera"]
