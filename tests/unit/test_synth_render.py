"""Renderer: determinism, truth agrees with the rendered pixels, speed."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from synth.hand import HandShape, forward_kinematics
from synth.render import Camera, render_hand
from synth.scene import BACKGROUND_KINDS, SKIN_TONES, make_background, make_light, make_material
from synth.scripts import make_motion
from synth.video import ClipSpec, place_hand, render_clip, view_rotation


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_render_is_deterministic(tmp_path: Path) -> None:
    spec = ClipSpec(
        "grip",
        seed=11,
        width=320,
        height=240,
        background="cluttered",
        noise=3.0,
        fps=12.0,
        params={"reps": 1, "period": 0.8},
    )
    a = render_clip(spec, tmp_path / "a.mp4")
    b = render_clip(spec, tmp_path / "b.mp4")
    assert a["frames"] == b["frames"]
    fa, fb = _decode(tmp_path / "a.mp4"), _decode(tmp_path / "b.mp4")
    assert fa.shape == fb.shape == (a["video"]["frames"], 240, 320, 3)
    # The renderer is exact; libx264 is not bit-reproducible between encodes here (its threads), so the
    # decoded clips agree to encoder noise: every frame above 38 dB PSNR (measured 43-50 dB).
    mse = ((fa.astype(float) - fb.astype(float)) ** 2).mean(axis=(1, 2, 3))
    assert (10 * np.log10(255**2 / np.maximum(mse, 1e-12))).min() > 38
    c = render_clip(ClipSpec(**{**spec.to_dict(), "seed": 12}), tmp_path / "c.mp4")
    assert c["frames"]["joints_image"] != a["frames"]["joints_image"]


@pytest.mark.parametrize("view", ["palm", "back", "side", "above", "forearm_side"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_true_joints_land_on_hand_pixels(view: str, side: str) -> None:
    shape = HandShape(side=side)
    rng = np.random.default_rng(1)
    m = make_motion("grip", shape, rng, reps=1)
    cam = Camera(320, 240)
    root = view_rotation(view, side)
    w = place_hand(m, shape, root, cam, 0.5)
    mat = make_material("medium", rng)
    light = make_light("front", rng)
    for k in (0, len(m.t) // 3):
        g = forward_kinematics(m.pose[k], shape, root, w)
        lay = render_hand(g, cam, mat, light)
        mask = lay.alpha > 0.5
        uv = np.floor(cam.project(g.joints)).astype(int)
        assert np.all((uv[:, 0] >= 0) & (uv[:, 0] < 320) & (uv[:, 1] >= 0) & (uv[:, 1] < 240))
        on = mask[uv[:, 1], uv[:, 0]]
        assert on.all(), f"joints off the hand: {np.flatnonzero(~on)}"
        # and the hand is a sensible size
        ys = np.flatnonzero(mask.any(1))
        assert ys.size > 60


def test_backgrounds_and_skins() -> None:
    rng = np.random.default_rng(0)
    for kind in BACKGROUND_KINDS:
        bg = make_background(kind, 160, 120, rng)
        assert bg.shape == (120, 160, 3) and bg.dtype == np.float32
        assert bg.min() >= 0.0 and bg.max() <= 1.0
    lum = [np.mean(make_material(s, rng).dorsal) for s in SKIN_TONES]
    assert lum == sorted(lum, reverse=True)  # listed light to dark


def test_render_speed_640x480() -> None:
    shape = HandShape()
    rng = np.random.default_rng(0)
    m = make_motion("finger_spread", shape, rng, reps=1)
    cam = Camera(640, 480)
    root = view_rotation("palm", "right")
    w = place_hand(m, shape, root, cam, 0.55)
    mat, light = make_material("light", rng), make_light("front", rng)
    render_hand(forward_kinematics(m.pose[0], shape, root, w), cam, mat, light)  # compile / load cache
    n = 10
    t0 = time.process_time()
    for k in range(n):
        render_hand(forward_kinematics(m.pose[k * 3], shape, root, w), cam, mat, light)
    per_frame = (time.process_time() - t0) / n
    # the bar is 0.1 s (10 frames/s) on an idle core; leave headroom for a busy CI machine
    assert per_frame < 0.2, f"{per_frame * 1000:.0f} ms per frame"
