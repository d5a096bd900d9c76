import math

import numpy as np
import pytest

from metrics.rom import NORMAL_ROM, NormalRange, compute_joint_rom, compute_rom


def test_range_and_robust_percentiles_ignore_single_spikes():
    t = np.linspace(0, 10, 1001)
    x = 30 + 40 * np.sin(2 * np.pi * 0.5 * t)
    x[500] = 400.0  # a single-frame tracking glitch
    x[10:20] = np.nan
    r = compute_joint_rom(x)
    assert r.max == 400.0 and r.min == pytest.approx(-10, abs=0.1)
    assert r.high == pytest.approx(30 + 40 * np.sin(np.deg2rad(81)), abs=0.5)  # 95th percentile of a sine
    assert r.low == pytest.approx(60 - r.high, abs=1.0)
    assert r.robust_range == pytest.approx(r.high - r.low)


def test_deficit_against_the_normal_range():
    x = np.concatenate([np.linspace(-20, 50, 50), np.linspace(50, -20, 50)])
    r = compute_joint_rom(x, normal=NormalRange(80.0, 70.0), low_pct=0, high_pct=100)
    assert r.positive_deficit == pytest.approx(30)
    assert r.negative_deficit == pytest.approx(50)
    assert r.pct_of_normal == pytest.approx(100 * 70 / 150)


def test_reaching_the_normal_leaves_no_deficit_and_dict_keys():
    rom = compute_rom(
        {"wrist_flex": np.array([-75.0, 0.0, 85.0]), "custom": np.array([1.0, 2.0])}, low_pct=0, high_pct=100
    )
    w = rom["wrist_flex"]
    assert w.positive_deficit == 0 and w.negative_deficit == 0
    assert w.normal_positive == NORMAL_ROM["wrist_flex"].positive == 80
    assert rom["custom"].normal_positive is None
    d = w.to_dict()
    assert {"min_deg", "max_deg", "range_deg", "positive_deficit_deg", "pct_of_normal", "positive_motion"} <= set(d)


def test_untracked_joint_is_nan():
    r = compute_joint_rom(np.full(5, np.nan), normal=NORMAL_ROM["index_mcp_flex"])
    assert math.isnan(r.range) and r.positive_deficit is None and r.pct_of_normal is None


def test_aaos_normals_from_the_design():
    expect = {"wrist_flex": (80, 70), "wrist_dev": (20, 30), "index_mcp_flex": (90, 45), "ring_pip_flex": (100, 0),
              "little_dip_flex": (90, 10), "thumb_mcp_flex": (50, 0), "thumb_ip_flex": (80, 20)}  # fmt: skip
    for name, (pos, neg) in expect.items():
        assert (NORMAL_ROM[name].positive, NORMAL_ROM[name].negative) == (pos, neg)
