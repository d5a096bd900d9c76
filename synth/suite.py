"""Sample clips and a varied benchmark suite, cached by a hash of their parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from synth.scene import BACKGROUND_KINDS, HELDOUT_BACKGROUND_KINDS, LIGHTING_KINDS, SKIN_TONES
from synth.scripts import EXERCISES
from synth.video import ClipSpec, render_clip, truth_path

SYNTH_VERSION = 1
"""Bumped whenever rendering or truth changes, so cached suite clips are re-rendered."""

SAMPLE_SPECS: dict[str, ClipSpec] = {
    "finger_tapping": ClipSpec(
        "finger_tapping",
        seed=1,
        skin="medium",
        background="flat",
        lighting="front",
        params={"reps": 10, "rate": 3.0, "amplitude": 0.9, "decrement_pct": 20.0, "hesitations": 1},
    ),
    "thumb_opposition": ClipSpec(
        "thumb_opposition",
        seed=2,
        skin="light",
        background="gradient",
        lighting="left",
        params={"sequences": 1, "touch_s": 0.45},
    ),
    "finger_lifting": ClipSpec(
        "finger_lifting", seed=3, skin="brown", background="table", lighting="top", params={"lifts": 1}
    ),
    "wrist_flexion": ClipSpec(
        "wrist_flexion", seed=4, skin="dark", background="textured", lighting="front", params={"reps": 2}
    ),
    "grip": ClipSpec("grip", seed=5, skin="very_light", background="cluttered", lighting="warm", params={"reps": 3}),
    "finger_spread": ClipSpec(
        "finger_spread", seed=6, side="left", skin="tan", background="flat", lighting="cool", params={"reps": 3}
    ),
    "wrist_deviation": ClipSpec(
        "wrist_deviation", seed=7, skin="medium", background="cluttered", lighting="right", params={"reps": 2}
    ),
    "pronation_supination": ClipSpec(
        "pronation_supination", seed=8, skin="dark", background="gradient", lighting="top", params={"reps": 2}
    ),
    "thumb_flexion": ClipSpec(
        "thumb_flexion", seed=9, skin="light", background="textured", lighting="front", params={"reps": 3}
    ),
}
"""One short clip per exercise (640x480, 30 fps) for ``sample_videos/``."""

SUITE_VIEWS: dict[str, tuple[str, ...]] = {
    "finger_tapping": ("three_quarter", "palm", "side"),
    "thumb_opposition": ("palm", "three_quarter"),
    "finger_lifting": ("radial_oblique", "oblique"),
    "wrist_flexion": ("side", "three_quarter"),
    "grip": ("palm", "back", "three_quarter"),
    "finger_spread": ("palm", "back"),
    "wrist_deviation": ("palm", "back"),
    "pronation_supination": ("forearm_side",),
    "thumb_flexion": ("palm", "three_quarter"),
}
"""Camera views used for each exercise in the (development) suite.

