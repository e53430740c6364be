"""`skelgnn infer --focal --smooth --export --threads` and `skelgnn convert` end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from skelgnn.cli import main
from skelgnn.prepare.bvh import read_bvh
from test_infer_cli import _h36m_keypoints, make_checkpoint


def test_infer_writes_trajectory_world_and_exports(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "m.pt", "skelgnn-1f")
    kp = tmp_path / "kp.npz"
    np.savez(kp, keypoints=_h36m_keypoints(12), layout=np.array("h36m17"),
             image_size=np.array([1000.0, 1002.0]), fps=np.array(25.0))
    out = tmp_path / "poses_3d.npz"
    before = torch.get_num_threads()
    try:
        assert main(["infer", "--keypoints", str(kp), "--checkpoint", str(ckpt), "--out", str(out),
                     "--focal", "1145", "--smooth", "--threads", "1",
                     "--export", "bvh", "json", "csv"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    printed = capsys.readouterr().out
    with np.load(out, allow_pickle=False) as data:
        assert data["trajectory"].shape == (12, 3) and data["poses_world"].shape == (12, 17, 3)
        assert float(data["focal_px"]) == 1145.0 and bool(data["smoothed"])
        np.testing.assert_allclose(data["world_rotation"] @ data["world_rotation"].T, np.eye(3),
                                   atol=1e-5)
    for suffix in ("bvh", "json", "csv"):
        assert f"wrote {out.with_suffix('.' + suffix)}" in printed
    assert read_bvh(out.with_suffix(".bvh")).num_frames == 12
    assert json.loads(out.with_suffix(".json").read_text())["frame"] == "world"


def test_convert_errors(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "none.npz"), str(tmp_path / "a.bvh")]) == 2
    assert "not found" in capsys.readouterr().err
    np.savez(tmp_path / "p.npz", poses_3d=np.zeros((2, 17, 3)))
    assert main(["convert", str(tmp_path / "p.npz"), str(tmp_path / "a.fbx")]) == 2
    assert "unknown export type" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["infer", "--keypoints", "x", "--out", "y", "--export", "fbx"])
