"""Video files and cameras as lazy frame generators (the I/O edge of tracking).

:func:`read_video` yields ``(t, rgb)`` pairs: ``t`` in seconds from the stream's own presentation
timestamps (so variable frame rate is kept, and ``t`` starts at 0), ``rgb`` an upright ``uint8``
``(H, W, 3)`` frame. Upright means the rotation a phone stores in the file (display matrix, or an
old-style ``rotate`` tag) has been applied, exactly as a video player would show it.

Size convention: frames whose long side exceeds ``max_side`` are downscaled (area interpolation)
before they are yielded, because hand tracking gains nothing from more pixels; :class:`VideoInfo`
always describes the *source* video (upright width/height in pixels, before downscaling). Normalized
landmark coordinates are the same at either size.

Decoding runs in a background thread that feeds a small bounded queue, so decoding overlaps the
hand tracking of the previous frames (PyAV and OpenCV release the GIL) while memory stays flat for
any video length: at most ``queue_size`` frames exist at a time.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from av import VideoFrame
    from av.container import InputContainer
    from av.video.stream import VideoStream

# A frame rate outside this range in the file's metadata is treated as absent (e.g. 0, or the
# 1000/90000 nominal rates of some Matroska and WebM files) and derived from the timestamps instead.
_SANE_FPS = (1.0, 500.0)
# Frames closer together than this (over 1000 fps) have broken timestamps, like time standing still:
# they are re-timed at the nominal rate rather than squeezed into a few milliseconds.
_MIN_FRAME_INTERVAL_S = 0.001
# An average brightness (0..1) below or above these is exposure extreme enough to cost tracking accuracy.
_DARK, _BRIGHT = 0.12, 0.9
# Container formats that are still images, which FFmpeg would otherwise happily open as 1-frame videos.
_IMAGE_FORMATS = ("image2", "_pipe", "gif_pipe", "webp")


class UnusableInputError(ValueError):
    """The input cannot be used at all (missing, empty, not a video, no frames, unreadable).

    The message is one plain sentence for the user; the CLI prints it after ``error:`` and exits 2.
    """


@dataclass(frozen=True)
class VideoInfo:
    """What the result JSON reports about the source video (the ``video`` object of schema 1)."""

    path: str
    fps: float
    frames: int
    duration_s: float
    width: int  # of the upright (rotation-corrected) frames
    height: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# -- opening and probing ------------------------------------------------------------------------


def _open(path: str | os.PathLike[str]) -> tuple[InputContainer, VideoStream]:
    """Open ``path`` with PyAV and return ``(container, video_stream)``, or raise UnusableInputError."""
    import av  # PyAV is imported lazily: the library must import fast without touching FFmpeg.

    p = Path(path)
    name = p.name or str(p)
    if not p.exists():
        raise UnusableInputError(f"file not found: {p}")
    if p.is_dir():
        raise UnusableInputError(f"not a video file: {name} is a folder")
    if p.stat().st_size == 0:
        raise UnusableInputError(f"not a video file: {name} is empty")
    try:
        # damaged files can carry undecodable metadata text: replace it rather than fail
        container = av.open(str(p), mode="r", metadata_errors="replace")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise UnusableInputError(
            f"not a video file: {name} (unreadable or truncated; the container could not be opened)"
        ) from None
    except OSError as exc:
        raise UnusableInputError(f"cannot read {name}: {exc.strerror or exc}") from None
    fmt = container.format.name
    if any(tag in fmt for tag in _IMAGE_FORMATS):
        container.close()
        raise UnusableInputError(f"not a video file: {name} is a still image ({fmt.removesuffix('_pipe')})")
    if not container.streams.video:
        container.close()
        raise UnusableInputError(f"not a video file: {name} (no video stream)")
    stream = container.streams.video[0]
    return container, stream


def _metadata_fps(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            fps = float(rate)
            if _SANE_FPS[0] <= fps <= _SANE_FPS[1]:
                return fps
    return None


def _stream_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _rotation_ccw(frame: VideoFrame, stream: VideoStream) -> int:
    """Quarter turns counter-clockwise that make ``frame`` upright (0..3)."""
    deg = frame.rotation  # display matrix; counter-clockwise degrees
    if not deg:
        tag = stream.metadata.get("rotate")  # old-style tag: clockwise degrees
        if tag and tag.lstrip("-").isdigit():
            deg = -int(tag)
    return round(deg / 90) % 4


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video file without decoding it all.

    Decodes the first frame (to check that frames decode and to read the rotation), and counts
    packets only when the container does not say how many frames it holds or gives no sane rate.

    Parameters
    ----------
    path
        The video file.

    Returns
    -------
    VideoInfo
        ``width``/``height`` are upright (rotation applied) and at the source resolution.

    Raises
    ------
    UnusableInputError
        When the file is missing, empty, not a video, or has no decodable frame.
    """
    return _describe(path, count_packets=True)


