"""The session result: schema-1 JSON, the contract read by storage, reports, dashboard and batch."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exercises.base import Analysis
from tracking.video import VideoInfo

SCHEMA = 1


@dataclass(frozen=True)
class SessionResult:
    exercise: str
    video: VideoInfo
    hand: str
    detection_rate: float
    warnings: list[str]
    reps: list[dict[str, Any]]
    metrics: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # optional top-level additions

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @classmethod
    def from_analysis(
        cls, analysis: Analysis, video: VideoInfo, hand: str, detection_rate: float, warnings: Sequence[str] = ()
    ) -> SessionResult:
        return cls(
            exercise=analysis.exercise,
            video=video,
            hand=hand,
            detection_rate=detection_rate,
            warnings=list(dict.fromkeys([*warnings, *analysis.warnings])),
            reps=analysis.reps,
            metrics=analysis.metrics,
        )

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "schema": SCHEMA,
                "exercise": self.exercise,
                "video": self.video.to_dict(),
                "hand": self.hand,
                "quality": {"detection_rate": self.detection_rate, "warnings": list(self.warnings)},
                "rep_count": self.rep_count,
                "reps": self.reps,
                "metrics": self.metrics,
                **self.extra,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionResult:
        if d.get("schema") != SCHEMA:
            raise ValueError(f"unsupported result schema {d.get('schema')!r}")
        known = {"schema", "exercise", "video", "hand", "quality", "rep_count", "reps", "metrics"}
        return cls(
            exercise=d["exercise"],
            video=VideoInfo(**d["video"]),
            hand=d["hand"],
            detection_rate=float(d["quality"]["detection_rate"]),
            warnings=list(d["quality"]["warnings"]),
            reps=list(d["reps"]),
            metrics=dict(d["metrics"]),
            extra={k: v for k, v in d.items() if k not in known},
        )


def _clean(obj: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, non-finite floats to None, 6 significant digits."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return float(f"{f:.6g}") if math.isfinite(f) else None
    return obj
