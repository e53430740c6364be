"""benchmarks/trajectory.py: its error figures on hand-made trajectories."""
from __future__ import annotations

import numpy as np
import pytest


def _module():
    from conftest import load_benchmark_script

    return load_benchmark_script("trajectory")


def test_root_errors_split_depth_and_image_plane_and_remove_scale():
    target = np.array([[0.0, 0.0, 4.0], [1.0, 0.0, 5.0]])
    errs = _module().root_errors(target * 1.1, target)
    np.testing.assert_allclose(errs["z"], [400.0, 500.0])
    np.testing.assert_allclose(errs["xy"], [0.0, 100.0])
    np.testing.assert_allclose(errs["scaled"], [0.0, 0.0], atol=1e-9)
    summary = _module().summarise([errs])
    assert summary["frames"] == 2
    assert summary["root_mm"] == pytest.approx(np.mean([400.0, np.hypot(100.0, 500.0)]))
