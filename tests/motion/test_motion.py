"""build_motion: trajectory + world frame + smoothing on a synthetic clip (skelgnn.motion.pipeline)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.pipeline import build_motion, world_summary
from skelgnn.motion.smoothing import mean_acceleration
from skelgnn.motion.trajectory import default_intrinsics
from skelgnn.motion.world import ANKLE_HEIGHT
from test_contacts import _gait
from test_world import _to_camera, _walk


def _clip():
    cam = _to_camera(_walk(), tilt_deg=20.0, dist=5.0)  # (F, 17, 3) absolute camera frame
    intr = default_intrinsics((1280, 720))
    uv = cam[..., :2] / cam[..., 2:] * intr.fx + [intr.cx, intr.cy]
    return cam, uv


def test_build_motion_recovers_trajectory_and_stands_on_the_floor():
    cam, uv = _clip()
    rel = cam - cam[:, :1]
    m = build_motion(rel, uv, (1280, 720), fps=30.0, up="torso")  # upright: the torso is exact
    np.testing.assert_allclose(m.trajectory, cam[:, 0], atol=1e-6)
    np.testing.assert_allclose(m.poses_world[:, [3, 6], 1].min(), 0.08, atol=1e-6)
    arrays = m.arrays()
    assert arrays["poses_world"].shape == (60, 17, 3) and arrays["trajectory"].shape == (60, 3)
    assert float(arrays["focal_px"]) == np.hypot(1280, 720)
    assert str(arrays["up_method"]) == "torso"


def test_build_motion_default_learnt_up_contacts_and_skating():
    world, truth = _gait(90)  # planted feet, unlike _walk's sliding ones
    cam = _to_camera(world, tilt_deg=15.0, dist=5.0)
    intr = default_intrinsics((1280, 720))
    uv = cam[..., :2] / cam[..., 2:] * intr.fx + [intr.cx, intr.cy]
    m = build_motion(cam - cam[:, :1], uv, (1280, 720), fps=30.0)
    assert m.up_method == "learnt"
    arrays = m.arrays()
    contacts = arrays["foot_contacts"]
    assert contacts.shape == (90, 2) and contacts.dtype == bool
    assert (contacts == truth).mean() > 0.8
    # the lowest contact foot of every frame stands on the floor (ankle at ANKLE_HEIGHT)
    ankles = np.where(contacts, m.poses_world[:, [6, 3], 1], np.inf)
    down = contacts.any(axis=1)
    np.testing.assert_allclose(ankles[down].min(axis=1), ANKLE_HEIGHT, atol=1e-9)
    assert arrays["floor_shift"].shape == (90,)
    assert float(arrays["foot_skating_cm_s"]) == m.skating["cm_per_s"] >= 0
    line = world_summary(arrays)
    assert line.startswith("world: up learnt") and "cm/s" in line
    with pytest.raises(ValueError, match="up must be"):
        build_motion(cam - cam[:, :1], uv, (1280, 720), up="sky")
    # feet that slide along with the body (test_world's walk) are never contacts
    cam, uv = _clip()
    assert not build_motion(cam - cam[:, :1], uv, (1280, 720), fps=30.0).contacts.any()


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
