"""Synthetic finger-tapping landmark series with analytic answers (test helper, not a test module).

The hand is a rigid skeleton: wrist, middle MCP and the other landmarks fixed in the hand frame, the
thumb tip and the index tip placed symmetrically about a pinch point so that their distance is exactly
``opening(t) * palm length``. Noise, drift, lost frames and outliers are added on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exercises.base import FrameLandmarks
from tracking.series import INDEX_TIP, MIDDLE_MCP, THUMB_TIP, LandmarkSeries

PALM_M = 0.09


@dataclass
class TapScript:
    """A tapping movement: per-tap period and opening, pauses after given taps, rest before and after."""

    periods: list[float]
    openings: list[float]  # opening (palm lengths) reached after each tap
    first_opening: float = 1.0
    contact: float = 0.12  # tip distance at contact (fingertip landmarks never coincide)
    lead_s: float = 0.6
    tail_s: float = 0.6
    pauses: dict[int, float] = field(default_factory=dict)  # tap index k -> hold open after tap k
    shape: str = "minjerk"  # or 'cosine'

    @classmethod
    def regular(cls, n: int, rate: float, *, opening: float = 1.0, **kw: object) -> TapScript:
        return cls(periods=[1.0 / rate] * n, openings=[opening] * n, first_opening=opening, **kw)  # type: ignore[arg-type]

    def contacts(self) -> np.ndarray:
        out, t0 = [], self.lead_s
        for k, p in enumerate(self.periods):
            out.append(t0 + p / 2)
            t0 += p + self.pauses.get(k, 0.0)
        return np.array(out)

    @property
    def duration(self) -> float:
        return self.lead_s + sum(self.periods) + sum(self.pauses.values()) + self.tail_s

    def opening(self, t: np.ndarray) -> np.ndarray:
        """Opening at times ``t``: each half cycle a smooth closing to contact / opening to the next opening.

        ``shape='minjerk'`` (default) uses minimum-jerk transitions (a flat top and bottom, like real
        taps and the synth renderer); ``shape='cosine'`` half-cosines (a pure sinusoid when regular).
        """
        y = np.full(len(t), self.first_opening)
        t0, prev = self.lead_s, self.first_opening
        for k, (p, nxt) in enumerate(zip(self.periods, self.openings, strict=True)):
            tc = t0 + p / 2
            close = (t >= t0) & (t < tc)
            y[close] = prev - (prev - self.contact) * self._ease((t[close] - t0) / (p / 2))
            opn = (t >= tc) & (t < t0 + p)
            y[opn] = self.contact + (nxt - self.contact) * self._ease((t[opn] - tc) / (p / 2))
            end = t0 + p + self.pauses.get(k, 0.0)
            y[t >= t0 + p] = nxt
            t0, prev = end, nxt
        return y

    def _ease(self, u: np.ndarray) -> np.ndarray:
        if self.shape == "cosine":
            return 0.5 * (1 - np.cos(np.pi * u))
        return 10 * u**3 - 15 * u**4 + 6 * u**5


def frame_times(duration: float, fps: float, *, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """Frame timestamps at ``fps``; ``jitter`` is the relative spread of frame intervals (variable frame rate)."""
    rng = np.random.default_rng(seed)
    n = int(duration * fps)
    dt = (1.0 / fps) * (1.0 + jitter * rng.uniform(-1, 1, n))
    return np.concatenate(([0.0], np.cumsum(dt[:-1])))


def _base_hand() -> np.ndarray:
    """A flat right hand in metres, wrist at the origin, fingers along -y (image up)."""
    p = np.zeros((21, 3))
    for f, x in enumerate([0.0, -0.02, -0.04]):  # middle, ring, little
        for j in range(4):
            p[9 + 4 * f + j] = [x, -PALM_M - 0.03 * j, 0.0]
    p[MIDDLE_MCP] = [0.0, -PALM_M, 0.0]
    for j in range(3):  # index MCP..DIP
        p[5 + j] = [0.02 + 0.01 * j, -PALM_M + 0.005 - 0.025 * j, 0.0]
    for j in range(3):  # thumb CMC..IP
        p[1 + j] = [0.025 + 0.015 * j, -0.02 - 0.02 * j, 0.005 * j]
    return p


def synthetic_tapping_series(
    t: np.ndarray,
    opening: np.ndarray,
    *,
    width: int = 640,
    height: int = 480,
    px_per_m: float = 1500.0,
    drift_px_per_s: tuple[float, float] = (0.0, 0.0),
    zoom_per_s: float = 0.0,
    world_noise_m: float = 0.0,
    image_noise_px: float = 0.0,
    missing: np.ndarray | None = None,
    outliers: np.ndarray | None = None,
    outlier_m: float = 0.03,
    seed: int = 0,
) -> LandmarkSeries:
    """Landmarks whose thumb-index distance is ``opening * palm length`` at every frame.

    ``drift_px_per_s`` translates the hand in the image, ``zoom_per_s`` changes its image size (moving
    toward the camera); ``missing`` frames are NaN/absent; ``outliers`` frames get the index tip thrown
    ``outlier_m`` metres away (a blurred finger mis-placed).
    """
    rng = np.random.default_rng(seed)
    n = len(t)
    base = _base_hand()
    pinch = np.array([0.045, -0.125, 0.0])
    u = np.array([0.6, 0.8, 0.0])  # thumb tip below-right of the index tip
    world = np.repeat(base[None], n, axis=0)
    half = (opening * PALM_M / 2)[:, None]
    world[:, THUMB_TIP] = pinch + half * u
    world[:, INDEX_TIP] = pinch - half * u
    world[:, 8 - 1] = world[:, INDEX_TIP] + [0.0, 0.02, 0.0]  # DIP follows the tip
    if outliers is not None:
        world[outliers, INDEX_TIP] += outlier_m * np.array([0.7, 0.7, 0.0])
    centre = world.mean(axis=1, keepdims=True)
    scale = px_per_m * (1.0 + zoom_per_s * t)[:, None, None]
    origin = np.array([width * 0.5, height * 0.7]) + np.outer(t, drift_px_per_s)
    pix = world[..., :2] * scale + origin[:, None, :]
    image = np.empty_like(world)
    image[..., 0] = pix[..., 0] / width
    image[..., 1] = pix[..., 1] / height
    image[..., 2] = world[..., 2] * scale[..., 0] / width
    world = world - centre  # MediaPipe world landmarks are centred on the hand
    if world_noise_m:
        world = world + rng.normal(0, world_noise_m, world.shape)
    if image_noise_px:
        image[..., 0] += rng.normal(0, image_noise_px / width, (n, 21))
        image[..., 1] += rng.normal(0, image_noise_px / height, (n, 21))
    present = np.ones(n, bool)
    if missing is not None:
        present[missing] = False
        world[missing] = np.nan
        image[missing] = np.nan
    return LandmarkSeries(
        t=np.asarray(t, float),
        image=image,
        world=world,
        present=present,
        score=present.astype(float),
        handedness="right",
        width=width,
        height=height,
    )


def frames_of(series: LandmarkSeries) -> list[FrameLandmarks]:
    """The series as the live path sees it, one frame at a time."""
    return [
        FrameLandmarks(
            t=float(series.t[i]),
            image=series.image[i] if series.present[i] else None,
            world=series.world[i] if series.present[i] else None,
            width=series.width,
            height=series.height,
        )
        for i in range(len(series))
    ]


def script_series(script: TapScript, fps: float, *, jitter: float = 0.0, seed: int = 0, **kw: object) -> LandmarkSeries:
    t = frame_times(script.duration, fps, jitter=jitter, seed=seed)
    return synthetic_tapping_series(t, script.opening(t), seed=seed, **kw)  # type: ignore[arg-type]
