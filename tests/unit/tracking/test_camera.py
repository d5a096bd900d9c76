"""tracking.camera: no camera on this machine gives one clear sentence, not an OpenCV error."""

from __future__ import annotations

import pytest

from tracking.camera import read_camera
from tracking.video import UnusableInputError


def test_missing_camera_is_unusable_input() -> None:
    frames = read_camera(97)  # lazy: nothing is opened until the first frame is asked for
    with pytest.raises(UnusableInputError, match="no camera found at index 97"):
        next(frames)
