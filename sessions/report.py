"""PDF reports for the record: one session, or a patient's progress across sessions (fpdf2 + matplotlib).

Text uses the DejaVu Sans TrueType font (accented and non-Latin names print correctly); figures are
matplotlib PNGs rendered off-screen (the Agg canvas, no display, no global pyplot state). The main
signal of a session is recomputed from its stored landmark series with ``sessions.pipeline.score_series``,
so no video is needed.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from sessions.store import NotFoundError, PatientRecord, SessionRecord, Store, flatten_metrics
from tracking.series import write_atomic

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)

# The headline metrics of each exercise (the contract's required keys), in the order reports show them.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "finger_tapping": ("frequency_hz", "amplitude_mean", "amplitude_decrement_pct", "interval_cv", "hesitations"),
    "thumb_opposition": (
        "completed_sequences",
        "touches_per_finger.index",
        "touches_per_finger.middle",
        "touches_per_finger.ring",
        "touches_per_finger.little",
    ),
    "finger_lifting": (
        "individuation_index.index",
        "individuation_index.middle",
        "individuation_index.ring",
        "individuation_index.little",
        "lift_angle_deg.index",
        "lift_angle_deg.middle",
        "lift_angle_deg.ring",
        "lift_angle_deg.little",
    ),
    "wrist_flexion": ("max_flexion_deg", "max_extension_deg", "rom_deg"),
}
# Normal active range of motion (AAOS), in degrees, for metrics that are a joint's range.
NORMAL_ROM_DEG: dict[str, dict[str, tuple[str, float]]] = {
    "wrist_flexion": {
        "max_flexion_deg": ("Wrist flexion", 80.0),
        "max_extension_deg": ("Wrist extension", 70.0),
        "rom_deg": ("Flexion–extension arc", 150.0),
    },
}
_ACRONYMS = {"rom": "ROM", "cv": "CV", "sparc": "SPARC", "ldlj": "LDLJ", "mcp": "MCP", "pip": "PIP", "dip": "DIP"}
_UNITS = (("_hz", "Hz"), ("_deg", "°"), ("_pct", "%"), ("_s", "s"), ("_ms", "ms"))


# -- formatting -------------------------------------------------------------------------------------------


def metric_label(key: str) -> str:
    """A readable label for a flattened metric key: ``touches_per_finger.index`` -> 'Touches per finger: index'."""
    head, _, tail = key.partition(".")
    unit = ""
    for suffix, u in _UNITS:
        if head.endswith(suffix):
            head, unit = head[: -len(suffix)], u
            break
    text = " ".join(_ACRONYMS.get(w, w) for w in head.split("_") if w).capitalize()
    text = " ".join(_ACRONYMS.get(w.lower(), w) for w in text.split(" "))
    if tail:
        text += f": {tail.replace('.', ' ').replace('_', ' ')}"
    return f"{text} ({unit})" if unit else text


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def format_change(old: Any, new: Any) -> str:
    """'+2.5 (+12%)' style difference of two numbers; '–' when either is missing."""
    if not _is_number(old) or not _is_number(new):
        return "–"
    d = float(new) - float(old)
    text = f"{d:+.3g}".replace("-", "−")
    if float(old) != 0:
        text += f" ({100 * d / abs(float(old)):+.0f}%)".replace("-", "−")
    return text


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def _local(t: datetime) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


def key_metrics(exercise: str, metrics: Mapping[str, Any], *, limit: int = 6) -> list[str]:
    """The headline metric keys of ``exercise`` (the contract's keys), else its first ``limit`` numeric ones."""
    flat = flatten_metrics(metrics)
    keys = [k for k in KEY_METRICS.get(exercise, ()) if k in flat]
    return keys or [k for k, v in flat.items() if _is_number(v)][:limit]


def other_metrics(exercise: str, metrics: Mapping[str, Any]) -> list[str]:
    """The remaining scalar metric keys (numbers and short texts), for the full metrics table."""
    head = set(key_metrics(exercise, metrics))
    flat = flatten_metrics(metrics)
    return [
        k
        for k, v in flat.items()
        if k not in head and (_is_number(v) or (isinstance(v, str) and not v.startswith(("[", "{"))))
    ]


# -- figures (pure: arrays in, PNG bytes out) ------------------------------------------------------------


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_signal(
    t: np.ndarray,
    value: np.ndarray,
    *,
    reps: Sequence[Mapping[str, Any]],
    label: str,
    unit: str,
    normal_range: tuple[float, float] | None = None,
    rejected: Sequence[Sequence[float]] = (),
) -> bytes:
    """The main signal over time with each rep shaded and numbered at its peak; rejected reps hatched."""
    fig = _figure(7.2, 2.8)
    ax = fig.add_subplot()
    if normal_range is not None:
        ax.axhspan(*normal_range, color="#2a9d8f", alpha=0.10, lw=0, label="normal range")
    finite = np.isfinite(value)
    for i, rep in enumerate(reps, start=1):
        a, b = rep.get("start_s"), rep.get("end_s")
        if _is_number(a) and _is_number(b):
            ax.axvspan(a, b, color="#f4a261" if i % 2 else "#e9c46a", alpha=0.35, lw=0)
        p: Any = rep.get("peak_s")
        if _is_number(p) and finite.any():
            y = float(np.interp(float(p), t[finite], value[finite]))
            ax.plot([p], [y], "v", color="#e76f51", ms=4)
            if len(reps) <= 40:
                ax.annotate(str(i), (p, y), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=6)
    for a, b in rejected:
        ax.axvspan(a, b, facecolor="none", edgecolor="#888888", hatch="///", lw=0, label="rejected")
    ax.plot(t, value, color="#264653", lw=1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{label} ({unit})" if unit and "(" not in label else label, fontsize=8)
    ax.margins(x=0.01)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper right")
    return _png(fig)


def plot_rom(items: Sequence[tuple[str, float, float]]) -> bytes:
    """Measured range of motion against the normal value, one bar per (label, measured, normal)."""
    fig = _figure(7.2, 0.45 * len(items) + 0.9)
    ax = fig.add_subplot()
    y = np.arange(len(items))
    normal = [n for _, _, n in items]
    measured = [max(m, 0.0) for _, m, _ in items]
    ax.barh(y, normal, color="#dddddd", height=0.6, label="normal")
    ax.barh(y, measured, color="#2a9d8f", height=0.35, label="measured")
    for yi, (_, m, n) in zip(y, items, strict=True):
        ax.text(max(m, 0) + 1, yi, f"{m:.0f}° ({100 * m / n:.0f}% of normal)", va="center", fontsize=7)
    ax.set_yticks(y, [lab for lab, _, _ in items], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("degrees")
    ax.set_xlim(0, max([*normal, *measured]) * 1.45)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def plot_progress(frame: pd.DataFrame, columns: Sequence[str]) -> bytes:
    """Small multiples of ``columns`` over ``frame['recorded_at']`` (one point per session)."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    n = len(columns)
    ncols = 2 if n > 1 else 1
    nrows = math.ceil(n / ncols)
    fig = _figure(7.2, 1.9 * nrows + 0.3)
    when = pd.to_datetime(frame["recorded_at"], utc=True).dt.tz_convert(None)
    for i, col in enumerate(columns):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        y = frame[col].astype(float).to_numpy()
        ax.plot(when, y, "o-", color="#264653", ms=3, lw=1)
        ax.set_title("Repetitions" if col == "rep_count" else metric_label(col), fontsize=8)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.xaxis.get_offset_text().set_fontsize(6)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        finite = y[np.isfinite(y)]
        if len(finite):
            # A clinical trend is read against zero: never zoom into noise on a nearly constant metric.
            lo, hi = float(finite.min()), float(finite.max())
            span = max(hi - lo, 0.25 * max(abs(lo), abs(hi)), 1e-9)
            bottom = 0.0 if lo >= 0 else lo - 0.15 * span
            ax.set_ylim(bottom, max(hi + 0.15 * span, 1.0 if hi == 0 else hi + 0.15 * span))
        if np.allclose(finite, np.round(finite)):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


# -- the PDF ----------------------------------------------------------------------------------------------


def _font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    import matplotlib  # ships DejaVu Sans too

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


class _Doc(FPDF):
    def __init__(self, title: str, footer_text: str) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.footer_text = footer_text
        self.add_font("DejaVu", "", str(_font_path("DejaVuSans.ttf")))
        self.add_font("DejaVu", "B", str(_font_path("DejaVuSans-Bold.ttf")))
        self.set_font("DejaVu", size=10)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_title(title)
        self.set_creator("handrehab")
        self.add_page()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.footer_text} — page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)

    def h1(self, text: str) -> None:
        self.set_font("DejaVu", "B", 15)
        self.multi_cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("DejaVu", size=10)

    def h2(self, text: str) -> None:
        if self.will_page_break(20):
            self.add_page()
        self.ln(3)
        self.set_font("DejaVu", "B", 11.5)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("DejaVu", size=10)

    def para(self, text: str, *, size: float = 10, color: int = 0) -> None:
        self.set_font("DejaVu", size=size)
        self.set_text_color(color)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.set_font("DejaVu", size=10)

    def grid(
        self, rows: Sequence[Sequence[str]], *, header: bool = True, size: float = 8.5, widths: Any = None
    ) -> None:
        self.set_font("DejaVu", size=size)
        with self.table(
            col_widths=widths,
            first_row_as_headings=header,
            line_height=size * 0.55,
            text_align="LEFT",
            headings_style=FontFace(emphasis="BOLD", fill_color=(232, 238, 240)),
        ) as table:
            for values in rows:
                row = table.row()
                for v in values:
                    row.cell(v)
        self.set_font("DejaVu", size=10)
        self.ln(2)

    def figure(self, png: bytes, *, title: str) -> None:
        w = self.epw
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            h = w * im.height / im.width
        if self.will_page_break(h + 2):
            self.add_page()
        self.image(io.BytesIO(png), w=w, title=title, alt_text=title)
        self.ln(2)


@dataclass(frozen=True)
class _ExerciseInfo:
    title: str
    value_label: str
    normal_range: tuple[float, float] | None
    known: bool


def _exercise_info(name: str) -> _ExerciseInfo:
    try:
        from exercises.registry import get_exercise

        ex = get_exercise(name)
        return _ExerciseInfo(ex.title, ex.value_label, ex.normal_range, True)
    except Exception:  # an exercise this installation cannot load: the report still renders, without plots
        return _ExerciseInfo(name.replace("_", " ").capitalize(), "", None, False)


def _patient_line(patient: PatientRecord | None) -> str:
    if patient is None:
        return "Patient: (unattributed)"
    side = f" · affected side: {patient.affected_side}" if patient.affected_side else ""
    return f"Patient: {patient.display_name} (id {patient.id}){side}"


def _signal_png(store: Store, rec: SessionRecord, ex: _ExerciseInfo) -> tuple[bytes | None, str | None]:
    """The main-signal figure recomputed from the stored landmarks, or a note saying why there is none."""
    if not rec.has_series:
        return None, "No landmarks were stored with this session, so the signal cannot be plotted."
    if not ex.known:
        return None, f"The exercise {rec.info.exercise!r} is not available in this installation; no signal plot."
    from sessions.pipeline import score_series

    series = store.get_series(rec.id)
    assert series is not None
    manual = rec.version.manual_reps
    reps = [(float(a), float(b)) for a, b in manual] if manual is not None else None
    try:
        analysis = score_series(series, rec.result.video, rec.info.exercise, reps=reps).analysis
    except Exception as e:  # a report must not fail because a re-analysis does
        return None, f"The signal could not be recomputed ({type(e).__name__}: {e})."
    if not analysis.signals:
        return None, "This exercise provides no signal to plot."
    sig = analysis.signals[0]
    rejected = (rec.version.changes or {}).get("reps_removed", []) if rec.version.kind == "corrected" else []
    png = plot_signal(
        np.asarray(sig.t, float),
        np.asarray(sig.value, float),
        reps=rec.result.reps,
        label=ex.value_label or sig.name,
        unit="°" if sig.unit == "deg" else sig.unit,
        normal_range=ex.normal_range,
        rejected=rejected,
    )
    return png, None


def _rom_items(exercise: str, metrics: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """(label, reached, normal) in degrees for each direction of each joint the session measured.

    Read from the exercise's ``rom`` metric (one entry per joint with its AAOS normals, see
    ``metrics.rom.JointRom``); the reached value is the exercise's ``max_<motion>_deg`` when it reports
    one, else the robust extreme. Falls back to :data:`NORMAL_ROM_DEG` for results without a ``rom`` entry.
    """
    items: list[tuple[str, float, float]] = []
    rom = metrics.get("rom")
    joints = {k: v for k, v in rom.items() if isinstance(v, Mapping)} if isinstance(rom, Mapping) else {}
    for joint, entry in joints.items():
        for side, sign in (("positive", 1.0), ("negative", -1.0)):
            normal: Any = entry.get(f"normal_{side}_deg")
            motion: Any = entry.get(f"{side}_motion")
            if not _is_number(normal) or float(normal) <= 0 or not isinstance(motion, str):
                continue
            reached: Any = metrics.get(f"max_{motion.replace(' ', '_')}_deg")
            if not _is_number(reached):
                extreme: Any = entry.get("high_deg" if sign > 0 else "low_deg")
                reached = sign * float(extreme) if _is_number(extreme) else None
            if reached is None:
                continue
            label = motion.capitalize() if len(joints) == 1 else f"{joint.replace('_', ' ')}: {motion}"
            items.append((label, float(reached), float(normal)))
    if items:
        return items
    flat = flatten_metrics(metrics)
    return [
        (label, float(flat[key]), normal)
        for key, (label, normal) in NORMAL_ROM_DEG.get(exercise, {}).items()
        if _is_number(flat.get(key))
    ]


def session_report(store: Store, session_id: int, out: str | os.PathLike[str], *, version: int | None = None) -> Path:
    """Write a one-session PDF to ``out``; returns its path.

    Contents: patient, exercise, date and analysis version; headline metrics; the main signal with the reps
    marked; range of motion against the normal range (where the exercise measures a joint's range); the
    metrics against the previous and the first session of the same exercise; the rep table; quality
    warnings and the version history.
    """
    rec = store.get_session(session_id, version=version)
    info, result = rec.info, rec.result
    patient = store.get_patient(info.patient_id) if info.patient_id else None
    ex = _exercise_info(info.exercise)
    doc = _Doc(
        f"{ex.title} — session {info.id}",
        f"handrehab {rec.version.software_version} · session {info.id} v{rec.version.version} · "
        f"video sha256 {(info.video_sha256 or 'not recorded')[:12]}",
    )
    doc.h1(f"{ex.title} — session report")
    doc.para(_patient_line(patient))
    v = rec.version
    who = f" by {v.author}" if v.author else ""
    doc.para(
        f"Recorded {_local(info.recorded_at)} · {result.hand} hand · source: {info.source} · "
        f"analysis version {v.version} of {info.current_version} ({v.kind}{who}, {_local(v.created_at)})"
        + (f"\nNote: {v.note}" if v.note else ""),
        size=9,
        color=70,
    )

    doc.h2("Summary")
    keys = key_metrics(info.exercise, result.metrics)
    flat = flatten_metrics(result.metrics)
    summary = [("Repetitions", str(result.rep_count)), ("Hand tracked in", f"{result.detection_rate:.0%} of frames")]
    summary += [(metric_label(k), format_value(flat[k])) for k in keys]
    doc.grid(summary, header=False, widths=(60, 40))

    doc.h2("Signal and repetitions")
    png, note = _signal_png(store, rec, ex)
    if png is not None:
        doc.figure(png, title="Main signal with repetitions marked")
    if note:
        doc.para(note, size=9, color=90)

    rom = _rom_items(info.exercise, result.metrics)
    if rom:
        doc.h2("Range of motion against the normal range")
        doc.figure(plot_rom(rom), title="Range of motion against normal values")
        doc.para("Normal values: AAOS active range of motion.", size=8, color=90)

    doc.h2("Compared with earlier sessions")
    _comparison(doc, store, rec, keys)

    doc.h2("Repetitions")
    if result.reps:
        doc.grid(_rep_rows(result.reps))
    else:
        doc.para("No repetitions were counted.")

    rest = other_metrics(info.exercise, result.metrics)
    if rest:
        doc.h2("All other metrics")
        doc.grid([(metric_label(k), format_value(flat[k])) for k in rest], header=False, size=7.5, widths=(60, 40))

    doc.h2("Quality")
    doc.para(f"The hand was tracked in {result.detection_rate:.0%} of the frames.")
    for w in result.warnings:
        doc.para(f"• {w}", size=9)
    versions = store.versions(info.id)
    if len(versions) > 1:
        doc.h2("Analysis versions")
        rows = [("version", "kind", "when", "by", "reps", "note / changes")]
        for ver in versions:
            rows.append(
                (
                    str(ver.version),
                    ver.kind,
                    _local(ver.created_at),
                    ver.author or "",
                    str(ver.result.rep_count),
                    ver.note or _changes_text(ver.changes),
                )
            )
        doc.grid(rows, widths=(14, 20, 28, 25, 12, 71))
    return _write(doc, out)


def _comparison(doc: _Doc, store: Store, rec: SessionRecord, keys: Sequence[str]) -> None:
    info = rec.info
    if info.patient_id is None:
        doc.para("This session is not attributed to a patient, so there is nothing to compare with.", size=9)
        return
    earlier = [
        s
        for s in store.list_sessions(patient_id=info.patient_id, exercise=info.exercise)
        if (s.recorded_at, s.id) < (info.recorded_at, info.id)
    ]
    if not earlier:
        doc.para("This is the patient's first recorded session of this exercise.", size=9)
        return
    first = store.get_session(earlier[0].id)
    prev = store.get_session(earlier[-1].id)
    this = flatten_metrics(rec.result.metrics)
    f, p = flatten_metrics(first.result.metrics), flatten_metrics(prev.result.metrics)
    rows = [
        (
            "metric",
            f"first ({_local(first.info.recorded_at)[:10]})",
            f"previous ({_local(prev.info.recorded_at)[:10]})",
            "this session",
            "change vs previous",
            "change vs first",
        )
    ]
    lines: list[tuple[str, Any, Any, Any]] = [
        ("Repetitions", first.result.rep_count, prev.result.rep_count, rec.result.rep_count)
    ]
    lines += [(metric_label(k), f.get(k), p.get(k), this.get(k)) for k in keys if _is_number(this.get(k))]
    for label, a, b, c in lines:
        rows.append(
            (label, format_value(a), format_value(b), format_value(c), format_change(b, c), format_change(a, c))
        )
    doc.grid(rows, widths=(50, 25, 25, 22, 29, 29))


def _rep_rows(reps: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Rep table: number, start, peak, end, duration, then up to four more per-rep fields."""
    base = ["start_s", "peak_s", "end_s", "duration_s"]
    extra: list[str] = []
    for rep in reps:
        for k, v in flatten_metrics(rep).items():
            if k not in base and k not in extra and (_is_number(v) or isinstance(v, bool | str)):
                extra.append(k)
    cols = [c for c in base if any(c in r for r in reps)] + extra[:4]
    rows: list[tuple[str, ...]] = [("#", *(metric_label(c) for c in cols))]
    for i, rep in enumerate(reps, start=1):
        flat = flatten_metrics(rep)
        rows.append((str(i), *(format_value(flat.get(c)) for c in cols)))
    return rows


def _changes_text(changes: Mapping[str, Any] | None) -> str:
    if not changes:
        return ""
    parts = []
    if "rep_count" in changes:
        a, b = changes["rep_count"]
        parts.append(f"reps {a} → {b}")
    if changes.get("reps_removed"):
        parts.append(f"{len(changes['reps_removed'])} rep(s) removed")
    if changes.get("reps_added"):
        parts.append(f"{len(changes['reps_added'])} rep(s) added")
    if changes.get("metrics"):
        parts.append(f"{len(changes['metrics'])} metric(s) changed")
    return ", ".join(parts)


def progress_report(store: Store, patient_id: str, out: str | os.PathLike[str], *, exercise: str | None = None) -> Path:
    """Write a patient's progress PDF: per exercise, a table of sessions, metrics over time, first vs latest."""
    patient = store.get_patient(patient_id)
    sessions = store.list_sessions(patient_id=patient_id, exercise=exercise)
    if not sessions:
        what = f" of {exercise}" if exercise else ""
        raise NotFoundError(f"patient {patient_id!r} has no sessions{what} to report on")
    doc = _Doc(f"Progress — {patient.display_name}", f"handrehab progress report · patient {patient.id}")
    doc.h1("Progress report")
    doc.para(_patient_line(patient))
    doc.para(
        f"{len(sessions)} session(s) from {_local(sessions[0].recorded_at)} to {_local(sessions[-1].recorded_at)}",
        size=9,
        color=70,
    )
    for name in sorted({s.exercise for s in sessions}):
        ex = _exercise_info(name)
        hist = store.history(patient_id, name)
        latest = store.get_session(int(hist["session_id"].iloc[-1]))
        keys = [k for k in key_metrics(name, latest.result.metrics) if k in hist.columns][:6]
        doc.h2(f"{ex.title} — {len(hist)} session(s)")
        plot_cols = ["rep_count", *keys][:6]
        if len(hist) >= 2:
            doc.figure(plot_progress(hist, plot_cols), title=f"{ex.title} over time")
        rows = [("date", "session", "reps", "tracked", *(metric_label(k) for k in keys[:4]))]
        for r in hist.to_dict("records"):
            rows.append(
                (
                    _local(pd.Timestamp(r["recorded_at"]).to_pydatetime())[:10],
                    f"{int(r['session_id'])} v{int(r['version'])}",
                    str(int(r["rep_count"])),
                    f"{float(r['detection_rate']):.0%}",
                    *(format_value(_py(r[k])) for k in keys[:4]),
                )
            )
        doc.grid(rows)
        if len(hist) >= 2:
            first, last = hist.iloc[0], hist.iloc[-1]
            change_rows = [("metric", "first", "latest", "change")]
            for k in ["rep_count", *keys]:
                change_rows.append(
                    (
                        metric_label(k) if k != "rep_count" else "Repetitions",
                        format_value(_py(first[k])),
                        format_value(_py(last[k])),
                        format_change(_py(first[k]), _py(last[k])),
                    )
                )
            doc.grid(change_rows, widths=(70, 35, 35, 50))
    return _write(doc, out)


def _py(x: Any) -> Any:
    """numpy/pandas scalars to plain Python (NaN to None) for formatting."""
    if x is None:
        return None
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _write(doc: _Doc, out: str | os.PathLike[str]) -> Path:
    path = Path(out)
    write_atomic(path, bytes(doc.output()))
    return path
