"""benchmarks/footage.py: the swap injection and the table, on a small coco17 footage file."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO, load_benchmark_script
from skelgnn.evaluate.footage import read_footage, write_footage
from skelgnn.infer.layouts import COCO17_NAMES

CKPT = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"
_H36M_OF_COCO = {5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6,
                 16: 3, 0: 9, 1: 10, 2: 10, 3: 10, 4: 10}


def _module():
    from conftest import load_benchmark_script

    return load_benchmark_script("footage")


@pytest.fixture(scope="module")
def coco_footage(mini_dir, tmp_path_factory):
    """Two tracks of the mini fixture's ground-truth 2D, in COCO order."""
    from skelgnn.data import load_benchmark

    records = load_benchmark(mini_dir, "gt", subjects=["S08"])[:2]
    kps, gts = [], []
    for rec in records:
        coco = np.ones((30, 17, 3))
        for c, h in _H36M_OF_COCO.items():
            coco[:, c, :2] = rec.keypoints_2d[:30, h]
        kps.append(coco)
        gts.append(rec.poses_3d[:30])
    names = ["pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
             "thorax", "nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
             "r_elbow", "r_wrist"]
    path = tmp_path_factory.mktemp("fb") / "coco_footage.npz"
    return write_footage(path, np.concatenate(kps), "coco17", records[0].image_size, [0, 30, 60],
                         np.concatenate(gts), names)


def test_inject_swaps_exchanges_left_and_right(coco_footage):
    clean = read_footage(coco_footage)
    swapped, truth = _module().inject_swaps(clean, 0.3, seed=0)
    for track, new, t in zip(clean.tracks, swapped.tracks, truth):
        assert 0.1 < t.mean() < 0.6
        left, right = COCO17_NAMES.index("left_knee"), COCO17_NAMES.index("right_knee")
        np.testing.assert_array_equal(new.keypoints[t, left], track.keypoints[t, right])
        np.testing.assert_array_equal(new.keypoints[~t], track.keypoints[~t])


@pytest.mark.usefixtures("seed_and_one_thread")
def test_main_writes_the_tables(coco_footage, tmp_path):
    out = tmp_path / "res"
    assert _module().main(["--footage", str(coco_footage), "--checkpoint", str(CKPT),
                           "--variant", "defaults", "--variant", "no flip repair",
                           "--out", str(out)]) == 0
    results = json.loads((out / "coco_footage.json").read_text())
    assert [r["variant"] for r in results["rows"]] == ["defaults", "no flip repair"]
    inj = results["injected"][0]
    assert inj["recall"] >= 0.9 and inj["precision"] >= 0.9
    # the repair undoes what the swaps cost
    assert inj["with repair"]["mpjpe_mm"] < inj["without repair"]["mpjpe_mm"]
    table = (out / "coco_footage.md").read_text()
    assert "| skelgnn-1f-cmu-det.pt | defaults | 2/2 |" in table
    assert "constant pose (the set's mean)" in table and "swapped, repaired" in table


def test_merge_rescores_one_checkpoint_and_keeps_the_others_in_place():
    bench = load_benchmark_script("footage")
    old = {"rows": [{"checkpoint": "a.pt", "variant": "defaults", "v": 1},
                    {"checkpoint": "b.pt", "variant": "defaults", "v": 1},
                    {"checkpoint": "b.pt", "variant": "--no-tta", "v": 1},
                    {"checkpoint": "c.pt", "variant": "defaults", "v": 1}],
           "injected": [{"checkpoint": "a.pt"}, {"checkpoint": "b.pt", "v": 1}]}
    new = {"rows": [{"checkpoint": "b.pt", "variant": "defaults", "v": 2},
                    {"checkpoint": "b.pt", "variant": "--no-tta", "v": 2}],
           "injected": [{"checkpoint": "b.pt", "v": 2}], "constant_pose": {"limb_deg": 9.9}}
    out = bench.merge_results(old, new, ["b.pt"])
    assert [(r["checkpoint"], r.get("v")) for r in out["rows"]] == [
        ("a.pt", 1), ("b.pt", 2), ("b.pt", 2), ("c.pt", 1)]
    assert [(r["checkpoint"], r.get("v")) for r in out["injected"]] == [("a.pt", None), ("b.pt", 2)]
    assert out["constant_pose"] == {"limb_deg": 9.9}
    added = bench.merge_results(old, {"rows": [{"checkpoint": "d.pt", "variant": "x"}]}, ["d.pt"])
    assert [r["checkpoint"] for r in added["rows"]] == ["a.pt", "b.pt", "b.pt", "c.pt", "d.pt"]
