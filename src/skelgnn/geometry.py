"""Camera and pose geometry: screen normalisation, quaternions, Human3.6M cameras, flips.

Pure maths on numpy arrays (the flips also accept ``torch.Tensor``). Every function says which
space its input lives in:

* **pixels** -- image coordinates, origin top-left, ``u`` right, ``v`` down;
* **screen** -- VideoPose3D's normalised image coordinates ``x = 2u/W - 1``, ``y = 2v/W - H/W``
  (the width maps to ``[-1, 1]``, the aspect ratio is kept);
* **world** -- metres, the mocap frame (Z up on the CMU benchmark);
* **camera** -- metres, ``X`` right, ``Y`` down, ``Z`` forward along the optical axis.

Shape letters: ``F`` frames, ``J`` joints; ``...`` any leading dimensions.

The camera model (quaternion extrinsics, 3 radial + 2 tangential distortion coefficients applied
to clamped normalised coordinates) follows the idea of VideoPose3D's ``common/camera.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

import numpy as np

from skelgnn.skeleton import Skeleton

__all__ = [
    "camera_roll_deg",
    "roll_matrix",
    "normalize_screen",
    "unnormalize_screen",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "Camera",
    "flip_2d",
    "flip_3d",
    "COORDINATE_LIMIT",
]

ArrayT = TypeVar("ArrayT")

COORDINATE_LIMIT = 1e6
"""Largest magnitude accepted for a coordinate read from outside (pixels or metres) and for a
camera's image side, focal length, principal point or translation. No real image or capture
volume comes near it; beyond it values are corrupt or in the wrong unit, and float32 arithmetic
(squared distances) starts to overflow."""


def _check_size(w: float, h: float) -> None:
    if not (w > 0 and h > 0):
        raise ValueError(f"image size must be positive, got width={w}, height={h}")


def _check_last_dim(x: Any, n: int, name: str) -> None:
    if x.ndim < 1 or x.shape[-1] != n:
        raise ValueError(f"{name}: expected shape (..., {n}), found {tuple(x.shape)}")


def normalize_screen(uv: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels -> screen coordinates: ``x = 2u/W - 1``, ``y = 2v/W - H/W``.

    Args:
        uv: pixel coordinates ``(..., 2)``.
        w, h: image width and height in pixels.

    Returns:
        ``(..., 2)`` screen coordinates, float64 for integer input, else the input's float dtype.
    """
    uv = np.asarray(uv)
    _check_last_dim(uv, 2, "normalize_screen")
    _check_size(w, h)
    if not np.issubdtype(uv.dtype, np.floating):
        uv = uv.astype(np.float64)
    offset = np.array([1.0, h / w], dtype=uv.dtype)
    return (uv * (2.0 / w) - offset).astype(uv.dtype, copy=False)


