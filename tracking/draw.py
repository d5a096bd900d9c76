"""Overlays on RGB frames: the hand skeleton, a rep counter, a value and a gauge (OpenCV).

Every function draws **in place** on the ``(H, W, 3) uint8`` RGB array it is given and returns that
same array, so calls chain and a video writer pays no copy; pass ``frame.copy()`` to keep the
original. Colours are RGB tuples. Sizes scale with the frame, so overlays look the same at 480p
and 1080p.
"""

from __future__ import annotations

import math
from itertools import pairwise

import cv2
import numpy as np

from tracking.series import DIGIT_CHAINS, HAND_CONNECTIONS

RGB = tuple[int, int, int]

# One colour per digit (bones and joints), readable on skin and on most backgrounds.
DIGIT_COLORS: dict[str, RGB] = {
    "thumb": (255, 196, 0),
    "index": (0, 200, 255),
    "middle": (80, 255, 120),
    "ring": (255, 110, 200),
    "little": (180, 140, 255),
}
PALM_COLOR: RGB = (235, 235, 235)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _unit(frame: np.ndarray) -> float:
    """Drawing scale: 1.0 for a 640-pixel long side."""
    return max(frame.shape[:2]) / 640.0


def _bone_colors() -> dict[tuple[int, int], RGB]:
    colors: dict[tuple[int, int], RGB] = {}
    for digit, chain in DIGIT_CHAINS.items():
        # finger bones beyond the palm; the thumb's wrist->CMC bone is part of the thumb
        for a, b in pairwise(chain if digit == "thumb" else chain[1:]):
            colors[(a, b)] = DIGIT_COLORS[digit]
    return colors


_BONE_COLORS = _bone_colors()
_JOINT_COLORS: dict[int, RGB] = {j: DIGIT_COLORS[d] for d, chain in DIGIT_CHAINS.items() for j in chain[1:]}


def draw_hand(
    rgb: np.ndarray,
    image_landmarks: np.ndarray,
    *,
    color: RGB | None = None,
    thickness: int | None = None,
    radius: int | None = None,
) -> np.ndarray:
    """Draw the 21-landmark hand skeleton on ``rgb`` (in place) and return it.

    Parameters
    ----------
    rgb
        ``(H, W, 3) uint8`` frame.
    image_landmarks
        ``(21, 2)`` or ``(21, 3)`` normalized image coordinates (x, y in 0..1). Landmarks that are
        NaN are skipped, with the bones that touch them; an all-NaN hand draws nothing.
    color
        One colour for the whole hand; None colours each digit (palm bones in light grey).
    thickness, radius
        Bone width and joint radius in pixels; None scales them with the frame.
    """
    pts = np.asarray(image_landmarks, dtype=np.float64)[:, :2]
    h, w = rgb.shape[:2]
    unit = _unit(rgb)
    thickness = thickness or max(1, round(2 * unit))
    radius = radius or max(2, round(3 * unit))
    ok = np.isfinite(pts).all(axis=1)
    px = np.zeros((len(pts), 2), dtype=np.int64)
    px[ok] = np.round(pts[ok] * (w, h)).astype(np.int64)
    for a, b in HAND_CONNECTIONS:
        if ok[a] and ok[b]:
            c = color or _BONE_COLORS.get((a, b), PALM_COLOR)
            cv2.line(rgb, tuple(map(int, px[a])), tuple(map(int, px[b])), c, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        c = color or _JOINT_COLORS.get(int(j), PALM_COLOR)
        center = (int(px[j, 0]), int(px[j, 1]))
        cv2.circle(rgb, center, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)  # dark rim: visible on light skin
        cv2.circle(rgb, center, radius, c, -1, cv2.LINE_AA)
    return rgb


def put_text(
    rgb: np.ndarray,
    text: str,
    org: tuple[int, int],
    *,
    scale: float = 0.7,
    color: RGB = (255, 255, 255),
    background: RGB | None = (0, 0, 0),
    alpha: float = 0.6,
) -> np.ndarray:
    """Write ``text`` with its top-left corner at ``org`` (pixels), on a translucent box.

    ``scale`` is relative to a 640-pixel frame; ``background=None`` draws a dark outline instead.
    Returns ``rgb`` (drawn in place).
    """
    s = scale * _unit(rgb)
    thick = max(1, round(2 * s))
    (tw, th), base = cv2.getTextSize(text, _FONT, s, thick)
    x, y = org
    pad = max(2, round(6 * s))
    if background is not None:
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(rgb.shape[1], x + tw + pad), min(rgb.shape[0], y + th + base + pad)
        if x1 > x0 and y1 > y0:
            roi = rgb[y0:y1, x0:x1]
            box = np.empty_like(roi)
            box[:] = background
            cv2.addWeighted(box, alpha, roi, 1 - alpha, 0, dst=roi)
    else:
        cv2.putText(rgb, text, (x, y + th), _FONT, s, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(rgb, text, (x, y + th), _FONT, s, color, thick, cv2.LINE_AA)
    return rgb


def draw_counter(rgb: np.ndarray, count: int, *, label: str = "reps", flash: bool = False) -> np.ndarray:
    """Big rep counter in the top-left corner (``flash`` highlights the frame a rep completes)."""
    u = _unit(rgb)
    color: RGB = (255, 230, 0) if flash else (255, 255, 255)
    put_text(rgb, f"{count} {label}", (round(12 * u), round(12 * u)), scale=1.1, color=color)
    return rgb


def draw_value(rgb: np.ndarray, value: float, *, label: str = "", unit: str = "") -> np.ndarray:
    """The current value (e.g. ``"Wrist angle: 42°"``) under the counter; '–' when NaN."""
    shown = "-"
    if math.isfinite(value):
        shown = f"{value:.0f} deg" if unit == "deg" else f"{value:.2f}"
    text = f"{label}: {shown}" if label else shown
    u = _unit(rgb)
    put_text(rgb, text, (round(12 * u), round(62 * u)), scale=0.7)
    return rgb


def draw_gauge(
    rgb: np.ndarray,
    value: float,
    *,
    lo: float,
    hi: float,
    target: float | None = None,
    color: RGB = (80, 220, 120),
) -> np.ndarray:
    """A horizontal bar along the bottom edge: ``value`` between ``lo`` and ``hi``, a tick at ``target``."""
    h, w = rgb.shape[:2]
    u = _unit(rgb)
    x0, x1 = round(20 * u), w - round(20 * u)
    y1 = h - round(16 * u)
    y0 = y1 - round(14 * u)
    cv2.rectangle(rgb, (x0, y0), (x1, y1), (40, 40, 40), -1)
    span = hi - lo if hi != lo else 1.0
    if math.isfinite(value):
        frac = min(1.0, max(0.0, (value - lo) / span))
        cv2.rectangle(rgb, (x0, y0), (x0 + round(frac * (x1 - x0)), y1), color, -1)
    if target is not None and math.isfinite(target):
        xt = x0 + round(min(1.0, max(0.0, (target - lo) / span)) * (x1 - x0))
        cv2.line(rgb, (xt, y0 - round(4 * u)), (xt, y1 + round(4 * u)), (255, 255, 255), max(1, round(2 * u)))
    cv2.rectangle(rgb, (x0, y0), (x1, y1), (255, 255, 255), 1)
    return rgb


__all__ = ["DIGIT_COLORS", "draw_counter", "draw_gauge", "draw_hand", "draw_value", "put_text"]
