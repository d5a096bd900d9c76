"""Range of motion per joint over a session, beside the normal active range so a deficit is visible.

Angles follow :mod:`metrics.angles`: positive = flexion (or radial deviation, supination, abduction),
negative = the opposite motion. Normal values are the AAOS averages for adults (Greene & Heckman, *The
Clinical Measurement of Joint Motion*, 1994); a therapist compares the patient's robust peaks with them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

__all__ = ["NORMAL_ROM", "JointRom", "NormalRange", "compute_joint_rom", "compute_rom"]


@dataclass(frozen=True)
class NormalRange:
    """Normal active range of one joint angle: how far it goes each way from 0 (degrees, both >= 0)."""

    positive: float | None  # e.g. flexion
    negative: float | None  # e.g. extension (hyperextension for finger joints)
    positive_motion: str = "flexion"
    negative_motion: str = "extension"


_FINGER = {"mcp": NormalRange(90.0, 45.0), "pip": NormalRange(100.0, 0.0), "dip": NormalRange(90.0, 10.0)}

NORMAL_ROM: dict[str, NormalRange] = {
    **{f"{f}_{j}_flex": rng for f in ("index", "middle", "ring", "little") for j, rng in _FINGER.items()},
    "thumb_mcp_flex": NormalRange(50.0, 0.0),
    "thumb_ip_flex": NormalRange(80.0, 20.0),
    "thumb_cmc_abd": NormalRange(70.0, None, "palmar abduction", "adduction"),
    "wrist_flex": NormalRange(80.0, 70.0),
    "wrist_dev": NormalRange(20.0, 30.0, "radial deviation", "ulnar deviation"),
    "pronation": NormalRange(80.0, 80.0, "pronation", "supination"),
}
"""AAOS normal active range per joint-angle name (the names of :mod:`metrics.angles` plus
``wrist_flex``, ``wrist_dev`` and ``pronation``, positive = pronation)."""


@dataclass(frozen=True)
class JointRom:
    """Observed range of one joint angle over a session (degrees; NaN when never tracked).

    ``low``/``high`` are robust percentiles (single-frame tracking spikes do not move them); ``min``
    and ``max`` are the raw extremes. ``positive_deficit`` is how far the robust positive peak falls
    short of the normal value (0 when it reaches it), likewise ``negative_deficit`` for the negative
    side; ``pct_of_normal`` is the robust range as a percentage of the normal total arc.
    """

    min: float
    max: float
    range: float
    low: float
    high: float
    robust_range: float
    normal_positive: float | None = None
    normal_negative: float | None = None
    positive_motion: str | None = None
    negative_motion: str | None = None
    positive_deficit: float | None = None
    negative_deficit: float | None = None
    pct_of_normal: float | None = None

    def to_dict(self) -> dict[str, float | str | None]:
        """Plain-JSON form (keys with a ``_deg`` suffix for the angles)."""
        return {(k if k in _NOT_ANGLES else f"{k}_deg"): v for k, v in asdict(self).items()}


_NOT_ANGLES = frozenset({"positive_motion", "negative_motion", "pct_of_normal"})


def compute_joint_rom(
    angle: np.ndarray, *, normal: NormalRange | None = None, low_pct: float = 5.0, high_pct: float = 95.0
) -> JointRom:
    """Range of motion of one angle series.

    Parameters
    ----------
    angle : (T,) array
        Degrees, NaN where untracked.
    normal : NormalRange, optional
        Normal active range to compare against.
    low_pct, high_pct : float
        Percentiles used for the robust extremes.

    Returns
    -------
    JointRom
    """
    x = np.asarray(angle, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        nan = math.nan
        base = JointRom(nan, nan, nan, nan, nan, nan)
    else:
        lo, hi = (float(v) for v in np.percentile(x, [low_pct, high_pct]))
        mn, mx = float(x.min()), float(x.max())
        base = JointRom(mn, mx, mx - mn, lo, hi, hi - lo)
    if normal is None:
        return base
    pos_def = None if normal.positive is None else _deficit(normal.positive, base.high)
    neg_def = None if normal.negative is None else _deficit(normal.negative, -base.low)
    arc = (normal.positive or 0.0) + (normal.negative or 0.0)
    pct = 100.0 * base.robust_range / arc if arc > 0 and math.isfinite(base.robust_range) else None
    return replace(
        base,
        normal_positive=normal.positive,
        normal_negative=normal.negative,
        positive_motion=normal.positive_motion,
        negative_motion=normal.negative_motion,
        positive_deficit=pos_def,
        negative_deficit=neg_def,
        pct_of_normal=pct,
    )


def _deficit(normal: float, reached: float) -> float | None:
    if not math.isfinite(reached):
        return None
    return max(0.0, normal - reached)


def compute_rom(
    angles: Mapping[str, np.ndarray], *, low_pct: float = 5.0, high_pct: float = 95.0
) -> dict[str, JointRom]:
    """Session range of motion for every angle in ``angles``, with AAOS normals where known.

    Parameters
    ----------
    angles : mapping of name to (T,) array
        Joint angles in degrees (e.g. from :func:`metrics.angles.compute_finger_angles`).
    low_pct, high_pct : float
        Percentiles used for the robust extremes.

    Returns
    -------
    dict
        ``{name: JointRom}`` in the order of ``angles``.
    """
    return {
        name: compute_joint_rom(a, normal=NORMAL_ROM.get(name), low_pct=low_pct, high_pct=high_pct)
        for name, a in angles.items()
    }