Finger lifting is filmed as a therapist would, from the side or obliquely in front: a camera straight
above sees a finger rise toward it, which hides the lift's height (the ``above`` view of the sample clip).
"""

HELDOUT_VIEWS: dict[str, tuple[str, ...]] = {
    "finger_tapping": ("palm_below", "three_quarter_ulnar", "palm_above"),
    "thumb_opposition": ("palm_above", "palm_below", "back_three_quarter"),
    "finger_lifting": ("ulnar_oblique", "ulnar_steep"),
    "wrist_flexion": ("side_ulnar", "side_above"),
    "grip": ("palm_above", "back_above", "three_quarter_ulnar"),
    "finger_spread": ("palm_below", "back_above"),
    "wrist_deviation": ("palm_above", "back_above"),
    "pronation_supination": ("forearm_oblique", "forearm_tilted"),
    "thumb_flexion": ("palm_below", "palm_above"),
}
"""Camera views of the held-out suite: none of them is used in the development suite."""


def spec_hash(spec: ClipSpec) -> str:
    """Stable content hash of a clip spec (and the renderer version).

    Parameters
    ----------
    spec : ClipSpec
        Clip settings.

    Returns
    -------
    str
        Hex digest (16 characters).
    """
    doc = json.dumps({"v": SYNTH_VERSION, **spec.to_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def render_cached(spec: ClipSpec, out: Path) -> Path:
    """Render ``spec`` to ``out`` unless a clip with the same hash is already there.

    Parameters
    ----------
    spec : ClipSpec
        Clip settings.
    out : Path
        Output MP4 path.

    Returns
    -------
    Path
        The MP4 path.
    """
    h = spec_hash(spec)
    tp = truth_path(out)
    if out.exists() and tp.exists():
        try:
            if json.loads(tp.read_text()).get("render", {}).get("hash") == h:
                return out
        except (json.JSONDecodeError, OSError):
            pass
    truth = render_clip(spec, out)
    truth["render"]["hash"] = h
    tp.write_text(json.dumps(truth, separators=(",", ":")))
    return out


def make_samples(out_dir: str | Path, only: list[str] | None = None) -> list[Path]:
    """Render the sample clips (one per exercise) into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Directory (created if missing); files are ``EXERCISE.mp4`` + ``EXERCISE.truth.json``.
    only : list of str, optional
        Restrict to these exercises.

    Returns
    -------
    list of Path
        MP4 paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, spec in SAMPLE_SPECS.items():
        if only and name not in only:
            continue
        paths.append(render_cached(spec, out / f"{name}.mp4"))
    return paths


