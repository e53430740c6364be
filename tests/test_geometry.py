"""Tests of skelgnn.geometry: hand-computed values, round trips, and the benchmark projection."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from skelgnn.data import read_cameras, read_positions_2d, read_positions_3d
from skelgnn.geometry import (
    Camera,
    flip_2d,
    flip_3d,
    normalize_screen,
    quaternion_to_matrix,
    unnormalize_screen,
)
from skelgnn.data.codec import root_relative
from skelgnn.skeleton import H36M17


# Quaternion rotation, the reference the camera transforms are checked against (test-only).

def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` ``(..., 3)`` by unit quaternions ``q`` ``(..., 4)`` in ``(w, x, y, z)``
    order; leading dimensions broadcast.

    Uses ``v' = v + 2 w (u x v) + 2 u x (u x v)`` with ``u = (x, y, z)``, which equals
    ``R(q) v`` for a unit quaternion.
    """
    q = np.asarray(q)
    v = np.asarray(v)
    w, u = q[..., :1], q[..., 1:]
    uv = np.cross(u, v)
    uuv = np.cross(u, uv)
    return v + 2.0 * (w * uv + uuv)


def qinverse(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions ``(..., 4)`` (``w, x, y, z``): the conjugate ``(w, -x, -y, -z)``."""
    q = np.asarray(q)
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype if q.dtype.kind == "f" else None)


def _random_quaternions(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _camera(**overrides) -> Camera:
    values = dict(id="cam", res_w=1000, res_h=1002, fx=1100.0, fy=1150.0, cx=510.0, cy=495.0,
                  k=(0.0, 0.0, 0.0), p=(0.0, 0.0), orientation=(1.0, 0.0, 0.0, 0.0),
                  translation=(0.0, 0.0, 0.0))
    values.update(overrides)
    return Camera(**values)


# ---- screen normalisation ---------------------------------------------------------------------

def test_normalize_screen_hand_values():
    uv = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    xy = normalize_screen(uv, 1000, 1002)
    np.testing.assert_allclose(xy, [[-1.0, -1.002], [1.0, 1.002], [0.0, 0.0]], atol=1e-12)


def test_normalize_screen_round_trip():
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 1000, size=(7, 17, 2))
    np.testing.assert_allclose(unnormalize_screen(normalize_screen(uv, 1000, 1002), 1000, 1002), uv, atol=1e-9)
    cam = _camera()
    np.testing.assert_allclose(cam.unnormalize(cam.normalize(uv)), uv, atol=1e-9)


def test_normalize_screen_keeps_float32_and_rejects_bad_input():
    uv = np.zeros((3, 2), dtype=np.float32)
    assert normalize_screen(uv, 10, 10).dtype == np.float32
    with pytest.raises(ValueError, match="image size"):
        normalize_screen(uv, 0, 10)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        normalize_screen(np.zeros((3, 3)), 10, 10)


# ---- quaternions --------------------------------------------------------------------------------

def test_qrot_hand_value_90_degrees_about_z():
    q = np.array([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)])
    np.testing.assert_allclose(qrot(q, np.array([1.0, 0.0, 0.0])), [0.0, 1.0, 0.0], atol=1e-12)


def test_qrot_matches_rotation_matrix():
    rng = np.random.default_rng(1)
    q = _random_quaternions(rng, 50)
    v = rng.normal(size=(50, 3))
    r = quaternion_to_matrix(q)  # (50, 3, 3)
    np.testing.assert_allclose(qrot(q, v), np.einsum("nij,nj->ni", r, v), atol=1e-12)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_qinverse_undoes_qrot():
    rng = np.random.default_rng(2)
    q = _random_quaternions(rng, 20)
    v = rng.normal(size=(20, 3))
    np.testing.assert_allclose(qrot(qinverse(q), qrot(q, v)), v, atol=1e-12)


# ---- cameras ------------------------------------------------------------------------------------

def test_world_camera_round_trip_and_centre():
    rng = np.random.default_rng(3)
    q = _random_quaternions(rng, 1)[0]
    cam = _camera(orientation=tuple(q), translation=(1.5, -2.0, 1.2))
    x = rng.normal(size=(4, 17, 3))
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(x)), x, atol=1e-12)
    np.testing.assert_allclose(cam.world_to_camera(np.array(cam.translation)), 0.0, atol=1e-12)
    # R^T (X - t) equals rotating by the inverse quaternion (VideoPose3D's formulation).
    expected = qrot(np.broadcast_to(qinverse(q), x.shape[:-1] + (4,)), x - np.array(cam.translation))
    np.testing.assert_allclose(cam.world_to_camera(x), expected, atol=1e-12)


def test_project_pinhole_hand_value():
    cam = _camera()
    uv = cam.project(np.array([1.0, 2.0, 4.0]))  # x = 0.25, y = 0.5
    np.testing.assert_allclose(uv, [1100 * 0.25 + 510, 1150 * 0.5 + 495], atol=1e-12)


def test_project_distortion_hand_value():
    cam = _camera(k=(0.1, 0.01, 0.001), p=(0.002, -0.003))
    x, y = 0.25, 0.5
    r2 = x * x + y * y
    radial = 1 + 0.1 * r2 + 0.01 * r2 ** 2 + 0.001 * r2 ** 3
    tan = 0.002 * x - 0.003 * y
    xd, yd = x * (radial + tan) + 0.002 * r2, y * (radial + tan) - 0.003 * r2
    np.testing.assert_allclose(cam.project(np.array([1.0, 2.0, 4.0])),
                               [1100 * xd + 510, 1150 * yd + 495], atol=1e-10)


def test_project_clamps_far_off_axis_points():
    cam = _camera()
    np.testing.assert_allclose(cam.project(np.array([50.0, -80.0, 1.0])), [1100 + 510, -1150 + 495])


def test_camera_from_dict_and_errors():
    intr = dict(id="x", res_w=10, res_h=12, fx=5.0, fy=6.0, cx=5.0, cy=6.0, k=[0, 0, 0], p=[0, 0])
    extr = dict(orientation=[1, 0, 0, 0], translation_m=[1, 2, 3])
    cam = Camera.from_dict(intr, extr)
    assert cam.translation == (1.0, 2.0, 3.0) and cam.image_size == (10, 12)
    assert Camera.from_dict(cam.to_dict(), cam.to_dict()) == cam
    with pytest.raises(ValueError, match="fx"):
        Camera.from_dict({k: v for k, v in intr.items() if k != "fx"}, extr)
    with pytest.raises(ValueError, match="translation_m"):
        Camera.from_dict(intr, {"orientation": [1, 0, 0, 0]})
    with pytest.raises(ValueError, match="'k'"):
        Camera.from_dict({**intr, "k": [0, 0]}, extr)
    with pytest.raises(ValueError, match="res_w"):
        Camera.from_dict({**intr, "res_w": 0}, extr)


@pytest.mark.parametrize("field, value, match", [
    ("res_w", None, "'res_w': expected a number, found None"),      # was TypeError
    ("res_w", [1000], "'res_w': expected a number"),                 # was TypeError
    ("res_w", True, "'res_w': expected a number, found True"),       # was accepted as 1
    ("res_w", float("inf"), "'res_w': expected a finite number"),    # was OverflowError
    ("res_w", 1e300, r"res_w must be within \+-1e\+06 pixels"),    # was accepted
    ("fx", None, "'fx': expected a number"),                          # was TypeError
    ("fx", {"a": 1}, "'fx': expected a number"),                      # was TypeError
    ("cx", 1e300, r"cx must be within \+-1e\+06 pixels"),
    ("k", 0.1, "'k': expected a list of 3 numbers, found 0.1"),       # was TypeError
    ("k", None, "'k': expected a list of 3 numbers"),                 # was TypeError
    ("k", "abc", "'k': expected a list of 3 numbers, found 'abc'"),
    ("k", [1e300, 0, 0], "k must be within"),                         # projection overflowed to inf
    ("p", [None, 0], "'p': expected a number, found None"),
    ("orientation", 1, "'orientation': expected a list of 4 numbers"),
    ("orientation", [1e300] * 4, "orientation must be within"),       # normalised to a zero rotation
    ("translation", [1e30, 0, 0], r"translation must be within \+-1e\+06 metres"),
])
def test_camera_fields_of_the_wrong_type_or_size(field, value, match):
    """Found by tests/test_properties.py on mutated cameras.json tables."""
    with pytest.raises(ValueError, match=match) as info:
        _camera(**{field: value})
    assert type(info.value) is ValueError


def _max_reprojection_error(directory) -> float:
    p3 = read_positions_3d(directory / "data_3d_cmu.npz")
    p2, _ = read_positions_2d(directory / "data_2d_cmu_gt.npz")
    cameras = read_cameras(directory / "cameras.json")
    worst = 0.0
    for subject, actions in p3.items():
        for action, world in actions.items():
            for c, cam in enumerate(cameras[subject]):
                uv = cam.project(cam.world_to_camera(world))
                worst = max(worst, float(np.abs(uv - p2[subject][action][c][: len(world)]).max()))
    return worst


def test_projection_reproduces_gt_2d_on_mini(mini_dir):
    assert _max_reprojection_error(mini_dir) < 0.01


def test_projection_reproduces_gt_2d_on_full_benchmark(cmu_dir):
    assert _max_reprojection_error(cmu_dir) < 0.01


# ---- root-relative and flips --------------------------------------------------------------------

def test_root_relative():
    x = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3)
    out = root_relative(x)
    np.testing.assert_array_equal(out[:, 0], 0.0)
    np.testing.assert_array_equal(out[:, 5], x[:, 5] - x[:, 0])
    with pytest.raises(ValueError):
        root_relative(x, root=17)


@pytest.mark.parametrize("flip, channels", [(flip_2d, 2), (flip_3d, 3)])
def test_flip_twice_is_identity_numpy_and_torch(flip, channels):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 5, 17, channels)).astype(np.float32)
    np.testing.assert_array_equal(flip(flip(x, H36M17), H36M17), x)
    t = torch.from_numpy(x).requires_grad_(True)
    out = flip(flip(t, H36M17), H36M17)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, t)
    out.sum().backward()  # differentiable (flip augmentation inside the graph)
    assert t.grad is not None


def test_flip_swaps_named_joints_and_negates_x():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(17, 3))
    f = flip_3d(x, H36M17)
    names = H36M17.names
    for left, right in [("LHip", "RHip"), ("LWrist", "RWrist"), ("LShoulder", "RShoulder")]:
        li, ri = names.index(left), names.index(right)
        np.testing.assert_array_equal(f[li], [-x[ri, 0], x[ri, 1], x[ri, 2]])
        np.testing.assert_array_equal(f[ri], [-x[li, 0], x[li, 1], x[li, 2]])
    for centre in ("Hip", "Spine", "Thorax", "Neck/Nose", "Head"):
        j = names.index(centre)
        np.testing.assert_array_equal(f[j], [-x[j, 0], x[j, 1], x[j, 2]])
    f2 = flip_2d(torch.from_numpy(x[:, :2]), H36M17)
    torch.testing.assert_close(f2[names.index("LKnee")], torch.tensor([-x[2, 0], x[2, 1]]))


def test_flip_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 2\)"):
        flip_2d(np.zeros((16, 2)), H36M17)
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        flip_3d(torch.zeros(17, 2), H36M17)


@pytest.mark.parametrize("roll", [-25.0, -3.0, 0.0, 12.5, 40.0])
def test_camera_roll_and_levelled_keypoints(roll):
    from skelgnn.geometry import camera_roll_deg, roll_matrix
    from skelgnn.infer.lifter import level_keypoints

    turn = roll_matrix(roll)
    np.testing.assert_allclose(turn @ turn.T, np.eye(3), atol=1e-12)
    assert camera_roll_deg(turn @ np.array([0.0, -1.0, 0.0])) == pytest.approx(roll)
    # a rolled pinhole camera's pixels, levelled, are the level camera's pixels
    pts = np.random.default_rng(1).normal([0, 0, 4], [0.6, 0.9, 0.3], (30, 3))
    f, c = 1100.0, np.array([640.0, 360.0])

    def project(x):
        return x[:, :2] / x[:, 2:] * f + c
    np.testing.assert_allclose(level_keypoints(project(pts @ turn.T), roll, (1280, 720)),
                               project(pts), atol=1e-9)


def test_sideways_tilt_is_the_roll_seen_through_the_pitch():
    import math

    from skelgnn.geometry import camera_roll_deg, sideways_tilt_deg

    for roll, pitch in ((0.0, 0.0), (10.0, 0.0), (-10.0, 50.0), (13.4, 23.1)):
        r, p = math.radians(roll), math.radians(pitch)
        up = np.array([math.sin(r) * math.cos(p), -math.cos(r) * math.cos(p), -math.sin(p)])
        assert camera_roll_deg(up) == pytest.approx(roll)
        want = math.degrees(math.asin(abs(math.sin(r)) * math.cos(p)))
        assert sideways_tilt_deg(3.0 * up) == pytest.approx(want)  # any length
    # a camera 55 degrees down: 3 degrees of noise across up reads as a 5-degree roll, not a tilt
    p = math.radians(55.0)
    noisy = np.array([math.sin(math.radians(3.0)), -math.cos(p), -math.sin(p)])
    assert camera_roll_deg(noisy) > 5.0 > sideways_tilt_deg(noisy)
    with pytest.raises(ValueError, match="non-zero"):
        sideways_tilt_deg(np.zeros(3))


def test_camera_pitch_is_how_far_the_camera_looks_down():
    import math

    from skelgnn.geometry import camera_pitch_deg

    for roll, pitch in ((0.0, 0.0), (10.0, 30.0), (-10.0, 50.0), (13.4, 23.1), (0.0, -12.0)):
        r, p = math.radians(roll), math.radians(pitch)
        up = np.array([math.sin(r) * math.cos(p), -math.cos(r) * math.cos(p), -math.sin(p)])
        assert camera_pitch_deg(2.0 * up) == pytest.approx(pitch)  # any length, any roll
    with pytest.raises(ValueError, match="non-zero"):
        camera_pitch_deg(np.zeros(3))
