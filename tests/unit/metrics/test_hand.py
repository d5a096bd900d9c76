import math

import numpy as np

from metrics.hand import CausalMedian, causal_median, image_to_pixels, landmark_distance, palm_length
from tracking.series import MIDDLE_MCP, WRIST


def test_distances_and_palm_length():
    p = np.zeros((2, 21, 3))
    p[:, MIDDLE_MCP] = [3.0, 4.0, 12.0]
    assert np.allclose(palm_length(p), 13.0)
    assert np.allclose(palm_length(p, dims=2), 5.0)
    p[1, WRIST] = np.nan
    assert math.isnan(landmark_distance(p, WRIST, MIDDLE_MCP)[1])


def test_image_to_pixels_is_isotropic():
    img = np.zeros((21, 3))
    img[MIDDLE_MCP] = [0.1, 0.1, 0.05]
    px = image_to_pixels(img, 640, 480)
    assert np.allclose(px[MIDDLE_MCP], [64.0, 48.0, 32.0])


def test_causal_median_window_and_gaps():
    t = np.arange(10) * 0.1
    v = np.array([1.0, 1.0, 9.0, 1.0, np.nan, 2.0, 2.0, 2.0, 2.0, 2.0])
    m = causal_median(t, v, window_s=0.25)
    assert m[2] == 1.0  # one outlier among three values is ignored
    assert m[4] == 5.0  # no new value: median of what is still in the window (9, 1)
    assert m[-1] == 2.0
    c = CausalMedian(window_s=0.1)
    assert math.isnan(c.update(0.0, math.nan))
    c.update(0.0, 3.0)
    assert math.isnan(c.update(1.0, math.nan))  # old values expire
