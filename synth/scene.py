"""Scene around the hand: skin tones, lighting, backgrounds, compositing and camera artefacts.

Everything here is deterministic given a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from synth.render import HandLayer, Light, Material

SKIN_TONES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    # name: (dorsal sRGB, palmar sRGB), light -> dark (roughly Fitzpatrick I..VI)
    "very_light": ((242, 208, 188), (246, 200, 186)),
    "light": ((228, 180, 150), (236, 178, 156)),
    "medium": ((200, 148, 108), (222, 160, 130)),
    "tan": ((168, 114, 76), (212, 150, 118)),
    "brown": ((122, 80, 52), (196, 140, 110)),
    "dark": ((82, 54, 38), (176, 124, 98)),
}
"""Skin tones, light to dark, as (dorsal, palmar) sRGB colours."""

BACKGROUND_KINDS: tuple[str, ...] = ("flat", "gradient", "textured", "cluttered", "table")
HELDOUT_BACKGROUND_KINDS: tuple[str, ...] = ("stripes", "beige", "dark")
"""Backgrounds only the held-out accuracy suite uses (the detectors were never tuned on them)."""
"""Background kinds understood by :func:`make_background`."""

LIGHTING_KINDS: tuple[str, ...] = ("front", "left", "right", "top", "dim", "warm", "cool")
"""Lighting presets understood by :func:`make_light`."""


def srgb_to_linear(c: NDArray[np.float64] | tuple[float, ...]) -> NDArray[np.float64]:
    """Convert sRGB (0..1) to linear RGB.

    Parameters
    ----------
    c : array_like
        sRGB values in 0..1.

    Returns
    -------
    numpy.ndarray
        Linear values.
    """
    a = np.asarray(c, dtype=np.float64)
    return np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


_LUT_N = 4096
_LIN2SRGB = np.clip(
    np.where(
        np.linspace(0, 1, _LUT_N) <= 0.0031308,
        np.linspace(0, 1, _LUT_N) * 12.92,
        1.055 * np.linspace(0, 1, _LUT_N) ** (1 / 2.4) - 0.055,
    ),
    0,
    1,
).astype(np.float32)


def linear_to_srgb(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Convert linear RGB to sRGB (0..1) with a lookup table.

    Parameters
    ----------
    x : numpy.ndarray
        Linear values (clipped to 0..1).

    Returns
    -------
    numpy.ndarray
        sRGB values, float32.
    """
    idx = np.clip(x * (_LUT_N - 1) + 0.5, 0, _LUT_N - 1).astype(np.int32)
    return _LIN2SRGB[idx]


def make_material(skin: str, rng: np.random.Generator) -> Material:
    """Skin material for a named tone with a little per-person variation.

    Parameters
    ----------
    skin : str
        A key of :data:`SKIN_TONES`.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    Material
        Linear-RGB material.
    """
    dorsal, palmar = SKIN_TONES[skin]
    jit = 1.0 + rng.normal(0.0, 0.03, 3)
    d = np.clip(srgb_to_linear(np.array(dorsal) / 255.0) * jit, 0, 1)
    p = np.clip(srgb_to_linear(np.array(palmar) / 255.0) * jit, 0, 1)
    nail = 0.55 * p + 0.45 * srgb_to_linear(np.array([235, 200, 195]) / 255.0)
    crease = 0.30 + 0.15 * (skin in ("tan", "brown", "dark"))
    return Material(
        dorsal=(float(d[0]), float(d[1]), float(d[2])),
        palmar=(float(p[0]), float(p[1]), float(p[2])),
        nail=(float(nail[0]), float(nail[1]), float(nail[2])),
        crease=float(crease),
        mottle=float(rng.uniform(0.03, 0.07)),
    )


