"""Plain words for the patient in front of the camera: is the picture usable before anything is counted.

These are camera-framing checks of the live page (brightness, hand in view, hand size), not
measurements of the exercise; the exercise's own prompt comes from its live detector.
"""

from __future__ import annotations

import numpy as np

from tracking.series import MIDDLE_MCP, WRIST

NO_HAND = "Move your hand into view"
TOO_DARK = "Too dark: turn on a light or face a window"
TOO_FAR = "Hand too far: come closer to the camera"


def mean_brightness(rgb: np.ndarray, *, step: int = 8) -> float:
    """Mean luma (0-255) of an RGB frame, read on a sparse grid (cheap enough for every frame)."""
    sample = np.asarray(rgb[::step, ::step, :3], dtype=np.float32)
    return float((sample @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean())


def hand_size(image: np.ndarray, *, width: int, height: int) -> float:
    """Wrist to middle-finger knuckle as a fraction of the frame's long side (aspect-corrected)."""
    d = (image[MIDDLE_MCP, :2] - image[WRIST, :2]) * np.array([width, height], float)
    return float(np.hypot(d[0], d[1]) / max(width, height))


def framing_prompt(
    rgb: np.ndarray,
    image: np.ndarray | None,
    *,
    dark_threshold: float,
    min_hand_size: float,
) -> str | None:
    """The most useful framing instruction for this frame, or None when the picture is fine.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
        The camera frame.
    image : (21, 3) array or None
        The tracked hand's normalized image landmarks (None when no hand was found).
    dark_threshold : float
        Mean brightness under which the frame is too dark to track reliably.
    min_hand_size : float
        Hand size (see :func:`hand_size`) under which the hand is too far away.
    """
    if mean_brightness(rgb) < dark_threshold:
        return TOO_DARK
    if image is None or not np.isfinite(image[[WRIST, MIDDLE_MCP], :2]).all():
        return NO_HAND
    if hand_size(image, width=rgb.shape[1], height=rgb.shape[0]) < min_hand_size:
        return TOO_FAR
    return None
