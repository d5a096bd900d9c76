"""Check rendered clips against MediaPipe: detection rate, landmark pixel error, finger topology.

Uses the project's ``tracking.hands.track_video`` when it is importable, otherwise MediaPipe
Hands directly (model complexity 1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from synth.video import truth_path

TIPS = [4, 8, 12, 16, 20]


def track(path: Path) -> tuple[NDArray[np.bool_], NDArray[np.float64], str]:
    """Track a clip: ``(present (T,), image xy (T,21,2) normalized, handedness)``.

    Parameters
    ----------
    path : Path
        Video file.

    Returns
    -------
    tuple
        Presence per frame, normalized landmark coordinates (NaN where absent), hand label.
    """
    try:
        from tracking.hands import track_video
    except ImportError:  # tracking/ not importable: fall back to MediaPipe directly
        track_video = None  # type: ignore[assignment]
    if track_video is not None:
        _, series, _ = track_video(path, hand="auto", max_side=None)
        return np.asarray(series.present), np.asarray(series.image)[..., :2], str(series.handedness)
    import av
    import mediapipe as mp

    present, xy, hands = [], [], []
    with (
        mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=1, model_complexity=1) as h,
        av.open(str(path)) as c,
    ):
        for fr in c.decode(video=0):
            r = h.process(fr.to_ndarray(format="rgb24"))
            if r.multi_hand_landmarks:
                present.append(True)
                xy.append([[p.x, p.y] for p in r.multi_hand_landmarks[0].landmark])
                hands.append("right" if r.multi_handedness[0].classification[0].label == "Left" else "left")
            else:
                present.append(False)
                xy.append(np.full((21, 2), np.nan).tolist())
    hand = max(set(hands), key=hands.count) if hands else "?"
    return np.array(present), np.array(xy, dtype=np.float64), hand


def evaluate_clip(path: str | Path) -> dict[str, Any]:
    """Compare MediaPipe's landmarks on a clip with its truth.

    Parameters
    ----------
    path : str or Path
        An MP4 with ``NAME.truth.json`` beside it.

    Returns
    -------
    dict
        ``detection_rate``, ``handedness_ok``, ``err_px_median``, ``err_px_mean``,
        ``err_px_p95``, ``tip_err_px`` (per tip), ``topology_ok`` (fraction of fingertip
        detections nearest their own true tip), and the clip's render settings.
    """
    path = Path(path)
    truth = json.loads(truth_path(path).read_text())
    present, xy, hand = track(path)
    wh = np.array([truth["video"]["width"], truth["video"]["height"]], dtype=np.float64)
    true_px = np.array(truth["frames"]["joints_image"]) * wh
    n = min(len(present), len(true_px))
    present, xy, true_px = present[:n], xy[:n], true_px[:n]
    det = xy * wh
    out: dict[str, Any] = {
        "path": str(path),
        "exercise": truth["exercise"],
        "frames": n,
        "detection_rate": float(present.mean()) if n else 0.0,
        "handedness_ok": hand == truth["hand"],
    }
    r = truth["render"]
    for k in (
        "skin",
        "background",
        "lighting",
        "view",
        "side",
        "fps",
        "width",
        "height",
        "noise",
        "jpeg_quality",
        "blur_subframes",
    ):
        out[k] = r.get(k)
    if present.any():
        err = np.linalg.norm(det[present] - true_px[present], axis=-1)
        # normalise errors to a 480-pixel-high frame so resolutions compare
        scale = 480.0 / truth["video"]["height"]
        out["err_px_median"] = float(np.median(err) * scale)
        out["err_px_mean"] = float(err.mean() * scale)
        out["err_px_p95"] = float(np.percentile(err, 95) * scale)
        out["tip_err_px"] = (err[:, TIPS].mean(0) * scale).round(2).tolist()
        tt = true_px[present][:, TIPS]
        d = np.linalg.norm(det[present][:, TIPS, None, :] - tt[:, None, :, :], axis=-1)
        sep = np.linalg.norm(tt[:, :, None, :] - tt[:, None, :, :], axis=-1)
        d = np.where((sep < 20.0 / scale) & ~np.eye(5, dtype=bool), np.inf, d)
        out["topology_ok"] = float((d.argmin(-1) == np.arange(5)).mean())
    return out


def summarize(results: list[dict[str, Any]]) -> str:
    """A plain-text table of detection rate and landmark error by skin, background, view, exercise.

    Parameters
    ----------
    results : list of dict
        Outputs of :func:`evaluate_clip`.

    Returns
    -------
    str
        The table.
    """
    lines = []
    for key in ("skin", "background", "view", "exercise", "lighting"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in results:
            groups[str(r.get(key))].append(r)
        lines.append(f"by {key}:")
        for g, rs in sorted(groups.items()):
            frames = sum(r["frames"] for r in rs)
            det = sum(r["detection_rate"] * r["frames"] for r in rs) / max(frames, 1)
            med = np.median([r["err_px_median"] for r in rs if "err_px_median" in r] or [np.nan])
            topo = np.mean([r["topology_ok"] for r in rs if "topology_ok" in r] or [np.nan])
            lines.append(
                f"  {g:22s} clips {len(rs):3d}  detection {det:6.1%}  median err {med:5.1f} px  "
                f"topology {topo:6.1%}  min clip det {min(r['detection_rate'] for r in rs):6.1%}"
            )
    frames = sum(r["frames"] for r in results)
    det = sum(r["detection_rate"] * r["frames"] for r in results) / max(frames, 1)
    lines.append(
        f"all: {len(results)} clips, {frames} frames, detection {det:.1%}, "
        f"median err {np.median([r.get('err_px_median', np.nan) for r in results]):.1f} px, "
        f"handedness ok {np.mean([r['handedness_ok'] for r in results]):.0%}"
    )
    return "\n".join(lines)
