"""Accuracy of the whole scoring path against rendered ground truth.

Renders (or reuses, cached by content hash) a varied suite of synthetic clips with ``synth.suite``,
scores each one with the real path (``sessions.pipeline.score_video``: PyAV decode, MediaPipe,
exercise analysis) and compares with the truth JSON beside it:

- rep count exact, per exercise;
- every exercise's truth-backed measures (:data:`MEASURES`: peak angles in degrees, grip closure in
  percent, tapping frequency and amplitude), absolute error per key and their mean in degrees;
- thumb-opposition touches attributed to the right finger;
- ``--exercise auto`` recognition;
- MediaPipe detection rate, per exercise, skin tone and background kind;
- per-frame joint-angle error of the landmarks against the renderer's joints (flexion as defined by
  ``metrics.angles`` and the unsigned angle between adjacent landmark segments).

    python -m bench.accuracy --per-exercise 5 --seed 0              # development suite (tuned on)
    python -m bench.accuracy --heldout --per-exercise 10 --seed 1   # held-out views, backgrounds, hands
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / ".cache" / "accuracy-suite"
HELDOUT_CACHE = ROOT / ".cache" / "accuracy-heldout"

MEASURES: dict[str, tuple[tuple[str, str], ...]] = {
    "finger_tapping": (("frequency_hz", "Hz"), ("amplitude_mean", "norm")),
    "thumb_opposition": (),
    "finger_lifting": (("lift_angle_deg", "deg"),),
    "wrist_flexion": (("max_flexion_deg", "deg"), ("max_extension_deg", "deg")),
    "grip": (("closure_pct_mean", "pct"), ("closure_pct_max", "pct")),
    "finger_spread": (("spread_deg_mean", "deg"), ("max_abduction_deg", "deg")),
    "wrist_deviation": (("max_radial_deg", "deg"), ("max_ulnar_deg", "deg")),
    "pronation_supination": (("max_pronation_deg", "deg"), ("max_supination_deg", "deg")),
    "thumb_flexion": (("max_mcp_flex_deg", "deg"), ("max_ip_flex_deg", "deg")),
}
"""Per exercise, the result metric keys compared with the truth's key of the same name, and their unit.
A key holding ``{finger: value}`` is compared finger by finger. ``angle_mae_deg`` is the mean absolute
error over an exercise's keys in degrees."""


def track_cached(path: str, landmarks: Path | None) -> tuple[Any, Any, list[str], float]:
    """Track ``path`` (MediaPipe), or load its landmarks tracked before into ``landmarks``.

    Tracking is nearly all of the cost of scoring; with a landmark cache, a change to an exercise's analysis
    is re-measured on the whole suite in seconds. Returns ``(video, series, warnings, seconds)``.
    """
    from sessions.pipeline import needs_pose
    from tracking.hands import track_video
    from tracking.series import load_series, save_series
    from tracking.video import VideoInfo

    exercise = json.loads(_truth_file(path).read_text())["exercise"]
    npz = landmarks / f"{Path(path).stem}.npz" if landmarks is not None else None
    meta = npz.with_suffix(".json") if npz is not None else None
    if npz is not None and meta is not None and npz.exists() and meta.exists():
        doc = json.loads(meta.read_text())
        return VideoInfo(**doc["video"]), load_series(npz), doc["warnings"], doc["seconds"]
    t0 = time.perf_counter()
    video, series, warnings = track_video(path, pose=needs_pose(exercise))
    seconds = time.perf_counter() - t0
    if npz is not None and meta is not None:
        save_series(series, npz)
        meta.write_text(json.dumps({"video": video.to_dict(), "warnings": warnings, "seconds": seconds}))
    return video, series, warnings, seconds


def _truth_file(path: str) -> Path:
    return Path(path).with_name(Path(path).stem + ".truth.json")


