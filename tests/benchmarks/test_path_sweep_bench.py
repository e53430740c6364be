"""The foot-locking candidate of benchmarks/path_sweep.py pins planted feet."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import path_sweep  # noqa: E402


def test_runs_and_lock_feet_pin_a_planted_foot():
    assert path_sweep._runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    frames = 20
    poses = np.zeros((frames, 17, 3))
    poses[:, :, 0] = np.linspace(0, 0.5, frames)[:, None]  # the whole body drifts 50 cm along x
    contacts = np.zeros((frames, 2), bool)
    contacts[:, 0] = True  # the left foot (joint 6) is planted all clip
    locked = path_sweep.lock_feet(poses, contacts, 1.0)
    np.testing.assert_allclose(locked[:, 6, 0], np.median(poses[:, 6, 0]))  # it no longer slides
    np.testing.assert_allclose(locked[:, 0] - locked[:, 6], poses[:, 0] - poses[:, 6])  # rigid move
    half = path_sweep.lock_feet(poses, contacts, 0.5)
    assert np.ptp(half[:, 6, 0]) == pytest.approx(np.ptp(poses[:, 6, 0]) / 2)
    np.testing.assert_array_equal(path_sweep.lock_feet(poses, contacts * False, 1.0), poses)
