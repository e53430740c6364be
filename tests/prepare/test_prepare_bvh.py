"""Tests of skelgnn.prepare.bvh: parser, forward kinematics, joint maps, the synthetic detector, and
the reproduction of the shared CMU benchmark files from its BVH sources."""
from __future__ import annotations

import gzip
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import require_path, tiny_bvh

from skelgnn.cli import main
from skelgnn.data import read_actions, read_cameras, read_positions_2d, read_positions_3d
from skelgnn.prepare import project_views
from skelgnn.prepare.bvh import (
    DetectorModel,
    JointMap,
    add_detector_noise,
    assign_cameras,
    cmu_category,
    euler_to_matrix,
    fast_joint_frames,
    forward_kinematics,
    leading_rest_frames,
    load_joint_map,
    motion_to_joints,
    place_sequence,
    read_bvh,
    read_cmu_index,
    sequence_keys,
)
from skelgnn.skeleton import H36M17

# The two-bone chain of conftest.TINY_BVH_HIERARCHY, three frames.
TINY_BVH = tiny_bvh("1 2 3 0 0 0 0 0 0 0 0 0",
                    "1 2 3 90 0 0 0 0 0 0 0 0",
                    "0 0 0 0 0 0 90 0 0 0 0 0")


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


@pytest.fixture()
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH)
    return path


# --------------------------------------------------------------------------------------------
# Parser and forward kinematics
# --------------------------------------------------------------------------------------------

def test_read_bvh_hierarchy_and_motion(tiny):
    m = read_bvh(tiny)
    assert m.names == ("hip", "knee", "foot")  # the End Site is not a joint
    assert m.parents == (-1, 0, 1)
    np.testing.assert_array_equal(m.offsets, [[0, 0, 0], [0, -10, 0], [0, -5, 0]])
    assert m.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert m.motion.shape == (3, 12) and m.num_frames == 3
    assert m.fps == pytest.approx(120.0, rel=1e-4)
    order, angles = m.rotation_channels(1)
    assert order == "ZXY" and angles.shape == (3, 3)
    assert m.rotation_channels(0)[0] == "ZYX"


def test_gzip_file_reads_like_the_plain_one(tiny, tmp_path):
    gz = tmp_path / "tiny.bvh.gz"
    gz.write_bytes(gzip.compress(tiny.read_bytes()))
    a, b = read_bvh(tiny), read_bvh(gz)
    np.testing.assert_array_equal(a.motion, b.motion)
    assert a.names == b.names


def test_forward_kinematics_golden(tiny):
    pos = forward_kinematics(read_bvh(tiny))  # (3, 3, 3)
    # frame 0: rest pose translated by (1, 2, 3)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, -8, 3], [1, -13, 3]], atol=1e-12)
    # frame 1: root turned +90 deg about z: (0, -1, 0) -> (1, 0, 0)
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [11, 2, 3], [16, 2, 3]], atol=1e-12)
    # frame 2: the knee turned +90 deg about z moves only the foot
    np.testing.assert_allclose(pos[2], [[0, 0, 0], [0, -10, 0], [5, -10, 0]], atol=1e-12)
    only_foot = forward_kinematics(read_bvh(tiny), ["foot"], frames=slice(1, 3))
    np.testing.assert_allclose(only_foot[:, 0], pos[1:, 2], atol=1e-12)


def test_euler_order_is_intrinsic_in_channel_order():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, size=(5, 3))
    got = euler_to_matrix(angles, "ZXY")
    for a, r in zip(angles, got):
        np.testing.assert_allclose(r, _rz(a[0]) @ _rx(a[1]) @ _ry(a[2]), atol=1e-12)
    np.testing.assert_allclose(got @ got.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(got), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="order"):
        euler_to_matrix(angles, "ZX")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("MOTION\n", ""), "MOTION"),
    (lambda t: t.replace("Frames: 3", "Frames: 4"), "4 frames x 12 channels"),
    (lambda t: t.replace("90 0 0 0 0 0 0 0 0\n0 0", "90 0 0 0 0 0 0 0 0\nabc 0"), "not a number"),
    (lambda t: t.replace("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT foot",
                         "CHANNELS 3 Zrotation Wrotation Yrotation\n    JOINT foot"), "channel names"),
    (lambda t: t.replace("HIERARCHY", "HIERARCHIE"), "HIERARCHY"),
])
def test_malformed_files_raise_value_error(tmp_path, edit, message):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(TINY_BVH))
    with pytest.raises(ValueError, match=message):
        read_bvh(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "nope.bvh")