def make_light(kind: str, rng: np.random.Generator) -> Light:
    """Lighting preset with a little random variation.

    Parameters
    ----------
    kind : str
        One of :data:`LIGHTING_KINDS`.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    Light
        The light.
    """
    dirs = {
        "front": (-0.2, -0.4, -1.0),
        "left": (-1.0, -0.4, -0.5),
        "right": (1.0, -0.4, -0.5),
        "top": (0.0, -1.0, -0.35),
        "dim": (-0.3, -0.5, -0.8),
        "warm": (-0.5, -0.6, -0.7),
        "cool": (0.4, -0.6, -0.7),
    }
    d = np.array(dirs[kind]) + rng.normal(0, 0.12, 3)
    d /= np.linalg.norm(d)
    key = np.array([1.0, 0.97, 0.92]) * rng.uniform(0.9, 1.1)
    sky = np.array([0.40, 0.42, 0.46])
    ground = np.array([0.22, 0.20, 0.18])
    if kind == "dim":
        key *= 0.55
        sky *= 0.7
        ground *= 0.7
    elif kind == "warm":
        key *= np.array([1.08, 0.95, 0.75])
        sky *= np.array([1.05, 0.97, 0.85])
    elif kind == "cool":
        key *= np.array([0.85, 0.95, 1.1])
        sky *= np.array([0.9, 0.98, 1.12])

    def tup(a: NDArray[np.float64]) -> tuple[float, float, float]:
        return (float(a[0]), float(a[1]), float(a[2]))

    return Light(direction=tup(d), key=tup(key), sky=tup(sky), ground=tup(ground))


# ----------------------------------------------------------------------------- backgrounds


def _value_noise(h: int, w: int, scale: int, rng: np.random.Generator) -> NDArray[np.float32]:
    gh, gw = max(2, h // scale + 2), max(2, w // scale + 2)
    g = rng.random((gh, gw)).astype(np.float32)
    return np.asarray(cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC), dtype=np.float32)


def _fbm(h: int, w: int, rng: np.random.Generator, base: int = 128, octaves: int = 5) -> NDArray[np.float32]:
    out = np.zeros((h, w), np.float32)
    amp, tot = 1.0, 0.0
    s = base
    for _ in range(octaves):
        out += amp * _value_noise(h, w, max(s, 2), rng)
        tot += amp
        amp *= 0.5
        s //= 2
    return out / tot


def _random_color(
    rng: np.random.Generator, sat: float = 0.5, val: tuple[float, float] = (0.3, 0.9)
) -> NDArray[np.float32]:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, sat * 255), rng.uniform(*val) * 255]]], np.uint8)
    return (cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] / 255.0).astype(np.float32)


