from __future__ import annotations

import numpy as np

from dashboard.guidance import NO_HAND, TOO_DARK, TOO_FAR, framing_prompt, hand_size, mean_brightness
from tracking.series import MIDDLE_MCP, WRIST


def _hand(size: float) -> np.ndarray:
    """Normalized landmarks with wrist-to-middle-knuckle ``size`` of the (square) frame, vertical."""
    image = np.full((21, 3), 0.5)
    image[WRIST, :2] = (0.5, 0.7)
    image[MIDDLE_MCP, :2] = (0.5, 0.7 - size)
    return image


def test_brightness() -> None:
    assert mean_brightness(np.zeros((48, 64, 3), np.uint8)) == 0
    assert abs(mean_brightness(np.full((48, 64, 3), 200, np.uint8)) - 200) < 1e-3


def test_hand_size_is_aspect_corrected() -> None:
    image = np.full((21, 3), 0.5)
    image[WRIST, :2] = (0.4, 0.5)
    image[MIDDLE_MCP, :2] = (0.6, 0.5)  # 0.2 of the width = 128 px of a 640-wide frame
    assert abs(hand_size(image, width=640, height=480) - 0.2) < 1e-9
    image[MIDDLE_MCP, :2] = (0.4, 0.7)  # 0.2 of the height = 96 px
    assert abs(hand_size(image, width=640, height=480) - 96 / 640) < 1e-9


def test_prompts_in_order_of_importance() -> None:
    bright = np.full((100, 100, 3), 150, np.uint8)
    dark = np.full((100, 100, 3), 10, np.uint8)
    kw = {"dark_threshold": 40.0, "min_hand_size": 0.06}
    assert framing_prompt(dark, _hand(0.2), **kw) == TOO_DARK
    assert framing_prompt(bright, None, **kw) == NO_HAND
    assert framing_prompt(bright, _hand(0.03), **kw) == TOO_FAR
    assert framing_prompt(bright, _hand(0.2), **kw) is None
    nan_hand = _hand(0.2)
    nan_hand[WRIST] = np.nan
    assert framing_prompt(bright, nan_hand, **kw) == NO_HAND
