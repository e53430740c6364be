"""Tests of skelgnn.prepare.h36m on small D3_Positions CDF files written here with cdflib (the
original Human3.6M files are not available to the tests)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelgnn.cli import main
from skelgnn.data import h36m_cameras, load_benchmark, load_npz_object, read_positions_2d, read_positions_3d
from skelgnn.prepare.h36m import canonical_action, prepare_h36m, read_d3_positions, read_h36m_3d
from skelgnn.skeleton import H36M32_KEEP

cdfwrite = pytest.importorskip("cdflib.cdfwrite")


def _write_cdf(path: Path, pose_mm: np.ndarray) -> None:
    """A ``D3_Positions``-style file: variable ``Pose``, one record of (F, 96) float32 mm."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = pose_mm.reshape(pose_mm.shape[0], -1)  # (F, 96) for 32 joints
    frames, width = flat.shape
    cdf = cdfwrite.CDF(str(path), cdf_spec={"Majority": "Row_major"})
    try:
        cdf.write_var({"Variable": "Pose", "Data_Type": cdfwrite.CDF.CDF_FLOAT, "Num_Elements": 1,
                       "Rec_Vary": True, "Dim_Sizes": [frames, width]},
                      var_attrs={}, var_data=flat.reshape(1, frames, width).astype(np.float32))
    finally:
        cdf.close()


def _poses_mm(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Bodies near the world origin (where the Human3.6M cameras look), millimetres."""
    centre = np.array([0.0, 0.0, 900.0])
    return (centre + rng.normal(scale=300.0, size=(frames, 32, 3))).astype(np.float32)


@pytest.fixture()
def h36m_root(tmp_path) -> tuple[Path, dict[tuple[str, str], np.ndarray]]:
    rng = np.random.default_rng(0)
    written = {}
    for subject, stem, frames in (("S1", "Directions 1", 7), ("S1", "TakingPhoto", 5),
                                  ("S11", "Directions", 4), ("S11", "WalkingDog 1", 6)):
        pose = _poses_mm(rng, frames)
        _write_cdf(tmp_path / "h36m" / subject / "MyPoseFeatures" / "D3_Positions" / f"{stem}.cdf", pose)
        written[(subject, stem)] = pose
    return tmp_path / "h36m", written


def test_canonical_action_names():
    assert canonical_action("TakingPhoto 1") == "Photo 1"
    assert canonical_action("WalkingDog") == "WalkDog"
    assert canonical_action("Walking 1") == "Walking 1"


def test_read_d3_positions_converts_to_metres(h36m_root):
    root, written = h36m_root
    pos = read_d3_positions(root / "S1" / "MyPoseFeatures" / "D3_Positions" / "Directions 1.cdf")
    assert pos.shape == (7, 32, 3) and pos.dtype == np.float32
    np.testing.assert_allclose(pos, written[("S1", "Directions 1")].reshape(7, 32, 3) / 1000.0, rtol=1e-6)


def test_read_h36m_3d_names_and_exclusions(h36m_root):
    root, _ = h36m_root
    poses = read_h36m_3d(root)
    assert {s: sorted(a) for s, a in poses.items()} == {"S1": ["Directions 1", "Photo"], "S11": ["WalkDog 1"]}
    kept = read_h36m_3d(root, exclude=())
    assert "Directions" in kept["S11"]
    only = read_h36m_3d(root, subjects=["S11"])
    assert list(only) == ["S11"]


def test_prepare_writes_files_the_readers_accept(h36m_root, tmp_path):
    root, written = h36m_root
    out = tmp_path / "out"
    result = prepare_h36m(root, out)
    assert result.sequences == 3 and result.frames == 7 + 5 + 6 and result.subjects == ("S1", "S11")

    raw = load_npz_object(out / "data_3d_h36m.npz", "positions_3d")  # VideoPose3D's 32 joints
    assert raw["S1"]["Photo"].shape == (5, 32, 3) and raw["S1"]["Photo"].dtype == np.float32
    np.testing.assert_allclose(raw["S1"]["Photo"], written[("S1", "TakingPhoto")] / 1000.0, rtol=1e-6)

    p3 = read_positions_3d(out / "data_3d_h36m.npz")  # reduced to 17 on read
    p2, meta = read_positions_2d(out / "data_2d_h36m_gt.npz")
    assert meta["num_joints"] == 17 and meta["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
    cams = h36m_cameras()
    for subject, actions in p3.items():
        for action in actions:
            views = p2[subject][action]
            assert len(views) == 4
            for cam, view in zip(cams[subject], views):
                expected = cam.project(cam.world_to_camera(raw[subject][action][:, list(H36M32_KEEP)]))
                assert np.abs(view - expected).max() < 1e-3

    records = load_benchmark(out, source="gt", dataset="h36m")  # the training loader reads it
    assert len(records) == 3 * 4
    assert records[0].image_size in ((1000, 1002), (1000, 1000))


def test_errors(tmp_path, h36m_root):
    root, _ = h36m_root
    with pytest.raises(FileNotFoundError, match="MyPoseFeatures"):
        read_h36m_3d(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="D3_Positions"):
        read_h36m_3d(root, subjects=["S5"])
    bad = tmp_path / "bad" / "S1" / "MyPoseFeatures" / "D3_Positions" / "Walking.cdf"
    _write_cdf(bad, np.zeros((3, 32, 3), dtype=np.float32)[:, :31])  # 93 values per frame
    with pytest.raises(ValueError, match=r"\(1, F, 96\)"):
        read_d3_positions(bad)
    garbage = tmp_path / "garbage.cdf"
    garbage.write_bytes(b"not a cdf file at all")
    with pytest.raises(ValueError, match="CDF"):
        read_d3_positions(garbage)
    with pytest.raises(ValueError, match="no cameras"):
        prepare_h36m(root, tmp_path / "o", cameras={"S1": h36m_cameras()["S1"]})


def test_cli(h36m_root, tmp_path, capsys):
    root, _ = h36m_root
    out = tmp_path / "cli"
    assert main(["prepare", "h36m", "--h36m", str(root), "--out", str(out), "--keep-all"]) == 0
    text = capsys.readouterr().out
    assert "4 sequences of S1 S11" in text and "data_2d_h36m_gt.npz" in text
    assert "Directions" in read_positions_3d(out / "data_3d_h36m.npz")["S11"]
    assert main(["prepare", "h36m", "--h36m", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
