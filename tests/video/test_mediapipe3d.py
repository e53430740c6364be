"""MediaPipe's own 3D in our layout, and how far it agrees with ours."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.infer.layouts import BLAZEPOSE33_NAMES
from skelgnn.video.mediapipe3d import agreement_mm, stack_world_landmarks, world_landmarks_to_h36m


def _landmarks(rng: np.random.Generator, frames: int = 3) -> np.ndarray:
    return rng.normal(0, 0.4, (frames, 33, 3))


def test_conversion_by_hand():
    world = _landmarks(np.random.default_rng(0))
    out = world_landmarks_to_h36m(world)
    idx = {n: i for i, n in enumerate(BLAZEPOSE33_NAMES)}
    pelvis = world[:, [idx["left_hip"], idx["right_hip"]]].mean(1)
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], world[:, idx["right_hip"]] - pelvis)  # RHip, with z
    np.testing.assert_allclose(out[:, 13], world[:, idx["left_wrist"]] - pelvis)
    thorax = world[:, [idx["left_shoulder"], idx["right_shoulder"]]].mean(1)
    np.testing.assert_allclose(out[:, 8], thorax - pelvis)


def test_missing_frames_stay_missing():
    world = stack_world_landmarks([np.ones((33, 3)), None, np.zeros((33, 3))])
    out = world_landmarks_to_h36m(world)
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()


def test_agreement_is_zero_up_to_a_similarity_and_counts_shared_frames():
    ours = world_landmarks_to_h36m(_landmarks(np.random.default_rng(1), 4))
    c, s = np.cos(0.7), np.sin(0.7)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    theirs = 1.3 * ours @ rot.T + 0.2
    theirs[2] = np.nan
    mm, n = agreement_mm(ours, theirs)
    assert n == 3 and mm == pytest.approx(0.0, abs=1e-6)
    assert agreement_mm(ours, np.full_like(ours, np.nan)) == (pytest.approx(float("nan"),
                                                                            nan_ok=True), 0)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\(F, 33, 3\)"):
        world_landmarks_to_h36m(np.zeros((2, 17, 3)))
