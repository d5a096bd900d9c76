"""The CLI on unusable and difficult inputs: exit 2 with one ``error:`` line, or 0 with a warning."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

HANDREHAB = [sys.executable, "-m", "sessions.cli"]
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_videos" / "finger_tapping.mp4"


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HANDREHAB, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def write_clip(
    path: Path, frames: int, *, width: int = 320, height: int = 240, fps: int = 30, b_frames: bool = True
) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps), options={} if b_frames else {"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), 40 + (i * 3) % 200, np.uint8)
            img += rng.integers(0, 10, img.shape, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_frames(path: Path, frames: list[np.ndarray], *, fps: int) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def sample_frames(limit: int | None = None) -> list[np.ndarray]:
    """Frames of the finger-tapping sample (a rendered hand with known taps)."""
    with av.open(str(SAMPLE)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(limit or 10**9), c.decode(video=0), strict=False)]


def patch_mp4(data: bytes, box: bytes, offset: int, value: bytes) -> bytes:
    """``data`` with ``value`` written ``offset`` bytes into the first ``box`` atom (after its size field)."""
    i = data.index(box) + offset
    return data[:i] + value + data[i + len(value) :]


def assert_usable(proc: subprocess.CompletedProcess[str], *warning_words: str) -> dict[str, Any]:
    """Exit 0, the result JSON alone on stdout, nothing on stderr, and a warning with these words."""
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["schema"] == 1
    if warning_words:
        warnings = result["quality"]["warnings"]
        assert any(all(w.lower() in line.lower() for w in warning_words) for line in warnings), warnings
    return result


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


def test_zero_frame_video(tmp_path: Path) -> None:
    """A recording stopped at once: an MP4 whose video track holds no frame at all."""
    data = write_clip(tmp_path / "one.mp4", 1).read_bytes()
    for box in (b"stts", b"stsc", b"stco"):  # empty sample tables: entry count 0
        data = patch_mp4(data, box, 8, bytes(4))
    data = patch_mp4(data, b"stsz", 8, bytes(8))  # sample size 0, sample count 0
    empty = tmp_path / "stopped at once.mp4"
    empty.write_bytes(data)
    with av.open(str(empty)) as c:  # a video stream is there, with nothing in it
        assert c.streams.video[0].width == 320 and c.streams.video[0].frames == 0
    assert_unusable(run("score", empty, "--json", "-"), "stopped at once.mp4", "no frames")


def test_one_frame_video_is_scored_with_a_warning(tmp_path: Path) -> None:
    result = assert_usable(run("score", write_clip(tmp_path / "still.mp4", 1), "--json", "-"), "too short")
    assert result["video"]["frames"] == 1 and result["rep_count"] == 0


@pytest.mark.slow
def test_8k_frames_are_downscaled_and_tracked(tmp_path: Path) -> None:
    frames = []
    for img in sample_frames(3):  # the 640x480 hand, 9x larger, centred in a 7680x4320 frame
        big = np.zeros((4320, 7680, 3), np.uint8)
        big[:, 960:6720] = cv2.resize(img, (5760, 4320), interpolation=cv2.INTER_LINEAR)
        frames.append(big)
    clip = write_frames(tmp_path / "8k.mp4", frames, fps=30)
    start = time.monotonic()
    result = assert_usable(run("score", clip, "--json", "-"), "too short")
    assert time.monotonic() - start < 60
    assert (result["video"]["width"], result["video"]["height"], result["video"]["frames"]) == (7680, 4320, 3)
    assert result["quality"]["detection_rate"] > 0  # the hand is still found after the downscale


@pytest.mark.slow
def test_120_fps_counts_the_same_taps_at_the_same_times(tmp_path: Path) -> None:
    """Each frame of the 30 fps sample shown 4 times at 120 fps: the same motion, four times the frames."""
    frames = [img for img in sample_frames() for _ in range(4)]
    clip = write_frames(tmp_path / "fast camera.mp4", frames, fps=120)
    result = assert_usable(run("score", clip, "--json", "-"))
    truth = json.loads(SAMPLE.with_suffix(".truth.json").read_text())
    assert result["video"]["fps"] == pytest.approx(120) and result["video"]["frames"] == len(frames)
    assert result["rep_count"] == truth["rep_count"]
    found = np.array([r["peak_s"] for r in result["reps"]])
    expected = np.array([r["peak_s"] for r in truth["reps"]])
    assert np.abs(found - expected).max() < 0.1  # time in seconds, not in frames


def test_zero_fps_metadata_is_retimed_with_a_warning(tmp_path: Path) -> None:
    """Every frame at time 0 (the file's stts durations zeroed): FFmpeg reports a nonsense rate."""
    data = write_clip(tmp_path / "clip.mp4", 30, b_frames=False).read_bytes()
    stts = data.index(b"stts")
    assert struct.unpack(">I", data[stts + 8 : stts + 12]) == (1,)  # one run: 30 frames of one duration
    frozen = tmp_path / "frozen clock.mp4"
    frozen.write_bytes(patch_mp4(data, b"stts", 16, bytes(4)))
    result = assert_usable(run("score", frozen, "--json", "-"), "frame times", "broken")
    assert result["video"]["frames"] == 30
    assert result["video"]["fps"] == pytest.approx(30) and result["video"]["duration_s"] == pytest.approx(1.0)


def test_absurd_fps_is_retimed_with_a_warning(tmp_path: Path) -> None:
    """The media header's clock made 1000 times faster: the timestamps say 30000 fps."""
    data = write_clip(tmp_path / "clip.mp4", 30).read_bytes()
    mdhd = data.index(b"mdhd")
    assert data[mdhd + 4] == 0  # version 0: the time scale follows two 32-bit times
    (scale,) = struct.unpack(">I", data[mdhd + 16 : mdhd + 20])
    absurd = tmp_path / "absurd.mp4"
    absurd.write_bytes(patch_mp4(data, b"mdhd", 16, struct.pack(">I", scale * 1000)))
    with av.open(str(absurd)) as c:
        assert float(c.streams.video[0].average_rate or 0) == pytest.approx(30000)
    result = assert_usable(run("score", absurd, "--json", "-"), "frame times", "30 fps")
    assert result["video"]["fps"] == pytest.approx(30) and result["video"]["duration_s"] == pytest.approx(1.0)


def test_unicode_and_spaces_in_names(tmp_path: Path) -> None:
    folder = tmp_path / "Patienten Müller" / "séance 2 · 手"
    folder.mkdir(parents=True)
    broken = folder / "Ärger beim Üben 😬.mp4"
    broken.write_bytes(b"\x00\x01 not a video " * 100)
    assert_unusable(run("score", broken, "--json", "-"), "Ärger beim Üben 😬.mp4")
    clip = write_clip(folder / "Übung 1.mp4", 20)
    out = folder / "résultat 1.json"
    proc = run("score", clip, "--json", out)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["video"]["path"] == str(clip)


def test_large_non_videos_are_refused_in_the_time_it_takes_to_read_them(tmp_path: Path) -> None:
    text = tmp_path / "holiday video.mp4"  # 1 GB: a CSV header, then (sparse) zeros
    with text.open("wb") as f:
        f.write(b"date,patient,reps\n" * 1000)
        f.truncate(1 << 30)
    noise = tmp_path / "noise.mov"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 64 << 20, dtype=np.uint8).tobytes())
    start = time.monotonic()
    run("score", tmp_path / "missing.mp4")
    startup_s = time.monotonic() - start  # the command's own start-up, on this machine right now
    for big in (text, noise):
        start = time.monotonic()
        with big.open("rb") as f:
            while f.read(1 << 24):
                pass
        read_s = time.monotonic() - start
        start = time.monotonic()
        proc = run("score", big, "--json", "-")
        elapsed = time.monotonic() - start
        assert_unusable(proc, big.name, "not a video file")
        assert elapsed < startup_s + read_s + 5.0, (big.name, elapsed, startup_s, read_s)
