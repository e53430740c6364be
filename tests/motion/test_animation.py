"""BVH / JSON / CSV export (skelgnn.motion.animation), read back with the package's own BVH reader."""
from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest

from skelgnn.motion.animation import (BVH_NAMES, bone_lengths, export_motion, load_motion_npz,
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
    encoded = write_bvh(clip, tmp_path / "a.bvh", fps=25.0)
    np.testing.assert_allclose(encoded, clip, atol=1e-9)  # rigid bones and branches: no residual
    back, motion = _read_back(tmp_path / "a.bvh")
    assert motion.num_frames == 40 and motion.fps == pytest.approx(25.0)
    assert np.abs(back - clip).max() < 1e-4  # 0.1 mm (file precision)


def test_bvh_has_position_channels_on_the_root_only(tmp_path):
    write_bvh(_rigid_clip(5), tmp_path / "a.bvh")
    motion = read_bvh(tmp_path / "a.bvh")
    assert motion.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation",
                                  "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in motion.channels[1:])
    np.testing.assert_array_equal(motion.offsets[0], 0.0)  # Blender ignores a root OFFSET
    # every leaf ends in an End Site along its bone
    leaves = {j for j in range(17) if j not in motion.parents}
    assert {parent for _, parent, _ in motion.end_sites} == leaves


def test_bvh_offsets_are_the_median_bone_lengths(tmp_path):
    clip = _rigid_clip(seed=3) + np.random.default_rng(3).normal(0, 0.01, (40, 17, 3))
    solution = positions_to_bvh(clip)
    np.testing.assert_allclose(np.linalg.norm(solution.offsets, axis=-1), bone_lengths(clip), atol=1e-12)
    write_bvh(clip, tmp_path / "b.bvh")
    motion = read_bvh(tmp_path / "b.bvh")
    np.testing.assert_allclose(motion.offsets / 100.0, solution.offsets, atol=1e-8)
    back = forward_kinematics(motion) / 100.0
    # every frame keeps the rest lengths: the file cannot stretch a bone
    for c, par in enumerate(motion.parents[1:], start=1):
        np.testing.assert_allclose(np.linalg.norm(back[:, c] - back[:, par], axis=-1),
                                   np.linalg.norm(solution.offsets[c]), atol=1e-6)


def test_bvh_encodes_what_the_solution_predicts_within_the_length_variation(tmp_path):
    clip = _rigid_clip(seed=3) + np.random.default_rng(3).normal(0, 0.01, (40, 17, 3))
    encoded = write_bvh(clip, tmp_path / "b.bvh")
    back, _ = _read_back(tmp_path / "b.bvh")
    assert np.linalg.norm(back - encoded, axis=-1).max() < 1e-4  # the file's precision
    residual = positions_to_bvh(clip).residual
    np.testing.assert_allclose(residual, np.linalg.norm(encoded - clip, axis=-1), atol=1e-12)
    # each bone is aimed at the clip's joint from its placed parent: errors do not pile up
    # down the limbs (1 cm of noise per joint; the wrists stay within a few cm)
    assert residual.mean() < 0.02 and residual.max() < 0.06, (residual.mean(), residual.max())
    np.testing.assert_array_equal(residual[:, 0], 0.0)  # the root is placed exactly


def test_bvh_euler_channels_do_not_jump(tmp_path):
    # a pelvis turning steadily about the vertical: its yaw passes +-180 degrees
    frames = 90
    clip = np.repeat(_rigid_clip(1)[:1], frames, axis=0)
    clip -= clip[:, :1]
    yaw = np.radians(np.arange(frames) * 5.0)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.zeros((frames, 3, 3))
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1.0, -s, c
    clip = np.einsum("fij,fkj->fki", rot, clip)
    solution = positions_to_bvh(clip)
    assert np.abs(np.diff(solution.euler, axis=0)).max() < 10.0
    np.testing.assert_allclose(solution.positions, clip, atol=1e-9)


def test_bvh_round_trip_on_mocap(tmp_path, mini_dir):
    from skelgnn.data import read_positions_3d

    world = read_positions_3d(mini_dir / "data_3d_cmu.npz")["S08"]["Walk 08_01"]  # Z up
    y_up = world[..., [0, 2, 1]] * [1.0, 1.0, -1.0]  # (x, z, -y): a proper rotation to y up
    encoded = write_bvh(y_up, tmp_path / "c.bvh", fps=60.0)
    back, _ = _read_back(tmp_path / "c.bvh")
    assert np.linalg.norm(back - encoded, axis=-1).max() < 1e-4
    err = np.linalg.norm(back - y_up, axis=-1)
    assert err.max() < 0.01, err.max()  # mocap bones and branches are nearly rigid


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


def test_pybvh_reads_the_bvh_onto_the_encoded_positions(tmp_path):
    """A third reader (pybvh, which assumes 6 root channels then 3 rotations per joint: the
    layout Blender and most tools expect) reproduces the positions the solver encoded."""
    pybvh = pytest.importorskip("pybvh")
    clip = _rigid_clip(seed=5) + np.random.default_rng(5).normal(0, 0.01, (40, 17, 3))
    encoded = write_bvh(clip, tmp_path / "p.bvh")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pybvh warns about axis heuristics
        theirs = pybvh.read_bvh_file(tmp_path / "p.bvh", world_up="+y")
        positions = theirs.joint_positions() / 100.0
    idx = [list(theirs.joint_names).index(n) for n in BVH_NAMES]
    assert np.abs(positions[:, idx] - encoded).max() < 1e-4
