"""`skelgnn evaluate --footage`: the 'footage with 3D' format, its scores and the command."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, require_path
from skelgnn.data import load_benchmark
from skelgnn.evaluate.footage import (LIMB_JOINTS, H36M_LIMB, constant_pose, evaluate_footage,
                                      format_footage_report, knee_angles, limb_direction_error,
                                      read_footage, score_frames, write_footage)
from skelgnn.skeleton import H36M17

CKPT = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"
SHELF_DEV = Path(os.environ.get("SKELGNN_SHELF_DEV",
                                REPO.parent / "shared" / "data" / "shelf_dev" / "shelf_dev.npz"))


def _t_pose() -> np.ndarray:
    """(12, 3) LIMB_JOINTS: legs straight down, arms straight out (y down)."""
    p = {"r_hip": (-0.1, 0, 0), "r_knee": (-0.1, 0.45, 0), "r_ankle": (-0.1, 0.9, 0),
         "l_hip": (0.1, 0, 0), "l_knee": (0.1, 0.45, 0), "l_ankle": (0.1, 0.9, 0),
         "r_shoulder": (-0.2, -0.5, 0), "r_elbow": (-0.5, -0.5, 0), "r_wrist": (-0.75, -0.5, 0),
         "l_shoulder": (0.2, -0.5, 0), "l_elbow": (0.5, -0.5, 0), "l_wrist": (0.75, -0.5, 0)}
    return np.array([p[n] for n in LIMB_JOINTS], dtype=np.float64)


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def test_perfect_prediction_scores_zero():
    gt = _t_pose()[None].repeat(3, 0) + np.array([0.3, 0.1, 3.0])  # camera-frame, off-centre
    scores = score_frames(gt, gt)
    for key in ("mpjpe_mm", "p_mpjpe_mm", "limb_deg"):
        np.testing.assert_allclose(scores[key], 0.0, atol=1e-5)
    np.testing.assert_allclose(scores["knee_pred_deg"], 180.0, atol=1e-5)


def test_a_known_rotation_is_only_an_mpjpe_error():
    gt = _t_pose()[None]
    pred = gt @ _rot_y(np.radians(90)).T  # the whole body turned a quarter about the vertical
    scores = score_frames(pred, gt)
    np.testing.assert_allclose(scores["p_mpjpe_mm"], 0.0, atol=1e-5)
    np.testing.assert_allclose(scores["limb_deg"], 0.0, atol=1e-5)
    # a quarter turn about y moves each joint by sqrt(2) times its distance from the axis
    by_hand = 1000 * np.sqrt(2) * np.abs(_t_pose()[:, 0] - 0.0).mean()
    np.testing.assert_allclose(scores["mpjpe_mm"], by_hand, rtol=1e-9)


def test_a_flipped_forearm_is_a_known_angle():
    """One of the 8 bones reversed (the right wrist folded back onto the upper arm): the best
    rotation stays the identity (legs along y, arms along x), so the error is 180 / 8 degrees."""
    gt = _t_pose()[None]
    pred = gt.copy()
    r_elbow, r_wrist = LIMB_JOINTS.index("r_elbow"), LIMB_JOINTS.index("r_wrist")
    pred[0, r_wrist] = pred[0, r_elbow] + (pred[0, r_elbow] - gt[0, r_wrist])
    np.testing.assert_allclose(limb_direction_error(pred, gt), [22.5], atol=1e-6)


def test_knee_angles_by_hand():
    pose = _t_pose()[None].copy()
    r_knee, r_ankle = LIMB_JOINTS.index("r_knee"), LIMB_JOINTS.index("r_ankle")
    pose[0, r_ankle] = pose[0, r_knee] + np.array([0, 0, -0.45])  # right shank backwards: 90
    np.testing.assert_allclose(knee_angles(pose), [[90.0, 180.0]], atol=1e-6)


def test_constant_pose_of_rotated_copies_is_the_pose():
    poses = np.stack([_t_pose() @ _rot_y(a).T for a in (0.0, 0.5, -1.0, 2.0)])
    mean = constant_pose(poses)
    np.testing.assert_allclose(score_frames(mean[None], _t_pose()[None])["p_mpjpe_mm"], 0.0,
                               atol=1e-6)


@pytest.fixture(scope="module")
def footage_file(mini_dir, tmp_path_factory):
    """Synthetic footage written by the test: two tracks of the mini fixture's detections with
    their camera-frame 3D, one of them never showing the face (as from behind)."""
    records = load_benchmark(mini_dir, "det", subjects=["S08"])[:2]
    kps, gts, valid, up, offsets = [], [], [], [], [0]
    for k, rec in enumerate(records):
        kp = np.concatenate([rec.keypoints_2d, np.ones(rec.keypoints_2d.shape[:2] + (1,))], -1)
        if k == 1:
            kp[:, [9, 10], 2] = 0.0  # nose and head never seen
        kps.append(kp[:40])
        gts.append(rec.poses_3d[:40] + rec.trajectory[:40, None])
        valid.append(np.arange(40) % 10 != 3)  # a few rows without ground truth
        cam = rec.calibration  # world Z up, seen from the camera
        z_up = cam.world_to_camera(np.array([0.0, 0.0, 1.0])) - cam.world_to_camera(np.zeros(3))
        up.append(np.repeat(z_up[None], 40, axis=0))
        offsets.append(offsets[-1] + 40)
    path = tmp_path_factory.mktemp("footage") / "mini_footage.npz"
    return write_footage(path, np.concatenate(kps), "h36m17", records[0].image_size, offsets,
                         np.concatenate(gts), list(H36M17.names), valid=np.concatenate(valid),
                         up_cam=np.concatenate(up), fps=50.0)


def test_read_footage_maps_the_joints(footage_file):
    footage = read_footage(footage_file)
    assert footage.layout == "h36m17" and len(footage.tracks) == 2 and footage.fps == 50.0
    track = footage.tracks[0]
    raw = np.load(footage_file)
    np.testing.assert_allclose(track.gt, raw["gt3d_cam"][:40, list(H36M_LIMB)])
    assert track.valid.sum() == 36


@pytest.mark.usefixtures("seed_and_one_thread")
def test_evaluate_footage_lifts_and_scores(footage_file):
    from skelgnn.infer.lifter import Lifter

    result = evaluate_footage(read_footage(footage_file), Lifter.from_checkpoint(CKPT))
    assert result["tracks"] == result["lifted"] == 2 and not result["refused"]
    assert result["per_track"][1]["unseen_joints"] == ["Neck/Nose", "Head"]
    o = result["overall"]
    assert o["frames"] == 72
    assert o["up_error_deg"] < 20.0  # walking people: the world frame finds the vertical
    assert 0 <= o["path_mm"] < 300 and o["skating_cm_s"] >= 0  # the root's path, the feet
    assert all("path_mm" in r and "skating_cm_s" in r for r in result["per_track"])
    assert 0 < o["p_mpjpe_mm"] < o["mpjpe_mm"] < 300
    # a lifter on (near) its own training distribution beats the constant pose
    assert o["limb_deg"] < result["constant_pose"]["limb_deg"]
    report = format_footage_report(result)
    assert "| constant pose (the set's mean) |" in report and "Tracks lifted 2 of 2" in report


@pytest.mark.usefixtures("seed_and_one_thread")
def test_cli_evaluate_footage(footage_file, tmp_path, capsys):
    from skelgnn.cli import main

    out_json, out_md = tmp_path / "f.json", tmp_path / "f.md"
    assert main(["evaluate", "--footage", str(footage_file), "--checkpoint", str(CKPT),
                 "--json", str(out_json), "--md", str(out_md), "--no-flip-repair"]) == 0
    result = json.loads(out_json.read_text())
    assert result["options"]["flip_repair"] is False and result["lifted"] == 2
    assert result["options"]["stance_knees"] is False  # h36m17 keypoints: auto leaves them
    assert result["stance_knee_share"] is None
    assert out_md.read_text().startswith("# Footage: mini_footage.npz")
    assert "stance knees off" in out_md.read_text()
    assert "P-MPJPE" in capsys.readouterr().out
    on_json = tmp_path / "on.json"
    assert main(["evaluate", "--footage", str(footage_file), "--checkpoint", str(CKPT),
                 "--json", str(on_json), "--stance-knees", "on"]) == 0
    on = json.loads(on_json.read_text())
    assert on["options"]["stance_knees"] is True and 0.0 <= on["stance_knee_share"] <= 1.0
    assert "stance knees on (weight" in capsys.readouterr().out


def test_bad_footage_files(tmp_path, footage_file):
    from skelgnn.cli import main

    with pytest.raises(FileNotFoundError, match="footage file not found"):
        read_footage(tmp_path / "none.npz")
    raw = dict(np.load(footage_file))
    np.savez(tmp_path / "names.npz", **{**raw, "gt_names": np.array(["a"] * 17)})
    with pytest.raises(ValueError, match="the ground truth lacks"):
        read_footage(tmp_path / "names.npz")
    del raw["track_offsets"]
    np.savez(tmp_path / "tracks.npz", **raw)
    with pytest.raises(ValueError, match="needs the entry 'track_offsets'"):
        read_footage(tmp_path / "tracks.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable npz"):
        read_footage(tmp_path / "text.npz")
    assert main(["evaluate", "--footage", str(tmp_path / "none.npz")]) != 0
    assert main(["evaluate", "--json", str(tmp_path / "x.json")]) != 0  # benchmark: --checkpoint


@pytest.mark.usefixtures("seed_and_one_thread")
def test_shelf_dev_every_track_lifted():
    """The real OpenPose detections of Shelf's development half (shared data; under CI=true a
    missing file fails): every track lifted, none refused, figures in their measured range."""
    from skelgnn.infer.lifter import Lifter

    path = require_path(SHELF_DEV, "Shelf development footage")
    footage = read_footage(path)
    assert len(footage.tracks) == 9 and footage.layout == "coco17"
    assert all(t.up_cam is not None for t in footage.tracks)
    result = evaluate_footage(footage, Lifter.from_checkpoint(CKPT))
    assert result["lifted"] == 9 and not result["refused"]
    assert result["tracks_with_unseen_joints"] == 3  # refused before the body fill
    assert result["overall"]["frames"] == 912
    assert 5.0 < result["overall"]["limb_deg"] < 30.0
    assert 5.0 < result["constant_pose"]["limb_deg"] < 15.0
    assert result["overall"]["up_error_deg"] < 30.0


def test_true_world_is_the_frame_the_placement_builds_for_the_same_up(mini_dir):
    from skelgnn.evaluate.footage import _true_world
    from skelgnn.motion.world import estimate_world_frame
    from skelgnn.motion.world_metrics import path_error

    rec = load_benchmark(mini_dir, "det", subjects=["S08"])[0]
    cam = rec.calibration
    up = cam.world_to_camera(np.array([0.0, 0.0, 1.0])) - cam.world_to_camera(np.zeros(3))
    absolute = (rec.poses_3d + rec.trajectory[:, None]).astype(np.float64)
    world = estimate_world_frame(absolute, up=up, plane_max_deg=0.0)
    rows = _true_world(up)
    np.testing.assert_allclose(rows @ rows.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rows) > 0  # right-handed, as the placement's frame
    hips = 0.5 * (absolute[:, 1] + absolute[:, 4])
    assert path_error(world.to_world(hips), hips @ rows.T) < 1e-9
