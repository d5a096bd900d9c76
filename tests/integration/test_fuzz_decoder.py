"""A bounded fuzzing run of the decoder path (the full 5-minute run is ``python -m bench.fuzz``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.fuzz import fuzz, mutate

ROOT = Path(__file__).resolve().parents[2]


def test_mutate_changes_bytes() -> None:
    rng = np.random.default_rng(1)
    data = bytes(range(256)) * 64
    assert any(mutate(data, rng) != data for _ in range(10))


@pytest.mark.slow
def test_mutated_videos_never_crash_or_hang() -> None:
    seeds = sorted((ROOT / "sample_videos").glob("*.mp4"))[:3]
    assert seeds, "sample videos are committed with the repository"
    report = fuzz(seeds, seconds=25, batch=15, seed=7)
    assert report["failures"] == [], report
    assert report["files"] >= 15 and report["decoded"] + report["unusable"] == report["files"]
    assert report["decoded"] > 0 and report["unusable"] > 0  # the mutations reach both outcomes
    assert report["slowest_s"] < 10
