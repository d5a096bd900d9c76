"""Fuzz the video decoding path with mutated files: nothing may crash or hang the process.

Each mutated file must either raise ``UnusableInputError`` or yield frames. Files are decoded in a
child process so that a native crash (a segfault in FFmpeg) or a hang is caught and reported with
the file that caused it, instead of taking the harness down.

    python -m bench.fuzz --seconds 300
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

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


def _decode_all(paths: list[str], max_frames: int) -> None:
    """Child process: decode each file; an exception other than UnusableInputError is a failure."""
    from tracking.video import UnusableInputError, read_video

    for p in paths:
        try:
            _, frames = read_video(p, max_side=320)
            # Closed on the early break: a decoder thread still inside FFmpeg at process exit aborts it.
            with frames:
                for i, (_, rgb) in enumerate(frames):
                    assert rgb.ndim == 3 and rgb.dtype == np.uint8
                    if i >= max_frames:
                        break
        except UnusableInputError:
            pass


def fuzz(seeds: list[Path], *, seconds: float, batch: int = 20, per_file_s: float = 5.0, seed: int = 0) -> dict:
    """Mutate ``seeds`` for ``seconds``; return counts and the files that crashed or hung."""
    rng = np.random.default_rng(seed)
    corpus = [p.read_bytes() for p in seeds]
    ctx = mp.get_context("spawn")
    failures: list[dict[str, str]] = []
    files = 0
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix="handrehab-fuzz-") as tmp:
        while time.monotonic() < deadline:
            paths = []
            for k in range(batch):
                data = mutate(corpus[int(rng.integers(len(corpus)))], rng)
                path = Path(tmp) / f"case{files + k}.mp4"
                path.write_bytes(data)
                paths.append(str(path))
            proc = ctx.Process(target=_decode_all, args=(paths, 90))
            proc.start()
            proc.join(per_file_s * batch)
            if proc.is_alive():
                proc.kill()
                proc.join()
                failures.append({"kind": "hang", "files": _keep(paths)})
            elif proc.exitcode != 0:
                failures.append({"kind": f"crash (exit {proc.exitcode})", "files": _keep(paths)})
            files += batch
    return {"files": files, "failures": failures}


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
    args = parser.parse_args()
    seeds = sorted((ROOT / "sample_videos").glob("*.mp4"))
    if not seeds:
        print("no seed videos in sample_videos/", file=sys.stderr)
        return 2
    report = fuzz(seeds, seconds=args.seconds, seed=args.seed)
    print(f"{report['files']} mutated files decoded, {len(report['failures'])} failing batches")
    for f in report["failures"]:
        print(f"  {f['kind']}: replay the files in {f['files']}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
