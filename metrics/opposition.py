"""Image-plane geometry of the thumb against the fingers, for thumb opposition.

MediaPipe's image landmarks are its most accurate output; its world depth is the weakest axis. Where
the thumb meets a fingertip the two tips overlap in the image whatever the depth estimate says, so
these measures work on image landmarks in isotropic pixel units (x·W, y·H; see
:func:`exercises.common.image_pixels`) and divide by the image palm length (wrist -> middle MCP), which
makes them independent of the camera distance and the hand's size.

* :func:`thumb_tip_image_distances`: thumb tip to each fingertip.
* :func:`thumb_reach`: thumb tip to the nearest point of any finger (its three phalanges). Near 0 while
  the thumb lies on or over the fingers, about 0.6-0.9 with the hand open. It does not depend on which
  finger MediaPipe calls which, nor on where it puts a fingertip it cannot see.
* :func:`palm_facing`: which side of the hand faces the camera, from the turning sense of the palm's
  outline (wrist, index MCP, little MCP) in the image and the anatomical hand. A sudden change of its
  sign without the hand turning means MediaPipe has mirrored its finger labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tracking.series import DIGIT_CHAINS, FINGERS, FINGERTIPS, INDEX_MCP, MIDDLE_MCP, PINKY_MCP, THUMB_TIP, WRIST

__all__ = ["finger_image_lengths", "palm_facing", "segment_distance", "thumb_reach", "thumb_tip_image_distances"]


def _image_palm_length(image: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(image[:, MIDDLE_MCP, :2] - image[:, WRIST, :2], axis=-1))


def _as_frames(image: np.ndarray) -> np.ndarray:
    p = np.asarray(image, dtype=np.float64)
    return p[None] if p.ndim == 2 else p


def segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points ``p`` to the segments ``a``-``b`` (arrays ``(..., d)``, broadcast together).

    A degenerate segment (``a == b``) is the point ``a``. NaN where any input is NaN.
    """
    p, a, b = (np.asarray(v, dtype=np.float64) for v in (p, a, b))
    ab, ap = b - a, p - a
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sum(ap * ab, axis=-1) / np.sum(ab * ab, axis=-1)
    s = np.where(np.isfinite(s), np.clip(s, 0.0, 1.0), 0.0)  # 0/0: a point; NaN inputs stay NaN below
    return np.asarray(np.linalg.norm(ap - s[..., None] * ab, axis=-1))


def thumb_tip_image_distances(image: np.ndarray) -> dict[str, np.ndarray]:
    """Image distance from the thumb tip to each fingertip, in image palm lengths.

    Parameters
    ----------
    image : (T, 21, >=2) array
        Image landmarks in isotropic pixel units; only x and y are used.

    Returns
    -------
    dict
        ``{finger: (T,) distance}`` for index, middle, ring, little (NaN where untracked).
    """
    return _fingertips_from(image, dict.fromkeys(FINGERS, THUMB_TIP))


def finger_image_lengths(image: np.ndarray) -> dict[str, np.ndarray]:
    """Image distance from each finger's MCP to its tip, in image palm lengths.

    A finger bending toward the thumb shortens in the image whichever side of the hand the camera sees.

    Parameters
    ----------
    image : (T, 21, >=2) array
        Image landmarks in isotropic pixel units; only x and y are used.

    Returns
    -------
    dict
        ``{finger: (T,) length}`` for index, middle, ring, little (NaN where untracked).
    """
    return _fingertips_from(image, {f: DIGIT_CHAINS[f][1] for f in FINGERS})


def _fingertips_from(image: np.ndarray, origin: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Image distance from landmark ``origin[f]`` to each fingertip ``f``, in image palm lengths."""
    p = _as_frames(image)[..., :2]
    scale = _image_palm_length(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {f: np.linalg.norm(p[:, FINGERTIPS[f]] - p[:, origin[f]], axis=-1) / scale for f in FINGERS}


def thumb_reach(image: np.ndarray) -> np.ndarray:
    """Image distance from the thumb tip to the nearest point of any finger, in image palm lengths.

    The fingers are their proximal, middle and distal phalanges (MCP -> PIP -> DIP -> tip landmarks).

    Parameters
    ----------
    image : (T, 21, >=2) array
        Image landmarks in isotropic pixel units; only x and y are used.
    """
    p = _as_frames(image)[..., :2]
    thumb = p[:, THUMB_TIP]
    d = [
        segment_distance(thumb, p[:, a], p[:, b])
        for f in FINGERS
        for a, b in zip(DIGIT_CHAINS[f][1:-1], DIGIT_CHAINS[f][2:], strict=True)
    ]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.min(d, axis=0) / _image_palm_length(p))


def palm_facing(image: np.ndarray, *, handedness: str) -> np.ndarray:
    """Signed area of the palm's outline in the image: > 0 palm toward the camera, < 0 back toward it.

    The area of the triangle wrist -> index MCP -> little MCP, divided by the image palm length squared
    (about 0.6 for a flat hand square to the camera, 0 edge-on). Image ``y`` points down; a right hand
    seen from the palm side turns clockwise on screen, a left hand the other way.

    Parameters
    ----------
    image : (T, 21, >=2) array
        Image landmarks in isotropic pixel units (an unmirrored frame).
    handedness : {'left', 'right'}
        The anatomical hand.
    """
    p = _as_frames(image)[..., :2]
    a = p[:, INDEX_MCP] - p[:, WRIST]
    b = p[:, PINKY_MCP] - p[:, WRIST]
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    sign = -1.0 if handedness == "right" else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sign * cross / _image_palm_length(p) ** 2)