def test_leading_rest_frames_and_frame_selection(tiny):
    m = read_bvh(tiny)
    assert leading_rest_frames(m) == 1  # frame 0 has root rotation exactly 0
    joints = tuple((n,) for n in ["hip"] * 17)
    jm = JointMap(name="t", joints=joints, drop_rest_frames=True, settle_frames=1)
    poses, start, step = motion_to_joints(m, jm, fps=None)
    assert (start, step) == (2, 1) and poses.shape == (1, 17, 3)
    poses, start, step = motion_to_joints(m, JointMap(name="t", joints=joints), fps=60)
    assert (start, step) == (0, 2) and poses.shape == (2, 17, 3)
    with pytest.raises(ValueError, match="fps"):
        motion_to_joints(m, JointMap(name="t", joints=joints), fps=50)


# --------------------------------------------------------------------------------------------
# Joint maps, placement, naming, cameras
# --------------------------------------------------------------------------------------------

def test_builtin_cmu_map():
    jm = load_joint_map()
    assert jm.name == "cmu" and jm.scale == 0.01
    assert jm.joints[H36M17.names.index("Head")] == ("leftEye", "rightEye")
    a = jm.axes_matrix()
    np.testing.assert_array_equal(a @ [1, 2, 3], [1, -3, 2])  # world = (x, -z, y)
    assert np.linalg.det(a) == pytest.approx(1.0)  # a proper rotation, no mirror


