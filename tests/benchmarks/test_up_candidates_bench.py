"""benchmarks/up_candidates.py (learnt-up training sets compared over seeds) and the low cameras of
benchmarks/train_up.py."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark_script


def test_cached_sets_are_joined_and_mirrored(tmp_path):
    cand = load_benchmark_script("up_candidates")
    rng = np.random.default_rng(0)
    paths = []
    for i, n in enumerate((5, 3)):
        x = rng.normal(size=(n, 51)).astype(np.float32)
        y = rng.normal(size=(n, 3)).astype(np.float32)
        path = tmp_path / f"c{i}.npz"
        np.savez(path, train_x=x, train_y=y)
        paths.append(str(path))
    x, y = cand.load_sets(paths)
    assert x.shape == (16, 51) and y.shape == (16, 3)
    # the second half is the mirror of the first: camera X of the target negated, Y and Z kept
    np.testing.assert_allclose(y[8:], y[:8] * [-1.0, 1.0, 1.0])
    np.testing.assert_allclose(x[8:, 48:], x[:8, 48:] * [-1.0, 1.0, 1.0])


def test_a_missing_cache_is_named(tmp_path, capsys):
    cand = load_benchmark_script("up_candidates")
    with pytest.raises(SystemExit):
        cand.main([f"c8={tmp_path / 'absent.npz'}"])
    assert "absent.npz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cand.main(["no-equals-sign"])
    assert "NAME=CACHE" in capsys.readouterr().err


def test_low_cameras_stand_low_and_look_level_or_up():
    train_up = load_benchmark_script("train_up")
    from skelgnn.data.cameras import DEVICE_KINDS, CameraSampler

    sampler = CameraSampler(kinds=tuple(DEVICE_KINDS), height=train_up.LOW_HEIGHT,
                            elevation=train_up.LOW_ELEVATION)
    world = np.zeros((4, 17, 3))
    world[..., 2] = np.linspace(1.0, 1.7, 17)  # pelvis (the looked-at point) at 1 m
    world[:, [3, 6], 2] = 0.1  # ankles on the floor
    rng = np.random.default_rng(3)
    elevations = []
    for cam, _ in sampler.sample_many(world, 12, rng):
        h = cam.translation[2]
        assert 0.2 - 0.31 <= h <= 1.0 + 0.31  # the sampler's height range and jitter
        c = cam.camera_to_world(np.zeros((1, 3)))[0]  # the camera centre in the world
        to_pelvis = world[0, 0] - c
        # the line of sight to the pelvis: at most 10 degrees down, plus the looked-at point's
        # +-0.3 m jitter seen from at least 2 m
        el = np.degrees(np.arcsin(-to_pelvis[2] / np.linalg.norm(to_pelvis)))
        assert el <= 10.0 + np.degrees(np.arctan(0.3 / 2.0)) + 0.5
        elevations.append(el)
    assert np.mean(elevations) < 0.0  # looking up on average


def test_a_low_camera_only_set_never_overwrites_the_shipped_weights(capsys):
    train_up = load_benchmark_script("train_up")
    before = train_up.WEIGHTS.read_bytes()
    with pytest.raises(SystemExit):
        train_up.main(["--cameras", "0", "--low-cameras", "4"])
    assert "give --out" in capsys.readouterr().err
    assert train_up.WEIGHTS.read_bytes() == before
