"""The CLI on unusable and difficult inputs: exit 2 with one ``error:`` line, or 0 with a warning."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HANDREHAB = [sys.executable, "-m", "sessions.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HANDREHAB, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def write_clip(path: Path, frames: int, *, width: int = 320, height: int = 240, fps: int = 30) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), 40 + (i * 3) % 200, np.uint8)
            img += rng.integers(0, 10, img.shape, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def assert_unusable(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


def test_missing_path(tmp_path: Path) -> None:
    assert_unusable(run("score", tmp_path / "nope.mp4", "--json", "-"), "nope.mp4")


def test_directory(tmp_path: Path) -> None:
    assert_unusable(run("score", tmp_path, "--json", "-"))


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert_unusable(run("score", empty, "--json", "-"), "empty")


def test_text_named_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    assert_unusable(run("score", fake, "--json", "-"))


def test_png(tmp_path: Path) -> None:
    import cv2

    png = tmp_path / "hand.png"
    cv2.imwrite(str(png), np.zeros((64, 64, 3), np.uint8))
    assert_unusable(run("score", png, "--json", "-"))


def test_truncated_header_only(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "full.mp4", 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:600])
    assert_unusable(run("score", cut, "--json", "-"))


def test_unknown_exercise(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", 5)
    assert_unusable(run("score", clip, "--exercise", "juggling"), "juggling")


def test_audio_only(tmp_path: Path) -> None:
    audio = tmp_path / "voice.mp4"
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        t = np.arange(16000) / 16000
        frame = av.AudioFrame.from_ndarray(
            (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    assert_unusable(run("score", audio, "--json", "-"))


def test_no_hand_is_a_valid_zero(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "empty room ünïcode.mp4", 45)
    proc = run("score", clip, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["schema"] == 1
    assert result["rep_count"] == 0
    assert result["quality"]["detection_rate"] == 0
    assert any("hand" in w.lower() for w in result["quality"]["warnings"])
    assert result["video"]["frames"] == 45
    assert result["video"]["width"] == 320 and result["video"]["height"] == 240
