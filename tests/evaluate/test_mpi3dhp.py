"""Tests of skelgnn.prepare.mpi3dhp (reading) and skelgnn.evaluate.mpi3dhp (scoring) on small
``annot_data.mat`` files written here in both MATLAB formats: v7.3 (HDF5, through h5py, axes
reversed as MATLAB stores them) and v5 (scipy.io)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelgnn.cli import main
from skelgnn.evaluate.mpi3dhp import JOINT_SETS, evaluate_3dhp, format_3dhp_report, score_3dhp
from skelgnn.prepare.mpi3dhp import (
    IMAGE_SIZES,
    MPI3DHP_JOINTS,
    TO_H36M17,
    load_test_sequence,
    load_test_set,
    read_annot_mat,
)
from skelgnn.skeleton import H36M17

h5py = pytest.importorskip("h5py")
scipy_io = pytest.importorskip("scipy.io")

MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."


def _annotations(frames: int, seed: int) -> dict[str, np.ndarray]:
    """MATLAB-ordered arrays: annot2 (2, 17, 1, N), univ_annot3 (3, 17, 1, N), valid_frame (1, N).

    The 3D pose is a body ~4 m in front of the camera: pelvis at (0, 0, 4000) mm plus an offset per
    joint and frame; annot2 encodes (frame, joint, channel) so a mix-up of axes is visible."""
    rng = np.random.default_rng(seed)
    n, j = np.meshgrid(np.arange(frames), np.arange(17), indexing="ij")  # (N, 17)
    p3 = rng.normal(scale=300.0, size=(frames, 17, 3))
    p3[:, 14] = 0.0  # pelvis
    p3 += [0.0, 0.0, 4000.0]
    p2 = np.stack([1000.0 * n + 10.0 * j, 1000.0 * n + 10.0 * j + 1.0], axis=-1)  # (N, 17, 2)
    valid = np.ones(frames)
    valid[1] = 0
    return {"annot2": p2.transpose(2, 1, 0)[:, :, None, :],
            "univ_annot3": p3.transpose(2, 1, 0)[:, :, None, :],
            "valid_frame": valid[None, :]}


def _write_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in arrays.items():
            f[name] = value.T  # MATLAB v7.3 stores arrays column-major: h5py sees axes reversed
    with path.open("r+b") as f:  # the MATLAB text header in the user block
        f.write(MATLAB_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def _write_v5(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy_io.savemat(str(path), arrays)


@pytest.fixture()
def test_set(tmp_path) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    """TS1 (v7.3, 6 frames), TS3 (v5, 5 frames), TS5 (v7.3, 4 frames)."""
    root = tmp_path / "mpi_inf_3dhp_test_set"
    arrays = {}
    for seed, (name, frames, writer) in enumerate((("TS1", 6, _write_v73), ("TS3", 5, _write_v5),
                                                    ("TS5", 4, _write_v73))):
        arrays[name] = _annotations(frames, seed)
        writer(root / name / "annot_data.mat", arrays[name])
    return root, arrays


def test_both_mat_formats_read_in_matlab_order(tmp_path):
    arrays = _annotations(5, 0)
    _write_v73(tmp_path / "a.mat", arrays)
    _write_v5(tmp_path / "b.mat", arrays)
    for path in (tmp_path / "a.mat", tmp_path / "b.mat"):
        got = read_annot_mat(path)
        assert got["annot2"].shape == (2, 17, 1, 5)
        assert got["univ_annot3"].shape == (3, 17, 1, 5)
        np.testing.assert_array_equal(got["univ_annot3"], arrays["univ_annot3"])
        np.testing.assert_array_equal(got["valid_frame"].reshape(-1), arrays["valid_frame"].reshape(-1))


def test_joint_mapping(tmp_path):
    arrays = _annotations(4, 1)
    _write_v73(tmp_path / "TS2" / "annot_data.mat", arrays)
    seq = load_test_sequence(tmp_path / "TS2" / "annot_data.mat", "TS2")
    assert seq.image_size == (2048, 2048) and seq.scene == "GS"
    assert seq.valid.tolist() == [True, False, True, True]
    for ours, theirs in enumerate(TO_H36M17):
        # annot2 of frame n, 3DHP joint j is (1000 n + 10 j, 1000 n + 10 j + 1)
        np.testing.assert_array_equal(seq.keypoints_2d[:, ours, 0], 1000.0 * np.arange(4) + 10.0 * theirs)
        np.testing.assert_array_equal(seq.poses_3d[:, ours], arrays["univ_annot3"][:, theirs, 0, :].T)
    names = {H36M17.names[k]: MPI3DHP_JOINTS[TO_H36M17[k]] for k in range(17)}
    assert names["Hip"] == "pelvis" and names["Head"] == "head_top" and names["Neck/Nose"] == "head"
    assert names["Thorax"] == "neck" and names["LWrist"] == "left_wrist" and names["RFoot"] == "right_ankle"
    assert sorted(TO_H36M17) == list(range(17))
    assert [H36M17.names[k] for k in range(17) if k not in JOINT_SETS[14]] == ["Hip", "Spine", "Neck/Nose"]


def test_image_sizes():
    assert IMAGE_SIZES["TS4"] == (2048, 2048) and IMAGE_SIZES["TS6"] == (1920, 1080)


def test_bad_files(tmp_path):
    arrays = _annotations(3, 2)
    arrays["annot2"] = arrays["annot2"][:, :16]
    _write_v5(tmp_path / "TS1" / "annot_data.mat", arrays)
    with pytest.raises(ValueError, match="annot2 should be 2 x 17"):
        load_test_sequence(tmp_path / "TS1" / "annot_data.mat", "TS1")
    arrays = _annotations(3, 2)
    arrays["valid_frame"] = np.zeros((1, 3))
    _write_v73(tmp_path / "TS2" / "annot_data.mat", arrays)
    with pytest.raises(ValueError, match="no valid frame"):
        load_test_sequence(tmp_path / "TS2" / "annot_data.mat", "TS2")
    del arrays["univ_annot3"]
    _write_v73(tmp_path / "TS3" / "annot_data.mat", arrays)
    with pytest.raises(ValueError, match="no variable 'univ_annot3'"):
        read_annot_mat(tmp_path / "TS3" / "annot_data.mat")
    (tmp_path / "junk.mat").write_bytes(b"junk" * 100)
    with pytest.raises(ValueError):
        read_annot_mat(tmp_path / "junk.mat")
    with pytest.raises(FileNotFoundError):
        load_test_set(tmp_path / "none")
    with pytest.raises(ValueError, match="unknown 3DHP test sequence"):
        load_test_set(tmp_path, ["TS9"])


def _oracle(seqs):
    """Predictions equal to the ground truth, root-relative, mm."""
    return {s.name: s.poses_3d[s.valid] - s.poses_3d[s.valid][:, :1] for s in seqs}


def test_scores_golden(test_set):
    root, _ = test_set
    seqs = load_test_set(root)
    assert [s.name for s in seqs] == ["TS1", "TS3", "TS5"]
    preds = _oracle(seqs)
    result = score_3dhp(preds, seqs)
    assert result["overall"]["frames"] == 5 + 4 + 3
    assert result["overall"]["pck"] == 100.0 and result["overall"]["mpjpe"] == 0.0
    # error 0 is below every threshold except 0 (PCK counts error < threshold): 30 of 31
    assert result["overall"]["auc"] == pytest.approx(100.0 * 30 / 31)
    assert sorted(result["scenes"]) == ["GS", "Outdoor", "noGS"]

    # Move RWrist by 200 mm in TS1 and LFoot by 100 mm in TS3 (the pelvis stays put).
    moved = {k: v.copy() for k, v in preds.items()}
    moved["TS1"][:, 16, 0] += 200.0
    moved["TS3"][:, 6, 2] += 100.0
    result = score_3dhp(moved, seqs)
    ts1 = result["sequences"]["TS1"]
    assert ts1["pck"] == pytest.approx(100.0 * 16 / 17)
    assert ts1["mpjpe"] == pytest.approx(200.0 / 17)
    # AUC: 16 joints at 0 mm (30 of 31 thresholds) + 1 joint at 200 mm (none)
    assert ts1["auc"] == pytest.approx(100.0 * 16 * 30 / (17 * 31))
    ts3 = result["sequences"]["TS3"]
    assert ts3["pck"] == 100.0  # 100 mm < 150 mm
    # 100 mm is below the 10 thresholds 105 .. 150
    assert ts3["auc"] == pytest.approx(100.0 * (16 * 30 + 10) / (17 * 31))
    overall = result["overall"]
    assert overall["mpjpe"] == pytest.approx((5 * 200.0 + 4 * 100.0) / 17 / 12)
    assert overall["pck"] == pytest.approx(100.0 * (12 * 17 - 5) / (12 * 17))
    assert result["scenes"]["GS"] == ts1
    # 14 joints: the moved wrist is one of them, the Hip / Spine / Neck-Nose are not
    r14 = score_3dhp(moved, seqs, joints=14)
    assert r14["sequences"]["TS1"]["mpjpe"] == pytest.approx(200.0 / 14)
    with pytest.raises(ValueError, match="joints"):
        score_3dhp(moved, seqs, joints=16)
    with pytest.raises(ValueError, match=r"\(5, 17, 3\)"):
        score_3dhp({**moved, "TS1": moved["TS1"][:3]}, seqs)


def test_evaluate_passes_each_sequence_its_image_size(test_set):
    root, _ = test_set
    seen = []

    def predict(kp, size):
        seen.append((kp.shape, size))
        return np.zeros((kp.shape[0], 17, 3))

    result = evaluate_3dhp(predict, root)
    assert seen == [((5, 17, 2), (2048, 2048)), ((4, 17, 2), (2048, 2048)), ((3, 17, 2), (1920, 1080))]
    # zero prediction: the error of each joint is its distance from the pelvis
    seqs = load_test_set(root)
    rel = np.concatenate([s.poses_3d[s.valid] - s.poses_3d[s.valid][:, :1] for s in seqs])
    assert result["overall"]["mpjpe"] == pytest.approx(np.linalg.norm(rel, axis=-1).mean())
    report = format_3dhp_report(result)
    for text in ("TS1", "GS", "Outdoor", "All", "PCK@150"):
        assert text in report


@pytest.fixture()
def checkpoint(tmp_path) -> Path:
    from skelgnn.models.checkpoint import FORMAT, save_checkpoint
    from skelgnn.data.codec import PoseCodec
    from skelgnn.models import FCNConfig, build_model, config_to_dict

    model = build_model(FCNConfig(hidden=32, blocks=1))
    return save_checkpoint({"format": FORMAT, "model_config": config_to_dict(model.config),
                            "codec": PoseCodec().to_dict(), "model": model.state_dict(),
                            "preset": "fcn-tiny", "source": "gt"}, tmp_path / "tiny.pt")


def test_cli_evaluate_3dhp(test_set, checkpoint, tmp_path, capsys):
    root, _ = test_set
    out = tmp_path / "r.json"
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--dataset", "3dhp", "--data", str(root),
                 "--joints", "14", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "MPI-INF-3DHP" in text and "14 joints" in text and "noGS" in text
    result = json.loads(out.read_text())
    assert result["joints"] == 14 and result["overall"]["frames"] == 12
    assert 0.0 <= result["overall"]["pck"] <= 100.0
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--dataset", "3dhp"]) == 2
    assert "--data DIR" in capsys.readouterr().err
