"""Virtual cameras (data/cameras.py, data/virtual.py): sampler ranges and seeding, projection,
and the virtual-camera path reproducing the benchmark's own views."""
from __future__ import annotations

import math

import numpy as np
import pytest

from skelgnn.data import load_benchmark
from skelgnn.data.cameras import (CameraSampler, look_at, matrix_to_quaternion, project_pixels,
                                  virtual_camera)
from skelgnn.data.readers import read_positions_3d
from skelgnn.data.virtual import VIRTUAL_CAMERA_BASE, view_record, virtual_records
from skelgnn.geometry import quaternion_to_matrix


def _walk(frames: int = 40) -> np.ndarray:
    """A stick person walking 2 m along x: (F, 17, 3) world metres, Z up."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 0.15, size=(17, 3)) + np.array([0.0, 0.0, 1.0])
    base[:, 2] = np.linspace(0.1, 1.7, 17)
    path = np.linspace(-1.0, 1.0, frames)[:, None, None] * np.array([1.0, 0.0, 0.0])
    return base[None] + path


def test_quaternion_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        r = quaternion_to_matrix(q)
        assert np.allclose(quaternion_to_matrix(matrix_to_quaternion(r)), r, atol=1e-12)


def test_look_at_puts_the_target_where_asked():
    centre, target = np.array([3.0, -4.0, 2.0]), np.array([0.0, 0.0, 1.0])
    for offset in ((0.0, 0.0), (0.3, -0.2)):
        rot = look_at(centre, target, roll_deg=5.0, image_offset=offset)
        assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(rot), 1)
        cam = virtual_camera("c", (1920, 1080), 1000.0, (960.0, 540.0), centre, rot)
        uv = project_pixels(cam, cam.world_to_camera(target))
        assert np.allclose(uv, [960 + 1000 * offset[0], 540 + 1000 * offset[1]], atol=1e-6)
    rot = look_at(centre, target)  # no roll: world up is image up
    cam = virtual_camera("c", (1920, 1080), 1000.0, (960.0, 540.0), centre, rot)
    top, bottom = project_pixels(cam, cam.world_to_camera(np.array([[0, 0, 1.5], [0, 0, 0.5]])))
    assert top[1] < bottom[1] and abs(top[0] - bottom[0]) < 1e-6


def test_projection_round_trip_with_known_depth():
    sampler = CameraSampler()
    world = _walk()
    cam, _ = sampler.sample(world, np.random.default_rng(3))
    x_cam = cam.world_to_camera(world)
    uv = project_pixels(cam, x_cam)
    z = x_cam[..., 2:]
    back = np.concatenate([(uv - [cam.cx, cam.cy]) / [cam.fx, cam.fy] * z, z], axis=-1)
    assert np.allclose(cam.camera_to_world(back), world, atol=1e-9)


def test_sampler_ranges_and_seeding():
    sampler = CameraSampler()
    world = _walk()
    target_z = world[:, 0, 2].mean()
    cams = [sampler.sample(world, np.random.default_rng(s)) for s in range(200)]
    kinds = {k for _, k in cams}
    assert kinds == set(sampler.kinds)
    for cam, kind in cams:
        c = np.array(cam.translation)
        assert 0.3 - 1e-9 <= c[2] <= 2.5 + 1e-9
        look = np.array([0.0, 0.0, target_z]) - c  # towards the sequence centre
        dist = np.linalg.norm(look)
        assert 2.0 - 0.31 <= dist <= 8.0 + 0.31  # +- target height jitter
        el = math.degrees(math.asin(-look[2] / dist))
        assert -10 - 10 <= el <= 60 + 5
        assert cam.world_to_camera(world)[..., 2].min() >= sampler.min_depth
        w, h = cam.image_size
        assert (h > w) == (kind == "phone_portrait")
        assert abs(cam.cx - w / 2) <= 0.03 * w + 1e-9 and abs(cam.cy - h / 2) <= 0.03 * h + 1e-9
        hfov = math.degrees(2 * math.atan(max(w, h) / 2 / cam.fx))
        assert 55 - 1e-6 <= hfov <= 120 + 1e-6
    centred = CameraSampler(edge=0.0)  # no image offset: the image x axis tilts by the roll only
    rolls = [math.degrees(math.asin(c.rotation[2, 0]))
             for c, _ in (centred.sample(world, np.random.default_rng(s)) for s in range(100))]
    assert max(map(abs, rolls)) <= 8 + 1e-6 and 1.5 < np.std(rolls) < 4.5
    heights = np.array([c.translation[2] for c, _ in cams])
    assert heights.min() < 0.8 and heights.max() > 2.0  # the range is used, not one corner
    a = [c for c, _ in (sampler.sample(world, np.random.default_rng(7)) for _ in range(2))]
    assert a[0] == a[1]
    assert sampler.sample(world, np.random.default_rng(8))[0] != a[0]


def test_virtual_records_seeded_and_in_camera_frame():
    p3 = {"S1": {"Walk 1": _walk(30), "Walk 2": _walk(20)}}
    a = virtual_records(p3, ["S1"], 3, seed=5)
    b = virtual_records(p3, ["S1"], 3, seed=5)
    c = virtual_records(p3, ["S1"], 3, seed=6)
    assert len(a) == 6 and [r.camera for r in a[:3]] == [VIRTUAL_CAMERA_BASE + i for i in range(3)]
    assert all(np.array_equal(x.keypoints_2d, y.keypoints_2d) for x, y in zip(a, b))
    assert not np.allclose(a[0].keypoints_2d, c[0].keypoints_2d)
    for r in a:
        cam = r.calibration
        assert np.allclose(r.poses_3d[:, 0], 0)
        x_cam = r.poses_3d + r.trajectory[:, None]
        assert np.allclose(cam.camera_to_world(x_cam), p3["S1"][r.action], atol=1e-5)
        assert np.allclose(project_pixels(cam, x_cam), r.keypoints_2d, atol=1e-2)


def test_virtual_path_reproduces_the_benchmark_views(mini_dir):
    """With the real Human3.6M cameras, view_record gives the benchmark's gt 2D and targets."""
    p3 = read_positions_3d(mini_dir / "data_3d_cmu.npz")
    records = load_benchmark(mini_dir, "gt")
    assert records
    for r in records:
        v = view_record(r.subject, r.action, r.camera, p3[r.subject][r.action], r.calibration)
        assert np.abs(v.keypoints_2d - r.keypoints_2d).max() < 1e-3  # px (float32 storage)
        assert np.abs(v.poses_3d - r.poses_3d).max() < 1e-6
        assert v.image_size == r.image_size


def test_sampler_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown device kinds"):
        CameraSampler(kinds=("fisheye",))