def make_background(kind: str, width: int, height: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """Make a static background image.

    Parameters
    ----------
    kind : str
        One of :data:`BACKGROUND_KINDS`: ``flat`` (one colour), ``gradient``, ``textured``
        (fabric/wall noise or wood grain), ``cluttered`` (a room: wall, furniture, shelves,
        window, frames, a plant), ``table`` (a table top seen from above); held-out kinds ``stripes``
        (striped or checked fabric), ``beige`` (a warm wall close to skin colours), ``dark`` (a dim room).
    width, height : int
        Image size.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 sRGB image in 0..1.
    """
    h, w = height, width
    if kind == "flat":
        c = _random_color(rng, sat=0.35, val=(0.25, 0.85))
        img = np.broadcast_to(c, (h, w, 3)).copy()
    elif kind == "gradient":
        c0 = _random_color(rng, sat=0.4, val=(0.2, 0.9))
        c1 = _random_color(rng, sat=0.4, val=(0.2, 0.9))
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        s = (xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang) + 0.5
        s = np.clip(s, 0, 1)[..., None]
        img = c0 * (1 - s) + c1 * s
    elif kind == "textured":
        c0 = _random_color(rng, sat=0.45, val=(0.25, 0.85))
        if rng.random() < 0.5:  # wood grain
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            warp = _fbm(h, w, rng, base=96) * 25.0
            freq = rng.uniform(0.08, 0.2)
            ang = rng.uniform(0, np.pi)
            coord = xx * np.cos(ang) + yy * np.sin(ang)
            g = 0.5 + 0.5 * np.sin((coord + warp * 4.0) * freq)
            img = c0 * (0.75 + 0.35 * g[..., None])
        else:  # fabric/plaster
            n = _fbm(h, w, rng, base=64, octaves=6)
            fine = rng.random((h, w)).astype(np.float32)
            fine = np.asarray(cv2.GaussianBlur(fine, (0, 0), 0.8), dtype=np.float32)
            img = c0 * (0.7 + 0.5 * n[..., None] + 0.12 * (fine[..., None] - 0.5))
    elif kind == "table":
        c0 = _random_color(rng, sat=0.5, val=(0.35, 0.8))
        c0 = np.array([c0[0] * 0.6 + 0.35, c0[1] * 0.6 + 0.22, c0[2] * 0.5 + 0.1], np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        warp = _fbm(h, w, rng, base=80) * 30.0
        g = 0.5 + 0.5 * np.sin((xx + warp * 3.0) * rng.uniform(0.05, 0.12))
        img = c0 * (0.8 + 0.25 * g[..., None])
        # vignette of a desk lamp
        r = np.hypot(xx / w - rng.uniform(0.3, 0.7), yy / h - rng.uniform(0.3, 0.7))
        img *= (1.1 - 0.5 * r)[..., None]
    elif kind == "cluttered":
        img = _room(h, w, rng)
    elif kind == "stripes":
        c0 = _random_color(rng, sat=0.6, val=(0.3, 0.9))
        c1 = _random_color(rng, sat=0.6, val=(0.15, 0.7))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(12, 40)
        s = (np.sin(2 * np.pi * (xx * np.cos(ang) + yy * np.sin(ang)) / period) > 0).astype(np.float32)
        if rng.random() < 0.5:  # checked: a second set of stripes across the first
            s = 0.5 * (s + (np.sin(2 * np.pi * (-xx * np.sin(ang) + yy * np.cos(ang)) / period) > 0))
        img = c0 * (1 - s[..., None]) + c1 * s[..., None]
        img *= (0.85 + 0.25 * _fbm(h, w, rng, base=96, octaves=3))[..., None]
    elif kind == "beige":  # skin-coloured wall: the hand stands out by shading, not by colour
        c0 = np.array([rng.uniform(0.72, 0.9), rng.uniform(0.55, 0.7), rng.uniform(0.42, 0.55)], np.float32)
        img = c0 * (0.85 + 0.3 * _fbm(h, w, rng, base=128, octaves=4))[..., None]
    elif kind == "dark":  # a dim room: same furniture, a quarter of the light
        img = _room(h, w, rng) * rng.uniform(0.15, 0.3)
    else:
        raise ValueError(f"unknown background kind {kind!r}; choose from {BACKGROUND_KINDS + HELDOUT_BACKGROUND_KINDS}")
    return np.clip(img, 0, 1).astype(np.float32)


def _room(h: int, w: int, rng: np.random.Generator) -> NDArray[np.float32]:
    wall = _random_color(rng, sat=0.3, val=(0.5, 0.9))
    img = np.broadcast_to(wall, (h, w, 3)).copy()
    img *= (0.85 + 0.2 * _fbm(h, w, rng, base=160, octaves=3))[..., None]
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    # ceiling light falloff
    img *= (1.05 - 0.35 * (yy / h))[..., None]
    # window
    if rng.random() < 0.7:
        x0 = int(rng.uniform(0, w * 0.7))
        y0 = int(rng.uniform(0, h * 0.3))
        ww, wh = int(rng.uniform(0.15, 0.3) * w), int(rng.uniform(0.25, 0.45) * h)
        sky = np.array([0.85, 0.9, 0.97], np.float32) * rng.uniform(0.9, 1.0)
        img[y0 : y0 + wh, x0 : x0 + ww] = sky
        frame = np.array([0.9, 0.9, 0.88], np.float32)
        cv2.rectangle(img, (x0, y0), (x0 + ww, y0 + wh), frame.tolist(), 6)
        cv2.line(img, (x0 + ww // 2, y0), (x0 + ww // 2, y0 + wh), frame.tolist(), 4)
    # door / wardrobe
    if rng.random() < 0.6:
        x0 = int(rng.uniform(0, w * 0.85))
        c = _random_color(rng, sat=0.4, val=(0.3, 0.7))
        cv2.rectangle(img, (x0, int(h * 0.1)), (x0 + int(w * 0.18), h), c.tolist(), -1)
        cv2.circle(img, (x0 + int(w * 0.15), int(h * 0.6)), 4, (0.8, 0.75, 0.5), -1)
    # shelf with books
    for _ in range(rng.integers(1, 3)):
        sx = int(rng.uniform(-0.1, 0.7) * w)
        sy = int(rng.uniform(0.15, 0.7) * h)
        sw = int(rng.uniform(0.2, 0.4) * w)
        shelf = _random_color(rng, sat=0.3, val=(0.3, 0.6))
        cv2.rectangle(img, (sx, sy), (sx + sw, sy + 8), shelf.tolist(), -1)
        x = sx
        while x < sx + sw - 8:
            bw = int(rng.uniform(6, 18))
            bh = int(rng.uniform(25, 60))
            c = _random_color(rng, sat=0.8, val=(0.2, 0.85))
            cv2.rectangle(img, (x, sy - bh), (x + bw, sy), c.tolist(), -1)
            x += bw + int(rng.uniform(0, 3))
    # picture frames
    for _ in range(rng.integers(0, 3)):
        px, py = int(rng.uniform(0, w * 0.85)), int(rng.uniform(0, h * 0.5))
        pw, ph = int(rng.uniform(40, 110)), int(rng.uniform(40, 90))
        img[py : py + ph, px : px + pw] = _random_color(rng, sat=0.7, val=(0.2, 0.9))
        sub = img[py : py + ph, px : px + pw]
        if sub.size:
            sub *= (0.7 + 0.6 * _fbm(sub.shape[0], sub.shape[1], rng, base=16, octaves=3))[..., None]
        cv2.rectangle(img, (px, py), (px + pw, py + ph), _random_color(rng, 0.3, (0.1, 0.5)).tolist(), 5)
    # plant
    if rng.random() < 0.5:
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0.55, 0.9) * h)
        pot = _random_color(rng, sat=0.6, val=(0.3, 0.7))
        cv2.rectangle(img, (cx - 20, cy), (cx + 20, h), pot.tolist(), -1)
        for _ in range(14):
            ang = rng.uniform(-2.6, -0.5)
            ln = rng.uniform(30, 80)
            ex, ey = int(cx + np.cos(ang) * ln), int(cy + np.sin(ang) * ln)
            g = (0.1 + rng.uniform(0, 0.15), 0.35 + rng.uniform(0, 0.3), 0.1)
            cv2.ellipse(img, ((cx + ex) // 2, (cy + ey) // 2), (int(ln / 2), 7), float(np.rad2deg(ang)), 0, 360, g, -1)
    # desk in the foreground
    if rng.random() < 0.6:
        dy = int(rng.uniform(0.75, 0.92) * h)
        desk = _random_color(rng, sat=0.4, val=(0.3, 0.7))
        img[dy:] = desk * (0.85 + 0.2 * _fbm(h - dy, w, rng, base=40, octaves=3))[..., None]
    # out-of-focus camera
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0)), dtype=np.float32)
    return img.astype(np.float32)


# ----------------------------------------------------------------------------- compositing


@dataclass(frozen=True)
class Artefacts:
    """Camera artefacts applied after compositing.

    Parameters
    ----------
    noise : float
        Sensor noise standard deviation in 8-bit units (0 = none).
    jpeg_quality : int
        JPEG quality 1..100 of an in-camera compression pass (0 = none).
    blur_subframes : int
        Motion blur: number of sub-frame renders averaged per frame (1 = none).
    shutter : float
        Exposure as a fraction of the frame interval for motion blur.
    """

    noise: float = 2.0
    jpeg_quality: int = 0
    blur_subframes: int = 1
    shutter: float = 0.5


class NoiseBank:
    """A few pre-drawn noise fields, cycled and shifted, so per-frame noise costs little.

    Parameters
    ----------
    width, height : int
        Frame size.
    sigma : float
        Noise standard deviation in 8-bit units.
    rng : numpy.random.Generator
        Random source.
    n : int
        Number of fields to draw.
    """

    def __init__(self, width: int, height: int, sigma: float, rng: np.random.Generator, n: int = 6):
        self.sigma = sigma
        self.rng = rng
        self.fields = (
            [
                (rng.normal(0, sigma, (height, width, 3)) + rng.normal(0, sigma * 0.5, (height, width, 1))).astype(
                    np.int16
                )
                for _ in range(n)
            ]
            if sigma > 0
            else []
        )

    def apply(self, img: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Add noise to an 8-bit image.

        Parameters
        ----------
        img : numpy.ndarray
            ``(H, W, 3)`` uint8.

        Returns
        -------
        numpy.ndarray
            Noisy uint8 image.
        """
        if not self.fields:
            return img
        f = self.fields[int(self.rng.integers(len(self.fields)))]
        dy, dx = int(self.rng.integers(0, 64)), int(self.rng.integers(0, 64))
        f = np.roll(f, (dy, dx), axis=(0, 1))
        return np.clip(img.astype(np.int16) + f, 0, 255).astype(np.uint8)


def composite(
    layer: HandLayer,
    background: NDArray[np.float32],
    shadow: float = 0.35,
    shadow_offset: tuple[int, int] = (10, 14),
    background_u8: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Composite a rendered hand over a background with a soft cast shadow.

    Only the hand's box (plus the shadow's reach) is touched; the rest is copied.

    Parameters
    ----------
    layer : HandLayer
        Rendered hand (linear RGB).
    background : numpy.ndarray
        ``(H, W, 3)`` float32 sRGB background.
    shadow : float
        Shadow darkness 0..1 (0 = no shadow).
    shadow_offset : tuple of int
        Shadow displacement (dx, dy) in pixels.
    background_u8 : numpy.ndarray, optional
        The background already converted to uint8 (saves a conversion per frame).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB frame.
    """
    bg8 = background_u8 if background_u8 is not None else (background * 255 + 0.5).astype(np.uint8)
    out = bg8.copy()
    x0, y0, x1, y1 = layer.box
    if x1 <= x0 or y1 <= y0:
        return out
    h, w = out.shape[:2]
    dx, dy = shadow_offset if shadow > 0 else (0, 0)
    pad = 24 if shadow > 0 else 0
    rx0, ry0 = max(x0 + min(dx, 0) - pad, 0), max(y0 + min(dy, 0) - pad, 0)
    rx1, ry1 = min(x1 + max(dx, 0) + pad, w), min(y1 + max(dy, 0) + pad, h)
    reg = background[ry0:ry1, rx0:rx1].copy()
    if shadow > 0:
        a = np.zeros((ry1 - ry0, rx1 - rx0), np.float32)
        src = layer.alpha[y0:y1, x0:x1]
        tx0, ty0 = x0 + dx - rx0, y0 + dy - ry0
        cx0, cy0 = max(tx0, 0), max(ty0, 0)
        cx1, cy1 = min(tx0 + src.shape[1], a.shape[1]), min(ty0 + src.shape[0], a.shape[0])
        if cx1 > cx0 and cy1 > cy0:
            a[cy0:cy1, cx0:cx1] = src[cy0 - ty0 : cy1 - ty0, cx0 - tx0 : cx1 - tx0]
        small = cv2.resize(a, (max(a.shape[1] // 4, 1), max(a.shape[0] // 4, 1)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), 1.8)
        a = np.asarray(cv2.resize(small, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR), np.float32)
        reg *= (1.0 - shadow * a)[..., None]
    al = layer.alpha[y0:y1, x0:x1, None]
    hand = linear_to_srgb(np.clip(layer.rgb[y0:y1, x0:x1], 0, 1))
    sub = reg[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
    sub[:] = hand * al + sub * (1 - al)
    out[ry0:ry1, rx0:rx1] = (reg * 255 + 0.5).astype(np.uint8)
    return out


def jpeg(img: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    """Round-trip an RGB image through JPEG compression.

    Parameters
    ----------
    img : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    quality : int
        JPEG quality 1..100; 0 or less returns the image unchanged.

    Returns
    -------
    numpy.ndarray
        Decoded uint8 RGB image.
    """
    if quality <= 0:
        return img
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return img
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1])
