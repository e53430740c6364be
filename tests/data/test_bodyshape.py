"""Body-proportion augmentation (data/bodyshape.py): bones keep their directions, get the drawn
lengths, and the draws cover their ranges."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skelgnn.data.bodyshape import BONE_GROUPS, BodyShape, reshape_body
from skelgnn.skeleton import H36M17

PARENTS = H36M17.parents


def _poses(frames: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(frames, 17, 3))


def _bones(p: np.ndarray) -> np.ndarray:
    return np.stack([p[..., j, :] - p[..., q, :] for j, q in enumerate(PARENTS) if q >= 0], -2)


def test_unit_factors_are_the_identity():
    p = _poses()
    assert np.allclose(reshape_body(p, np.ones(17)), p)


def test_bones_keep_direction_and_get_the_factor_length():
    p = _poses()
    factors = np.linspace(0.7, 1.6, 17)
    out = reshape_body(p, factors)
    before, after = _bones(p), _bones(out)
    scale = np.array([factors[j] for j, q in enumerate(PARENTS) if q >= 0])
    assert np.allclose(np.linalg.norm(after, axis=-1), scale * np.linalg.norm(before, axis=-1))
    cos = (before * after).sum(-1) / (np.linalg.norm(before, axis=-1) * np.linalg.norm(after, axis=-1))
    assert np.allclose(cos, 1.0)
    assert np.allclose(out[:, 0], p[:, 0])  # the root stays in place


def test_samples_are_symmetric_and_in_range():
    shape = BodyShape()
    rng = np.random.default_rng(3)
    draws = np.stack([shape.sample(rng) for _ in range(4000)])  # (N, 17)
    assert np.all(draws[:, 0] == 1.0)
    for name, joints in BONE_GROUPS.items():
        low, high = getattr(shape, name)
        values = draws[:, list(joints)]
        assert np.all(values[:, :1] == values)  # left and right alike
        assert values.min() >= low and values.max() <= high
        # log-uniform: the mean of the log is the log of the geometric midpoint
        assert abs(np.log(values[:, 0]).mean() - (math.log(low) + math.log(high)) / 2) < 0.01
    covered = sorted(j for joints in BONE_GROUPS.values() for j in joints)
    assert covered == list(range(1, 17))


def test_thigh_over_shank_reaches_shelf_proportions():
    """The point of the ranges: CMU's 0.81 thigh/shank must be drawable up to Shelf's 0.97."""
    shape = BodyShape()
    ratio_high = shape.thigh[1] / shape.shank[0]
    assert 0.81 * ratio_high > 0.97 and shape.thigh[0] / shape.shank[1] <= 1.0


@pytest.mark.parametrize("kwargs", [{"thigh": (1.2, 1.1)}, {"shank": (0.0, 1.0)},
                                    {"torso": (1.0, math.inf)}, {"knee_extension_deg": (-1.0, 5.0)}])
def test_bad_ranges_are_refused(kwargs):
    with pytest.raises(ValueError, match="BodyShape"):
        BodyShape(**kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="expected"):
        reshape_body(np.zeros((3, 16, 3)), np.ones(17))
    with pytest.raises(ValueError, match="positive"):
        reshape_body(_poses(), np.r_[np.ones(16), -1.0])


def test_training_records_reshape_only_the_virtual_views(mini_dir):
    from skelgnn.data.virtual import VIRTUAL_CAMERA_BASE, training_records

    plain = training_records(mini_dir, "gt", ["S07"], virtual_cameras=2, seed=1)
    varied = training_records(mini_dir, "gt", ["S07"], virtual_cameras=2, seed=1,
                              body_shape="varied")
    assert len(plain) == len(varied)
    for a, b in zip(plain, varied):
        assert a.camera == b.camera
        if a.camera < VIRTUAL_CAMERA_BASE:  # the benchmark's views as they are
            assert np.array_equal(a.keypoints_2d, b.keypoints_2d)
            assert np.array_equal(a.poses_3d, b.poses_3d)
            continue
        # the same camera, another body: the thigh over shank ratio changes, the thigh keeps its
        # direction (the knee extension turns only the shank)
        assert np.allclose(a.calibration.translation, b.calibration.translation)
        ratio = [np.linalg.norm(r.poses_3d[:, 2] - r.poses_3d[:, 1], axis=-1).mean()
                 / np.linalg.norm(r.poses_3d[:, 3] - r.poses_3d[:, 2], axis=-1).mean()
                 for r in (a, b)]
        assert abs(ratio[0] - ratio[1]) > 1e-3
        da, db = (r.poses_3d[:, 2] - r.poses_3d[:, 1] for r in (a, b))
        cos = (da * db).sum(-1) / (np.linalg.norm(da, axis=-1) * np.linalg.norm(db, axis=-1))
        assert np.allclose(cos, 1.0, atol=1e-5)
        assert not np.allclose(a.keypoints_2d, b.keypoints_2d)


def test_body_shape_config_is_checked():
    from skelgnn.data.virtual import training_records
    from skelgnn.train.config import DataConfig

    assert DataConfig(virtual_cameras=2, body_shape="varied").body_shape == "varied"
    with pytest.raises(ValueError, match="body_shape"):
        DataConfig(body_shape="varied")  # no virtual views to reshape
    with pytest.raises(ValueError, match="body_shape"):
        DataConfig(virtual_cameras=2, body_shape="tall")
    with pytest.raises(ValueError, match="body_shape"):
        training_records(Path("."), "gt", ["S07"], virtual_cameras=0, body_shape="varied")


def test_knees_open_by_the_angle_and_stop_at_the_limit():
    from skelgnn.data.bodyshape import extend_knees, knee_angles

    rng = np.random.default_rng(5)
    p = rng.normal(size=(200, 17, 3))
    before = knee_angles(p)
    out = extend_knees(p, 10.0)
    after = knee_angles(out)
    expect = np.where(before >= 179.0, before, np.minimum(before + 10.0, 179.0))
    assert np.allclose(after, expect, atol=1e-6)
    shank = lambda x, k, a: np.linalg.norm(x[:, a] - x[:, k], axis=-1)  # noqa: E731
    assert np.allclose(shank(out, 2, 3), shank(p, 2, 3)) and np.allclose(shank(out, 5, 6), shank(p, 5, 6))
    moved = np.abs(out - p).max(axis=(0, 2)) > 1e-9
    assert set(np.flatnonzero(moved)) == {3, 6}  # only the ankles move
    assert np.allclose(extend_knees(p, 0.0), p)


def test_knee_opening_is_passed_and_checked(mini_dir):
    from skelgnn.data.bodyshape import knee_angles
    from skelgnn.data.virtual import VIRTUAL_CAMERA_BASE, training_records
    from skelgnn.train.config import DataConfig

    assert DataConfig(virtual_cameras=1, body_shape="varied", knee_opening=30.0).knee_opening == 30
    with pytest.raises(ValueError, match="knee_opening"):
        DataConfig(virtual_cameras=1, body_shape="varied", knee_opening=60.0)
    closed, opened = (training_records(mini_dir, "gt", ["S07"], virtual_cameras=1, seed=1,
                                       body_shape="varied", knee_opening=k) for k in (0.0, 40.0))
    for a, b in zip(closed, opened):
        if a.camera >= VIRTUAL_CAMERA_BASE:  # same proportions, knees opened (up to 179)
            ka, kb = knee_angles(a.poses_3d.astype(np.float64)), knee_angles(b.poses_3d.astype(np.float64))
            assert (kb >= ka - 1e-3).all() and (kb - ka).max() > 1.0
