"""Detector-like 2D noise (data/detnoise.py): each component's statistics."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from skelgnn.data.detnoise import DetectorNoise, fill_dropped, person_height

OFF = DetectorNoise(sigma=(0.0,) * 17, bias_std=(0.0,) * 17, hip_widen=(1.0, 1.0), swap_prob=0.0,
                    body_swap_prob=0.0, drop_prob=0.0)


def _still(frames: int = 4000, height: float = 400.0) -> np.ndarray:
    """A standing person (F, 17, 2) pixels, ``height`` px tall, left joints at larger u."""
    rng = np.random.default_rng(0)
    pose = np.stack([rng.uniform(400, 600, 17), np.linspace(100, 100 + height, 17)], -1)
    pose[[4, 5, 6, 11, 12, 13], 0] += 150  # left side
    return np.repeat(pose[None], frames, axis=0)


def test_all_off_is_the_identity():
    uv = _still(50)
    out, dropped = OFF.apply(uv, np.random.default_rng(1))
    assert np.allclose(out, uv) and not dropped.any()


def test_jitter_std_and_temporal_correlation():
    uv = _still()
    h = person_height(uv)
    noise = dataclasses.replace(OFF, sigma=DetectorNoise().sigma)
    e = noise.apply(uv, np.random.default_rng(2))[0] - uv  # (F, J, 2)
    std = e.std(axis=0).mean(-1) / h  # (J,)
    assert np.allclose(std, noise.sigma, rtol=0.15)
    lag1 = np.mean([np.corrcoef(e[1:, j, 0], e[:-1, j, 0])[0, 1] for j in range(17)])
    assert abs(lag1 - noise.rho) < 0.05
    lag10 = np.mean([np.corrcoef(e[10:, j, 0], e[:-10, j, 0])[0, 1] for j in range(17)])
    assert abs(lag10 - noise.rho ** 10) < 0.1


def test_bias_is_constant_per_sequence_and_hips_widen():
    uv = _still(20)
    noise = dataclasses.replace(OFF, bias_std=DetectorNoise().bias_std, hip_widen=(1.3, 1.3))
    offsets = []
    for seed in range(300):
        e = noise.apply(uv, np.random.default_rng(seed))[0] - uv
        assert np.allclose(e, e[:1])  # constant over time
        offsets.append(e[0])
    offsets = np.array(offsets)  # (S, J, 2)
    hip_gap = np.abs((uv[0, 4, 0] + offsets[:, 4, 0]) - (uv[0, 1, 0] + offsets[:, 1, 0])).mean()
    assert hip_gap > 1.2 * abs(uv[0, 4, 0] - uv[0, 1, 0])
    spread = offsets[:, [0, 2, 3, 7, 8, 9, 10, 12, 13, 15, 16]].std() / person_height(uv)
    assert abs(spread - 0.01) < 0.002


def test_swaps_exchange_left_and_right():
    uv = _still(20000)
    noise = dataclasses.replace(OFF, swap_prob=0.01, swap_max_len=1)
    out = noise.apply(uv, np.random.default_rng(3))[0]
    swapped = np.all(np.isclose(out[:, [5, 6]], uv[:, [2, 3]]), axis=(1, 2))  # left leg shows right
    assert 0.006 < swapped.mean() < 0.014
    assert np.allclose(out[swapped][:, [2, 3]], uv[swapped][:, [5, 6]])
    body = dataclasses.replace(OFF, body_swap_prob=0.01, swap_max_len=1)
    out = body.apply(uv, np.random.default_rng(4))[0]
    flipped = np.all(np.isclose(out[:, 11], uv[:, 14]), axis=-1)
    assert 0.006 < flipped.mean() < 0.014 and np.allclose(out[flipped][:, 0], uv[flipped][:, 0])


def test_dropped_joints_are_interpolated_over_time():
    f = 5000
    t = np.arange(f, dtype=np.float64)
    uv = _still(f) + np.stack([t, 2 * t], -1)[:, None, :]  # linear motion: interpolation is exact
    noise = dataclasses.replace(OFF, drop_prob=0.005, drop_max_len=10)
    out, dropped = noise.apply(uv, np.random.default_rng(5))
    rate = dropped.mean(0)
    assert 0.015 < rate[[0, 1, 7]].mean() < 0.04  # ~ p x mean length (5.5) minus overlaps
    assert rate[[3, 6, 13, 16]].mean() > 1.6 * rate[[0, 1, 4, 7, 8]].mean()  # extremities twice
    inner = dropped.copy()
    inner[:20] = inner[-20:] = False  # the ends are held, not interpolated
    assert inner.any() and np.allclose(out[inner], uv[inner])


def test_fill_dropped_holds_the_ends():
    uv = np.arange(10, dtype=np.float64).reshape(5, 1, 2)
    mask = np.array([[True], [False], [True], [False], [True]])
    out = fill_dropped(uv, mask)
    assert np.allclose(out[:, 0, 0], [2, 2, 4, 6, 6])


def test_defaults_mean_error(mini_dir):
    """On real projected poses (the mini fixture's gt views) the defaults are off by ~2.5% of the
    person's height on average (module docstring)."""
    from skelgnn.data import load_benchmark

    rel = []
    for i, r in enumerate(load_benchmark(mini_dir, "gt")):
        out = DetectorNoise().apply(r.keypoints_2d, np.random.default_rng(i))[0]
        rel.append(np.linalg.norm(out - r.keypoints_2d, axis=-1).mean() / person_height(r.keypoints_2d))
    assert len(rel) == 24 and 0.02 < np.mean(rel) < 0.03


def test_wrong_joint_count_is_an_error():
    with pytest.raises(ValueError, match="17 joints"):
        DetectorNoise().apply(np.zeros((3, 16, 2)), np.random.default_rng(0))
