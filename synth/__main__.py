"""Command line: ``python -m synth {samples,render,suite} ...``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from synth.scene import BACKGROUND_KINDS, LIGHTING_KINDS, SKIN_TONES
from synth.scripts import EXERCISES
from synth.suite import make_samples, make_suite
from synth.video import VIEWS, ClipSpec, render_clip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m synth", description="Synthetic hand-exercise videos with ground truth.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("samples", help="render sample_videos/ (one short clip per exercise)")
    s.add_argument("--out", default="sample_videos")
    s.add_argument("--only", nargs="*", choices=EXERCISES)
    r = sub.add_parser("render", help="render one clip + NAME.truth.json")
    r.add_argument("--exercise", required=True, choices=EXERCISES)
    r.add_argument("--out", required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--side", choices=("left", "right"), default="right")
    r.add_argument("--skin", choices=tuple(SKIN_TONES), default="medium")
    r.add_argument("--background", choices=BACKGROUND_KINDS, default="flat")
    r.add_argument("--lighting", choices=LIGHTING_KINDS, default="front")
    r.add_argument("--view", choices=tuple(VIEWS), default=None)
    r.add_argument("--fps", type=float, default=30.0)
    r.add_argument("--width", type=int, default=640)
    r.add_argument("--height", type=int, default=480)
    r.add_argument("--size", type=float, default=1.0, help="hand scale (1 = palm length 9 cm)")
    r.add_argument("--fill", type=float, default=0.5, help="rest-hand height / frame height")
    r.add_argument("--noise", type=float, default=2.0, help="sensor noise sigma, 8-bit units")
    r.add_argument("--jpeg", type=int, default=0, help="in-camera JPEG quality (0 = off)")
    r.add_argument("--blur", type=int, default=1, help="motion-blur sub-frames (1 = off)")
    r.add_argument("--crf", type=int, default=23)
    r.add_argument("--reps", type=int, default=None)
    r.add_argument("--rate", type=float, default=None, help="finger_tapping: taps per second")
    r.add_argument("--amplitude", type=float, default=None, help="finger_tapping: opening / palm length")
    r.add_argument("--decrement", type=float, default=None, help="finger_tapping: amplitude decrement %%")
    r.add_argument("--hesitations", type=int, default=None, help="finger_tapping: short pauses")
    r.add_argument("--halts", type=int, default=None, help="finger_tapping: long pauses")
    r.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any other script parameter, e.g. --param period=2.5 --param 'order=[\"index\"]'",
    )
    c = sub.add_parser("check", help="track clips with MediaPipe and compare with their truth")
    c.add_argument("paths", nargs="+", help="MP4 files or directories of them")
    c.add_argument("--json", default=None, help="also write per-clip results to this file")
    u = sub.add_parser("suite", help="render a varied benchmark suite (cached)")
    u.add_argument("--n", type=int, default=5, help="clips per exercise")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--out", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code.
    """
    a = _parser().parse_args(argv)
    t0 = time.perf_counter()
    if a.cmd == "samples":
        for p in make_samples(a.out, a.only):
            print(p)
    elif a.cmd == "check":
        from synth.check import evaluate_clip, summarize

        files: list[Path] = []
        for p in a.paths:
            pp = Path(p)
            files += sorted(pp.glob("*.mp4")) if pp.is_dir() else [pp]
        results = []
        for f in files:
            r = evaluate_clip(f)
            results.append(r)
            print(
                f"{f.name:48s} det {r['detection_rate']:6.1%}  err {r.get('err_px_median', float('nan')):5.1f} px"
                f"  topo {r.get('topology_ok', float('nan')):6.1%}  {r['skin']}/{r['background']}/{r['view']}",
                flush=True,
            )
        print(summarize(results))
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=1))
    elif a.cmd == "suite":
        paths = make_suite(a.n, a.seed, a.out)
        print(f"{len(paths)} clips in {a.out}")
    else:
        params: dict[str, Any] = {}
        for key, name in (
            ("reps", "reps"),
            ("rate", "rate"),
            ("amplitude", "amplitude"),
            ("decrement", "decrement_pct"),
            ("hesitations", "hesitations"),
            ("halts", "halts"),
        ):
            v = getattr(a, key)
            if v is not None:
                params[name] = v
        for kv in a.param:
            k, _, v = kv.partition("=")
            try:
                params[k] = json.loads(v)
            except json.JSONDecodeError:
                params[k] = v
        spec = ClipSpec(
            exercise=a.exercise,
            seed=a.seed,
            side=a.side,
            skin=a.skin,
            background=a.background,
            lighting=a.lighting,
            view=a.view,
            fps=a.fps,
            width=a.width,
            height=a.height,
            hand_size=a.size,
            fill=a.fill,
            noise=a.noise,
            jpeg_quality=a.jpeg,
            blur_subframes=a.blur,
            crf=a.crf,
            params=params,
        )
        truth = render_clip(spec, Path(a.out))
        print(f"{a.out}: {truth['video']['frames']} frames, {truth['rep_count']} reps, metrics {truth['metrics']}")
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
