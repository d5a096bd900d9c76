"""Fuzz the video decoding path with mutated files: nothing may crash or hang the process.

Each mutated file must either raise ``UnusableInputError`` or yield frames, within ``--per-file`` seconds.
Files are decoded in a child process so that a native crash (a segfault in FFmpeg) or a hang is caught
and reported with the file that caused it, instead of taking the harness down.

    python -m bench.fuzz --seconds 300 [--seed N] [--per-file 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random corruption of ``data``: byte flips, a cut, a duplicated or zeroed block."""
    buf = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:  # flip a few bytes anywhere, header included
        for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 16))):
            buf[pos] ^= int(rng.integers(1, 256))
    elif kind == 1:  # cut the file short
        del buf[int(rng.integers(1, len(buf))) :]
    elif kind == 2:  # duplicate a block somewhere else
        a = int(rng.integers(0, len(buf)))
        b = min(len(buf), a + int(rng.integers(1, 4096)))
        at = int(rng.integers(0, len(buf)))
        buf[at:at] = buf[a:b]
    else:  # zero a block
        a = int(rng.integers(0, len(buf)))
        buf[a : a + int(rng.integers(1, 2048))] = bytes(min(len(buf) - a, 2048))
    return bytes(buf)


def _decode_all(paths: list[str], max_frames: int, conn: Connection) -> None:
    """Child process: decode each file, telling the parent when each starts and how it ended.

    Anything but ``UnusableInputError`` or frames escapes and ends the process with an error (a failure).
    """
    from tracking.video import UnusableInputError, read_video

    for i, p in enumerate(paths):
        conn.send(("start", i))
        try:
            _, frames = read_video(p, max_side=320)
            # Closed on the early break: a decoder thread still inside FFmpeg at process exit aborts it.
            with frames:
                for n, (_, rgb) in enumerate(frames, 1):
                    assert rgb.ndim == 3 and rgb.dtype == np.uint8
                    if n >= max_frames:
                        break
            conn.send(("decoded", i))
        except UnusableInputError:
            conn.send(("unusable", i))
    conn.send(("done", len(paths)))


def fuzz(
    seeds: list[Path], *, seconds: float, batch: int = 20, per_file_s: float = 10.0, seed: int = 0
) -> dict[str, Any]:
    """Mutate ``seeds`` for ``seconds``; return counts and the files that crashed or hung.

    Batches of files are decoded in a child process; a file that takes longer than ``per_file_s`` is a
    hang (the child is killed), a child that dies is a crash. Either way the batch goes on with the next
    file in a fresh child, and the failing file is copied out of the temporary folder for replay.
    """
    rng = np.random.default_rng(seed)
    corpus = [p.read_bytes() for p in seeds]
    ctx = mp.get_context("spawn")
    counts = {"files": 0, "decoded": 0, "unusable": 0}
    failures: list[dict[str, str]] = []
    slowest = 0.0
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix="handrehab-fuzz-") as tmp:
        while time.monotonic() < deadline:
            paths: list[str] = []
            for _ in range(batch):
                data = mutate(corpus[int(rng.integers(len(corpus)))], rng)
                path = Path(tmp) / f"case{counts['files'] + len(paths)}.mp4"
                path.write_bytes(data)
                paths.append(str(path))
            while paths:
                ours, theirs = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_decode_all, args=(paths, 90, theirs))
                proc.start()
                theirs.close()
                current, started, failed = -1, time.monotonic(), None
                while True:
                    if not ours.poll(per_file_s if current >= 0 else per_file_s + 30):  # + the child's start-up
                        failed = "hang"
                        break
                    try:
                        event, i = ours.recv()
                    except EOFError:  # the child died without a word: a native crash
                        proc.join()
                        failed = f"crash (exit {proc.exitcode})"
                        break
                    if event == "start":
                        current, started = i, time.monotonic()
                        continue
                    if event == "done":
                        break
                    counts["files"] += 1
                    counts[event] += 1
                    slowest = max(slowest, time.monotonic() - started)
                if failed == "hang":
                    proc.kill()
                proc.join()
                ours.close()
                if failed is None:
                    if proc.exitcode != 0:  # a clean "done" and then a bad exit: the interpreter's teardown
                        failures.append({"kind": f"crash at exit ({proc.exitcode})", "files": _keep(paths)})
                    break
                bad = max(current, 0)
                counts["files"] += 1
                failures.append({"kind": failed, "files": _keep(paths[bad : bad + 1])})
                paths = paths[bad + 1 :]
    return {**counts, "failures": failures, "slowest_s": slowest}


def _keep(paths: list[str]) -> str:
    """Copy a failing batch out of the temp dir so it can be replayed."""
    out = Path(tempfile.mkdtemp(prefix="handrehab-fuzz-fail-"))
    for p in paths:
        Path(out, Path(p).name).write_bytes(Path(p).read_bytes())
    return str(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-file", type=float, default=10.0, help="seconds after which a file counts as a hang")
    args = parser.parse_args()
    seeds = sorted((ROOT / "sample_videos").glob("*.mp4"))
    if not seeds:
        print("no seed videos in sample_videos/", file=sys.stderr)
        return 2
    report = fuzz(seeds, seconds=args.seconds, seed=args.seed, per_file_s=args.per_file)
    kinds = [f["kind"] for f in report["failures"]]
    crashes, hangs = sum(k.startswith("crash") for k in kinds), kinds.count("hang")
    print(
        f"{report['files']} mutated files in {args.seconds:g} s: {report['decoded']} gave frames, "
        f"{report['unusable']} were refused as unusable; {crashes} crashes, {hangs} hangs "
        f"(slowest file {report['slowest_s']:.2f} s)"
    )
    for f in report["failures"]:
        print(f"  {f['kind']}: replay {f['files']}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
