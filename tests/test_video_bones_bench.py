"""benchmarks/video_bones.py: the bone figures it reports, on hand-built skeletons."""
from __future__ import annotations

import numpy as np

from skelgnn.skeleton import H36M17


def _module():
    from conftest import load_benchmark_script

    return load_benchmark_script("video_bones")


def _rigid(frames: int, thigh: float, shin: float) -> np.ndarray:
    """A skeleton whose every bone has a fixed length, rotated differently in every frame."""
    rng = np.random.default_rng(0)
    lengths = np.full(17, 0.2)
    lengths[[2, 5]] = thigh  # knees: child of the hips
    lengths[[3, 6]] = shin  # feet: child of the knees
    poses = np.zeros((frames, 17, 3))
    for f in range(frames):
        for p, c in H36M17.bones():
            d = rng.normal(size=3)
            poses[f, c] = poses[f, p] + lengths[c] * d / np.linalg.norm(d)
    return poses


def test_rigid_skeleton_has_no_jitter_and_its_own_lengths():
    figs = _module().bone_figures(_rigid(20, 0.37, 0.45))
    assert figs["median_bone_std_cm"] < 1e-9
    assert abs(figs["thigh_m"] - 0.37) < 1e-12 and abs(figs["shin_m"] - 0.45) < 1e-12


def test_jitter_is_the_median_bone_std_in_cm():
    poses = _rigid(2, 0.4, 0.4)
    # scale every bone of frame 1 by 1.1: each bone's std over two frames is 0.05 * its length
    scaled = poses.copy()
    scaled[1] *= 1.1  # root at the origin, so scaling positions scales every bone
    figs = _module().bone_figures(scaled)
    lengths = np.array([0.2] * 16)
    lengths[[1, 4]] = 0.4
    lengths[[2, 5]] = 0.4
    assert abs(figs["median_bone_std_cm"] - 100 * np.median(0.05 * lengths)) < 1e-9