def evaluate_clip(path: str, landmarks: Path | None = None) -> dict[str, Any]:
    """Score one clip and compare it with its truth (runs in a worker process)."""
    from exercises.recognize import recognize_exercise
    from metrics.angles import compute_finger_angles
    from sessions.pipeline import score_tracked
    from synth.hand import segment_angles

    truth = json.loads(_truth_file(path).read_text())
    exercise = truth["exercise"]
    video, series, warnings, seconds = track_cached(path, landmarks)
    t0 = time.perf_counter()
    result = score_tracked(series, video, exercise, warnings=warnings).result
    seconds += time.perf_counter() - t0
    row: dict[str, Any] = {
        "clip": Path(path).name,
        "exercise": exercise,
        "skin": truth["render"].get("skin"),
        "background": truth["render"].get("background"),
        "view": truth["render"].get("view"),
        "fps": truth["video"]["fps"],
        "true_reps": truth["rep_count"],
        "reps": result.rep_count,
        "count_exact": result.rep_count == truth["rep_count"],
        "detection_rate": result.detection_rate,
        "hand_ok": result.hand == truth["hand"],
        "score_s": seconds,
        "video_s": truth["video"]["duration_s"],
    }
    name, confidence, _ = recognize_exercise(series)
    row["auto_exercise"] = name
    row["auto_ok"] = name == exercise
    row["auto_confidence"] = confidence
    row.update(_metric_errors(exercise, result.metrics, truth["metrics"]))
    row.update(_rep_attribution(exercise, result.reps, truth["reps"]))
    row.update(_frame_angle_errors(series, truth, compute_finger_angles, segment_angles))
    return row