def _describe(path: str | os.PathLike[str], *, count_packets: bool) -> VideoInfo:
    """VideoInfo from the metadata and the first frame.

    When the container gives no frame count (Matroska, WebM) or no believable rate, the packet
    index is read: all of it with ``count_packets``, else a sample of it for the rate.
    """
    container, stream = _open(path)
    try:
        first = _first_frame(container, stream, Path(path).name)
        quarter = _rotation_ccw(first, stream)
        width, height = (first.height, first.width) if quarter % 2 else (first.width, first.height)
        fps = _metadata_fps(stream)
        frames = int(stream.frames or 0)
        duration = _stream_duration(container, stream)
        if frames <= 0 or fps is None:
            # read the packet index (all of it, or a sample for a quick estimate): no decoding
            pts = _packet_times(container, stream, limit=None if count_packets else 120)
            span = (max(pts) - min(pts)) * float(stream.time_base or 0) if len(pts) >= 2 else 0.0
            if count_packets:
                frames = len(pts) or 1
                if frames >= 2 and span > 0:
                    duration = span * frames / (frames - 1)
            elif span > 0:
                sampled = (len(pts) - 1) / span
                if fps is None or not 0.5 < fps / sampled < 2.0:
                    fps = sampled
        if frames >= 2 and duration:
            implied = frames / duration
            if fps is None or not 0.5 < fps / implied < 2.0:  # a nominal rate that the file contradicts
                fps = implied
        if fps is not None and fps > 1 / _MIN_FRAME_INTERVAL_S:  # timestamps no camera makes: re-timed
            fps, duration = None, None
        fps = fps or 30.0
        if frames <= 0:
            frames = max(1, round(duration * fps)) if duration else 0
        duration = duration or (frames / fps if frames else 0.0)
    finally:
        container.close()
    return VideoInfo(str(path), fps=float(fps), frames=frames, duration_s=float(duration), width=width, height=height)


def _first_frame(container: InputContainer, stream: VideoStream, name: str) -> VideoFrame:
    import av

    try:
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    return frame
            except av.error.FFmpegError:
                continue  # a damaged packet before the first good frame
    except (av.error.FFmpegError, UnicodeDecodeError):
        pass  # the demuxer gave up before any frame
    raise UnusableInputError(f"not a usable video: {name} has no frames that can be decoded")


def _packet_times(container: InputContainer, stream: VideoStream, *, limit: int | None) -> list[int]:
    """Presentation timestamps of the first ``limit`` video packets (all when None), without decoding."""
    import av

    pts: list[int] = []
    try:
        container.seek(0)
        for packet in islice(container.demux(stream), limit):
            if packet.pts is not None and packet.size:
                pts.append(packet.pts)
    except av.error.FFmpegError:
        pass  # a damaged index: what was read so far is the best estimate
    return pts


# -- decoding -----------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the decode thread learned, read by the consumer once the stream ends."""

    frames: int = 0
    last_t: float = 0.0
    declared_frames: int = 0
    damaged_packets: int = 0
    retimed: int = 0  # frames whose timestamp stood still, ran backwards or came too soon
    brightness_sum: float = 0.0
    stopped_by_error: str | None = None


_END = object()


