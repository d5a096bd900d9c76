"""Thumb flexion: one rep is one bend of the thumb across the palm (MCP and IP joints) and back.

The main signal is thumb MCP flexion plus IP flexion (IP hyperextension counted as 0) from
:func:`metrics.angles.compute_finger_angles`.
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
from metrics.angles import compute_finger_angles
from metrics.reps import RepParams
from metrics.rom import compute_rom

__all__ = ["ThumbFlexion"]


class ThumbFlexion(CycleExercise):
    name = "thumb_flexion"
    title = "Bend your thumb"
    instructions = (
        "Start with the thumb straight out, bend it across your palm toward the little finger, then straighten it."
    )
    value_label = "Thumb bend, MCP + IP (°)"
    normal_range: tuple[float, float] | None = (0.0, 130.0)
    # A bend is held a moment, and MediaPipe can read the held thumb 15-25 deg straighter for a few frames (three
    # rendered clips on stripes): a retrace of 40 % of the recent bends, not 30 %, ends a rep. Seeds 0-22: 117 -> 120
    # of 120 clips right; 0.5 also 120.
    params = RepParams(min_prominence=15.0, rel_prominence=0.4, polarity=1, min_duration_s=0.15)

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        a = compute_finger_angles(frames.world, handedness=handedness)
        return {
            # The bend across the palm: IP hyperextension does not undo it. (Seen from below, MediaPipe reads
            # the IP joint 20-30 deg hyperextended on the way in and out, which split one bend into two.)
            "thumb_flexion": a["thumb_mcp_flex"] + np.maximum(a["thumb_ip_flex"], 0.0),
            "thumb_mcp_flex": a["thumb_mcp_flex"],
            "thumb_ip_flex": a["thumb_ip_flex"],
            "thumb_cmc_flex": a["thumb_cmc_flex"],
            "thumb_cmc_abd": a["thumb_cmc_abd"],
        }

    def rep_fields(self, span: RepSpan, prep: Prepared) -> dict[str, Any]:
        s = prep.smooth
        out = {}
        for key, ch in (("mcp_flex_deg", "thumb_mcp_flex"), ("ip_flex_deg", "thumb_ip_flex")):
            out[key], _ = window_extreme(s[ch], span.start_i, span.end_i, largest=True)
        peak, _ = window_extreme(s["thumb_flexion"], span.start_i, span.end_i, largest=True)
        rest = rest_before(prep.t, s["thumb_flexion"], span.start_i, span.peak_i)
        return {**out, "peak_angle_deg": peak, "rom_deg": peak - rest}

    def summary(self, reps: list[dict[str, Any]], prep: Prepared) -> tuple[dict[str, Any], list[str]]:
        rom = compute_rom({k: prep.smooth[k] for k in ("thumb_mcp_flex", "thumb_ip_flex", "thumb_cmc_abd")})
        metrics = {
            "max_mcp_flex_deg": nan_stat([r["mcp_flex_deg"] for r in reps]),
            "max_ip_flex_deg": nan_stat([r["ip_flex_deg"] for r in reps]),
            "rom_deg_mean": nan_stat([r["rom_deg"] for r in reps], np.mean),
            "rom": {k: v.to_dict() for k, v in rom.items()},
        }
        return metrics, []
