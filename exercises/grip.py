"""Grip: one rep is one fist closure and release.

Closure is the long fingers' mean total flexion (MCP + PIP + DIP) as a percentage of a full fist
(MCP 85°, PIP 100°, DIP 60°: 245°), so 0 % is a flat open hand and 100 % a tight fist. It uses the
unsigned angles between adjacent segments (:func:`metrics.angles.compute_segment_angles`): a closing
hand is where monocular landmarks most often mislay the palm's orientation for a frame (measured on a
15 fps render: single frames at -30 to -60 % with signed angles), and a fist has no hyperextension to
tell apart. The per-joint ROM table uses the signed angles (robust percentiles).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from exercises.common import (
    Channels,
    CycleExercise,
    HandFrames,
    Prepared,
    Reference,
    RepSpan,
    nan_stat,
    rest_before,
    window_extreme,
)
from metrics.angles import compute_finger_angles, compute_segment_angles
from metrics.reps import RepParams
from metrics.rom import compute_rom
from tracking.series import FINGERS

__all__ = ["FULL_FIST_DEG", "Grip", "closure_pct", "joint_flexion"]

FULL_FIST_DEG = {"mcp": 85.0, "pip": 100.0, "dip": 60.0}
"""Joint flexion of a full fist; their sum is 100 % closure."""


def joint_flexion(world: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame, the long fingers' mean unsigned flexion (degrees) at each joint of :data:`FULL_FIST_DEG`."""
    seg = compute_segment_angles(world)
    return {j: np.mean([seg[f"{f}_{j}"] for f in FINGERS], axis=0) for j in FULL_FIST_DEG}


def closure_pct(joint_mean: dict[str, np.ndarray]) -> np.ndarray:
    """Fist closure (% of :data:`FULL_FIST_DEG`) from :func:`joint_flexion`."""
    return np.asarray(100.0 * sum(joint_mean.values()) / sum(FULL_FIST_DEG.values()))


class Grip(CycleExercise):
    name = "grip"
    title = "Make a fist"
    instructions = "Open your hand wide, then close it into a fist as tightly as is comfortable, and open it again."
    value_label = "Fist closure (%)"
    normal_range: tuple[float, float] | None = (0.0, 100.0)
    unit = "pct"
    # A weak hand's partial fist must count. MediaPipe under-reads closure (an open hand reads 15-25 %, and
    # a fist's excursion comes out at 0.25-0.95 of the true one, least with the fingers curling toward the
    # camera): a 57 % fist seen palm-on from above moved the signal by 11-12 points. A still open hand
    # jitters by at most 8 points peak to peak (15 rendered grip clips, after the causal smoothing below),
    # so 10 points separates the two where the former 15 missed such fists.
    # MediaPipe also loses a tight fist seen from the back: 0.47 s at a brief squeeze (14 frames of a
    # rendered back_above clip), longer if the fist is held. A closure seen rising before the loss and
    # released after it is one fist, so the count bridges a loss of up to 1 s instead of restarting.
    params = RepParams(min_prominence=10.0, rel_prominence=0.3, polarity=1, min_duration_s=0.15, max_gap_s=1.0)
    smooth_s = 0.08

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        a = compute_finger_angles(frames.world, handedness=handedness)
        joint_mean = joint_flexion(frames.world)
        return {
            "closure_pct": closure_pct(joint_mean),
            **{f"mean_{j}_flex": v for j, v in joint_mean.items()},
            **{k: v for k, v in a.items() if k.endswith(("_mcp_flex", "_pip_flex", "_dip_flex"))},
        }

    def unit_of(self, channel: str) -> str:
        return "pct" if channel == "closure_pct" else "deg"

    def rep_fields(self, span: RepSpan, prep: Prepared) -> dict[str, Any]:
        s, t = prep.smooth, prep.t
        peak, ip = window_extreme(s["closure_pct"], span.start_i, span.end_i, largest=True)
        rest = rest_before(t, s["closure_pct"], span.start_i, span.peak_i)
        joints = {j: float(s[f"mean_{j}_flex"][ip]) for j in FULL_FIST_DEG}
        return {
            "closure_pct": peak,
            "release_pct": rest,
            "rom_deg": (peak - rest) / 100.0 * sum(FULL_FIST_DEG.values()),
            **{f"{j}_flex_deg": v for j, v in joints.items()},
        }

    def summary(self, reps: list[dict[str, Any]], prep: Prepared) -> tuple[dict[str, Any], list[str]]:
        joints = {k: v for k, v in prep.smooth.items() if k.split("_")[0] in FINGERS}
        rom = compute_rom(joints)
        metrics = {
            "closure_pct_mean": nan_stat([r["closure_pct"] for r in reps], np.mean),
            "closure_pct_max": nan_stat([r["closure_pct"] for r in reps]),
            "release_pct_mean": nan_stat([r["release_pct"] for r in reps], np.mean),
            "rom_deg_mean": nan_stat([r["rom_deg"] for r in reps], np.mean),
            "max_mcp_flex_deg": nan_stat([r["mcp_flex_deg"] for r in reps]),
            "max_pip_flex_deg": nan_stat([r["pip_flex_deg"] for r in reps]),
            "max_dip_flex_deg": nan_stat([r["dip_flex_deg"] for r in reps]),
            "rom": {k: v.to_dict() for k, v in rom.items()},
        }
        return metrics, []
