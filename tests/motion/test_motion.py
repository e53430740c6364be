"""build_motion: trajectory + world frame + smoothing on a synthetic clip (skelgnn.motion.pipeline)."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.motion.pipeline import build_motion, world_summary
from skelgnn.motion.smoothing import mean_acceleration
from skelgnn.motion.world_metrics import path_error
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
    assert line.endswith("root path smoothed over 0.3 s") and float(arrays["path_smoothing_s"]) == 0.3
    assert "smoothed over" not in world_summary({**arrays, "path_smoothing_s": np.array(0.0)})
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


def _rolled_view(roll_deg: float, frames: int = 90):
    """The planted-feet gait seen by a level camera and by the same camera rolled by
    ``roll_deg``: pixels of both, the rolled camera's true up."""
    from skelgnn.geometry import roll_matrix

    world, _ = _gait(frames)
    cam = _to_camera(world, tilt_deg=10.0, dist=5.0)
    intr = default_intrinsics((1280, 720))
    turn = roll_matrix(roll_deg)
    rolled = cam @ turn.T
    def project(x):
        return x[..., :2] / x[..., 2:] * intr.fx + [intr.cx, intr.cy]
    return project(cam), project(rolled), turn


def test_lift_and_place_levels_a_rolled_camera():
    from skelgnn.geometry import camera_roll_deg
    from skelgnn.infer.lifter import Lifter
    from skelgnn.motion.pipeline import LEVEL_MIN_ROLL_DEG, lift_and_place

    lifter = Lifter.from_checkpoint()
    level_uv, rolled_uv, turn = _rolled_view(18.0)
    pred0, m0 = lift_and_place(lifter, level_uv, (1280, 720), "h36m17", fps=30.0)
    assert m0.roll_deg == 0.0  # a level camera is lifted once
    assert abs(camera_roll_deg(m0.world.rotation[1])) < LEVEL_MIN_ROLL_DEG
    pred, m = lift_and_place(lifter, rolled_uv, (1280, 720), "h36m17", fps=30.0)
    off_pred, off = lift_and_place(lifter, rolled_uv, (1280, 720), "h36m17", fps=30.0, level=False)
    assert off.roll_deg == 0.0 and abs(m.roll_deg - 18.0) < 5.0
    assert float(m.arrays()["level_roll_deg"]) == m.roll_deg
    assert f"camera levelled by {m.roll_deg:.1f} deg" in world_summary(m.arrays())
    assert "levelled" not in world_summary(m0.arrays())
    # levelled, the rolled view's 3D is the level view's, turned into the rolled camera
    want = pred0.poses_3d @ turn.T
    err = np.linalg.norm(pred.poses_3d - want, axis=-1).mean()
    err_off = np.linalg.norm(off_pred.poses_3d - want, axis=-1).mean()
    assert err < 0.5 * err_off, (err, err_off)
    # and the world's up follows the camera's roll
    up_true = turn @ m0.world.rotation[1]
    def angle(a, b):
        return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))
    assert angle(m.world.rotation[1], up_true) < angle(off.world.rotation[1], up_true)


