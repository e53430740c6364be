"""build_motion: trajectory + world frame + smoothing on a synthetic clip (skelgnn.motion.pipeline)."""
from __future__ import annotations

import numpy as np

from skelgnn.motion.pipeline import build_motion
from skelgnn.motion.smoothing import mean_acceleration
from skelgnn.motion.trajectory import default_intrinsics
from test_world import _to_camera, _walk


def _clip():
    cam = _to_camera(_walk(), tilt_deg=20.0, dist=5.0)  # (F, 17, 3) absolute camera frame
    intr = default_intrinsics((1280, 720))
    uv = cam[..., :2] / cam[..., 2:] * intr.fx + [intr.cx, intr.cy]
    return cam, uv


def test_build_motion_recovers_trajectory_and_stands_on_the_floor():
    cam, uv = _clip()
    rel = cam - cam[:, :1]
    m = build_motion(rel, uv, (1280, 720), fps=30.0)
    np.testing.assert_allclose(m.trajectory, cam[:, 0], atol=1e-6)
    np.testing.assert_allclose(m.poses_world[:, [3, 6], 1].min(), 0.08, atol=1e-6)
    arrays = m.arrays()
    assert arrays["poses_world"].shape == (60, 17, 3) and arrays["trajectory"].shape == (60, 3)
    assert float(arrays["focal_px"]) == np.hypot(1280, 720)


def test_build_motion_smooth_reduces_jitter():
    cam, uv = _clip()
    rel = cam - cam[:, :1]
    noisy = rel + np.random.default_rng(0).normal(0, 0.01, rel.shape)
    noisy -= noisy[:, :1]
    raw = build_motion(noisy, uv, (1280, 720), fps=30.0)
    smooth = build_motion(noisy, uv, (1280, 720), fps=30.0, smooth=True)
    assert smooth.smoothed and not raw.smoothed
    assert mean_acceleration(smooth.poses_3d, 30.0) < 0.6 * mean_acceleration(raw.poses_3d, 30.0)
    np.testing.assert_allclose(smooth.poses_3d[:, 0], 0.0)
