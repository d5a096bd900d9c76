"""Batch throughput against the loop most published scripts use, and scaling with workers.

    python -m bench.batch [--videos sample_videos] [--workers 2] [--clips 4] [--seconds 6]
    python -m bench.batch --kill-test 200 [--kills 3]

Throughput: a folder is made from the sample videos (each re-encoded at 640x480 and at 1920x1080,
H.264; whole clips unless ``--seconds``; ``--copies`` of each so that start-up is amortised as in
a real batch). In one run, on the same folder:

- naive:  one process; per video ``cv2.VideoCapture`` + ``mediapipe.solutions.hands.Hands(max_num_hands=2)``
          ``.process()`` on every frame (full resolution, the first hand found each frame), then the same
          exercise analysis (``sessions.pipeline.score_series``) for the rep count;
- batch:  ``sessions.batch.run_batch`` with 1..N worker processes (fresh output folder each time, worker
          start-up included).

Reported: video-seconds processed per wall-second, speed-up over naive, rep counts per video. The bar:
with 2 workers on a 2-core machine >= 2.5x the naive throughput, with the same rep counts.

Kill test (``--kill-test N``): N clips (short copies of the samples, about one in ten corrupt) are
batch-processed by the CLI, SIGKILLed ``--kills`` times at random moments, and resumed; every good clip
must be scored exactly once, every corrupt one listed in errors.csv, and no temp file left.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sessions.batch import BatchItem, Engine

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (1920, 1080))


@dataclass
class Run:
    label: str
    wall_s: float
    video_s: float
    reps: dict[str, int]  # relative path -> rep count
    cpu_s: float  # CPU time of this process and its workers

    @property
    def cpu_per_video_s(self) -> float:
        return self.cpu_s / self.video_s

    @property
    def throughput(self) -> float:
        return self.video_s / self.wall_s


def sample_videos(folder: Path, limit: int) -> list[tuple[Path, str]]:
    from exercises.registry import exercise_names

    names = set(exercise_names())
    found = []
    for video in sorted(folder.glob("*.mp4")):
        truth = video.with_name(f"{video.stem}.truth.json")  # written after the video: the clip is complete
        exercise = json.loads(truth.read_text()).get("exercise") if truth.exists() else None
        if exercise in names:
            found.append((video, exercise))
    return found[:limit]


def build_folder(samples: list[tuple[Path, str]], root: Path, *, seconds: float | None, copies: int) -> Path:
    """640x480 and 1920x1080 versions of each sample (``copies`` of each), and a manifest of exercises."""
    rows = ["path,exercise"]
    for video, exercise in samples:
        with av_open(video) as (fps, _):
            max_frames = None if seconds is None else round(seconds * fps)
        for w, h in SIZES:
            first = root / f"{w}x{h}" / f"{video.stem}.mp4"
            first.parent.mkdir(parents=True, exist_ok=True)
            make_clip(video, first, w, h, max_frames=max_frames)
            for c in range(copies):
                rel = f"{w}x{h}/{video.stem}.mp4" if c == 0 else f"{w}x{h}/copy{c}/{video.stem}.mp4"
                if c:
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(first, root / rel)
                rows.append(f"{rel},{exercise}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def make_clip(src: Path, out: Path, width: int, height: int, *, max_frames: int | None = None) -> Path:
    """Re-encode ``src`` at ``width`` x ``height`` (H.264 CRF 18, same frame times), as a phone would."""
    import av

    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        s_in = inp.streams.video[0]
        s_out = dst.add_stream("libx264", rate=s_in.average_rate or 30)
        s_out.width, s_out.height, s_out.pix_fmt = width, height, "yuv420p"
        s_out.options = {"preset": "veryfast", "crf": "18"}
        for i, frame in enumerate(inp.decode(s_in)):
            if max_frames is not None and i >= max_frames:
                break
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_CUBIC)
            for p in s_out.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")):
                dst.mux(p)
        for p in s_out.encode():
            dst.mux(p)
    return out


class av_open:  # noqa: N801 - a tiny context manager giving (fps, frames)
    def __init__(self, path: Path) -> None:
        import av

        self._c = av.open(str(path))

    def __enter__(self) -> tuple[float, int]:
        s = self._c.streams.video[0]
        return float(s.average_rate or 30), int(s.frames or 0)

    def __exit__(self, *exc: object) -> None:
        self._c.close()


def naive_track(path: Path, exercise: str) -> tuple[float, int]:
    """The reference loop. Returns (video duration s, rep count)."""
    import mediapipe as mp

    from sessions.pipeline import score_series
    from tracking.hands import anatomical_handedness
    from tracking.series import LandmarkSeries
    from tracking.video import VideoInfo

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    image: list[object] = []
    world: list[object] = []
    labels: list[str] = []
    with mp.solutions.hands.Hands(max_num_hands=2) as hands:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            res = hands.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if res.multi_hand_landmarks:
                image.append([(p.x, p.y, p.z) for p in res.multi_hand_landmarks[0].landmark])
                world.append([(p.x, p.y, p.z) for p in res.multi_hand_world_landmarks[0].landmark])
                labels.append(res.multi_handedness[0].classification[0].label)
            else:
                image.append(np.full((21, 3), np.nan))
                world.append(np.full((21, 3), np.nan))
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    n = len(image)
    img, wld = np.asarray(image, float).reshape(n, 21, 3), np.asarray(world, float).reshape(n, 21, 3)
    present = ~np.isnan(img[:, 0, 0])
    label = max(set(labels), key=labels.count) if labels else "Right"
    series = LandmarkSeries(
        t=np.arange(n) / fps,
        image=img,
        world=wld,
        present=present,
        score=present.astype(float),
        handedness=anatomical_handedness(label),
        width=width,
        height=height,
    )
    info = VideoInfo(str(path), fps=fps, frames=n, duration_s=n / fps, width=width, height=height)
    return n / fps, score_series(series, info, exercise).result.rep_count


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished child processes."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_naive(items: list[BatchItem]) -> Run:
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    video_s, reps = 0.0, {}
    for it in items:
        d, n = naive_track(Path(it.path), it.exercise)
        video_s += d
        reps[it.rel] = n
    wall = time.perf_counter() - t0
    return Run("naive (cv2 + Hands(max_num_hands=2), 1 process)", wall, video_s, reps, cpu_seconds() - c0)


def run_ours(items: list[BatchItem], workers: int, out: Path, *, engine: Engine = "local") -> Run:
    import pandas as pd

    from sessions.batch import run_batch

    shutil.rmtree(out, ignore_errors=True)
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    summary = run_batch(items, out, workers=workers, engine=engine)
    wall = time.perf_counter() - t0
    sessions = pd.read_csv(out / "sessions.csv")
    reps = dict(zip(sessions["path"], sessions["rep_count"].astype(int), strict=True))
    label = f"handrehab batch, {engine}, {workers} worker{'s' if workers > 1 else ''}"
    return Run(label, wall, summary.video_seconds, reps, cpu_seconds() - c0)


def truth_reps(samples: list[tuple[Path, str]], item: BatchItem, seconds: float | None) -> int | None:
    stem = Path(item.rel).stem
    for video, _ in samples:
        if video.stem == stem:
            truth = json.loads(video.with_name(f"{stem}.truth.json").read_text())
            end = seconds if seconds is not None else float("inf")
            return sum(r["end_s"] <= end for r in truth.get("reps", []))
    return None


def throughput_bench(args: argparse.Namespace) -> int:
    from sessions.batch import plan_batch

    samples = sample_videos(Path(args.videos), args.clips)
    if not samples:
        print(f"no sample videos of registered exercises in {args.videos}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        manifest = build_folder(samples, work / "clips", seconds=args.seconds, copies=args.copies)
        items = plan_batch(work / "clips", exercise="auto", manifest=manifest)
        sizes = ", ".join(f"{w}x{h}" for w, h in SIZES)
        print(f"{len(items)} clips ({sizes}) from {len(samples)} samples; {os.cpu_count()} CPUs")
        runs = [run_naive(items)]
        for w in range(1, args.workers + 1):
            runs.append(run_ours(items, w, work / f"out{w}"))
        if args.ray:
            runs.append(run_ours(items, args.workers, work / "out-ray", engine="ray"))
        naive = runs[0]
        print(f"\n{'run':52s} {'wall s':>7s} {'video s/s':>9s} {'speed-up':>8s} {'CPU s/video s':>13s}  same reps")
        for r in runs:
            same = sum(r.reps.get(k) == v for k, v in naive.reps.items())
            gain = r.throughput / naive.throughput
            print(
                f"{r.label:52s} {r.wall_s:7.1f} {r.throughput:9.2f} {gain:7.2f}x {r.cpu_per_video_s:13.2f}  "
                f"{same}/{len(naive.reps)}"
            )
        print("\nrep counts per clip: naive / ours (most workers) / truth (reps ending within the clip)")
        best = runs[args.workers]
        for it in (it for it in items if "/copy" not in it.rel):  # copies are counted above, not listed
            k = it.rel
            print(f"  {k:40s} {naive.reps[k]:3d} / {best.reps.get(k)} / {truth_reps(samples, it, args.seconds)}")
        target = next((r for r in runs[1:] if r.label.endswith(f"{min(2, args.workers)} workers")), runs[-1])
        speedup = target.throughput / naive.throughput
        same = all(target.reps.get(k) == v for k, v in naive.reps.items())
        verdict = "PASS" if speedup >= 2.5 and same else "FAIL"
        print(f"\nbar (2 workers >= 2.5x naive, same rep counts): {speedup:.2f}x, same counts: {same} -> {verdict}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def kill_test(args: argparse.Namespace) -> int:
    """Many short clips, SIGKILLed at random moments and resumed; then the invariants are checked."""
    import pandas as pd

    samples = sample_videos(Path(args.videos), 8)
    if not samples:
        print(f"no sample videos of registered exercises in {args.videos}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-batch-kill-"))
    rng = random.Random(args.seed)
    data, out = work / "videos", work / "out"
    rows, bad = ["path,exercise,subject"], set()
    base = []
    for video, exercise in samples:
        clip = work / "base" / f"{exercise}.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-t", "1.5", "-c", "copy", str(clip)], check=True
        )
        base.append((clip, exercise))
    for i in range(args.kill_test):
        clip, exercise = base[i % len(base)]
        rel = f"S{i // 10:03d}/clip{i:04d}.mp4"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:  # corrupt: text, empty or a header only
            kind = (i // 10) % 3
            (data / rel).write_bytes([b"not a video", b"", clip.read_bytes()[:1200]][kind])
            bad.add(rel)
        else:
            shutil.copyfile(clip, data / rel)
        rows.append(f"{rel},{exercise},S{i // 10:03d}")
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "sessions.cli_batch", str(data), "--manifest", str(data / "manifest.csv")]
    cmd += ["--out", str(out), "--workers", str(args.workers), "--quiet"]
    t0 = time.monotonic()
    # Kill points spread over the batch: after a random number of results, plus up to 2 s.
    targets = sorted(rng.sample(range(1, args.kill_test - len(bad)), args.kills))
    for k, target in enumerate(targets):
        proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)
        while len(list((out / "results").glob("*.json"))) < target and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 2))
        if proc.poll() is not None:
            print(f"run {k + 1} finished before its kill")
            break
        (os.killpg(proc.pid, signal.SIGKILL) if k % 2 else proc.kill())
        proc.wait()
        done = len(list((out / "results").glob("*.json")))
        what = "process group" if k % 2 else "batch process"
        print(f"kill {k + 1} ({what}) at {time.monotonic() - t0:.0f} s: {done} results")
    final = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    print(final.stdout)
    sessions, errors = pd.read_csv(out / "sessions.csv"), pd.read_csv(out / "errors.csv")
    good = args.kill_test - len(bad)
    checks = {
        "exit code 0": final.returncode == 0,
        f"{good} good clips scored exactly once": len(sessions) == sessions["key"].nunique() == good
        and len(list((out / "results").glob("*.json"))) == good,
        f"{len(bad)} corrupt clips in errors.csv": set(errors["path"]) == bad,
        "no temp files left": not [p for p in out.rglob("*.tmp")],
        "same count for copies of a clip": bool((sessions.groupby("exercise")["rep_count"].nunique() == 1).all()),
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"total {time.monotonic() - t0:.0f} s (seed {args.seed})")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(checks.values()) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", default=str(ROOT / "sample_videos"), help="folder of sample videos (NAME.mp4)")
    p.add_argument("--clips", type=int, default=4, help="how many sample videos to use")
    p.add_argument("--copies", type=int, default=3, help="copies of each clip (a realistic batch, not 8 videos)")
    p.add_argument("--seconds", type=float, default=None, help="seconds of each sample to use (default: all)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="scale from 1 to this many workers")
    p.add_argument("--ray", action="store_true", help="also run the Ray engine (local) with --workers")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--kill-test", type=int, default=0, metavar="N", help="run the SIGKILL/resume test on N clips")
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    args = p.parse_args()
    return kill_test(args) if args.kill_test else throughput_bench(args)


if __name__ == "__main__":
    sys.exit(main())
