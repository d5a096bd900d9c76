"""Sphere-traced signed-distance hand renderer (numba, one core).

The hand is a set of tapered capsules ("round cones"): phalanges smooth-unioned within a
finger, the palm, thenar/hypothenar pads, carpus and forearm smooth-unioned into one body,
and each finger smooth-joined to that body (fingers are hard-unioned with each other, so
adjacent fingers never web together). Per pixel only the primitives whose bounding spheres
the ray crosses are evaluated, and marching starts at the nearest bounding sphere, which keeps
a 640x480 frame well within a few tens of milliseconds.

Shading: wrapped Lambert key light, hemisphere ambient, SDF ambient occlusion, a cheap
subsurface tint, Blinn specular, lighter palmar skin, fingernails with a lunula and free edge,
palmar flexion creases, dorsal knuckle wrinkles and a low-frequency skin mottle. Silhouettes
are anti-aliased from the closest approach of missed rays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from synth.hand import HandGeometry

K_PALM = 0.016
K_FINGER = 0.004
K_JOIN = 0.009
_INFL = K_PALM * 0.25 + K_JOIN * 0.25 + 0.002


@dataclass(frozen=True)
class Camera:
    """Pinhole camera with OpenCV axes (x right, y down, z forward).

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    hfov_deg : float
        Horizontal field of view in degrees.
    """

    width: int = 640
    height: int = 480
    hfov_deg: float = 62.0

    @property
    def f(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.width / float(np.tan(np.deg2rad(self.hfov_deg) / 2))

    @property
    def cx(self) -> float:
        """Principal point x (pixels, continuous coordinates)."""
        return 0.5 * self.width

    @property
    def cy(self) -> float:
        """Principal point y (pixels, continuous coordinates)."""
        return 0.5 * self.height

    def project(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """Project camera-space points to continuous pixel coordinates.

        Parameters
        ----------
        points : numpy.ndarray
            ``(..., 3)`` points in metres.

        Returns
        -------
        numpy.ndarray
            ``(..., 2)`` pixel coordinates; pixel ``i`` covers ``[i, i+1)``.
        """
        p = np.asarray(points, dtype=np.float64)
        z = np.maximum(p[..., 2], 1e-6)
        return np.stack([self.f * p[..., 0] / z + self.cx, self.f * p[..., 1] / z + self.cy], -1)


@dataclass(frozen=True)
class Material:
    """Skin appearance, colours in linear RGB 0..1.

    Parameters
    ----------
    dorsal : tuple of float
        Back-of-hand skin colour.
    palmar : tuple of float
        Palm colour (lighter and pinker, much lighter on dark skin).
    nail : tuple of float
        Nail bed colour.
    crease : float
        Darkening of creases, 0..1.
    mottle : float
        Amplitude of low-frequency colour variation.
    """

    dorsal: tuple[float, float, float]
    palmar: tuple[float, float, float]
    nail: tuple[float, float, float]
    crease: float = 0.35
    mottle: float = 0.06


@dataclass(frozen=True)
class Light:
    """Lighting: a key light plus hemisphere ambient, linear RGB.

    Parameters
    ----------
    direction : tuple of float
        Direction from the surface toward the key light, camera axes.
    key : tuple of float
        Key light colour times intensity.
    sky, ground : tuple of float
        Hemisphere ambient colours (up is camera ``-y``).
    """

    direction: tuple[float, float, float] = (-0.35, -0.6, -0.7)
    key: tuple[float, float, float] = (1.0, 0.97, 0.92)
    sky: tuple[float, float, float] = (0.42, 0.44, 0.48)
    ground: tuple[float, float, float] = (0.22, 0.2, 0.18)


# ----------------------------------------------------------------------------- kernels


@numba.njit(cache=True, fastmath=True, inline="always")
def _round_cone(px: float, py: float, pz: float, q: NDArray[np.float64], i: int) -> float:
    # q[i]: ax ay az bax bay baz l2 rr a2 il2 r1 r2
    pax = px - q[i, 0]
    pay = py - q[i, 1]
    paz = pz - q[i, 2]
    bax, bay, baz, l2 = q[i, 3], q[i, 4], q[i, 5], q[i, 6]
    rr, a2, il2, r1, r2 = q[i, 7], q[i, 8], q[i, 9], q[i, 10], q[i, 11]
    y = pax * bax + pay * bay + paz * baz
    z = y - l2
    wx = pax * l2 - bax * y
    wy = pay * l2 - bay * y
    wz = paz * l2 - baz * y
    x2 = wx * wx + wy * wy + wz * wz
    y2 = y * y * l2
    z2 = z * z * l2
    k = (1.0 if rr > 0 else -1.0) * rr * rr * x2
    sz = 1.0 if z > 0 else -1.0
    sy = 1.0 if y > 0 else -1.0
    if sz * a2 * z2 > k:
        return np.sqrt(x2 + z2) * il2 - r2
    if sy * a2 * y2 < k:
        return np.sqrt(x2 + y2) * il2 - r1
    return (np.sqrt(x2 * a2 * il2) + y * rr) * il2 - r1


@numba.njit(cache=True, fastmath=True, inline="always")
def _smin(a: float, b: float, k: float) -> float:
    d = a - b
    if d < 0:
        d = -d
    h = k - d
    if h <= 0.0:
        return a if a < b else b
    h = h / k
    m = a if a < b else b
    return m - h * h * k * 0.25


@numba.njit(cache=True, fastmath=True, inline="always")
def _sdf(
    px: float,
    py: float,
    pz: float,
    q: NDArray[np.float64],
    grp: NDArray[np.int64],
    sub: NDArray[np.int64],
    ns: int,
    fd: NDArray[np.float64],
) -> float:
    palm = 1e9
    for g in range(6):
        fd[g] = 1e9
    for j in range(ns):
        i = sub[j]
        d = _round_cone(px, py, pz, q, i)
        g = grp[i]
        if g == 0:
            palm = _smin(palm, d, K_PALM)
        else:
            fd[g] = _smin(fd[g], d, K_FINGER)
    best = palm
    for g in range(1, 6):
        if fd[g] < 1e8:
            v = _smin(palm, fd[g], K_JOIN)
            if v < best:
                best = v
    return best


@numba.njit(cache=True, fastmath=True)
def _fract(x: float) -> float:
    return x - np.floor(x)


@numba.njit(cache=True, fastmath=True)
def _smoothstep(e0: float, e1: float, x: float) -> float:
    t = (x - e0) / (e1 - e0)
    if t < 0.0:
        t = 0.0
    elif t > 1.0:
        t = 1.0
    return t * t * (3.0 - 2.0 * t)


@numba.njit(cache=True, fastmath=True)
def _shade(
    px: float,
    py: float,
    pz: float,
    dx: float,
    dy: float,
    dz: float,
    q: NDArray[np.float64],
    grp: NDArray[np.int64],
    info: NDArray[np.float64],
    sub: NDArray[np.int64],
    ns: int,
    fd: NDArray[np.float64],
    mat: NDArray[np.float64],
    lig: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    # normal (tetrahedron technique)
    e = 0.0004
    k1 = _sdf(px + e, py - e, pz - e, q, grp, sub, ns, fd)
    k2 = _sdf(px - e, py - e, pz + e, q, grp, sub, ns, fd)
    k3 = _sdf(px - e, py + e, pz - e, q, grp, sub, ns, fd)
    k4 = _sdf(px + e, py + e, pz + e, q, grp, sub, ns, fd)
    nx = k1 - k2 - k3 + k4
    ny = -k1 - k2 + k3 + k4
    nz = -k1 + k2 - k3 + k4
    nl = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
    nx /= nl
    ny /= nl
    nz /= nl
    # nearest primitive -> surface parametrisation
    best = 1e9
    bi = sub[0]
    for j in range(ns):
        i = sub[j]
        d = _round_cone(px, py, pz, q, i)
        if d < best:
            best = d
            bi = i
    pax = px - q[bi, 0]
    pay = py - q[bi, 1]
    paz = pz - q[bi, 2]
    l2 = q[bi, 6]
    h = (pax * q[bi, 3] + pay * q[bi, 4] + paz * q[bi, 5]) / l2
    if h < 0.0:
        h = 0.0
    elif h > 1.0:
        h = 1.0
    rx = pax - q[bi, 3] * h
    ry = pay - q[bi, 4] * h
    rz = paz - q[bi, 5] * h
    rl = np.sqrt(rx * rx + ry * ry + rz * rz) + 1e-12
    rx /= rl
    ry /= rl
    rz /= rl
    kind = int(info[bi, 0])
    palx, paly, palz = info[bi, 2], info[bi, 3], info[bi, 4]
    length = np.sqrt(l2)
    palmar = rx * palx + ry * paly + rz * palz
    # side direction for an angle coordinate around the axis
    axial = h * length
    # albedo
    wp = _smoothstep(-0.15, 0.55, palmar)
    if kind == 3:  # forearm: inner side lighter
        wp *= 0.55
    ar = mat[0] + (mat[3] - mat[0]) * wp
    ag = mat[1] + (mat[4] - mat[1]) * wp
    ab = mat[2] + (mat[5] - mat[2]) * wp
    # mottle (sticks to the surface: primitive + axial + around-axis coordinates)
    mt = (
        np.sin(axial * 260.0 + bi * 1.7) * np.sin(palmar * 5.0 + bi)
        + np.sin(axial * 610.0 + palmar * 9.0 + bi * 3.1) * 0.5
    )
    mfac = 1.0 + mat[10] * mt
    ar *= mfac
    ag *= mfac * (1.0 - 0.3 * mat[10] * mt)
    ab *= mfac
    spec_k = 0.05
    shin = 18.0
    crease = mat[9]
    if kind == 1:  # distal phalanx: fingernail on the dorsal side
        dors = -palmar
        nw = _smoothstep(0.42, 0.62, dors) * _smoothstep(0.30, 0.42, h)
        if nw > 0.0:
            lun = 1.0 - _smoothstep(0.36, 0.48, h)  # lunula near the base
            free = 0.5 * _smoothstep(0.93, 0.99, h)  # free edge
            nr = mat[6] + lun * 0.15 + free * 0.25
            ng = mat[7] + lun * 0.15 + free * 0.25
            nb = mat[8] + lun * 0.15 + free * 0.22
            ar = ar + (nr - ar) * nw
            ag = ag + (ng - ag) * nw
            ab = ab + (nb - ab) * nw
            # nail fold: a thin darker rim around the nail
            rim = _smoothstep(0.30, 0.42, dors) * (1.0 - _smoothstep(0.42, 0.52, dors))
            rim += _smoothstep(0.26, 0.30, h) * (1.0 - _smoothstep(0.30, 0.35, h)) * _smoothstep(0.4, 0.6, dors)
            f = 1.0 - 0.25 * crease * rim
            ar *= f
            ag *= f
            ab *= f
            spec_k = 0.05 + 0.4 * nw
            shin = 18.0 + 60.0 * nw
        # palmar DIP crease at the base of the distal phalanx
        if palmar > 0.15:
            c = np.exp(-((axial - 0.0015) ** 2) / (2 * 0.0007**2))
            f = 1.0 - crease * c * _smoothstep(0.15, 0.5, palmar)
            ar *= f
            ag *= f
            ab *= f
    elif kind == 2:
        if palmar > 0.1:  # palmar flexion creases near both ends of a phalanx
            c = np.exp(-((axial - 0.0012) ** 2) / (2 * 0.0006**2))
            c += np.exp(-((axial - length + 0.0016) ** 2) / (2 * 0.0006**2))
            c += np.exp(-((axial - length + 0.0040) ** 2) / (2 * 0.0006**2)) * 0.8
            f = 1.0 - crease * c * _smoothstep(0.1, 0.5, palmar)
            ar *= f
            ag *= f
            ab *= f
        elif palmar < -0.2:  # dorsal knuckle wrinkles at the distal end
            dist = length - axial
            if dist < 0.008:
                w = 0.5 + 0.5 * np.cos(dist * 2.0 * np.pi / 0.0022)
                fade = 1.0 - dist / 0.008
                f = 1.0 - 0.5 * crease * w * w * w * w * fade * _smoothstep(0.2, 0.5, -palmar)
                f *= 1.0 - 0.12 * fade * _smoothstep(0.2, 0.6, -palmar)  # darker knuckle
                ar *= f
                ag *= f
                ab *= f
    # ambient occlusion
    occ = 0.0
    sc = 1.0
    for it in range(2):
        hh = 0.003 + 0.007 * it
        dd = _sdf(px + nx * hh, py + ny * hh, pz + nz * hh, q, grp, sub, ns, fd)
        occ += (hh - dd) * sc
        sc *= 0.6
    ao = 1.0 - 18.0 * occ
    if ao < 0.25:
        ao = 0.25
    elif ao > 1.0:
        ao = 1.0
    # lighting
    lx, ly, lz = lig[0], lig[1], lig[2]
    ndl = nx * lx + ny * ly + nz * lz
    wrap = (ndl + 0.4) / 1.4
    if wrap < 0.0:
        wrap = 0.0
    lam = ndl if ndl > 0.0 else 0.0
    sss = wrap - lam
    up = 0.5 - 0.5 * ny
    ambr = lig[9] + (lig[6] - lig[9]) * up
    ambg = lig[10] + (lig[7] - lig[10]) * up
    ambb = lig[11] + (lig[8] - lig[11]) * up
    vx, vy, vz = -dx, -dy, -dz
    hx, hy, hz = lx + vx, ly + vy, lz + vz
    hl = np.sqrt(hx * hx + hy * hy + hz * hz) + 1e-12
    ndh = (nx * hx + ny * hy + nz * hz) / hl
    if ndh < 0.0:
        ndh = 0.0
    ndv = nx * vx + ny * vy + nz * vz
    fres = 1.0 - (ndv if ndv > 0.0 else 0.0)
    fres = fres * fres * fres
    p16 = ndh * ndh
    p16 *= p16
    p16 *= p16
    p16 *= p16
    p64 = p16 * p16
    p64 *= p64
    sw = (shin - 18.0) / 60.0
    spec = spec_k * (p16 + (p64 - p16) * sw) * (lam > 0.0) + 0.04 * fres
    out[0] = ar * (lig[3] * (wrap * 0.85) + ambr * ao) + lig[3] * sss * 0.18 + spec * lig[3]
    out[1] = ag * (lig[4] * (wrap * 0.85) + ambg * ao) + lig[4] * sss * 0.04 + spec * lig[4]
    out[2] = ab * (lig[5] * (wrap * 0.85) + ambb * ao) + lig[5] * sss * 0.03 + spec * lig[5]
    out[0] *= 0.55 + 0.45 * ao
    out[1] *= 0.55 + 0.45 * ao
    out[2] *= 0.55 + 0.45 * ao


@numba.njit(cache=True, fastmath=True, inline="always")
def _ray_near_segment(dx: float, dy: float, dz: float, q: NDArray[np.float64], i: int, rad: float) -> bool:
    # closest approach between the ray (origin 0, unit direction d) and segment a + s*ba
    ax, ay, az = q[i, 0], q[i, 1], q[i, 2]
    bx, by, bz = q[i, 3], q[i, 4], q[i, 5]
    l2 = q[i, 6]
    dba = dx * bx + dy * by + dz * bz
    dao = dx * ax + dy * ay + dz * az
    baa = bx * ax + by * ay + bz * az
    den = l2 - dba * dba
    s = (dba * dao - baa) / den if den > 1e-12 else 0.0
    if s < 0.0:
        s = 0.0
    elif s > 1.0:
        s = 1.0
    px = ax + bx * s
    py = ay + by * s
    pz = az + bz * s
    t = px * dx + py * dy + pz * dz
    if t < 0.0:
        t = 0.0
    ex = px - dx * t
    ey = py - dy * t
    ez = pz - dz * t
    return ex * ex + ey * ey + ez * ez < rad * rad


@numba.njit(cache=True, fastmath=True)
def _render_kernel(
    q: NDArray[np.float64],
    grp: NDArray[np.int64],
    info: NDArray[np.float64],
    bs: NDArray[np.float64],
    cam: NDArray[np.float64],
    box: NDArray[np.int64],
    mat: NDArray[np.float64],
    lig: NDArray[np.float64],
    rgb: NDArray[np.float32],
    alpha: NDArray[np.float32],
    depth: NDArray[np.float32],
) -> None:
    f, cx, cy = cam[0], cam[1], cam[2]
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    n = q.shape[0]
    sub = np.empty(n, dtype=np.int64)
    fd = np.empty(6)
    col = np.empty(3)
    pix = 1.0 / f
    tile = 8
    tsub = np.empty(n, dtype=np.int64)
    for ty in range(y0, y1, tile):
        for tx in range(x0, x1, tile):
            # primitives whose screen circle overlaps this tile
            nt = 0
            tx1 = min(tx + tile, x1)
            ty1 = min(ty + tile, y1)
            for i in range(n):
                cxp = bs[i, 4]
                cyp = bs[i, 5]
                qx = min(max(cxp, tx), tx1)
                qy = min(max(cyp, ty), ty1)
                if (qx - cxp) ** 2 + (qy - cyp) ** 2 <= bs[i, 6] * bs[i, 6]:
                    tsub[nt] = i
                    nt += 1
            if nt == 0:
                continue
            for v in range(ty, ty1):
                for u in range(tx, tx1):
                    _render_pixel(
                        u,
                        v,
                        f,
                        cx,
                        cy,
                        pix,
                        q,
                        grp,
                        info,
                        bs,
                        tsub,
                        nt,
                        sub,
                        fd,
                        col,
                        mat,
                        lig,
                        rgb,
                        alpha,
                        depth,
                        x0,
                        y0,
                    )


@numba.njit(cache=True, fastmath=True)
def _render_pixel(
    u: int,
    v: int,
    f: float,
    cx: float,
    cy: float,
    pix: float,
    q: NDArray[np.float64],
    grp: NDArray[Any],
    info: NDArray[np.float64],
    bs: NDArray[np.float64],
    tsub: NDArray[np.int64],
    nt: int,
    sub: NDArray[np.int64],
    fd: NDArray[np.float64],
    col: NDArray[np.float64],
    mat: NDArray[np.float64],
    lig: NDArray[np.float64],
    rgb: NDArray[np.float32],
    alpha: NDArray[np.float32],
    depth: NDArray[np.float32],
    x0: int,
    y0: int,
) -> None:
    if True:
        if True:
            dx = (u + 0.5 - cx) / f
            dy = (v + 0.5 - cy) / f
            dz = 1.0
            dl = np.sqrt(dx * dx + dy * dy + 1.0)
            dx /= dl
            dy /= dl
            dz /= dl
            ns = 0
            t0 = 1e9
            t1 = 0.0
            for ii in range(nt):
                i = tsub[ii]
                # screen circle test first (cheap), then ray-sphere
                du = u + 0.5 - bs[i, 4]
                dv = v + 0.5 - bs[i, 5]
                if du * du + dv * dv > bs[i, 6] * bs[i, 6]:
                    continue
                b = dx * bs[i, 0] + dy * bs[i, 1] + dz * bs[i, 2]
                c = bs[i, 0] ** 2 + bs[i, 1] ** 2 + bs[i, 2] ** 2 - bs[i, 3] ** 2
                disc = b * b - c
                if disc <= 0.0:
                    continue
                sd = np.sqrt(disc)
                # tighter test: the ray must pass within the inflated radius of the segment
                if not _ray_near_segment(dx, dy, dz, q, i, bs[i, 7]):
                    continue
                sub[ns] = i
                ns += 1
                if b - sd < t0:
                    t0 = b - sd
                if b + sd > t1:
                    t1 = b + sd
            if ns == 0:
                return
            t = t0 if t0 > 0.01 else 0.01
            hit = False
            mind = 1e9
            mint = t
            for _ in range(64):
                px = dx * t
                py = dy * t
                pz = dz * t
                d = _sdf(px, py, pz, q, grp, sub, ns, fd)
                r = d / (t * pix)
                if r < mind:
                    mind = r
                    mint = t
                if d < 0.0004 * t:
                    hit = True
                    break
                t += d
                if t > t1:
                    break
            iy = v - y0
            ix = u - x0
            if hit:
                _shade(dx * t, dy * t, dz * t, dx, dy, dz, q, grp, info, sub, ns, fd, mat, lig, col)
                alpha[iy, ix] = 1.0
                depth[iy, ix] = t * dz
            else:
                cov = 0.5 - mind
                if cov <= 0.0:
                    return
                if cov > 1.0:
                    cov = 1.0
                _shade(dx * mint, dy * mint, dz * mint, dx, dy, dz, q, grp, info, sub, ns, fd, mat, lig, col)
                alpha[iy, ix] = cov
                depth[iy, ix] = mint * dz
            rgb[iy, ix, 0] = col[0]
            rgb[iy, ix, 1] = col[1]
            rgb[iy, ix, 2] = col[2]


# ----------------------------------------------------------------------------- python API


def _prepare(geom: HandGeometry, camera: Camera) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    pr = geom.prims
    a = pr[:, 0:3]
    b = pr[:, 3:6]
    r1 = pr[:, 6]
    r2 = pr[:, 7]
    ba = b - a
    l2 = np.maximum((ba * ba).sum(1), 1e-12)
    rr = r1 - r2
    a2 = l2 - rr * rr
    q = np.column_stack([a, ba, l2, rr, a2, 1.0 / l2, r1, r2])
    grp = pr[:, 8].astype(np.int64)
    info = np.column_stack([pr[:, 9], pr[:, 10], geom.prim_palmar])
    # bounding spheres
    c = 0.5 * (a + b)
    rad = 0.5 * np.sqrt(l2) + np.maximum(r1, r2) + _INFL
    uv = camera.project(c)
    z = c[:, 2]
    zz = np.maximum(z - rad, 1e-3)
    rpx = camera.f * rad / zz * 1.05 + 2.0
    rpx = np.where(z - rad < 0.02, 1e6, rpx)
    bs = np.column_stack([c, rad, uv, rpx, np.maximum(r1, r2) + _INFL])
    return q, grp, info, bs


def hand_box(geom: HandGeometry, camera: Camera, margin: int = 3) -> tuple[int, int, int, int]:
    """Screen box (x0, y0, x1, y1) that contains the hand and forearm, clipped to the image.

    Parameters
    ----------
    geom : HandGeometry
        Posed hand.
    camera : Camera
        Camera.
    margin : int
        Extra pixels on each side.

    Returns
    -------
    tuple of int
        Half-open pixel box.
    """
    _, _, _, bs = _prepare(geom, camera)
    x0 = int(np.floor(np.min(bs[:, 4] - bs[:, 6]))) - margin
    x1 = int(np.ceil(np.max(bs[:, 4] + bs[:, 6]))) + margin
    y0 = int(np.floor(np.min(bs[:, 5] - bs[:, 6]))) - margin
    y1 = int(np.ceil(np.max(bs[:, 5] + bs[:, 6]))) + margin
    return (max(x0, 0), max(y0, 0), min(x1, camera.width), min(y1, camera.height))


@dataclass
class HandLayer:
    """A rendered hand: linear RGB, coverage and depth, full-frame arrays.

    Attributes
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` float32 linear colour (premultiplied by nothing; use ``alpha``).
    alpha : numpy.ndarray
        ``(H, W)`` float32 coverage 0..1.
    depth : numpy.ndarray
        ``(H, W)`` float32 camera-space z of the surface (0 where empty).
    box : tuple of int
        The pixel box that was rendered.
    """

    rgb: NDArray[np.float32]
    alpha: NDArray[np.float32]
    depth: NDArray[np.float32]
    box: tuple[int, int, int, int]


def render_hand(geom: HandGeometry, camera: Camera, material: Material, light: Light) -> HandLayer:
    """Render the posed hand.

    Parameters
    ----------
    geom : HandGeometry
        Output of :func:`synth.hand.forward_kinematics`.
    camera : Camera
        Camera.
    material : Material
        Skin appearance.
    light : Light
        Lighting.

    Returns
    -------
    HandLayer
        Colour, coverage and depth for the full frame.
    """
    q, grp, info, bs = _prepare(geom, camera)
    box = hand_box(geom, camera)
    h, w = camera.height, camera.width
    rgb = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    depth = np.zeros((h, w), np.float32)
    x0, y0, x1, y1 = box
    if x1 > x0 and y1 > y0:
        cam = np.array([camera.f, camera.cx, camera.cy])
        ld = np.asarray(light.direction, float)
        ld = ld / np.linalg.norm(ld)
        lig = np.concatenate([ld, light.key, light.sky, light.ground]).astype(np.float64)
        mat = np.array(
            [*material.dorsal, *material.palmar, *material.nail, material.crease, material.mottle], dtype=np.float64
        )
        sub_rgb = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        sub_a = np.zeros((y1 - y0, x1 - x0), np.float32)
        sub_d = np.zeros((y1 - y0, x1 - x0), np.float32)
        _render_kernel(q, grp, info, bs, cam, np.array(box, dtype=np.int64), mat, lig, sub_rgb, sub_a, sub_d)
        rgb[y0:y1, x0:x1] = sub_rgb
        alpha[y0:y1, x0:x1] = sub_a
        depth[y0:y1, x0:x1] = sub_d
    return HandLayer(rgb, alpha, depth, box)


def render_hand_scaled(
    geom: HandGeometry, camera: Camera, material: Material, light: Light, max_height: int = 480
) -> HandLayer:
    """Render the hand at most ``max_height`` pixels high and upscale the layer to the camera.

    Large frames (720p, 1080p) cost the same as 480p this way; MediaPipe analyses hands at
    ~224 px anyway. The camera's field of view is kept, so projections agree exactly.

    Parameters
    ----------
    geom : HandGeometry
        Posed hand.
    camera : Camera
        Output camera.
    material : Material
        Skin appearance.
    light : Light
        Lighting.
    max_height : int
        Internal render height limit.

    Returns
    -------
    HandLayer
        Layer at the camera's full size.
    """
    if camera.height <= max_height:
        return render_hand(geom, camera, material, light)
    s = max_height / camera.height
    small = Camera(round(camera.width * s), round(camera.height * s), camera.hfov_deg)
    lay = render_hand(geom, small, material, light)
    size = (camera.width, camera.height)
    rgb = np.asarray(cv2.resize(lay.rgb, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    alpha = np.asarray(cv2.resize(lay.alpha, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    depth = np.asarray(cv2.resize(lay.depth, size, interpolation=cv2.INTER_NEAREST), dtype=np.float32)
    x0, y0, x1, y1 = lay.box
    sx, sy = camera.width / small.width, camera.height / small.height
    box = (
        max(int(x0 * sx) - 2, 0),
        max(int(y0 * sy) - 2, 0),
        min(int(np.ceil(x1 * sx)) + 2, camera.width),
        min(int(np.ceil(y1 * sy)) + 2, camera.height),
    )
    return HandLayer(rgb, alpha, depth, box)