def unnormalize_screen(xy: np.ndarray, w: float, h: float) -> np.ndarray:
    """Screen coordinates -> pixels, the inverse of :func:`normalize_screen`:
    ``u = (x + 1) W / 2``, ``v = (y + H/W) W / 2``."""
    xy = np.asarray(xy)
    _check_last_dim(xy, 2, "unnormalize_screen")
    _check_size(w, h)
    if not np.issubdtype(xy.dtype, np.floating):
        xy = xy.astype(np.float64)
    offset = np.array([1.0, h / w], dtype=xy.dtype)
    return ((xy + offset) * (w / 2.0)).astype(xy.dtype, copy=False)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` (``w, x, y, z``), float64.

    The quaternion is normalised first, so a slightly non-unit input (float32 storage) still
    gives an orthonormal matrix.
    """
    q = np.asarray(q, dtype=np.float64)
    _check_last_dim(q, 4, "quaternion_to_matrix")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("quaternion_to_matrix: zero quaternion has no rotation")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)  # (..., 3, 3)


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` of a rotation matrix ``(3, 3)`` (Shepperd's method: the
    largest of ``w, x, y, z`` is taken from the trace or a diagonal element, the rest from the
    off-diagonal sums / differences); the inverse of :func:`quaternion_to_matrix`
    up to sign (``w >= 0`` is returned)."""
    m = np.asarray(r, dtype=np.float64)
    t = np.trace(m)
    if t > max(m[0, 0], m[1, 1], m[2, 2]):
        s = 2.0 * math.sqrt(1.0 + t)
        q = np.array([s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-300))
        q = np.empty(4)
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = s / 4
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = q / np.linalg.norm(q)
    return q if q[0] >= 0 else -q

def _real(value: Any, name: str) -> float:
    """One finite real number (a bool, None, list or non-numeric string is an error)."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise ValueError(f"camera field {name!r}: expected a number, found {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"camera field {name!r}: expected a number, found {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"camera field {name!r}: expected a finite number, found {out}")
    return out


def _floats(value: Any, n: int, name: str) -> tuple[float, ...]:
    try:
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError
        items = list(value)
    except TypeError:  # a number, None, a 0-d array...
        raise ValueError(f"camera field {name!r}: expected a list of {n} numbers, found {value!r}") from None
    if len(items) != n:
        raise ValueError(f"camera field {name!r}: expected {n} numbers, found {len(items)}")
    return tuple(_real(x, name) for x in items)


def _check_magnitude(camera: str, name: str, values: tuple[float, ...], unit: str) -> None:
    if any(abs(v) > COORDINATE_LIMIT for v in values):
        raise ValueError(f"camera {camera}: {name} must be within +-{COORDINATE_LIMIT:g}{unit}, "
                         f"found {values if len(values) > 1 else values[0]}; is the table in "
                         "the right units?")


@dataclass(frozen=True)
class Camera:
    """One calibrated camera: Human3.6M intrinsics with distortion, plus extrinsics.

    Attributes:
        id: camera identifier (Human3.6M serial number).
        res_w, res_h: image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        k: radial distortion ``(k1, k2, k3)``.
        p: tangential distortion ``(p1, p2)``.
        orientation: quaternion ``(w, x, y, z)`` rotating camera axes into the world frame.
        translation: camera centre in world metres.
    """

    id: str
    res_w: int
    res_h: int
    fx: float
    fy: float
    cx: float
    cy: float
    k: tuple[float, float, float]
    p: tuple[float, float]
    orientation: tuple[float, float, float, float]
    translation: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))
        for name in ("res_w", "res_h"):
            value = getattr(self, name)
            number = _real(value, name)
            if isinstance(value, str) or not number.is_integer() or number <= 0:
                raise ValueError(f"camera {self.id}: {name} must be a positive integer, found {value!r}")
            _check_magnitude(self.id, name, (number,), " pixels")
            object.__setattr__(self, name, int(number))
        for name in ("fx", "fy", "cx", "cy"):
            value = _real(getattr(self, name), name)
            _check_magnitude(self.id, name, (value,), " pixels")
            object.__setattr__(self, name, value)
        if self.fx == 0 or self.fy == 0:
            raise ValueError(f"camera {self.id}: focal lengths must be non-zero, found fx={self.fx}, fy={self.fy}")
        object.__setattr__(self, "k", _floats(self.k, 3, "k"))
        object.__setattr__(self, "p", _floats(self.p, 2, "p"))
        object.__setattr__(self, "orientation", _floats(self.orientation, 4, "orientation"))
        object.__setattr__(self, "translation", _floats(self.translation, 3, "translation"))
        _check_magnitude(self.id, "translation", self.translation, " metres")
        for name in ("k", "p", "orientation"):  # huge values overflow projection / normalisation
            _check_magnitude(self.id, name, getattr(self, name), "")
        if math.fsum(x * x for x in self.orientation) == 0:
            raise ValueError(f"camera {self.id}: orientation quaternion is zero")

    @classmethod
    def from_dict(cls, intrinsics: Mapping[str, Any], extrinsics: Mapping[str, Any]) -> "Camera":
        """Build from one ``intrinsics`` entry and one ``extrinsics`` entry of a ``cameras.json``
        table (keys ``id, res_w, res_h, fx, fy, cx, cy, k, p`` and ``orientation,
        translation_m``; ``translation`` is accepted as an alias of ``translation_m``)."""
        missing = [key for key in ("id", "res_w", "res_h", "fx", "fy", "cx", "cy", "k", "p")
                   if key not in intrinsics]
        if missing:
            raise ValueError(f"camera intrinsics: missing keys {missing}; found {sorted(intrinsics)}")
        if "orientation" not in extrinsics:
            raise ValueError(f"camera extrinsics: missing key 'orientation'; found {sorted(extrinsics)}")
        if "translation_m" in extrinsics:
            translation = extrinsics["translation_m"]
        elif "translation" in extrinsics:
            translation = extrinsics["translation"]
        else:
            raise ValueError(f"camera extrinsics: missing key 'translation_m'; found {sorted(extrinsics)}")
        return cls(
            id=intrinsics["id"], res_w=intrinsics["res_w"], res_h=intrinsics["res_h"],
            fx=intrinsics["fx"], fy=intrinsics["fy"], cx=intrinsics["cx"], cy=intrinsics["cy"],
            k=intrinsics["k"], p=intrinsics["p"],  # __post_init__ checks and converts
            orientation=extrinsics["orientation"], translation=translation,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the intrinsics keys plus ``orientation`` and ``translation_m``)."""
        return {
            "id": self.id, "res_w": self.res_w, "res_h": self.res_h,
            "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
            "k": list(self.k), "p": list(self.p),
            "orientation": list(self.orientation), "translation_m": list(self.translation),
        }

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.res_w, self.res_h

    @property
    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation matrix ``R`` ``(3, 3)``, float64."""
        return quaternion_to_matrix(np.array(self.orientation))

    def world_to_camera(self, x_world: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` -> camera frame ``R^T (X - t)``, float64."""
        x_world = np.asarray(x_world, dtype=np.float64)
        _check_last_dim(x_world, 3, "world_to_camera")
        # Row vectors: (R^T (X - t))^T = (X - t)^T R.
        return (x_world - np.array(self.translation)) @ self.rotation

    def camera_to_world(self, x_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> world ``R X + t``, float64."""
        x_cam = np.asarray(x_cam, dtype=np.float64)
        _check_last_dim(x_cam, 3, "camera_to_world")
        return x_cam @ self.rotation.T + np.array(self.translation)

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` (metres) -> distorted pixels ``(..., 2)``, float64.

        The Human3.6M model as VideoPose3D applies it: ``x, y = clamp(X/Z, -1, 1),
        clamp(Y/Z, -1, 1)``; ``r2 = x^2 + y^2``; ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``;
        ``tan = p1 x + p2 y``; ``x' = x (radial + tan) + p1 r2``, ``y' = y (radial + tan) + p2 r2``;
        ``u = fx x' + cx``, ``v = fy y' + cy``. Points must lie in front of the camera (Z > 0);
        the clamp keeps far-off-axis points from blowing up through the polynomial.
        """
        x_cam = np.asarray(x_cam, dtype=np.float64)
        _check_last_dim(x_cam, 3, "project")
        xy = np.clip(x_cam[..., :2] / x_cam[..., 2:3], -1.0, 1.0)  # (..., 2)
        r2 = np.sum(xy * xy, axis=-1, keepdims=True)  # (..., 1)
        k1, k2, k3 = self.k
        p = np.array(self.p)
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        tan = xy @ p  # (...,)
        xy_d = xy * (radial + tan[..., None]) + p * r2
        return xy_d * np.array([self.fx, self.fy]) + np.array([self.cx, self.cy])

    def normalize(self, uv: np.ndarray) -> np.ndarray:
        """Pixels -> screen coordinates at this camera's resolution (:func:`normalize_screen`)."""
        return normalize_screen(uv, self.res_w, self.res_h)

    def unnormalize(self, xy: np.ndarray) -> np.ndarray:
        """Screen coordinates -> pixels at this camera's resolution (:func:`unnormalize_screen`)."""
        return unnormalize_screen(xy, self.res_w, self.res_h)


def _flip(x_in: ArrayT, skeleton: Skeleton, channels: int, name: str) -> ArrayT:
    x: Any = x_in
    if not hasattr(x, "new_tensor"):  # numpy (or array-like); torch tensors pass through
        x = np.asarray(x)
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-1] != channels or shape[-2] != skeleton.num_joints:
        raise ValueError(
            f"{name}: expected shape (..., {skeleton.num_joints}, {channels}), found {shape}")
    perm = skeleton.flip_permutation()
    sign = np.ones(channels, dtype=np.float32)
    sign[0] = -1.0
    if hasattr(x, "new_tensor"):
        import torch  # only reached when a tensor was passed, so torch is already loaded

        index = torch.as_tensor(perm, device=x.device)
        return x.index_select(-2, index) * x.new_tensor(sign)  # (..., J, C)
    return x[..., perm, :] * sign.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def flip_2d(x: ArrayT, skeleton: Skeleton) -> ArrayT:
    """Horizontal flip of screen-normalised 2D poses ``(..., J, 2)``: negate ``x`` and swap every
    left joint with its right partner. Works on numpy arrays and torch tensors; flipping twice is
    the identity. Only meaningful in a space centred on ``x = 0`` (screen or box coordinates)."""
    return _flip(x, skeleton, 2, "flip_2d")


