"""Peak memory of ``handrehab score`` as the video gets longer: it must stay flat (streamed, never loaded).

Makes hand-free 1080p test videos of increasing length with FFmpeg and scores each one in a child
process, reporting the child's peak resident memory. Flat peaks across lengths mean memory does
not grow with duration; the 1-hour figure is then the longest run's peak plus the landmark arrays
(21 x 3 x 2 float64 per frame, ~110 MB per hour at 30 fps).

    python -m bench.memory --minutes 1 5 --height 1080
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_video(path: Path, *, minutes: float, height: int, fps: int = 30) -> Path:
    width = height * 16 // 9
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={width}x{height}:rate={fps}:duration={minutes * 60}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def peak_rss_mb(video: Path) -> tuple[float, float]:
    """Score ``video`` in a fresh process; return (its peak RSS in MB, seconds).

    A small intermediate process runs the scorer so that its children's peak is this run's alone.
    """
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "sessions.cli", "score", str(video), "--json", "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[-1]) / 1024, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handrehab-mem-") as tmp:
        print(f"{'minutes':>8} {'frames':>8} {'peak RSS MB':>12} {'seconds':>8}")
        for minutes in sorted(args.minutes):
            video = make_video(Path(tmp) / f"{minutes}.mp4", minutes=minutes, height=args.height)
            mb, seconds = peak_rss_mb(video)
            print(f"{minutes:8.1f} {int(minutes * 60 * 30):8d} {mb:12.0f} {seconds:8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
