"""tracking.draw: overlays land where the landmarks are, in place, and tolerate missing points."""

from __future__ import annotations

import numpy as np

from tracking.draw import DIGIT_COLORS, draw_counter, draw_gauge, draw_hand, draw_value, put_text


def straight_hand() -> np.ndarray:
    """Wrist at the bottom centre, five straight digits fanning upwards (normalized coordinates)."""
    lm = np.zeros((21, 3))
    lm[0, :2] = (0.5, 0.9)
    for d, x in enumerate((0.3, 0.4, 0.5, 0.6, 0.7)):
        for k in range(4):
            lm[1 + 4 * d + k, :2] = (0.5 + (x - 0.5) * (k + 1) / 4, 0.8 - 0.15 * k)
    return lm


def test_draw_hand_draws_in_place_at_the_landmarks() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    out = draw_hand(frame, straight_hand())
    assert out is frame
    drawn = frame.any(axis=2)
    # every landmark's pixel is covered; the far corners are not
    for x, y in straight_hand()[:, :2]:
        assert drawn[round(y * 240), round(x * 320)]
    assert not drawn[:10, :10].any() and not drawn[:10, -10:].any()
    # the index fingertip joint has the index colour
    x, y = straight_hand()[8, :2]
    assert tuple(frame[round(y * 240), round(x * 320)]) == DIGIT_COLORS["index"]


def test_draw_hand_skips_missing_landmarks() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    lm = straight_hand()
    lm[9:13] = np.nan  # middle finger lost
    draw_hand(frame, lm)
    x, y = straight_hand()[12, :2]
    assert not frame[round(y * 100) - 1 : round(y * 100) + 2, round(x * 100) - 1 : round(x * 100) + 2].any()
    empty = np.zeros((50, 50, 3), np.uint8)
    draw_hand(empty, np.full((21, 3), np.nan))
    assert not empty.any()


def test_one_colour_option() -> None:
    frame = np.zeros((120, 120, 3), np.uint8)
    draw_hand(frame, straight_hand()[:, :2], color=(255, 0, 0))
    x, y = straight_hand()[16, :2]
    assert tuple(frame[round(y * 120), round(x * 120)]) == (255, 0, 0)


def test_text_helpers_draw_in_the_top_left_and_scale_with_the_frame() -> None:
    small = np.full((240, 320, 3), 128, np.uint8)
    big = np.full((1080, 1920, 3), 128, np.uint8)
    for frame in (small, big):
        assert draw_counter(frame, 7) is frame
        draw_value(frame, 42.4, label="Wrist", unit="deg")
        changed = np.argwhere((frame != 128).any(axis=2))
        h, w = frame.shape[:2]
        assert changed[:, 0].max() < h / 2 and changed[:, 1].max() < w / 2
    area = lambda f: (f != 128).any(axis=2).mean()  # noqa: E731
    assert abs(area(small) - area(big)) < 0.05  # same look at both sizes


def test_put_text_without_background_and_nan_value() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    put_text(frame, "hi", (10, 10), background=None)
    assert frame.any()
    before = np.zeros((100, 200, 3), np.uint8)
    draw_value(before, float("nan"), label="x")
    assert before.any()  # shows '-' rather than 'nan' or nothing


def test_gauge_fills_in_proportion() -> None:
    def filled(value: float) -> float:
        frame = np.zeros((200, 400, 3), np.uint8)
        draw_gauge(frame, value, lo=0, hi=100, target=80, color=(0, 255, 0))
        return float((frame[..., 1] == 255).mean())

    assert filled(0) < filled(50) < filled(100)
    assert filled(200) == filled(100)  # clipped
