"""BVH / JSON / CSV export (skelgnn.motion.animation), read back with the package's own BVH reader."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from skelgnn.motion.animation import (BVH_NAMES, export_motion, fix_bone_lengths, load_motion_npz,
                               matrix_to_euler_zxy, positions_to_bvh, write_bvh)
from skelgnn.geometry import quaternion_to_matrix
from skelgnn.prepare.bvh import euler_to_matrix, forward_kinematics, read_bvh


def _random_rotations(rng, n):
    return quaternion_to_matrix(rng.normal(size=(n, 4)))


def _rigid_clip(frames=40, seed=0):
    """A skeleton with rigid branches (hips + spine, neck + shoulders) and limbs pointing anywhere."""
    rng = np.random.default_rng(seed)
    p = np.zeros((frames, 17, 3))
    p[:, 0] = rng.normal(0, 1, (frames, 3)) + [0, 1, 0]
    r0, r8 = _random_rotations(rng, frames), _random_rotations(rng, frames)
    branch0 = {1: (-0.1, 0.0, 0.01), 4: (0.1, 0.0, 0.01), 7: (0.0, 0.25, 0.03)}
    branch8 = {9: (0.0, 0.1, 0.04), 11: (0.15, -0.02, 0.0), 14: (-0.15, -0.02, 0.0)}
    lengths = {2: 0.4, 3: 0.45, 5: 0.4, 6: 0.45, 8: 0.22, 10: 0.11, 12: 0.28, 13: 0.24,
               15: 0.28, 16: 0.24}
    for j, parent in enumerate((-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)):
        if j in branch0:
            p[:, j] = p[:, 0] + r0 @ np.array(branch0[j])
        elif j in branch8:
            p[:, j] = p[:, 8] + r8 @ np.array(branch8[j])
        elif parent >= 0:
            d = rng.normal(size=(frames, 3))
            p[:, j] = p[:, parent] + lengths[j] * d / np.linalg.norm(d, axis=-1, keepdims=True)
    return p


def _read_back(path):
    motion = read_bvh(path)
    assert motion.names == BVH_NAMES
    return forward_kinematics(motion) / 100.0, motion  # cm -> m


def test_euler_zxy_inverts_the_readers_convention():
    rng = np.random.default_rng(1)
    r = _random_rotations(rng, 200)
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler_zxy(r), "ZXY"), r, atol=1e-9)
    lock = euler_to_matrix(np.array([[30.0, 90.0, 0.0]]), "ZXY")  # gimbal lock
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler_zxy(lock), "ZXY"), lock, atol=1e-6)


def test_bvh_round_trip_is_exact_for_a_rigid_skeleton(tmp_path):
    clip = _rigid_clip()
    ref = write_bvh(clip, tmp_path / "a.bvh", fps=25.0)
    np.testing.assert_allclose(ref, clip, atol=1e-9)  # already fixed-length
    back, motion = _read_back(tmp_path / "a.bvh")
    assert motion.num_frames == 40 and motion.fps == pytest.approx(25.0)
    assert np.abs(back - clip).max() < 1e-4  # 0.1 mm (file precision)


def test_bvh_round_trip_within_1cm_of_the_fixed_length_clip(tmp_path):
    clip = _rigid_clip(seed=3) + np.random.default_rng(3).normal(0, 0.01, (40, 17, 3))
    ref = write_bvh(clip, tmp_path / "b.bvh")
    back, _ = _read_back(tmp_path / "b.bvh")
    lengths = np.linalg.norm(ref[:, 2] - ref[:, 1], axis=-1)
    assert np.ptp(lengths) < 1e-9  # the reference has fixed bones
    err = np.linalg.norm(back - ref, axis=-1)
    assert err.max() < 0.001, err.max()  # exact up to the file's 0.01 mm precision
    np.testing.assert_allclose(fix_bone_lengths(ref), ref, atol=1e-9)


def test_bvh_round_trip_on_mocap(tmp_path, mini_dir):
    from skelgnn.data import read_positions_3d

    world = read_positions_3d(mini_dir / "data_3d_cmu.npz")["S08"]["Walk 08_01"]  # Z up
    y_up = world[..., [0, 2, 1]] * [1.0, 1.0, -1.0]  # (x, z, -y): a proper rotation to y up
    ref = write_bvh(y_up, tmp_path / "c.bvh", fps=60.0)
    back, _ = _read_back(tmp_path / "c.bvh")
    err = np.linalg.norm(back - ref, axis=-1)
    assert err.max() < 0.01, err.max()
    assert np.linalg.norm(ref - y_up, axis=-1).mean() < 0.01  # mocap bones are nearly rigid
    shifts = positions_to_bvh(y_up)[3]
    assert np.linalg.norm(shifts, axis=-1).max() < 0.01  # branch residuals: under 1 cm (7 mm)


def test_json_and_csv_hold_named_positions(tmp_path):
    clip = _rigid_clip(5)
    export_motion(clip, tmp_path / "m.json", fps=30.0)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["units"] == "m" and doc["joint_names"][9] == "Neck/Nose" and doc["num_frames"] == 5
    np.testing.assert_allclose(doc["positions"], clip, atol=1e-4)
    export_motion(clip, tmp_path / "m.csv", fps=30.0)
    rows = list(csv.reader((tmp_path / "m.csv").open()))
    assert rows[0][:5] == ["frame", "time_s", "Hip_x_m", "Hip_y_m", "Hip_z_m"]
    assert len(rows) == 6 and float(rows[2][1]) == pytest.approx(1 / 30, abs=1e-6)
    np.testing.assert_allclose(np.array(rows[3][2:], float).reshape(17, 3), clip[2], atol=1e-4)
    with pytest.raises(ValueError, match="unknown export"):
        export_motion(clip, tmp_path / "m.fbx")


def test_load_motion_npz_prefers_world_and_flips_camera_axes(tmp_path):
    poses = _rigid_clip(3)
    np.savez(tmp_path / "cam.npz", poses_3d=poses, trajectory=np.ones((3, 3)), fps=np.array(50.0))
    p, fps, frame = load_motion_npz(tmp_path / "cam.npz")
    assert frame == "camera" and fps == 50.0
    np.testing.assert_allclose(p, (poses + 1.0) * [1, -1, -1])
    np.savez(tmp_path / "w.npz", poses_3d=poses, poses_world=poses + 2.0)
    p, fps, frame = load_motion_npz(tmp_path / "w.npz")
    assert frame == "world" and fps == 30.0
    np.testing.assert_allclose(p, poses + 2.0)