class FrameStream(Iterator[tuple[float, np.ndarray]]):
    """A lazy iterator of ``(t, rgb)`` frames decoded in a background thread.

    Iterate it once. ``warnings`` (plain sentences) is complete when the iterator is exhausted;
    :meth:`video_info` then gives exact ``frames``/``fps``/``duration_s`` from what was decoded.
    Use it as a context manager (or call :meth:`close`) when you stop early, to stop the thread.
    """

    def __init__(self, path: str, info: VideoInfo, *, max_side: int | None, queue_size: int, thread_type: str) -> None:
        container, stream = _open(path)
        stream.thread_type = thread_type  # FFmpeg's own decoder threads
        self._info = info
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._tally = _Tally(declared_frames=int(stream.frames or 0))
        self.warnings: list[str] = []
        self._finished = False
        self._pending: object = None  # an item taken off the queue early by _prime
        # The thread gets the queue, the stop flag and the tally, never ``self``: a stream dropped
        # without close() is then garbage collected, and __del__ stops the thread.
        self._thread = threading.Thread(
            target=_decode_into,
            args=(container, stream, max_side, self._queue, self._stop, self._tally, info.fps),
            name=f"decode:{Path(path).name}",
            daemon=True,
        )
        self._thread.start()

    # -- consumer side -------------------------------------------------------------------------
    def __iter__(self) -> FrameStream:
        return self

    def __next__(self) -> tuple[float, np.ndarray]:
        if self._finished:
            raise StopIteration
        item, self._pending = (self._pending, None) if self._pending is not None else (self._queue.get(), None)
        if item is _END:
            self._finish()
            raise StopIteration
        if isinstance(item, BaseException):
            self._finish()
            raise item
        return item  # type: ignore[return-value]

    def _prime(self) -> None:
        """Wait for the first frame; raise UnusableInputError when the video yields none."""
        item = self._queue.get()
        if isinstance(item, tuple):
            self._pending = item
            return
        self.close()
        if isinstance(item, BaseException):
            raise item
        name = Path(self._info.path).name
        raise UnusableInputError(f"not a usable video: {name} has no frames that can be decoded")

    def close(self) -> None:
        """Stop decoding early and release the file (safe to call more than once)."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a producer waiting on a full queue
                self._queue.get(timeout=0.05)
        self._finished = True

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self._stop.set()

    @property
    def frames_read(self) -> int:
        return self._tally.frames

    def _finish(self) -> None:
        self._finished = True
        self._thread.join()
        tally = self._tally
        name = Path(self._info.path).name
        short = tally.declared_frames > 0 and tally.frames < tally.declared_frames - 1
        if tally.stopped_by_error or short:
            of = f" of {tally.declared_frames}" if tally.declared_frames else ""
            self.warnings.append(
                f"The video ended early: {tally.frames}{of} frames could be decoded from {name} "
                f"(the file may be truncated or damaged)."
            )
        elif tally.damaged_packets:
            self.warnings.append(f"{tally.damaged_packets} damaged frames in {name} were skipped.")
        if tally.retimed:
            self.warnings.append(
                f"The frame times in {name} are broken ({tally.retimed} of {tally.frames} frames stood still, "
                f"went backwards or came under 1 ms apart); those frames were timed at "
                f"{self._info.fps:.3g} fps."
            )
        level = tally.brightness_sum / max(tally.frames, 1)
        if tally.frames and level < _DARK:
            self.warnings.append(
                f"The video is very dark (average brightness {level:.0%}): the hand may be missed or measured "
                "less accurately; record with more light."
            )
        elif level > _BRIGHT:
            self.warnings.append(
                f"The video is overexposed (average brightness {level:.0%}): the hand may be missed or measured "
                "less accurately; record with less light behind or on the hand."
            )

    def video_info(self) -> VideoInfo:
        """The video as actually decoded: exact frame count, rate and duration (after exhaustion).

        ``fps`` is the average rate of the decoded timestamps (exact for constant frame rate, the true
        mean for variable frame rate); ``duration_s`` is the time the decoded frames cover (last
        timestamp + one frame), so ``frames == fps * duration_s``.
        """
        tally = self._tally
        if not self._finished or tally.frames == 0:
            return self._info
        # the average rate of the timestamps: exact for constant rate, the true mean for variable rate
        n = tally.frames
        if n < 2 or tally.last_t <= 0:
            return replace(self._info, frames=n, duration_s=round(n / self._info.fps, 6))
        duration = tally.last_t * n / (n - 1)  # the last frame lasts one mean interval
        return replace(self._info, fps=round(n / duration, 6), frames=n, duration_s=round(duration, 6))


def _put(out: queue.Queue[object], stop: threading.Event, item: object) -> bool:
    """Put ``item`` unless the consumer asked to stop (waiting while the queue is full)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decode_into(
    container: InputContainer,
    stream: VideoStream,
    max_side: int | None,
    out: queue.Queue[object],
    stop: threading.Event,
    tally: _Tally,
    nominal_fps: float,
) -> None:
    """Background thread of :class:`FrameStream`: decode, convert and queue ``(t, rgb)`` frames."""
    import av

    time_base = stream.time_base or Fraction(1, 90000)
    nominal_dt = 1.0 / nominal_fps  # for frames without usable timestamps
    pts0: int | None = None
    try:
        for packet in container.demux(stream):
            if stop.is_set():
                return
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                tally.damaged_packets += 1
                continue
            for frame in frames:
                if frame.pts is None:
                    t = tally.last_t + nominal_dt if tally.frames else 0.0
                else:
                    pts0 = frame.pts if pts0 is None else pts0
                    t = float((frame.pts - pts0) * time_base)
                if tally.frames and t - tally.last_t < _MIN_FRAME_INTERVAL_S:
                    t = tally.last_t + nominal_dt  # broken timestamps: keep time strictly increasing
                    tally.retimed += 1
                rgb = to_upright_rgb(frame, quarter_turns=_rotation_ccw(frame, stream), max_side=max_side)
                tally.brightness_sum += _brightness(rgb)
                tally.frames += 1
                tally.last_t = t
                if not _put(out, stop, (t, rgb)):
                    return
    except Exception as exc:  # the demuxer gave up (or a damaged frame broke the conversion)
        tally.stopped_by_error = f"{type(exc).__name__}: {exc}"
    except BaseException as exc:  # pragma: no cover - KeyboardInterrupt and the like: surface it
        _put(out, stop, exc)
        return
    finally:
        container.close()
    _put(out, stop, _END)