def flip_3d(x: ArrayT, skeleton: Skeleton) -> ArrayT:
    """Horizontal flip of camera-frame 3D poses ``(..., J, 3)``: negate ``X`` and swap left and
    right joints (the 3D counterpart of :func:`flip_2d`). Numpy or torch."""
    return _flip(x, skeleton, 3, "flip_3d")


def camera_roll_deg(up: np.ndarray) -> float:
    """A camera's roll about its optical axis (degrees) from the world's up direction in its
    coordinates (x right, y down, z forward): 0 when up projects straight up the image,
    positive when it leans towards +x."""
    u = np.asarray(up, dtype=np.float64)
    return math.degrees(math.atan2(u[0], -u[1]))


def camera_pitch_deg(up: np.ndarray) -> float:
    """How far a camera looks down (degrees; negative: up) from the world's up direction in its
    coordinates (x right, y down, z forward): the angle of the optical axis below the horizon."""
    u = np.asarray(up, dtype=np.float64)
    norm = float(np.linalg.norm(u))
    if not norm > 0:
        raise ValueError("camera_pitch_deg: up must be a non-zero direction")
    return math.degrees(math.asin(max(-1.0, min(1.0, -float(u[2]) / norm))))


def sideways_tilt_deg(up: np.ndarray) -> float:
    """How far the world's up leans sideways out of the camera's ``y-z`` plane, degrees (``asin``
    of its ``x`` component): ``sin(roll) cos(pitch)`` for a camera rolled by ``roll`` and pitched
    by ``pitch``. Unlike :func:`camera_roll_deg` it does not grow as a steep camera's image-plane
    share of up (``cos(pitch)``) shrinks, so an estimated up's noise does not read as a roll."""
    u = np.asarray(up, dtype=np.float64)
    norm = float(np.linalg.norm(u))
    if not norm > 0:
        raise ValueError("sideways_tilt_deg: up must be a non-zero direction")
    return math.degrees(math.asin(min(1.0, abs(float(u[0])) / norm)))


def roll_matrix(roll_deg: float) -> np.ndarray:
    """The rotation about the optical axis (camera z) by ``roll_deg`` degrees, ``(3, 3)``: it takes
    the level camera's coordinates to those of the camera rolled by ``roll_deg``
    (:func:`camera_roll_deg` of ``roll_matrix(r) @ (0, -1, 0)`` is ``r``)."""
    a = math.radians(roll_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