def suite_specs(
    n_per_exercise: int, seed: int, exercises: tuple[str, ...] = EXERCISES, *, heldout: bool = False
) -> list[ClipSpec]:
    """The varied clip specs of the benchmark suite.

    Skin tones and background kinds are cycled (so every tone and kind appears for every
    exercise once ``n_per_exercise`` reaches their count); views, lighting, speed, amplitude,
    hand side and size, noise, motion blur, JPEG compression, frame rate and resolution are
    drawn at random.

    The held-out suite (``heldout=True``, with a seed of its own) measures what the detectors were not
    tuned on: other camera views (:data:`HELDOUT_VIEWS`), other backgrounds
    (:data:`synth.scene.HELDOUT_BACKGROUND_KINDS`) and other hands (a wider range of sizes, per-digit
    lengths and girth; the development suite renders the standard proportions). To render enough of them
    in the time, held-out clips are 640x480 or 480x360 at 24 or 30 fps without motion blur.

    Parameters
    ----------
    n_per_exercise : int
        Clips per exercise.
    seed : int
        Suite seed.
    exercises : tuple of str
        Exercises to include.
    heldout : bool
        Make the held-out suite.

    Returns
    -------
    list of ClipSpec
        The specs.
    """
    rng = np.random.default_rng(seed)
    skins = list(SKIN_TONES)
    bgs = list(HELDOUT_BACKGROUND_KINDS if heldout else BACKGROUND_KINDS)
    specs = []
    for ei, ex in enumerate(exercises):
        for k in range(n_per_exercise):
            views = (HELDOUT_VIEWS if heldout else SUITE_VIEWS)[ex]
            res = [(640, 480)] * 6 + [(1280, 720), (480, 360)]
            w, h = res[int(rng.integers(len(res)))]
            fps = float(rng.choice([15.0, 24.0, 30.0, 30.0, 30.0, 60.0]))
            bg = bgs[(k + ei) % len(bgs)]
            if ex == "finger_lifting" and rng.random() < 0.6 and not heldout:
                bg = "table"
            params: dict[str, Any] = {}
            if ex == "finger_tapping":
                params = {
                    "reps": int(rng.integers(8, 13)),
                    "rate": float(rng.uniform(1.5, 4.5)),
                    "amplitude": float(rng.uniform(0.5, 1.1)),
                    "decrement_pct": float(rng.choice([0, 0, 20, 40])),
                    "hesitations": int(rng.integers(0, 3)),
                    "halts": int(rng.integers(0, 2)),
                }
            elif ex == "thumb_opposition":
                params = {"sequences": int(rng.integers(1, 3)), "touch_s": float(rng.uniform(0.3, 0.7))}
                if rng.random() < 0.3:
                    params["skip"] = [int(rng.integers(0, 4))]
            elif ex == "finger_lifting":
                params = {
                    "lifts": 1,
                    "lift_deg": float(rng.uniform(15, 40)),
                    "coupling_scale": float(rng.uniform(0.0, 1.5)),
                }
            elif ex in ("wrist_flexion", "wrist_deviation", "pronation_supination"):
                params = {"reps": int(rng.integers(2, 4)), "period": float(rng.uniform(1.5, 3.0))}
                if ex == "wrist_flexion":
                    params |= {"flexion_deg": float(rng.uniform(30, 75)), "extension_deg": float(rng.uniform(25, 65))}
                elif ex == "wrist_deviation":
                    params |= {"radial_deg": float(rng.uniform(10, 22)), "ulnar_deg": float(rng.uniform(15, 35))}
                else:
                    params |= {
                        "pronation_deg": float(rng.uniform(40, 80)),
                        "supination_deg": float(rng.uniform(40, 80)),
                    }
            else:
                params = {"reps": int(rng.integers(2, 5)), "period": float(rng.uniform(1.0, 2.2))}
                if ex == "grip":
                    params["closure"] = float(rng.uniform(0.4, 1.0))
                elif ex == "finger_spread":
                    params["spread_deg"] = float(rng.uniform(8, 22))
            other: dict[str, Any] = {}
            if heldout:  # other hands; a smaller, sharper video so that enough clips fit the rendering budget
                other = {
                    "hand_size": float(rng.uniform(0.75, 1.25)),
                    "finger_scale": tuple(float(v) for v in rng.uniform(0.88, 1.12, 5)),
                    "girth": float(rng.uniform(0.85, 1.2)),
                    "fps": float(rng.choice([24.0, 30.0])),
                    "blur_subframes": 1,
                    **({"width": 480, "height": 360} if k % 2 else {"width": 640, "height": 480}),
                }
            spec = ClipSpec(
                exercise=ex,
                seed=int(seed * 100003 + ei * 1009 + k),
                side="left" if rng.random() < 0.35 else "right",
                skin=skins[(k + 2 * ei) % len(skins)],
                background=bg,
                lighting=str(rng.choice(LIGHTING_KINDS)),
                view=str(views[k % len(views)]),
                fps=fps,
                width=w,
                height=h,
                hand_size=float(rng.uniform(0.85, 1.12)),
                fill=float(rng.uniform(0.4, 0.6)),
                noise=float(rng.uniform(0.0, 6.0)),
                jpeg_quality=int(rng.choice([0, 0, 85, 60, 40])),
                blur_subframes=int(rng.choice([1, 1, 1, 3])),
                view_jitter=6.0,
                params=params,
            )
            specs.append(replace(spec, **other))
    return specs


def make_suite(
    n_per_exercise: int,
    seed: int,
    out_dir: str | Path,
    *,
    heldout: bool = False,
    workers: int = 1,
    only: Collection[str] | None = None,
) -> list[Path]:
    """Render (or reuse) a varied suite of clips across exercises.

    Clips are named ``EXERCISE_HASH.mp4`` where the hash covers every parameter, so a
    second call with the same arguments returns at once.

    Parameters
    ----------
    n_per_exercise : int
        Clips per exercise (5 gives 45 clips).
    seed : int
        Suite seed.
    out_dir : str or Path
        Output directory.
    heldout : bool
        Make the held-out suite (see :func:`suite_specs`).
    workers : int
        Processes rendering at once (the renderer uses one core).
    only : collection of str, optional
        Render only these exercises' clips: the same clips as in the whole suite (drawn with it), not a
        suite of their own.

    Returns
    -------
    list of Path
        MP4 paths; each has ``NAME.truth.json`` beside it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = [s for s in suite_specs(n_per_exercise, seed, heldout=heldout) if only is None or s.exercise in only]
    paths = [out / f"{spec.exercise}_{spec_hash(spec)}.mp4" for spec in specs]
    if workers <= 1:
        return [render_cached(spec, path) for spec, path in zip(specs, paths, strict=True)]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(render_cached, specs, paths))
