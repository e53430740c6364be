"""World-frame scores against a known vertical (skelgnn.motion.world_metrics)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.world_metrics import (heading_aligned_mpjpe, path_error, standing_foot_right,
                                          up_error_deg, z_up_to_y_up)
from test_world import STAND


def test_up_error_deg():
    assert up_error_deg(np.array([0, -1.0, 0]), np.array([0, -2.0, 0])) == pytest.approx(0.0, abs=1e-6)
    a = np.radians(10)
    assert up_error_deg(np.array([0, -np.cos(a), -np.sin(a)]), np.array([0, -1.0, 0])) == pytest.approx(10)
    with pytest.raises(ValueError):
        up_error_deg(np.zeros(2), np.zeros(3))


def test_z_up_to_y_up_is_a_rotation():
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(z_up_to_y_up(p), [[1.0, 3.0, -2.0]])


def test_standing_foot_right_counts_only_clear_frames():
    true = np.array([[0.0, 0.2], [0.3, 0.0], [0.0, 0.01], [0.1, 0.0]])
    pred = np.array([[0.0, 0.1], [0.2, 0.1], [0.5, 0.0], [0.0, 0.1]])
    frac, frames = standing_foot_right(pred, true)
    assert frames == 3 and frac == pytest.approx(2 / 3)
    frac, frames = standing_foot_right(pred[2:3], true[2:3])
    assert frames == 0 and np.isnan(frac)


def test_heading_aligned_mpjpe_removes_only_the_heading():
    target = np.repeat((STAND - STAND[0])[None], 3, axis=0)
    a = 0.7
    yaw = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    assert heading_aligned_mpjpe(target @ yaw.T, target) == pytest.approx(0.0, abs=1e-9)
    # a tilt is not forgiven: 10 degrees about x moves the head ~12 cm
    b = np.radians(10)
    tilt = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    err = heading_aligned_mpjpe(target @ tilt.T, target)
    expected = np.linalg.norm(target @ tilt.T - target, axis=-1).mean()
    assert err == pytest.approx(expected, rel=0.05) and err > 0.05


def test_path_error_ignores_heading_start_and_height_but_not_jitter():
    t = np.linspace(0, 2 * np.pi, 80)
    true = np.stack([np.cos(t), 0.9 + 0.05 * np.sin(3 * t), 0.5 * np.sin(t)], axis=1)  # a loop
    a = np.radians(40)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    moved = true @ turn.T + [3.0, 0.4, -1.0]
    moved[:, 1] += 0.2 * np.sin(5 * t)  # heights are not part of the path
    assert path_error(moved, true) == pytest.approx(0.0, abs=1e-9)
    jitter = np.random.default_rng(0).normal(0, 0.1, true.shape)
    jitter[:, 1] = 0.0
    err = path_error(true + jitter, true)
    assert 0.08 < err < 0.16  # about the jitter's mean horizontal size (0.1 * sqrt(pi / 2))
    mirrored = true * [1.0, 1.0, -1.0]  # a mirror image is not a rotation: not aligned away
    assert path_error(mirrored, true) > 0.3
    with pytest.raises(ValueError, match="matching"):
        path_error(true[:, :2], true[:, :2])