def test_path_smoothing_takes_the_depth_jitter_out_of_the_path_across_the_floor():
    world, _ = _gait(120)  # planted feet, a steady walk across the view
    cam = _to_camera(world, tilt_deg=15.0, dist=5.0)
    intr = default_intrinsics((1280, 720))
    rng = np.random.default_rng(3)
    # a detector whose person size jitters by a few percent reads as depth jitter of the root
    scale = 1.0 + rng.normal(0, 0.03, (len(cam), 1, 1))
    root_uv = cam[:, :1, :2] / cam[:, :1, 2:] * intr.fx
    uv = (cam[..., :2] / cam[..., 2:] * intr.fx - root_uv) * scale + root_uv + [intr.cx, intr.cy]
    rel = cam - cam[:, :1]
    raw = build_motion(rel, uv, (1280, 720), fps=30.0, path_smooth_s=0.0)
    smoothed = build_motion(rel, uv, (1280, 720), fps=30.0)  # the default 0.3 s
    true_root = smoothed.world.to_world(cam[:, 0])
    err_raw = path_error(raw.world.to_world(raw.trajectory), true_root)
    err_smooth = path_error(smoothed.world.to_world(smoothed.trajectory), true_root)
    assert err_smooth < 0.5 * err_raw
    assert smoothed.skating["cm_per_s"] < 0.5 * raw.skating["cm_per_s"]
    # the trajectory returned is the one placed: poses_world = to_world(poses + trajectory) + shift
    placed = smoothed.world.to_world(smoothed.poses_3d + smoothed.trajectory[:, None])
    placed[..., 1] += smoothed.floor_shift[:, None]
    np.testing.assert_allclose(smoothed.poses_world, placed, atol=1e-6)  # float32 storage
    # heights are the floor's business: the smoothing moves the root along the floor only
    shift = smoothed.world.to_world(smoothed.trajectory) - smoothed.world.to_world(raw.trajectory)
    np.testing.assert_allclose(shift[:, 1], 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="path smoothing"):
        build_motion(rel, uv, (1280, 720), fps=30.0, path_smooth_s=-1.0)


def test_a_camera_looking_steeply_down_is_lifted_as_seen(mini_dir):
    from skelgnn.evaluate.cross_camera import novel_records
    from skelgnn.geometry import camera_pitch_deg
    from skelgnn.infer.lifter import Lifter
    from skelgnn.motion.pipeline import HIGH_VIEW_DEG, lift_and_place

    lifter = Lifter.from_checkpoint()
    high_rec = novel_records(mini_dir, kinds=["high_view"])[0]  # a real walk from 2-3.5 m up
    level_rec = novel_records(mini_dir, kinds=["phone_portrait"])[0]
    pred_hi, high = lift_and_place(lifter, high_rec.keypoints_2d, high_rec.image_size, "h36m17", fps=30.0)
    assert camera_pitch_deg(high.world.rotation[1]) > HIGH_VIEW_DEG
    assert not high.reframed and not bool(high.arrays()["reframed"])
    assert "lifted as seen (not reframed)" in world_summary(high.arrays())
    # the 3D is the unreframed lift's, levelled by the same roll
    as_seen = lifter.predict_full(high_rec.keypoints_2d, high_rec.image_size, "h36m17", reframe=False,
                                  roll_deg=high.roll_deg).poses_3d
    np.testing.assert_allclose(pred_hi.poses_3d, as_seen, atol=1e-6)
    _, level = lift_and_place(lifter, level_rec.keypoints_2d, level_rec.image_size, "h36m17", fps=30.0)
    assert level.reframed and camera_pitch_deg(level.world.rotation[1]) < HIGH_VIEW_DEG
    assert "not reframed" not in world_summary(level.arrays())
    _, off = lift_and_place(lifter, level_rec.keypoints_2d, level_rec.image_size, "h36m17", fps=30.0,
                            reframe=False)
    assert not off.reframed  # --no-reframe


def test_build_motion_takes_a_known_up():
    cam, uv = _clip()  # seen from a camera tilted 20 degrees down
    rel = cam - cam[:, :1]
    a = np.radians(20.0)
    true_up = np.array([0.0, -np.cos(a), -np.sin(a)])
    given = build_motion(rel, uv, (1280, 720), fps=30.0, up_cam=true_up)
    assert np.degrees(np.arccos(np.clip(given.world.rotation[1] @ true_up, -1, 1))) < 1.0
    level = np.array([0.0, -1.0, 0.0])  # a wrong up is used as given (the contacts' plane
    wrong = build_motion(rel, uv, (1280, 720), fps=30.0, up_cam=level)  # may refine it by 10)
    assert np.degrees(np.arccos(np.clip(wrong.world.rotation[1] @ level, -1, 1))) <= 10.0 + 1e-6
    torso = build_motion(rel, uv, (1280, 720), fps=30.0, up="torso", up_cam=level)  # ignored
    assert np.degrees(np.arccos(np.clip(torso.world.rotation[1] @ true_up, -1, 1))) < 1.0
