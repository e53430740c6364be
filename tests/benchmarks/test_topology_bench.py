"""benchmarks/topology.py: the second-topology table on hand-written rows (the 17 shared joints
apart from the 6 added ones, the 17-joint benchmark's row beside each), and its refusal of a
directory that is not the CMU benchmark."""
from __future__ import annotations

import json

import pytest

from conftest import load_benchmark_script


@pytest.fixture(scope="module")
def topo():
    return load_benchmark_script("topology")


def _row(name: str, per_joint: list[float]) -> dict:
    p1 = sum(per_joint) / len(per_joint)
    return {"row": name, "source": "det", "parameters": 1_500_000, "train_minutes": 12.0,
            "p1": p1, "p2": p1 / 2, "p1_action": p1, "p2_action": p1 / 2,
            "per_joint_p1": per_joint}


def test_table_splits_shared_and_added_joints(topo, tmp_path):
    per_joint = [0.0] + [30.0] * 16 + [90.0] * 6  # root, 16 shared, 6 added tips
    (tmp_path / "skelgnn-1f-det.json").write_text(json.dumps(_row("skelgnn-1f", per_joint)))
    (tmp_path / "TABLE.md").write_text("not a row\n")
    result = topo.collect(tmp_path, "det")
    r = result["rows"]["skelgnn-1f"]
    assert result["added"] == ["RToe", "LToe", "LHandTip", "LThumbTip", "RHandTip", "RThumbTip"]
    assert r["p1_shared17"] == pytest.approx(16 * 30.0 / 17)
    assert r["p1_added6"] == pytest.approx(90.0)
    assert r["per_joint_p1"]["RToe"] == 90.0 and r["per_joint_p1"]["Hip"] == 0.0
    # the committed 17-joint benchmark row of the same model sits beside it
    committed = json.loads((topo.REPO / "benchmarks" / "results" / "skelgnn-1f-det.json").read_text())
    assert r["p1_17joint_benchmark"] == committed["p1"]
    text = topo.table(result, "det")
    assert "| skelgnn-1f | 1.50M | 12 |" in text
    assert f"{16 * 30.0 / 17:.1f} | 90.0 | {committed['p1']:.1f} |" in text
    assert topo.figure(result, tmp_path / "pj.png").stat().st_size > 1000


def test_prepare_refuses_a_directory_without_bvh(topo, tmp_path):
    with pytest.raises(SystemExit, match="bvh"):
        topo.prepare(tmp_path / "out", tmp_path)
    assert not (tmp_path / "out").exists()


def test_slice_shared_keeps_the_first_17_joints(topo, tmp_path):
    import numpy as np

    data, names = tmp_path / "cmu23", topo._joint_names()
    data.mkdir()
    rng = np.random.default_rng(0)
    p3 = {"S01": {"Walk 01_01": rng.normal(size=(5, 23, 3)).astype(np.float32)}}
    np.savez(data / "data_3d_cmu.npz", positions_3d=np.array(p3, dtype=object))
    left = [names.index(n) for n in names if n.startswith("L")]
    right = [names.index(n) for n in names if n.startswith("R")]
    meta = {"num_joints": 23, "keypoints_symmetry": [left, right], "layout_name": "cmu23"}
    cams = [rng.normal(size=(5, 23, 2)).astype(np.float32) for _ in range(4)]
    for source in ("gt", "det"):
        np.savez(data / f"data_2d_cmu_{source}.npz", metadata=meta,
                 positions_2d=np.array({"S01": {"Walk 01_01": cams}}, dtype=object))
    (data / "split.json").write_text("{}")
    out = topo.slice_shared(data, tmp_path / "cmu17")
    with np.load(out / "data_2d_cmu_det.npz", allow_pickle=True) as z:
        m = z["metadata"].item()
        got = z["positions_2d"].item()["S01"]["Walk 01_01"]
    assert m["num_joints"] == 17 and m["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13],
                                                                 [1, 2, 3, 14, 15, 16]]
    assert len(got) == 4 and np.array_equal(got[2], cams[2][:, :17])
    with np.load(out / "data_3d_cmu.npz", allow_pickle=True) as z:
        assert np.array_equal(z["positions_3d"].item()["S01"]["Walk 01_01"],
                              p3["S01"]["Walk 01_01"][:, :17])
    assert (out / "split.json").is_file()
    # the source is untouched and a second call reuses the slice
    with np.load(data / "data_2d_cmu_det.npz", allow_pickle=True) as z:
        assert z["metadata"].item()["num_joints"] == 23
    assert topo.slice_shared(data, out) == out
