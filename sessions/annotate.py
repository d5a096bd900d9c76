"""The annotated video: the analysed frames with skeleton, rep counter and current value drawn on them."""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from sessions.pipeline import Scored
from tracking.draw import draw_hand
from tracking.series import default_file_mode
from tracking.video import read_video


def annotate_video(src: str | Path, scored: Scored, out: str | Path, *, max_side: int = 960) -> Path:
    """Write ``out`` (H.264 MP4, plays in browsers) from ``src`` and its scored analysis.

    Frames are decoded exactly as tracking decoded them, so frame ``i`` matches ``scored.series[i]``.
    The counter steps at each rep's peak; the file appears atomically when complete.
    """
    out = Path(out)
    series, analysis = scored.series, scored.analysis
    signal = analysis.signals[0] if analysis.signals else None
    peaks = np.sort(np.array([r["peak_s"] for r in analysis.reps], float))
    label = signal.name.replace("_", " ") if signal else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".mp4", dir=out.parent)
    os.close(fd)
    os.chmod(tmp, default_file_mode())
    try:
        _, frames = read_video(src, max_side=max_side)
        with frames, av.open(tmp, "w", format="mp4") as container:  # an encoding error also stops the decoder
            stream = None
            for i, (t, rgb) in enumerate(frames):
                if stream is None:
                    stream = _open_stream(container, rgb.shape[1], rgb.shape[0], scored.result.video.fps)
                frame = rgb.copy()
                if i < len(series) and series.present[i]:
                    draw_hand(frame, series.image[i])
                reps = int(np.searchsorted(peaks, t, side="right"))
                value = float(signal.value[i]) if signal is not None and i < len(signal.value) else float("nan")
                _draw_panel(frame, analysis.exercise, reps, label, value, signal.unit if signal else "")
                vf = av.VideoFrame.from_ndarray(_even(frame), format="rgb24")
                vf.pts = round(t * 1000)
                vf.time_base = Fraction(1, 1000)  # the encoder reads pts in the frame's time base (else 1/fps)
                for packet in stream.encode(vf):
                    container.mux(packet)
            if stream is not None:
                for packet in stream.encode():
                    container.mux(packet)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def _open_stream(container: av.container.OutputContainer, width: int, height: int, fps: float) -> av.VideoStream:
    stream = container.add_stream("libx264", rate=Fraction(round(fps or 30)))
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, 1000)  # pts in milliseconds keep variable frame rate timing
    stream.options = {"crf": "23", "preset": "veryfast", "movflags": "+faststart"}
    return stream


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.ascontiguousarray(frame[: h - h % 2, : w - w % 2])


def _draw_panel(frame: np.ndarray, exercise: str, reps: int, label: str, value: float, unit: str) -> None:
    h, w = frame.shape[:2]
    scale = max(h, w) / 960
    pad = int(12 * scale)
    box_w, box_h = int(300 * scale), int(96 * scale)
    overlay = frame.copy()
    cv2.rectangle(overlay, (pad, pad), (pad + box_w, pad + box_h), (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.55, frame, 0.45, 0, dst=frame)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(frame, f"{reps}", (pad * 2, pad + int(70 * scale)), font, 2.2 * scale, (255, 255, 255), 3, cv2.LINE_AA)
    text = exercise.replace("_", " ")
    cv2.putText(frame, text, (pad * 2 + int(110 * scale), pad + int(34 * scale)), font, 0.6 * scale, (220, 220, 220), 1)
    if np.isfinite(value):
        shown = f"{label}: {value:.0f} deg" if unit == "deg" else f"{label}: {value:.2f}"
        org = (pad * 2 + int(110 * scale), pad + int(70 * scale))
        cv2.putText(frame, shown, org, font, 0.55 * scale, (255, 255, 255), 1)
