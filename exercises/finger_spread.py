"""Finger spread: one rep is one abduction of the fingers (spreading them) and adduction back.

The main signal is the index plus little finger MCP abduction (each measured in the palm plane from the
middle metacarpal axis, positive away from the middle finger), i.e. the fan angle between the index and
the little finger minus their resting divergence. Per-rep values are measured from the rest position
the rep started from.
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
from tracking.series import FINGERS

__all__ = ["FingerSpread"]


class FingerSpread(CycleExercise):
    name = "finger_spread"
    title = "Spread your fingers"
    instructions = "Hold your hand flat with the fingers together, then spread them as wide as you can and close them."
    value_label = "Finger spread, index to little (°)"
    normal_range: tuple[float, float] | None = (0.0, 60.0)
    params = RepParams(min_prominence=8.0, rel_prominence=0.3, polarity=1, min_duration_s=0.15)

    def channels(self, frames: HandFrames, *, handedness: str, reference: Reference | None) -> Channels:
        a = compute_finger_angles(frames.world, handedness=handedness)
        abd = {f"{f}_mcp_abd": a[f"{f}_mcp_abd"] for f in FINGERS}
        return {"spread": abd["index_mcp_abd"] + abd["little_mcp_abd"], **abd}

    def rep_fields(self, span: RepSpan, prep: Prepared) -> dict[str, Any]:
        s, t = prep.smooth, prep.t
        top, ip = window_extreme(s["spread"], span.start_i, span.end_i, largest=True)
        return {
            "spread_deg": top - rest_before(t, s["spread"], span.start_i, span.peak_i),
            "spread_abs_deg": top,
            "abduction_deg": {
                f: float(s[f"{f}_mcp_abd"][ip]) - rest_before(t, s[f"{f}_mcp_abd"], span.start_i, span.peak_i)
                for f in FINGERS
            },
        }

    def summary(self, reps: list[dict[str, Any]], prep: Prepared) -> tuple[dict[str, Any], list[str]]:
        metrics = {
            "spread_deg_mean": nan_stat([r["spread_deg"] for r in reps], np.mean),
            "spread_deg_max": nan_stat([r["spread_deg"] for r in reps]),
            "max_abduction_deg": {f: nan_stat([r["abduction_deg"][f] for r in reps]) for f in FINGERS},
        }
        return metrics, []
