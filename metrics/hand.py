"""Hand-size normalisation: distances between landmarks expressed in palm lengths.

Palm length is the wrist → middle-finger MCP distance (about 9-10 cm on an adult hand). Dividing a
distance by it makes the measure independent of camera distance and of the person's hand size.

Image landmarks are normalized to the frame's width and height; :func:`image_to_pixels` puts them on
one isotropic pixel scale first (x·W, y·H, z·W — MediaPipe's image z uses the scale of x), so that a
distance does not depend on its direction in a non-square frame.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from tracking.series import MIDDLE_MCP, WRIST

__all__ = [
    "CausalMedian",
    "causal_median",
    "image_to_pixels",
    "landmark_distance",
    "palm_length",
]


def image_to_pixels(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalized image landmarks (..., 21, 3) to isotropic pixel units (x·W, y·H, z·W)."""
    scale = np.array([width, height, width], float)
    return np.asarray(image, float) * scale


def landmark_distance(points: np.ndarray, a: int, b: int, *, dims: int = 3) -> np.ndarray:
    """Euclidean distance between landmarks ``a`` and ``b`` of ``points`` (..., 21, 3).

    ``dims=2`` ignores the third coordinate (depth). NaN where either landmark is NaN.
    """
    p = np.asarray(points, float)
    return np.linalg.norm(p[..., a, :dims] - p[..., b, :dims], axis=-1)


def palm_length(points: np.ndarray, *, dims: int = 3) -> np.ndarray:
    """Wrist → middle MCP distance of ``points`` (..., 21, 3), in the units of ``points``."""
    return landmark_distance(points, WRIST, MIDDLE_MCP, dims=dims)


class CausalMedian:
    """Median of the finite values seen in the last ``window_s`` seconds (a robust, causal running value).

    Used to normalise by palm length: a palm does not change size within half a second, so the running
    median ignores the frames where blur or occlusion put the wrist or the MCP in the wrong place,
    while still following a hand that moves toward or away from the camera.
    """

    def __init__(self, *, window_s: float = 0.5) -> None:
        self.window_s = window_s
        self._buf: deque[tuple[float, float]] = deque()

    def update(self, t: float, value: float) -> float:
        """Add ``value`` (NaN = no observation) taken at ``t``; return the current median (NaN if none)."""
        if math.isfinite(value):
            self._buf.append((t, value))
        while self._buf and self._buf[0][0] < t - self.window_s:
            self._buf.popleft()
        if not self._buf:
            return math.nan
        return float(np.median([v for _, v in self._buf]))


def causal_median(t: np.ndarray, values: np.ndarray, *, window_s: float = 0.5) -> np.ndarray:
    """:class:`CausalMedian` over a whole series (identical to feeding it frame by frame)."""
    m = CausalMedian(window_s=window_s)
    return np.array([m.update(float(ti), float(vi)) for ti, vi in zip(t, values, strict=True)])
