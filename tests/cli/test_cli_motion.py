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


def _two_people_json(path):
    """COCO results: two people, listed in alternating order, the second appearing at frame 2."""
    from test_infer_cli import _coco_from_h36m

    a = _coco_from_h36m(_h36m_keypoints(10, seed=1))
    b = _coco_from_h36m(_h36m_keypoints(10, seed=2))
    b[..., 0] += 600.0  # to the right of the first
    dets = []
    for i in range(10):
        people = [a[i]] + ([b[i]] if i >= 2 else [])
        for kp in (people if i % 2 else people[::-1]):
            dets.append({"image_id": i, "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                         "score": 0.9})
    path.write_text(json.dumps({"fps": 30, "image_size": [1920, 1080], "annotations": dets}))
    return a, b


def test_infer_person_all_lifts_every_track(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "m.pt", "skelgnn-1f")
    src = tmp_path / "people.json"
    a, b = _two_people_json(src)
    out = tmp_path / "poses.npz"
    assert main(["infer", "--keypoints", str(src), "--layout", "coco17", "--checkpoint", str(ckpt),
                 "--out", str(out), "--person", "all"]) == 0
    assert "2 track(s)" in capsys.readouterr().out
    with np.load(tmp_path / "poses.track0.npz") as t0, np.load(tmp_path / "poses.track1.npz") as t1:
        assert int(t0["track_id"]) == 0 and t0["frames"].tolist() == list(range(10))
        assert t1["frames"].tolist() == list(range(2, 10))
        assert t0["poses_world"].shape == (10, 17, 3)
        # each track holds one person: the left one, then the right one
        assert t0["keypoints_2d"][:, :, 0].max() < t1["keypoints_2d"][:, :, 0].min()
    one = tmp_path / "one.npz"
    assert main(["infer", "--keypoints", str(src), "--layout", "coco17", "--checkpoint", str(ckpt),
                 "--out", str(one), "--person", "1"]) == 0
    with np.load(one) as t1:
        assert int(t1["track_id"]) == 1 and len(t1["frames"]) == 8
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--out", str(one),
                 "--layout", "coco17", "--person", "7"]) == 2
    assert "no track 7" in capsys.readouterr().err
    assert main(["infer", "--keypoints", str(src), "--out", str(one), "--person", "most"]) == 2
    assert "--person must be" in capsys.readouterr().err


def test_infer_path_smoothing_option(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "m.pt", "skelgnn-1f")
    kp = tmp_path / "kp.npz"
    keypoints = _h36m_keypoints(40)
    keypoints[..., :2] *= 1.0 + np.random.default_rng(5).normal(0, 0.04, (40, 1, 1))  # size jitter
    np.savez(kp, keypoints=keypoints, layout=np.array("h36m17"),
             image_size=np.array([1000.0, 1002.0]), fps=np.array(25.0))
    paths = {}
    for name, extra in (("default", []), ("off", ["--path-smoothing", "0"]),
                        ("long", ["--path-smoothing", "1.5"])):
        out = tmp_path / f"{name}.npz"
        assert main(["infer", "--keypoints", str(kp), "--checkpoint", str(ckpt), "--out", str(out),
                     *extra]) == 0
        with np.load(out) as data:
            root = data["poses_world"][:, 0]
            paths[name] = np.linalg.norm(np.diff(root[:, [0, 2]], 2, axis=0), axis=-1).mean()
    # the longer the smoothing, the steadier the root's path across the floor
    assert paths["long"] < paths["default"] < paths["off"]
    capsys.readouterr()
    out = tmp_path / "bad.npz"
    assert main(["infer", "--keypoints", str(kp), "--checkpoint", str(ckpt), "--out", str(out),
                 "--path-smoothing", "-1"]) == 2
    assert "--path-smoothing must be between 0 and 10 seconds" in capsys.readouterr().err
    assert not out.exists()
