"""Root trajectory from 2D + root-relative 3D (skelgnn.motion.trajectory)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from skelgnn.geometry import Camera
from skelgnn.motion.trajectory import (Intrinsics, align_scale, default_intrinsics, estimate_trajectory,
                                solve_translation, undistort_points)


def _clip(f=20, seed=0):
    rng = np.random.default_rng(seed)
    poses = rng.normal(0, 0.3, (f, 17, 3))
    poses -= poses[:, :1]
    traj = np.stack([rng.uniform(-1, 1, f), rng.uniform(-0.5, 0.5, f), rng.uniform(3, 8, f)], -1)
    return poses, traj


def _project(points, intr):
    return points[..., :2] / points[..., 2:3] * [intr.fx, intr.fy] + [intr.cx, intr.cy]


def test_perspective_solve_is_exact_on_pinhole_projections():
    poses, traj = _clip()
    intr = Intrinsics(1100.0, 1120.0, 480.0, 530.0)
    uv = _project(poses + traj[:, None], intr)
    got = solve_translation(poses, uv, intr)
    np.testing.assert_allclose(got, traj, atol=1e-8)


def test_weak_perspective_is_close_for_distant_people_and_worse_than_full():
    poses, traj = _clip()
    traj[:, 2] += 20.0  # far away: depth variation of the body is small relative to depth
    intr = Intrinsics(1000.0, 1000.0, 500.0, 500.0)
    uv = _project(poses + traj[:, None], intr)
    weak = solve_translation(poses, uv, intr, model="weak")
    assert np.abs(weak - traj).max() < 0.05 * traj[:, 2].max()
    assert np.abs(weak - traj).max() > np.abs(solve_translation(poses, uv, intr) - traj).max()


def test_weights_ignore_outlier_joint_and_nan():
    poses, traj = _clip(5)
    intr = Intrinsics(1000.0, 1000.0, 500.0, 500.0)
    uv = _project(poses + traj[:, None], intr)
    uv[:, 3] += 200.0  # a wrong joint...
    uv[:, 4] = np.nan  # ...and a missing one
    w = np.ones((5, 17))
    w[:, 3] = 0.0
    np.testing.assert_allclose(solve_translation(poses, uv, intr, w), traj, atol=1e-8)
    with pytest.raises(ValueError, match="no usable joint"):
        solve_translation(poses, uv, intr, np.zeros((5, 17)))


def test_scale_scales_the_trajectory():
    poses, traj = _clip(4)
    intr = default_intrinsics((1000, 800))
    uv = _project(poses + traj[:, None], intr)
    t1 = estimate_trajectory(poses, uv, (1000, 800))
    t2 = estimate_trajectory(poses, uv, (1000, 800), scale=1.5)
    np.testing.assert_allclose(t2, 1.5 * t1, rtol=1e-9)
    aligned, s = align_scale(t2, t1)
    assert s == pytest.approx(1 / 1.5)
    np.testing.assert_allclose(aligned, t1, atol=1e-9)


def test_default_intrinsics_diagonal_fov():
    intr = default_intrinsics((1920, 1080))
    assert intr.fx == pytest.approx(math.hypot(1920, 1080))
    assert (intr.cx, intr.cy) == (960, 540)
    fov = 2 * math.degrees(math.atan(math.hypot(960, 540) / intr.fx))
    assert fov == pytest.approx(53.13, abs=0.01)
    assert default_intrinsics((1920, 1080), focal=1500.0).fy == 1500.0
    with pytest.raises(ValueError, match="focal"):
        default_intrinsics((100, 100), focal=-1.0)


def test_undistort_inverts_camera_projection():
    cam = Camera(id="c", res_w=1000, res_h=1002, fx=1145.0, fy=1144.0, cx=512.5, cy=515.5,
                 k=(-0.207, 0.247, -0.003), p=(-0.0009, -0.0012),
                 orientation=(1.0, 0.0, 0.0, 0.0), translation=(0.0, 0.0, 0.0))
    poses, traj = _clip(6)
    pts = poses + traj[:, None]
    distorted = cam.project(pts)
    ideal = _project(pts, Intrinsics.from_camera(cam))
    assert np.abs(distorted - ideal).max() > 1.0  # the distortion matters...
    np.testing.assert_allclose(undistort_points(distorted, cam), ideal, atol=1e-3)  # ...and is undone
    got = solve_translation(poses, undistort_points(distorted, cam), Intrinsics.from_camera(cam))
    np.testing.assert_allclose(got, traj, atol=1e-5)
