"""Plotly figures for the dashboard: they draw what the library computed, they compute nothing new."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from exercises.base import Signal

REP_FILL = "rgba(46, 134, 222, 0.13)"
REJECTED_FILL = "rgba(200, 200, 200, 0.25)"
NORMAL_FILL = "rgba(39, 174, 96, 0.15)"


def unit_suffix(unit: str) -> str:
    return {"deg": "°", "norm": " (× palm length)", "s": " s", "hz": " Hz"}.get(unit, f" {unit}" if unit else "")


def format_value(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "–"
    if unit == "deg":
        return f"{value:.0f}°"
    return f"{value:.2f}"


def signal_figure(
    signal: Signal,
    reps: Sequence[Mapping[str, Any]],
    *,
    normal_range: tuple[float, float] | None = None,
    rejected: Sequence[int] = (),
    title: str = "",
) -> go.Figure:
    """The main signal over time, each rep shaded and numbered at its peak.

    Parameters
    ----------
    signal : Signal
        ``Analysis.signals[0]``; NaN samples (hand not tracked) show as gaps.
    reps : sequence of dict
        Rep dicts with ``start_s``, ``end_s`` and ``peak_s``.
    normal_range : (low, high), optional
        Drawn as a green band.
    rejected : sequence of int
        1-based numbers of reps about to be rejected (shaded grey).
    """
    t = np.asarray(signal.t, float)
    y = np.asarray(signal.value, float)
    fig = go.Figure()
    if normal_range is not None:
        fig.add_hrect(y0=normal_range[0], y1=normal_range[1], fillcolor=NORMAL_FILL, line_width=0, layer="below")
    for i, rep in enumerate(reps, start=1):
        fill = REJECTED_FILL if i in rejected else REP_FILL
        fig.add_vrect(x0=rep["start_s"], x1=rep["end_s"], fillcolor=fill, line_width=0, layer="below")
        text = f"<s>{i}</s>" if i in rejected else str(i)
        fig.add_annotation(x=rep["peak_s"], y=1.0, yref="paper", text=text, showarrow=False, yanchor="bottom")
    fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name=signal.name.replace("_", " "), line={"width": 2}))
    if len(reps) and len(t):
        peaks = np.array([r["peak_s"] for r in reps], float)
        # Marker height read off the plotted curve at each peak time, only to place the marker.
        finite = np.isfinite(y)
        py = np.interp(peaks, t[finite], y[finite]) if finite.any() else np.full(len(peaks), np.nan)
        fig.add_trace(
            go.Scatter(x=peaks, y=py, mode="markers", name="rep peak", marker={"size": 9, "symbol": "diamond"})
        )
    fig.update_layout(
        title=title or None,
        xaxis_title="time (s)",
        yaxis_title=f"{signal.name.replace('_', ' ')}{unit_suffix(signal.unit)}",
        height=340,
        margin={"l": 10, "r": 10, "t": 40 if title else 24, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def rep_extents(signal: Signal, reps: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Lowest and highest point of the plotted curve within each rep (NaN when untracked throughout).

    This only reads the curve the page already draws, so the rep bars and the signal plot agree.
    """
    t = np.asarray(signal.t, float)
    y = np.asarray(signal.value, float)
    out = []
    for rep in reps:
        inside = y[(t >= rep["start_s"]) & (t <= rep["end_s"])]
        inside = inside[np.isfinite(inside)]
        out.append((float(inside.min()), float(inside.max())) if inside.size else (math.nan, math.nan))
    return out


def rep_range_figure(
    extents: Sequence[tuple[float, float]],
    *,
    label: str,
    unit: str,
    normal_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One floating bar per rep, from the lowest to the highest point reached, over the normal range."""
    x = [str(i) for i in range(1, len(extents) + 1)]
    lo = [a for a, _ in extents]
    span = [b - a for a, b in extents]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=span,
            base=lo,
            name="range reached",
            marker_color="#2e86de",
            hovertemplate="rep %{x}: %{base:.2f} to %{customdata:.2f}<extra></extra>",
            customdata=[b for _, b in extents],
        )
    )
    add_normal_band(fig, normal_range, label="normal range")
    fig.update_layout(
        title="Range reached in each repetition",
        xaxis_title="rep",
        yaxis_title=f"{label}{unit_suffix(unit)}",
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def gauge_html(
    value: float,
    *,
    label: str,
    unit: str,
    normal_range: tuple[float, float] | None,
    target: float | None = None,
) -> str:
    """A light ROM gauge (HTML, redrawn several times a second): the value as a bar over the normal range.

    The green band is the normal range, the orange line the patient's target; the scale runs from
    the lower end of the normal range to a quarter beyond its upper end.
    """
    lo, hi = normal_range if normal_range is not None else (0.0, 1.0)
    top = hi + 0.25 * (hi - lo) if hi > lo else lo + 1.0

    def pct(x: float) -> float:
        return 100.0 * min(max((x - lo) / (top - lo), 0.0), 1.0)

    shown = format_value(value, unit)
    fill = pct(value) if math.isfinite(value) else 0.0
    band = (
        f"<div style='position:absolute;left:0;width:{pct(hi):.1f}%;top:0;bottom:0;background:{NORMAL_FILL}'></div>"
        if normal_range is not None
        else ""
    )
    mark = (
        f"<div title='target' style='position:absolute;left:{pct(target):.1f}%;top:-6px;bottom:-6px;"
        "width:4px;background:#e67e22'></div>"
        if target is not None and math.isfinite(target)
        else ""
    )
    return (
        f"<div id='rom-gauge' data-value='{value if math.isfinite(value) else ''}' style='margin:0.5rem 0 1rem 0'>"
        f"<div style='font-size:0.95rem;color:#566573'>{html.escape(label)}</div>"
        f"<div style='font-size:2.4rem;font-weight:600'>{shown}</div>"
        "<div style='position:relative;height:22px;border-radius:4px;background:#eaecee;overflow:visible'>"
        f"{band}<div style='position:absolute;left:0;width:{fill:.1f}%;top:4px;bottom:4px;background:#2e86de;"
        f"border-radius:3px'></div>{mark}</div>"
        f"<div style='display:flex;justify-content:space-between;font-size:0.8rem;color:#7f8c8d'>"
        f"<span>{format_value(lo, unit)}</span><span>target {format_value(target or math.nan, unit)}</span>"
        f"<span>{format_value(top, unit)}</span></div></div>"
    )


def history_figure(
    dates: Sequence[Any],
    values: Sequence[float],
    *,
    label: str,
    normal_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One metric over a patient's sessions."""
    fig = go.Figure(go.Scatter(x=list(dates), y=list(values), mode="lines+markers", name=label))
    add_normal_band(fig, normal_range, label="normal")
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if finite and min(finite) >= 0:
        fig.update_yaxes(rangemode="tozero")  # a small change should look small
    fig.update_layout(
        title=label,
        xaxis_title="session",
        height=280,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def add_normal_band(fig: go.Figure, normal_range: tuple[float, float] | None, *, label: str) -> None:
    """Shade the normal range behind the data (nothing when the exercise has none)."""
    if normal_range is None:
        return
    fig.add_hrect(
        y0=normal_range[0],
        y1=normal_range[1],
        fillcolor=NORMAL_FILL,
        line_width=0,
        layer="below",
        annotation_text=label,
        annotation_position="top left",
    )
