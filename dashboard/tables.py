"""Tables the pages show: the library's numbers laid out for reading (no new measurements).

Labels, number formats and the choice of headline metrics come from ``sessions.report`` so the
dashboard and the PDF say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

_TIME_KEYS = ("start_s", "peak_s", "end_s")


def reps_frame(reps: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per rep, numbered from 1, times first; nested values are flattened to dotted columns."""
    from sessions.store import flatten_metrics

    frame = pd.DataFrame([flatten_metrics(rep) for rep in reps])
    if frame.empty:
        return pd.DataFrame(columns=["rep", *_TIME_KEYS])
    first = [k for k in _TIME_KEYS if k in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    frame.insert(0, "rep", range(1, len(frame) + 1))
    return frame


def metrics_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Every metric as a (metric, value) row of text, in the order the exercise reported them."""
    from sessions.report import format_value, metric_label
    from sessions.store import flatten_metrics

    rows = [{"metric": metric_label(k), "value": format_value(v)} for k, v in flatten_metrics(metrics).items()]
    return pd.DataFrame(rows, columns=["metric", "value"])


def headline_metrics(exercise: str, metrics: Mapping[str, Any], *, limit: int = 4) -> list[tuple[str, str]]:
    """Up to ``limit`` (label, text) pairs of the metrics a clinician looks at first for ``exercise``."""
    from sessions.report import format_value, key_metrics, metric_label
    from sessions.store import flatten_metrics

    flat = flatten_metrics(metrics)
    keys = [k for k in key_metrics(exercise, metrics) if k != "duration_s"][:limit]
    return [(metric_label(k), format_value(flat[k])) for k in keys]
