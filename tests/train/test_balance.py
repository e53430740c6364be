"""train.balance_knees: sampling weighted against the knee-angle distribution of the targets."""
from __future__ import annotations

import numpy as np
import pytest

from skelgnn.skeleton import H36M17
from skelgnn.train.batches import knee_balance_weights
from skelgnn.train.config import load_config


def _legs(knee_deg: np.ndarray) -> np.ndarray:
    """``(N, 17, 3)`` poses whose two knees bend to ``knee_deg`` (hip above knee above ankle)."""
    poses = np.zeros((len(knee_deg), 17, 3))
    for hip, knee, ankle, x in ((1, 2, 3, -0.1), (4, 5, 6, 0.1)):
        poses[:, hip] = [x, 0.0, 0.0]
        poses[:, knee] = [x, 0.4, 0.0]
        bend = np.radians(180.0 - knee_deg)
        poses[:, ankle] = np.stack([np.full_like(bend, x), 0.4 + 0.4 * np.cos(bend),
                                    0.4 * np.sin(bend)], -1)
    return poses


def test_weights_flatten_the_knee_distribution():
    knees = np.concatenate([np.full(90, 132.0), np.full(10, 172.0)])  # straight legs are rare
    p = knee_balance_weights(_legs(knees), H36M17, 1.0)
    assert p.shape == (100,) and np.isclose(p.sum(), 1.0)
    assert np.isclose(p[knees == 172.0].sum(), 0.5)  # each bin equally likely
    half = knee_balance_weights(_legs(knees), H36M17, 0.5)
    assert 0.1 < half[knees == 172.0].sum() < 0.5  # a milder shift
    assert np.allclose(knee_balance_weights(_legs(knees), H36M17, 0.0), 0.01)


def test_balance_knees_validation_and_skeleton():
    assert load_config(None, ["train.balance_knees=0.5"]).train.balance_knees == 0.5
    for bad in ("-0.1", "1.5", "nan"):
        with pytest.raises(ValueError, match="balance_knees"):
            load_config(None, [f"train.balance_knees={bad}"])
    from skelgnn.skeleton import Skeleton

    kneeless = Skeleton(("Hip", "A", "B"), (-1, 0, 1), (), ())
    with pytest.raises(ValueError, match="RKnee and LKnee"):
        knee_balance_weights(np.zeros((2, 3, 3)), kneeless, 0.5)
