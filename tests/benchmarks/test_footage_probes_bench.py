"""benchmarks/footage_probes.py (pitch levelling, hip shifts, proportions) and raised_views.py
(Shelf-like cameras)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark_script


def test_level_homography_is_what_the_turned_camera_sees():
    probes = load_benchmark_script("footage_probes")
    from skelgnn.data.cameras import rotation_between

    rng = np.random.default_rng(0)
    pts = rng.normal([0.0, 0.8, 3.5], [0.3, 0.5, 0.2], (6, 17, 3))  # below a raised camera
    f, c = 1100.0, np.array([516.0, 388.0])

    def project(x):
        return x[..., :2] / x[..., 2:] * f + c
    up = np.array([0.0, -np.cos(0.5), np.sin(0.5)])  # a camera pitched ~29 degrees down
    turn = rotation_between(up, np.array([0.0, -1.0, 0.0]))
    kp = np.concatenate([project(pts), np.ones(pts.shape[:2] + (1,))], axis=-1)
    out = probes.level_homography(kp, turn, f, c)
    np.testing.assert_allclose(out[..., :2], project(pts @ turn.T), atol=1e-9)
    np.testing.assert_array_equal(out[..., 2], kp[..., 2])  # scores kept
    np.testing.assert_allclose(probes.level_homography(kp, np.eye(3), f, c), kp, atol=1e-9)


def test_hips_move_by_the_fraction_of_the_person_height_only():
    probes = load_benchmark_script("footage_probes")
    rng = np.random.default_rng(1)
    kp = rng.uniform(100, 500, (5, 17, 2))
    kp[:, 0, 1], kp[:, 16, 1] = 100.0, 500.0  # 400 px tall in every frame
    kp[2, :] = np.nan  # a frame without detections is left out of the height
    out = probes.shift_hips(kp, 0.05)
    np.testing.assert_allclose(out[:, [11, 12], 1], kp[:, [11, 12], 1] + 20.0)
    others = [j for j in range(17) if j not in (11, 12)]
    np.testing.assert_array_equal(out[:, others], kp[:, others])
    np.testing.assert_allclose(out[:, :, 0], kp[:, :, 0])


def test_raised_views_stand_at_their_heights_and_look_at_the_person():
    rv = load_benchmark_script("raised_views")
    from skelgnn.data import cameras

    cameras.DEVICE_KINDS.setdefault("shelf_like", rv.SHELF_LIKE)
    rng = np.random.default_rng(2)
    world = np.zeros((20, 17, 3))
    world[..., 2] = np.linspace(0.05, 1.75, 17)  # a standing person, z up
    for view, (lo, hi) in rv.VIEWS.items():
        sampler = cameras.CameraSampler(kinds=("shelf_like",), height=(lo, hi), distance=(3.0, 4.0),
                                        elevation=(-10.0, 60.0), edge=0.3)
        cam, _ = sampler.sample(world, rng, view)
        assert lo - 1e-6 <= cam.translation[2] <= hi + 1e-6
        assert (cam.res_w, cam.res_h) == (1032, 776)
        assert 1000 < cam.fx < 1160  # 48-52 degrees across 1032 px
        x = cam.world_to_camera(world)
        assert (x[..., 2] > 2.0).all()


def _standing_h36m(frames=4):
    """A standing Human3.6M-17 pose in 2D pixels (y down), swaying a little."""
    base = np.array([[0, 0], [-12, 0], [-12, 45], [-12, 90], [12, 0], [12, 45], [12, 90],
                     [0, -25], [0, -50], [0, -62], [0, -75], [18, -50], [22, -25], [24, 0],
                     [-18, -50], [-22, -25], [-24, 0]], dtype=np.float64) + [500.0, 400.0]
    sway = np.linspace(0, 3, frames)[:, None, None] * [1.0, 0.0]
    return base[None] + sway


def test_rescaled_bones_take_their_factors_and_the_joints_below_follow():
    probes = load_benchmark_script("footage_probes")
    uv = _standing_h36m()
    scale = np.ones(17)
    scale[2] = scale[5] = 1.5  # thighs
    out = probes.rescale_bones(uv, scale)
    np.testing.assert_allclose(out[:, 0], uv[:, 0])  # the root stays
    np.testing.assert_allclose(np.linalg.norm(out[:, 2] - out[:, 1], axis=-1), 67.5)
    np.testing.assert_allclose(out[:, 3] - out[:, 2], uv[:, 3] - uv[:, 2])  # shank: moved, not scaled
    np.testing.assert_allclose(out[:, 11:], uv[:, 11:])  # the arms hang from the thorax: unmoved
    np.testing.assert_allclose(probes.rescale_bones(uv, np.ones(17)), uv)
    # shares: a bone's share of all bones, mirrored pairs alike; doubling the thighs raises theirs
    share = probes.bone_shares(uv)
    assert share[0] == 0 and share[1:].sum() == pytest.approx(1.0) and share[2] == share[5]
    assert probes.bone_shares(out)[2] > share[2]


def test_oracle_scales_bring_a_person_to_the_mocap_lengths():
    probes = load_benchmark_script("footage_probes")
    # 12 limb joints (footage order) of a person whose limbs are all 0.4 m, hips 0.3 m apart,
    # shoulders 0.4 m apart, trunk 0.5 m
    gt = np.zeros((3, 12, 3))
    gt[:, 0], gt[:, 3] = [-0.15, 0, 0], [0.15, 0, 0]
    gt[:, 1], gt[:, 4] = [-0.15, 0.4, 0], [0.15, 0.4, 0]
    gt[:, 2], gt[:, 5] = [-0.15, 0.8, 0], [0.15, 0.8, 0]
    gt[:, 6], gt[:, 9] = [-0.2, -0.5, 0], [0.2, -0.5, 0]
    gt[:, 7], gt[:, 10] = [-0.2, -0.1, 0], [0.2, -0.1, 0]
    gt[:, 8], gt[:, 11] = [-0.2, 0.3, 0], [0.2, 0.3, 0]
    lengths = np.full(17, 0.2)
    scale = probes.oracle_scales(gt, lengths)
    np.testing.assert_allclose(scale[[2, 3, 5, 6, 12, 13, 15, 16]], 0.5)  # 0.2 / 0.4
    np.testing.assert_allclose(scale[[1, 4]], 0.2 / 0.15)
    np.testing.assert_allclose(scale[[11, 14]], 0.2 / 0.2)
    np.testing.assert_allclose(scale[[7, 8]], 0.4 / 0.5)
    assert scale[0] == scale[9] == scale[10] == 1.0  # root and head: as they are


def test_straightened_knees_move_in_depth_only_onto_the_hip_ankle_line():
    probes = load_benchmark_script("footage_probes")
    poses = np.zeros((2, 17, 3))
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        poses[:, hip] = [0.1 * (hip - 2), 0.0, 3.0]
        poses[:, ankle] = [0.1 * (hip - 2), 0.8, 3.2]
        poses[:, knee] = [0.1 * (hip - 2), 0.4, 2.9]  # bent towards the camera, straight in 2D
    out = probes.straighten_knees(poses, 1.0)
    np.testing.assert_allclose(out[:, [2, 5], 2], 3.1)  # halfway along the leg: halfway in depth
    np.testing.assert_allclose(out[:, [2, 5], :2], poses[:, [2, 5], :2])  # x, y kept
    others = [j for j in range(17) if j not in (2, 5)]
    np.testing.assert_array_equal(out[:, others], poses[:, others])
    np.testing.assert_allclose(probes.straighten_knees(poses, 0.5)[:, 2, 2], 3.0)
    np.testing.assert_allclose(probes.straighten_knees(poses, 0.0), poses)


def test_depth_breakdown_separates_the_image_plane_from_depth():
    probes = load_benchmark_script("footage_probes")
    rng = np.random.default_rng(0)
    true = rng.normal(size=(4, 12, 3)) + np.array([0.0, 0.0, 4.0])
    pred = true.copy()
    same = probes.depth_breakdown(pred, true)
    assert same["in_plane_deg"]["mean"] == pytest.approx(0.0, abs=1e-4)
    assert same["elevation_abs_deg"]["mean"] == pytest.approx(0.0, abs=1e-4)
    # the right knee (joint 1) pushed towards the camera: the thigh tilts towards the camera and
    # the shank away, neither turns across the image; other bones untouched
    true = np.zeros((1, 12, 3))
    true[0, :, 2] = 4.0
    true[0, 1, 1], true[0, 2, 1] = 0.4, 0.8  # straight right leg down the image
    for j in range(3, 12):
        true[0, j, 0] = 0.1 * j  # other bones along x, in the image plane
        true[0, j, 1] = 0.05 * (j % 3)
    pred = true.copy()
    pred[0, 1, 2] -= 0.4  # knee 0.4 m nearer: 45 degrees out of the plane on both bones
    out = probes.depth_breakdown(pred, true)
    assert out["elevation_signed_deg"]["r_hip-r_knee"] == pytest.approx(-45.0, abs=1e-6)
    assert out["elevation_signed_deg"]["r_knee-r_ankle"] == pytest.approx(45.0, abs=1e-6)
    assert out["in_plane_deg"]["r_hip-r_knee"] == pytest.approx(0.0, abs=1e-6)
    assert out["elevation_abs_deg"]["l_hip-l_knee"] == pytest.approx(0.0, abs=1e-6)


def test_view_elevation_is_the_angle_below_the_horizon():
    probes = load_benchmark_script("footage_probes")
    pose = np.zeros((1, 12, 3))
    pose[0, [0, 3]] = [[-0.1, 0.0, 2.0], [0.1, 0.0, 2.0]]  # straight ahead
    # a camera pitched 30 degrees down: its optical axis points 30 degrees below the horizon, so
    # the world's up has -sin(30) along it
    up = np.array([0.0, -np.cos(np.radians(30)), -np.sin(np.radians(30))])
    assert probes.view_elevation(pose, up) == pytest.approx(30.0)
    assert probes.view_elevation(pose, np.array([0.0, -1.0, 0.0])) == pytest.approx(0.0)