def _metric_errors(exercise: str, got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """Absolute error of every measure of the exercise (``err_KEY`` columns) and their mean in degrees."""
    out: dict[str, Any] = {}
    degrees: list[float] = []
    for key, unit in MEASURES[exercise]:
        pairs = [(got.get(key), want.get(key))]
        if isinstance(want.get(key), dict):
            pairs = [((got.get(key) or {}).get(f), v) for f, v in want[key].items()]
        errors = [
            abs(float(a) - float(b))
            for a, b in pairs
            if isinstance(a, int | float) and isinstance(b, int | float) and math.isfinite(a)
        ]
        out[f"err_{key}"] = float(np.mean(errors)) if errors else math.nan
        if unit == "deg":
            degrees.extend(errors)
    out["angle_mae_deg"] = float(np.mean(degrees)) if degrees else math.nan
    if exercise == "finger_tapping" and got.get("frequency_hz") and want.get("frequency_hz"):
        out["frequency_err_pct"] = 100 * abs(got["frequency_hz"] - want["frequency_hz"]) / want["frequency_hz"]
    return out


def _rep_attribution(exercise: str, got: list[dict[str, Any]], want: list[dict[str, Any]]) -> dict[str, Any]:
    """Per true rep, the detected rep nearest in peak time: did it name the same finger?"""
    if exercise not in ("thumb_opposition", "finger_lifting") or not want:
        return {}
    peaks = np.array([r["peak_s"] for r in got], float)
    right = 0
    for rep in want:
        if len(peaks):
            k = int(np.argmin(np.abs(peaks - rep["peak_s"])))
            near = abs(peaks[k] - rep["peak_s"]) < 0.5 * max(rep["end_s"] - rep["start_s"], 0.2)
            right += int(near and got[k].get("finger") == rep.get("finger"))
    return {"finger_right_share": right / len(want)}


def _frame_angle_errors(series: Any, truth: dict[str, Any], finger_angles: Any, segment_angles: Any) -> dict[str, Any]:
    frames = truth["frames"]
    n = min(len(series), len(frames["t"]))
    present = series.present[:n]
    if not present.any():
        return {"frame_flex_mae_deg": math.nan, "frame_segment_mae_deg": math.nan}
    ours = finger_angles(series.world[:n], handedness=truth["hand"])
    flex = [
        np.abs(ours[k][:n][present] - np.asarray(v, float)[:n][present])
        for k, v in frames["angles"].items()
        if k in ours and k.endswith("_flex") and not k.startswith("wrist")
    ]
    seg_ours = segment_angles(series.world[:n])
    seg = [
        np.abs(seg_ours[k][present] - np.asarray(v, float)[:n][present])
        for k, v in frames["segment_angles"].items()
        if k in seg_ours
    ]
    return {
        "frame_flex_mae_deg": float(np.nanmean(np.concatenate(flex))) if flex else math.nan,
        "frame_segment_mae_deg": float(np.nanmean(np.concatenate(seg))) if seg else math.nan,
    }


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per exercise: the figures quoted in the README."""
    agg: dict[str, tuple[str, Any]] = {
        "clips": ("clip", "count"),
        "count_exact_pct": ("count_exact", lambda s: 100 * s.mean()),
        "angle_mae_deg": ("angle_mae_deg", "mean"),
        "detection_pct": ("detection_rate", lambda s: 100 * s.mean()),
        "auto_right_pct": ("auto_ok", lambda s: 100 * s.mean()),
        "frame_flex_mae_deg": ("frame_flex_mae_deg", "mean"),
        "frame_segment_mae_deg": ("frame_segment_mae_deg", "mean"),
    }
    for optional in ("frequency_err_pct", "finger_right_share"):
        if optional in rows:
            agg[optional] = (optional, "mean")
    table = rows.groupby("exercise").agg(**agg)
    total = rows.agg({"clip": "count"}).rename({"clip": "clips"})
    table.loc["all", "clips"] = total["clips"]
    for col in ("count_exact_pct", "detection_pct", "auto_right_pct"):
        table.loc["all", col] = table[col].iloc[:-1].mul(table["clips"].iloc[:-1]).sum() / total["clips"]
    return table


def summarize_measures(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per exercise and measure: mean absolute error against the truth, and on how many clips."""
    out = []
    for exercise, group in rows.groupby("exercise"):
        for key, unit in MEASURES[str(exercise)]:
            err = group.get(f"err_{key}", pd.Series(dtype=float)).dropna()
            out.append({"exercise": exercise, "measure": key, "unit": unit, "mae": err.mean(), "clips": len(err)})
    columns = ["exercise", "measure", "unit", "mae", "clips"]
    return pd.DataFrame(out, columns=columns).set_index(["exercise", "measure"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-exercise", type=int, default=5, help="clips per exercise (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout", action="store_true", help="the held-out suite (views, backgrounds, hands)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="rendered clips are kept here")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="CSV and JSON of the figures")
    parser.add_argument(
        "--landmarks",
        type=Path,
        default=None,
        help="keep each clip's tracked landmarks here and reuse them (re-measures an analysis change in seconds; "
        "clear it after a tracking change)",
    )
    parser.add_argument("--exercise", action="append", help="only these exercises (repeatable)")
    args = parser.parse_args(argv)

    from sessions.cli import quiet_native_stderr
    from synth.suite import make_suite

    quiet_native_stderr()  # MediaPipe's native log lines (the scoring workers inherit it)

    t0 = time.perf_counter()
    cache = args.cache or (HELDOUT_CACHE if args.heldout else DEFAULT_CACHE)
    clips = make_suite(
        args.per_exercise, args.seed, cache, heldout=args.heldout, workers=args.workers, only=args.exercise
    )
    rendered = time.perf_counter() - t0
    with ProcessPoolExecutor(args.workers) as pool:
        rows = pd.DataFrame(pool.map(evaluate_clip, map(str, clips), [args.landmarks] * len(clips)))
    scored = time.perf_counter() - t0 - rendered
    args.out.mkdir(parents=True, exist_ok=True)
    name = "accuracy_heldout" if args.heldout else "accuracy"
    rows.to_csv(args.out / f"{name}_clips.csv", index=False)
    table = summarize(rows)
    table.to_csv(args.out / f"{name}.csv")
    measures = summarize_measures(rows)
    measures.to_csv(args.out / f"{name}_measures.csv")
    pd.set_option("display.width", 200)
    suite = "held-out" if args.heldout else "development"
    print(f"{suite} suite, seed {args.seed}: {len(rows)} clips ", end="")
    print(f"({rendered:.0f} s rendering/cache, {scored:.0f} s scoring)\n")
    print(table.round(2).to_string())
    print("\nmean absolute error per measure:")
    print(measures.round(2).to_string())
    for col in ("skin", "background", "view"):
        rates = rows.groupby(col)["detection_rate"].mean().mul(100).round(1)
        print(f"\ndetection % by {col}: " + ", ".join(f"{k} {v}" for k, v in rates.items()))
    misses = rows[~rows["count_exact"]]
    if len(misses):
        print("\nclips with a wrong count:")
        print(misses[["clip", "exercise", "view", "true_reps", "reps", "detection_rate"]].to_string(index=False))
    wrong = rows[rows.get("finger_right_share", pd.Series(1.0, index=rows.index)).fillna(1.0) < 1.0]
    if len(wrong):
        print("\nclips with a rep attributed to the wrong finger:")
        print(wrong[["clip", "exercise", "view", "finger_right_share"]].to_string(index=False))
    autos = rows[~rows["auto_ok"]]
    if len(autos):
        print("\nclips --exercise auto got wrong:")
        print(autos[["clip", "exercise", "view", "auto_exercise", "auto_confidence"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