def _brightness(rgb: np.ndarray) -> float:
    """Mean luma (0..1) of every 8th pixel each way: plenty to judge a frame's exposure, and cheap."""
    sample = rgb[::8, ::8].reshape(-1, 3).astype(np.float32)
    return float((sample @ np.array([0.299, 0.587, 0.114], np.float32)).mean()) / 255.0


def to_upright_rgb(frame: VideoFrame, *, quarter_turns: int = 0, max_side: int | None = None) -> np.ndarray:
    """Convert a decoded PyAV frame to an upright RGB ``uint8`` array, downscaled to ``max_side``.

    Downscaling happens on the YUV planes before colour conversion when the frame is plain
    ``yuv420p`` (2–3x cheaper than converting the full frame first); otherwise on the RGB image.
    Both use area interpolation.
    """
    w, h = frame.width, frame.height
    tw, th = frame_size_after(w, h, max_side=max_side)
    rgb: np.ndarray
    if (tw, th) == (w, h):
        rgb = frame.to_ndarray(format="rgb24")
    elif frame.format.name == "yuv420p" and w % 2 == 0 and h % 2 == 0:
        rgb = _yuv420p_resized_rgb(frame, tw, th)
    else:
        rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (tw, th), interpolation=cv2.INTER_AREA)
    if quarter_turns == 1:
        rgb = cv2.rotate(rgb, cv2.ROTATE_90_COUNTERCLOCKWISE)
    elif quarter_turns == 2:
        rgb = cv2.rotate(rgb, cv2.ROTATE_180)
    elif quarter_turns == 3:
        rgb = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    return np.ascontiguousarray(rgb)


def _yuv420p_resized_rgb(frame: VideoFrame, tw: int, th: int) -> np.ndarray:
    i420 = np.empty((th * 3 // 2, tw), np.uint8)
    chroma = (th // 2) * (tw // 2)
    targets = (
        i420[:th],
        i420[th:].reshape(-1)[:chroma].reshape(th // 2, tw // 2),
        i420[th:].reshape(-1)[chroma:].reshape(th // 2, tw // 2),
    )
    for k, dst in enumerate(targets):
        plane = frame.planes[k]
        pw, ph = (frame.width, frame.height) if k == 0 else (frame.width // 2, frame.height // 2)
        src = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
        cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def read_video(
    path: str | os.PathLike[str],
    *,
    max_side: int | None = 960,
    queue_size: int = 8,
    thread_type: str = "AUTO",
) -> tuple[VideoInfo, FrameStream]:
    """Open a video and return its description and a lazy stream of upright RGB frames.

    Parameters
    ----------
    path
        The video file.
    max_side
        Frames whose longer side exceeds this are downscaled to it (None keeps the source size).
    queue_size
        Decoded frames buffered ahead of the consumer (memory is bounded by this).
    thread_type
        FFmpeg decoder threading: 'AUTO' (frame + slice threads), 'SLICE', or 'NONE'.

    Returns
    -------
    info : VideoInfo
        From the metadata (``frames`` may be an estimate); ``stream.video_info()`` is exact once
        the stream is exhausted.
    stream : FrameStream
        Yields ``(t, rgb)``: ``t`` seconds from the stream's timestamps (first frame at 0, strictly
        increasing), ``rgb`` an upright ``(H, W, 3) uint8`` array. ``stream.warnings`` lists plain
        sentences about the file (e.g. that it ended early).

    Raises
    ------
    UnusableInputError
        At call time (not mid-iteration) when the file is missing, empty, not a video, or no
        frame can be decoded.
    """
    info = _describe(path, count_packets=False)
    stream = FrameStream(str(path), info, max_side=max_side, queue_size=queue_size, thread_type=thread_type)
    # Wait for the first frame now, so that "no frames at all" is raised here, not mid-iteration.
    stream._prime()
    return info, stream


def frame_size_after(width: int, height: int, *, max_side: int | None) -> tuple[int, int]:
    """The ``(width, height)`` of frames :func:`read_video` yields for an upright source of this size."""
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    if scale >= 1:
        return width, height
    # even sizes keep 4:2:0 chroma planes whole
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


__all__ = [
    "FrameStream",
    "UnusableInputError",
    "VideoInfo",
    "frame_size_after",
    "probe_video",
    "read_video",
    "to_upright_rgb",
]
