"""Peak memory of ``handrehab score`` as the video gets longer: it must stay flat (streamed, never loaded).

Makes 1080p test videos of increasing length with FFmpeg - the rendered finger-tapping sample looped
(a hand in every frame, thousands of taps), or with ``--no-hand`` a test pattern - and scores each one
in a child process, reporting the child's peak resident memory. Flat peaks across lengths mean memory
does not grow with duration (frames are streamed; only the landmarks, ~110 MB per hour at 30 fps, and
the analysis grow with it).

    python -m bench.memory --minutes 1 5 60 --height 1080
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_videos" / "finger_tapping.mp4"


def make_video(path: Path, *, minutes: float, height: int, fps: int = 30, hand: bool = True) -> Path:
    width = height * 16 // 9
    if hand:  # the sample looped, scaled and padded to 16:9
        source = [
            "-stream_loop",
            "-1",
            "-i",
            str(SAMPLE),
            "-t",
            str(minutes * 60),
            "-vf",
            f"scale=-2:{height},pad={width}:{height}:(ow-iw)/2:0,fps={fps}",
        ]
    else:
        source = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={minutes * 60}"]
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *source,
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def peak_rss_mb(video: Path) -> tuple[float, float, int]:
    """Score ``video`` in a fresh process; return (its peak RSS in MB, seconds, repetitions counted).

    A small intermediate process runs the scorer so that its children's peak is this run's alone.
    """
    probe = (
        "import json, resource, subprocess, sys; out = subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(json.loads(out.stdout)['rep_count'], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "sessions.cli", "score", str(video), "-e", "finger_tapping",
         "--json", "-"],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    reps, rss = out.stdout.split()[-2:]
    return int(rss) / 1024, time.perf_counter() - t0, int(reps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--no-hand", action="store_true", help="a test pattern instead of the looped tapping sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handrehab-mem-") as tmp:
        print(f"{'minutes':>8} {'frames':>8} {'peak RSS MB':>12} {'seconds':>8} {'reps':>6}")
        for minutes in sorted(args.minutes):
            video = make_video(Path(tmp) / f"{minutes}.mp4", minutes=minutes, height=args.height, hand=not args.no_hand)
            mb, seconds, reps = peak_rss_mb(video)
            print(f"{minutes:8.1f} {int(minutes * 60 * 30):8d} {mb:12.0f} {seconds:8.0f} {reps:6d}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
