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


def _standing() -> np.ndarray:
    """One frame of a person standing straight, y up: legs and trunk vertical."""
    pose = np.zeros((1, 17, 3))
    for hip, x in ((1, -0.1), (4, 0.1)):  # hips, knees, ankles straight below
        pose[0, hip] = [x, 0.0, 0.0]
        pose[0, hip + 1] = [x, -0.4, 0.0]
        pose[0, hip + 2] = [x, -0.85, 0.0]
    pose[0, 7] = [0, 0.25, 0]
    pose[0, 8] = [0, 0.5, 0]  # thorax above the pelvis
    pose[0, 9:] = [0, 0.6, 0]
    return pose


def test_posture_of_a_standing_and_a_sitting_person():
    mod = _module()
    stand = _standing()
    figs = mod.bone_figures(stand, world=stand)
    assert abs(figs["knee_deg"] - 180) < 1e-6 and abs(figs["hip_deg"] - 180) < 1e-6
    assert figs["trunk_tilt_deg"] < 1e-6
    sit = stand.copy()  # thighs forward (z), shins down: 90 degree hips and knees
    for hip in (1, 4):
        sit[0, hip + 1] = sit[0, hip] + [0, 0, 0.4]
        sit[0, hip + 2] = sit[0, hip + 1] + [0, -0.45, 0]
    figs = mod.bone_figures(sit)
    assert abs(figs["knee_deg"] - 90) < 1e-6 and abs(figs["hip_deg"] - 90) < 1e-6
    assert "trunk_tilt_deg" not in figs
    leaning = stand.copy()
    leaning[0, 8] = [0, 0.5, 0.5]  # trunk 45 degrees from the vertical
    assert abs(mod.bone_figures(leaning, world=leaning)["trunk_tilt_deg"] - 45) < 1e-6
