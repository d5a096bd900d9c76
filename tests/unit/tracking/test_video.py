"""tracking.video: small videos written with PyAV in tmp_path, read back through read_video/probe_video."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tracking.video import UnusableInputError, VideoInfo, probe_video, read_video


def upright_marker_frame(w: int, h: int, value: int = 0) -> np.ndarray:
    """A frame with a red block in its top-left corner and a grey level ``value`` elsewhere."""
    img = np.full((h, w, 3), value, np.uint8)
    img[: h // 4, : w // 4] = (255, 0, 0)
    return img


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: int = 30,
    pts_ms: list[int] | None = None,
    display_rotation: int | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    faststart: bool = False,
    b_frames: bool = True,
) -> Path:
    """Encode RGB ``frames``; ``pts_ms`` gives variable frame timing, ``display_rotation`` a phone-style matrix."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {}) as c:
        s = c.add_stream(codec, rate=fps, options={} if b_frames else {"bf": "0"})
        assert isinstance(s, av.VideoStream)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if pts_ms is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if display_rotation is not None:
            s.set_display_rotation(display_rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = pts_ms[i], Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def gray_frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    return [np.full((h, w, 3), 20 + (5 * i) % 230, np.uint8) for i in range(n)]


def read_all(path: Path, **kw: object) -> tuple[VideoInfo, list[float], list[np.ndarray], list[str], VideoInfo]:
    info, stream = read_video(path, **kw)  # type: ignore[arg-type]
    ts, imgs = [], []
    for t, rgb in stream:
        ts.append(t)
        imgs.append(rgb)
    return info, ts, imgs, stream.warnings, stream.video_info()


# -- normal videos -------------------------------------------------------------------------------


def test_constant_rate_video_gives_every_frame_with_its_time(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cfr.mp4", gray_frames(45), fps=30)
    info, ts, imgs, warnings, final = read_all(path)
    assert len(imgs) == 45 and warnings == []
    np.testing.assert_allclose(ts, np.arange(45) / 30, atol=1e-6)
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.flags.c_contiguous for img in imgs)
    # grey levels survive the codec in order (proves frames are not reordered or dropped)
    levels = [float(img.mean()) for img in imgs]
    assert np.all(np.diff(levels) > 0)
    assert final == VideoInfo(str(path), fps=30.0, frames=45, duration_s=1.5, width=64, height=48)
    assert probe_video(path) == final
    assert info.width == 64 and info.height == 48


def test_variable_frame_rate_times_come_from_timestamps(tmp_path: Path) -> None:
    pts = [0, 33, 100, 120, 250, 400, 410, 500, 533, 700]
    path = write_video(tmp_path / "vfr.mp4", gray_frames(len(pts)), pts_ms=pts)
    _, ts, _, _, final = read_all(path)
    np.testing.assert_allclose(ts, np.array(pts) / 1000, atol=1e-3)
    assert final.frames == len(pts)
    assert final.fps == pytest.approx((len(pts) - 1) / 0.7, rel=0.05)  # the real average, not a nominal 30


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_matrix_rotation_gives_upright_frames(tmp_path: Path, rotation: int) -> None:
    upright = upright_marker_frame(64, 32)
    # the file stores the raw sensor frame; a player rotates it `rotation` degrees counter-clockwise
    raw = np.ascontiguousarray(np.rot90(upright, -rotation // 90))
    path = write_video(tmp_path / f"rot{rotation}.mp4", [raw] * 3, display_rotation=rotation)
    info, _, imgs, _, _ = read_all(path)
    assert (info.width, info.height) == (64, 32) == (probe_video(path).width, probe_video(path).height)
    img = imgs[0]
    assert img.shape == (32, 64, 3)
    red = (img[..., 0] > 150) & (img[..., 1] < 100)
    ys, xs = np.nonzero(red)
    assert xs.mean() < 16 and ys.mean() < 8  # the marker is back in the top-left corner


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command")
@pytest.mark.parametrize("tag", ["90", "270"])
def test_rotate_tag_matches_what_ffmpeg_shows(tmp_path: Path, tag: str) -> None:
    """A file rotated by the old ``rotate`` tag (as phones and older tools write it) comes out exactly as
    FFmpeg's own auto-rotation shows it."""
    raw = upright_marker_frame(64, 32)
    src = write_video(tmp_path / "raw.mp4", [raw] * 3)
    tagged = tmp_path / "tagged.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={tag}", str(tagged)]
    subprocess.run(cmd, check=True)
    shown = tmp_path / "shown.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tagged), "-frames:v", "1", str(shown)], check=True)
    reference = cv2.cvtColor(cv2.imread(str(shown)), cv2.COLOR_BGR2RGB)
    info, _, imgs, _, _ = read_all(tagged)
    assert reference.shape == imgs[0].shape == (64, 32, 3)
    assert (info.width, info.height) == (32, 64)
    assert np.abs(imgs[0].astype(int) - reference.astype(int)).mean() < 3


def test_large_frames_are_downscaled_but_info_keeps_source_size(tmp_path: Path) -> None:
    frames = [upright_marker_frame(1280, 720, value=90) for _ in range(3)]
    path = write_video(tmp_path / "hd.mp4", frames)
    info, _, imgs, _, final = read_all(path, max_side=640)
    assert imgs[0].shape == (360, 640, 3)
    assert (info.width, info.height) == (final.width, final.height) == (1280, 720)
    # colours survive the downscale path (grey stays grey, red block stays red)
    expected = cv2.resize(frames[0], (640, 360), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(imgs[0].astype(int) - expected).mean() < 6
    _, _, full, _, _ = read_all(path, max_side=None)
    assert full[0].shape == (720, 1280, 3)


def test_non_420_pixel_format_is_converted_and_downscaled(tmp_path: Path) -> None:
    frames = [upright_marker_frame(200, 100, value=120)] * 2
    path = write_video(tmp_path / "yuv444.mp4", frames, pix_fmt="yuv444p")
    _, _, imgs, _, _ = read_all(path, max_side=100)
    assert imgs[0].shape == (50, 100, 3)
    assert abs(float(imgs[0][40:, 50:].mean()) - 120) < 6


def test_matroska_without_frame_count_is_counted(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mkv", gray_frames(20), fps=25)
    info = probe_video(path)
    assert info.frames == 20 and info.fps == pytest.approx(25)
    _, ts, _, _, final = read_all(path)
    assert final.frames == 20 and ts[-1] == pytest.approx(19 / 25)


def test_absurd_nominal_rate_is_replaced_by_the_timestamps(tmp_path: Path) -> None:
    """Matroska files often claim 1000 fps (their millisecond clock); the frames say 30."""
    path = tmp_path / "ms.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=1000)
        assert isinstance(s, av.VideoStream)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, img in enumerate(gray_frames(30)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = round(i * 1000 / 30), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    assert probe_video(path).fps == pytest.approx(30, rel=0.02)
    info, _, _, _, final = read_all(path)
    assert info.fps == pytest.approx(30, rel=0.02)
    assert final.fps == pytest.approx(30, rel=0.02) and final.frames == 30
    assert final.duration_s == pytest.approx(1.0, abs=0.02)


def test_120_fps_times_every_frame(tmp_path: Path) -> None:
    path = write_video(tmp_path / "slowmo.mp4", gray_frames(60), fps=120)
    _, ts, _, warnings, final = read_all(path)
    np.testing.assert_allclose(ts, np.arange(60) / 120, atol=1e-6)
    assert warnings == [] and final.fps == pytest.approx(120) and final.duration_s == pytest.approx(0.5)


def _patched(data: bytes, box: bytes, offset: int, value: bytes) -> bytes:
    i = data.index(box) + offset
    return data[:i] + value + data[i + len(value) :]


def test_frames_that_all_share_one_time_are_retimed_with_a_warning(tmp_path: Path) -> None:
    data = write_video(tmp_path / "plain.mp4", gray_frames(20), fps=25, b_frames=False).read_bytes()
    stts = data.index(b"stts")
    assert struct.unpack(">I", data[stts + 8 : stts + 12]) == (1,)  # one run: 20 frames of one duration
    frozen = tmp_path / "frozen.mp4"
    frozen.write_bytes(_patched(data, b"stts", 16, bytes(4)))  # every frame lasts 0: all at time 0
    _, ts, imgs, warnings, final = read_all(frozen)
    assert len(imgs) == 20 and np.all(np.diff(ts) > 0)
    assert final.fps == pytest.approx(25) and probe_video(frozen).fps == pytest.approx(25)
    assert any("frame times in frozen.mp4 are broken" in w and "25 fps" in w for w in warnings), warnings


def test_timestamps_of_30000_fps_are_retimed_at_a_believable_rate(tmp_path: Path) -> None:
    data = write_video(tmp_path / "plain.mp4", gray_frames(30), fps=30).read_bytes()
    mdhd = data.index(b"mdhd")
    (scale,) = struct.unpack(">I", data[mdhd + 16 : mdhd + 20])
    fast = tmp_path / "fast.mp4"
    fast.write_bytes(_patched(data, b"mdhd", 16, struct.pack(">I", scale * 1000)))
    info, ts, _, warnings, final = read_all(fast)
    assert info.fps == final.fps == probe_video(fast).fps == pytest.approx(30)
    np.testing.assert_allclose(ts, np.arange(30) / 30, atol=1e-6)
    assert len(warnings) == 1 and "29 of 30 frames" in warnings[0]


# -- streaming -------------------------------------------------------------------------------------


def test_memory_stays_flat_however_long_the_video(tmp_path: Path) -> None:
    """Full-HD frames kept at full size: reading more frames does not take more memory."""
    path = tmp_path / "long 1080p.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        assert isinstance(s, av.VideoStream)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        img = np.zeros((1080, 1920, 3), np.uint8)
        for i in range(90):
            img[:, :, 1] = i  # a new frame each time, made in place: the writer holds one frame
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    frame_bytes = 1920 * 1080 * 3
    page = os.sysconf("SC_PAGE_SIZE")
    resident = []  # bytes in RAM after each frame (decoded frames live in FFmpeg buffers, not Python's heap)
    _, stream = read_video(path, max_side=None, queue_size=8)
    for _ in stream:
        resident.append(int(Path("/proc/self/statm").read_text().split()[1]) * page)
    assert len(resident) == 90
    # once the queue has filled, memory no longer grows with the frames read (all 90 would be 560 MB)
    assert max(resident[20:]) - resident[20] < 4 * frame_bytes


def test_decoder_runs_ahead_only_by_the_queue(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", gray_frames(120, 32, 32))
    _, stream = read_video(path, queue_size=4)
    consumed = 0
    for _ in stream:
        consumed += 1
        if consumed % 20 == 0:
            time.sleep(0.05)  # a slow consumer: the decoder must wait, not pile frames up
            assert stream.frames_read - consumed <= 4 + 2
    assert consumed == 120


def test_closing_early_stops_the_decoder(tmp_path: Path) -> None:
    path = write_video(tmp_path / "stop.mp4", gray_frames(200, 32, 32))
    _, stream = read_video(path, queue_size=2)
    with stream:
        next(stream)
    assert not stream._thread.is_alive()
    assert stream.frames_read < 200


def test_a_stream_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    import gc

    path = write_video(tmp_path / "drop.mp4", gray_frames(200, 32, 32))
    _, stream = read_video(path, queue_size=2)
    next(stream)
    thread = stream._thread
    del stream
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


# -- unusable and damaged input --------------------------------------------------------------------


def _mp4_bytes(tmp_path: Path, *, faststart: bool, n: int = 60) -> bytes:
    rng = np.random.default_rng(0)  # noisy frames: many bytes per frame, so a cut lands mid-stream
    frames = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(n)]
    return write_video(tmp_path / "seed.mp4", frames, faststart=faststart).read_bytes()


def _png(tmp_path: Path) -> bytes:
    ok, buf = cv2.imencode(".png", upright_marker_frame(32, 32))
    assert ok
    return buf.tobytes()


def _jpeg(tmp_path: Path) -> bytes:
    ok, buf = cv2.imencode(".jpg", upright_marker_frame(32, 32))
    assert ok
    return buf.tobytes()


def _audio_only(tmp_path: Path) -> bytes:
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        for p in [*s.encode(f), *s.encode()]:
            c.mux(p)
    return path.read_bytes()


def _undecodable(tmp_path: Path) -> bytes:
    """Valid container, every video packet replaced by zeros: a video stream with no decodable frame."""
    data = bytearray(_mp4_bytes(tmp_path, faststart=True, n=5))
    mdat = data.find(b"mdat") + 4
    data[mdat:] = bytes(len(data) - mdat)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "make", "phrase"),
    [
        ("empty.mp4", lambda tmp: b"", "is empty"),
        ("notes.mp4", lambda tmp: b"this is a text file, not a video\n" * 20, "not a video file"),
        ("photo.png", _png, "still image"),
        ("photo.mp4", _jpeg, "still image"),
        ("header_only.mp4", lambda tmp: _mp4_bytes(tmp, faststart=False)[:2000], "not a video file"),
        ("no_moov.mp4", lambda tmp: _mp4_bytes(tmp, faststart=False)[:-3000], "not a video file"),
        ("voice.mp4", _audio_only, "no video stream"),
        ("zeros.mp4", _undecodable, "no frames"),
    ],
)
def test_unusable_files_raise_one_clear_sentence(tmp_path: Path, name: str, make, phrase: str) -> None:
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    for call in (probe_video, read_video):
        with pytest.raises(UnusableInputError) as err:
            call(path)
        msg = str(err.value)
        assert phrase in msg and name in msg
        assert "\n" not in msg and "Traceback" not in msg


def test_undecodable_metadata_text_does_not_make_a_video_unusable(tmp_path: Path) -> None:
    path = write_video(tmp_path / "meta.mp4", gray_frames(5))
    with av.open(str(path)) as src, av.open(str(tmp_path / "titled.mp4"), "w") as dst:
        dst.metadata["title"] = "TITLE-MARKER"
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        for packet in src.demux(s_in):
            if packet.size:
                packet.stream = s_out
                dst.mux(packet)
    data = (tmp_path / "titled.mp4").read_bytes()
    assert b"TITLE-MARKER" in data
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data.replace(b"TITLE-MARKER", b"\x8c\xffTLE-MARKER"))  # not UTF-8
    _, ts, _, _, final = read_all(damaged)
    assert len(ts) == 5 and final.frames == 5


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UnusableInputError, match="file not found"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(UnusableInputError, match="folder"):
        read_video(tmp_path)


def test_truncated_mid_stream_is_usable_with_a_warning(tmp_path: Path) -> None:
    data = _mp4_bytes(tmp_path, faststart=True)  # index first, so a cut file still opens
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    _, ts, imgs, warnings, final = read_all(path)
    assert 5 < len(imgs) < 60
    assert final.frames == len(imgs)
    assert len(warnings) == 1 and "ended early" in warnings[0] and "cut.mp4" in warnings[0]
    np.testing.assert_allclose(ts, np.arange(len(ts)) / 30, atol=1e-6)