def test_joint_map_file_errors(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('name = "x"\n[joints]\nHip = "hip"\n')
    with pytest.raises(ValueError, match="missing"):
        load_joint_map(path)
    body = "\n".join(f'"{n}" = "hip"' for n in H36M17.names)
    path.write_text(f'axes = ["x", "x", "y"]\n[joints]\n{body}\n')
    with pytest.raises(ValueError, match="axes"):
        load_joint_map(path)
    path.write_text(f'colour = 1\n[joints]\n{body}\n')
    with pytest.raises(ValueError, match="unknown keys"):
        load_joint_map(path)
    path.write_text(f'[joints]\n{body}\n')
    assert load_joint_map(path).joints[0] == ("hip",)
    with pytest.raises(FileNotFoundError):
        load_joint_map(tmp_path / "missing.toml")


def test_map_naming_a_missing_joint(tiny):
    joints = tuple(("hip",) for _ in range(16)) + (("wrist",),)
    with pytest.raises(ValueError, match="no joint 'wrist'"):
        motion_to_joints(read_bvh(tiny), JointMap(name="t", joints=joints), fps=None)


def test_place_sequence_golden():
    poses = np.zeros((2, 17, 3))
    poses[0, 0] = [1.0, 2.0, 5.0]
    poses[1, 0] = [3.0, 4.0, 5.0]
    poses[:, 3, 2] = [0.5, 0.2]
    poses[:, 6, 2] = [0.3, 0.9]
    out = place_sequence(poses)
    np.testing.assert_allclose(out[:, 0, :2], [[-1, -1], [1, 1]])
    assert out[:, [3, 6], 2].min() == pytest.approx(0.08)
    assert out[0, 0, 2] == pytest.approx(5.0 - 0.2 + 0.08)


def test_fast_joint_frames():
    poses = np.zeros((4, 17, 3))
    poses[2, 5, 0] = 0.3  # 0.3 m in 1/60 s = 18 m/s, in and out again
    assert fast_joint_frames(poses, 60.0) == 2


def test_cmu_categories_and_keys():
    assert cmu_category("playground - climb, jump down") == "Climb"
    assert cmu_category("jump up to grab, reach for, tiptoe") == "Reach"
    assert cmu_category("Walk") == "Walk"
    assert cmu_category("tai chi") == "TaiChi"
    assert cmu_category("Unknown") == "Other"
    assert sequence_keys("07_03") == ("S07", "07_03")
    assert sequence_keys("take", "alice") == ("alice", "take")


def test_camera_assignment_is_cyclic_unless_the_table_has_every_subject():
    table = {"S1": ["a"], "S11": ["c"], "S5": ["b"]}
    cams, origin = assign_cameras(["S03", "S01", "S02", "S11"], table)
    assert origin == {"S01": "S1", "S02": "S5", "S03": "S11", "S11": "S1"}  # CMU S11 is not H36M S11
    cams, origin = assign_cameras(["S1", "S5"], table)
    assert origin == {"S1": "S1", "S5": "S5"}


# --------------------------------------------------------------------------------------------
# Synthetic detector
# --------------------------------------------------------------------------------------------

def test_detector_jitter_is_a_stationary_ar1():
    model = DetectorModel(burst_prob=0.0, swap_prob=0.0)
    gt = np.zeros((20000, 17, 2))
    det = model.apply(gt, np.random.default_rng(1))
    std = det.std(axis=(0, 2))
    np.testing.assert_allclose(std, model.sigma, rtol=0.05)
    lag1 = np.mean(det[1:] * det[:-1], axis=(0, 2)) / det.var(axis=(0, 2))
    np.testing.assert_allclose(lag1, 0.7, atol=0.03)


def test_detector_swaps_and_bursts():
    rng_gt = np.random.default_rng(2)
    gt = rng_gt.uniform(0, 1000, size=(50, 17, 2))
    swap_all = DetectorModel(sigma=(0.0,) * 17, burst_prob=0.0, swap_prob=1.0)
    det = swap_all.apply(gt, np.random.default_rng(3))
    np.testing.assert_array_equal(det[:, [2, 3, 5, 6, 12, 13, 15, 16]], gt[:, [5, 6, 2, 3, 15, 16, 12, 13]])
    np.testing.assert_array_equal(det[:, [0, 1, 4, 7, 8, 9, 10, 11, 14]], gt[:, [0, 1, 4, 7, 8, 9, 10, 11, 14]])
    burst_all = DetectorModel(sigma=(0.0,) * 17, burst_prob=1.0, swap_prob=0.0)
    shift = np.linalg.norm(burst_all.apply(gt, np.random.default_rng(4)) - gt, axis=-1)
    assert shift.min() >= 15.0 and shift.max() <= 60.0


def test_detector_is_deterministic_in_the_documented_order():
    gt = {"S2": {"b": [np.zeros((5, 17, 2))]}, "S1": {"a": [np.zeros((4, 17, 2)), np.zeros((4, 17, 2))]}}
    out = add_detector_noise(gt, DetectorModel(seed=7))
    rng = np.random.default_rng(7)
    model = DetectorModel(seed=7)
    first = model.apply(gt["S1"]["a"][0], rng)
    second = model.apply(gt["S1"]["a"][1], rng)
    third = model.apply(gt["S2"]["b"][0], rng)
    np.testing.assert_array_equal(out["S1"]["a"][0], first)
    np.testing.assert_array_equal(out["S1"]["a"][1], second)
    np.testing.assert_array_equal(out["S2"]["b"][0], third)


# --------------------------------------------------------------------------------------------
# Against the shared benchmark
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bvh_dir(cmu_dir) -> Path:
    return require_path(cmu_dir / "bvh" / "07" / "07_01.bvh.gz", "CMU BVH files").parents[1]


def _shared(cmu_dir: Path):
    p3 = read_positions_3d(cmu_dir / "data_3d_cmu.npz")
    p2, meta = read_positions_2d(cmu_dir / "data_2d_cmu_gt.npz")
    return p3, p2, meta


def test_our_parser_matches_pybvh(bvh_dir, tmp_path):
    pybvh = pytest.importorskip("pybvh")
    plain = tmp_path / "07_01.bvh"
    plain.write_bytes(gzip.decompress((bvh_dir / "07" / "07_01.bvh.gz").read_bytes()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pybvh warns about axis heuristics
        theirs = pybvh.read_bvh_file(plain, world_up="+y")
        ref = theirs.joint_positions()
    ours = read_bvh(bvh_dir / "07" / "07_01.bvh.gz")
    idx = [theirs.joint_names.index(n) for n in ours.names]
    np.testing.assert_allclose(forward_kinematics(ours), ref[:, idx], atol=1e-9)


def test_categories_reproduce_actions_csv(cmu_dir, bvh_dir):
    descriptions = read_cmu_index(bvh_dir / "CMU-INDEX.md")
    for key, info in read_actions(cmu_dir / "actions.csv").items():
        trial = key.split()[1]
        assert cmu_category(descriptions[trial]) == info.category, key
        assert descriptions[trial] == info.description


def test_two_files_reproduce_the_shared_sequences(cmu_dir, bvh_dir, tmp_path):
    """07_01 (one rest frame) and 09_10 (five placeholder frames): 3D within 1e-4 m, GT 2D within
    0.01 px of the shared files, through the CLI."""
    src = tmp_path / "bvh"
    for trial in ("07_01", "09_10"):
        (src / trial[:2]).mkdir(parents=True)
        shutil.copy(bvh_dir / trial[:2] / f"{trial}.bvh.gz", src / trial[:2])
    out = tmp_path / "out"
    code = main(["prepare", "bvh", "--bvh", str(src), "--out", str(out), "--cameras",
                 str(cmu_dir / "cameras.json"), "--index", str(bvh_dir / "CMU-INDEX.md")])
    assert code == 0
    p3, p2, meta = _shared(cmu_dir)
    mine3 = read_positions_3d(out / "data_3d_cmu.npz")
    mine2, mine_meta = read_positions_2d(out / "data_2d_cmu_gt.npz")
    assert mine_meta == meta
    assert {s: sorted(a) for s, a in mine3.items()} == {"S07": ["Walk 07_01"], "S09": ["Run 09_10"]}
    for s, acts in mine3.items():
        for a, arr in acts.items():
            assert arr.shape == p3[s][a].shape
            assert np.abs(arr - p3[s][a]).max() < 1e-4
            assert max(np.abs(m - r).max() for m, r in zip(mine2[s][a], p2[s][a])) < 0.01
    assert read_cameras(out / "cameras.json")["S07"] == read_cameras(cmu_dir / "cameras.json")["S07"]
    rows = read_actions(out / "actions.csv")
    shared_rows = read_actions(cmu_dir / "actions.csv")
    assert rows["Run 09_10"] == shared_rows["Run 09_10"] and rows["Walk 07_01"] == shared_rows["Walk 07_01"]


def test_detector_reproduces_the_first_shared_sequence(cmu_dir, bvh_dir):
    """The first (subject, action) in sorted order draws first from the seeded generator, so it
    can be checked alone: S01 'Climb 01_08'."""
    det, _ = read_positions_2d(cmu_dir / "data_2d_cmu_det.npz")
    cams = read_cameras(cmu_dir / "cameras.json")["S01"]
    world, _, _ = motion_to_joints(read_bvh(bvh_dir / "01" / "01_08.bvh.gz"), load_joint_map(), 60)
    gt = project_views(place_sequence(world), cams)
    model = DetectorModel()
    rng = np.random.default_rng(model.seed)
    for c, view in enumerate(gt):
        assert np.abs(model.apply(view, rng) - det["S01"]["Climb 01_08"][c]).max() < 1e-3


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["prepare", "bvh", "--bvh", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "error: BVH directory not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "bvh", "--bvh", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert main(["prepare", "bvh", "--bvh", str(tmp_path), "--out", str(tmp_path / "o"), "--seed", "1"]) == 2


@pytest.mark.slow
def test_full_reproduction_of_the_shared_benchmark(cmu_dir, bvh_dir, tmp_path):
    """All 142 files: data_3d_cmu.npz within 1e-4 m, data_2d_cmu_gt.npz within 0.01 px, the
    synthetic detector within 0.01 px of data_2d_cmu_det.npz, actions.csv identical; built-in
    Human3.6M cameras assigned cyclically give the shared cameras.json."""
    out = tmp_path / "out"
    assert main(["prepare", "bvh", "--bvh", str(bvh_dir), "--out", str(out), "--detector-noise"]) == 0
    p3, p2, meta = _shared(cmu_dir)
    mine3 = read_positions_3d(out / "data_3d_cmu.npz")
    assert {s: sorted(a) for s, a in mine3.items()} == {s: sorted(a) for s, a in p3.items()}
    assert max(np.abs(mine3[s][a] - p3[s][a]).max() for s in p3 for a in p3[s]) < 1e-4
    for source in ("gt", "det"):
        ref, _ = read_positions_2d(cmu_dir / f"data_2d_cmu_{source}.npz") if source == "det" else (p2, meta)
        mine, mine_meta = read_positions_2d(out / f"data_2d_cmu_{source}.npz")
        assert mine_meta == meta
        worst = max(np.abs(m - r).max() for s in ref for a in ref[s] for m, r in zip(mine[s][a], ref[s][a]))
        assert worst < 0.01, source
    assert (out / "actions.csv").read_text() == (cmu_dir / "actions.csv").read_text()
    shared = read_cameras(cmu_dir / "cameras.json")
    assert read_cameras(out / "cameras.json") == shared
