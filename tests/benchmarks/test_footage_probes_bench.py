"""benchmarks/footage_probes.py (pitch levelling, hip shifts) and raised_views.py (Shelf-like
cameras)."""
from __future__ import annotations

import numpy as np

from conftest import load_benchmark_script


def test_level_homography_is_what_the_turned_camera_sees():
    probes = load_benchmark_script("footage_probes")
    from skelgnn.data.cameras import rotation_between

    rng = np.random.default_rng(0)
    pts = rng.normal([0.0, 0.8, 3.5], [0.3, 0.5, 0.2], (6, 17, 3))  # below a raised camera
    f, c = 1100.0, np.array([516.0, 388.0])

    def project(x):
        return x[..., :2] / x[..., 2:] * f + c
    up = np.array([0.0, -np.cos(0.5), np.sin(0.5)])  # a camera pitched ~29 degrees down
    turn = rotation_between(up, np.array([0.0, -1.0, 0.0]))
    kp = np.concatenate([project(pts), np.ones(pts.shape[:2] + (1,))], axis=-1)
    out = probes.level_homography(kp, turn, f, c)
    np.testing.assert_allclose(out[..., :2], project(pts @ turn.T), atol=1e-9)
    np.testing.assert_array_equal(out[..., 2], kp[..., 2])  # scores kept
    np.testing.assert_allclose(probes.level_homography(kp, np.eye(3), f, c), kp, atol=1e-9)


def test_hips_move_by_the_fraction_of_the_person_height_only():
    probes = load_benchmark_script("footage_probes")
    rng = np.random.default_rng(1)
    kp = rng.uniform(100, 500, (5, 17, 2))
    kp[:, 0, 1], kp[:, 16, 1] = 100.0, 500.0  # 400 px tall in every frame
    kp[2, :] = np.nan  # a frame without detections is left out of the height
    out = probes.shift_hips(kp, 0.05)
    np.testing.assert_allclose(out[:, [11, 12], 1], kp[:, [11, 12], 1] + 20.0)
    others = [j for j in range(17) if j not in (11, 12)]
    np.testing.assert_array_equal(out[:, others], kp[:, others])
    np.testing.assert_allclose(out[:, :, 0], kp[:, :, 0])


def test_raised_views_stand_at_their_heights_and_look_at_the_person():
    rv = load_benchmark_script("raised_views")
    from skelgnn.data import cameras

    cameras.DEVICE_KINDS.setdefault("shelf_like", rv.SHELF_LIKE)
    rng = np.random.default_rng(2)
    world = np.zeros((20, 17, 3))
    world[..., 2] = np.linspace(0.05, 1.75, 17)  # a standing person, z up
    for view, (lo, hi) in rv.VIEWS.items():
        sampler = cameras.CameraSampler(kinds=("shelf_like",), height=(lo, hi), distance=(3.0, 4.0),
                                        elevation=(-10.0, 60.0), edge=0.3)
        cam, _ = sampler.sample(world, rng, view)
        assert lo - 1e-6 <= cam.translation[2] <= hi + 1e-6
        assert (cam.res_w, cam.res_h) == (1032, 776)
        assert 1000 < cam.fx < 1160  # 48-52 degrees across 1032 px
        x = cam.world_to_camera(world)
        assert (x[..., 2] > 2.0).all()
