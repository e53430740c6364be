"""benchmarks/footage_diagnosis.py and footage_candidates.py: the joint mapping, the bone-length
re-build and the table (no shared footage needed)."""
from __future__ import annotations

import numpy as np

from skelgnn.skeleton import H36M17


def _module(name: str):
    from conftest import load_benchmark_script

    return load_benchmark_script(name)


def test_shelf_joints_map_to_h36m():
    diag = _module("footage_diagnosis")
    shelf = np.arange(15 * 2, dtype=float).reshape(1, 15, 2)
    out = diag.shelf_to_h36m(shelf)[0]
    assert out.shape == (17, 2)
    assert np.array_equal(out[3], shelf[0, 0]) and np.array_equal(out[16], shelf[0, 6])  # r_ankle, r_wrist
    assert np.array_equal(out[0], shelf[0, 14])  # pelvis
    assert np.allclose(out[8], (shelf[0, 8] + shelf[0, 9]) / 2)  # thorax = mid-shoulders


def test_retarget_gives_the_lengths_and_keeps_directions():
    diag = _module("footage_diagnosis")
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(4, 17, 3))
    lengths = rng.uniform(0.1, 0.5, size=17)
    out = diag.retarget(poses, lengths)
    for j, p in enumerate(H36M17.parents):
        if p < 0:
            continue
        bone, new = poses[:, j] - poses[:, p], out[:, j] - out[:, p]
        assert np.allclose(np.linalg.norm(new, axis=-1), lengths[j])
        assert np.allclose(np.cross(bone, new), 0.0, atol=1e-9)


def test_candidates_table_lists_rows_and_the_floor():
    cand = _module("footage_candidates")
    shelf = {"limb_deg": 17.4, "p_mpjpe_mm": 79.0, "knee_pred_deg": 140.7}
    row = {"name": "a", "val": {"p1": 30.4, "p2": 24.4}, "shelf_dev": shelf,
           "shelf_dev --no-reframe": shelf,
           "constant_pose": {"limb_deg": 9.9, "p_mpjpe_mm": 42.6, "knee_pred_deg": 172.7}}
    text = cand.table([row])
    assert "| a | 30.4 | 24.4 | 17.4 | 79.0 | 140.7 |" in text and "constant pose" in text
