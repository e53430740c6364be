"""Global root trajectory: where the person is in the camera frame, from 2D + lifted 3D.

A lifter returns a root-relative pose ``P_j`` (camera axes, metres). Its 2D keypoints ``(u_j,
v_j)`` fix where that pose sits: the root position ``T = (X, Y, Z)`` that makes the pinhole
projection of ``P_j + T`` land on the keypoints. Per frame, with normalised image coordinates
``a_j = (u_j - cx) / fx`` and ``b_j = (v_j - cy) / fy``:

* **full perspective**: ``a_j = (x_j + X) / (z_j + Z)`` rearranges to the linear equations
  ``X - a_j Z = a_j z_j - x_j`` and ``Y - b_j Z = b_j z_j - y_j`` (two per joint, three unknowns),
  solved by weighted least squares (the geometric idea VideoPose3D and MotionBERT use to place
  a root-relative pose; written here as one small normal-equation solve per frame);
* **weak perspective**: all joints share the root's depth, ``a_j = (x_j + X) / Z``, i.e.
  ``a_j = s x_j + s X`` with ``s = 1 / Z``; a linear fit of ``(s, sX, sY)`` gives ``Z = 1 / s``.

The answer is in metres only as far as the pose is: scaling the pose by ``k`` scales ``T`` by
``k`` (the equations are homogeneous in ``(P, T)``), so a lifter that makes people 10 % too small
puts them 10 % too close. ``scale`` multiplies the pose first (e.g. known height / lifted
height). When the focal length is unknown, :func:`default_intrinsics` assumes a pinhole camera
with its principal point at the image centre and ``f = sqrt(W^2 + H^2)`` pixels -- a diagonal
field of view of ``2 atan(1/2) = 53.1`` degrees, the assumption CLIFF and later whole-image human
mesh methods make for unknown phone/web cameras (Human3.6M's cameras: about 47 degrees
horizontal).

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from skelgnn.geometry import Camera

__all__ = [
    "DEFAULT_DIAGONAL_FOV_DEG",
    "Intrinsics",
    "default_intrinsics",
    "undistort_points",
    "solve_translation",
    "estimate_trajectory",
    "align_scale",
]

DEFAULT_DIAGONAL_FOV_DEG = math.degrees(2.0 * math.atan(0.5))
"""Diagonal field of view assumed when the focal length is unknown (53.13 degrees), i.e.
``f = sqrt(W^2 + H^2)`` pixels."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels: focal lengths ``fx, fy`` and principal point ``cx, cy``."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"intrinsics: {name} must be finite, found {value}")
            object.__setattr__(self, name, value)
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"intrinsics: focal lengths must be positive, found fx={self.fx}, "
                             f"fy={self.fy}")

    @classmethod
    def from_camera(cls, camera: Camera) -> "Intrinsics":
        return cls(camera.fx, camera.fy, camera.cx, camera.cy)


FOCAL_RANGE = 100.0
"""A focal length must lie within this factor of the image diagonal (fields of view from 179.4
to 0.6 degrees); beyond, the trajectory's arithmetic under- or overflows."""


def default_intrinsics(image_size: tuple[float, float], focal: Optional[float] = None) -> Intrinsics:
    """Intrinsics of a ``(W, H)`` image: principal point at the centre, focal ``focal`` pixels
    (``fx = fy``) or, when ``None``, ``sqrt(W^2 + H^2)`` (:data:`DEFAULT_DIAGONAL_FOV_DEG`)."""
    w, h = (float(v) for v in image_size)
    if not (w > 0 and h > 0):
        raise ValueError(f"image size must be positive, found {w} x {h}")
    f = math.hypot(w, h) if focal is None else float(focal)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"--focal must be a positive number of pixels, found {focal}")
    diagonal = math.hypot(w, h)
    if not diagonal / FOCAL_RANGE <= f <= diagonal * FOCAL_RANGE:
        raise ValueError(f"--focal {focal:g} is not a camera's focal length for a {w:g} x {h:g} "
                         f"image: it must lie between {diagonal / FOCAL_RANGE:.4g} and "
                         f"{diagonal * FOCAL_RANGE:.4g} pixels (1/{FOCAL_RANGE:g} to {FOCAL_RANGE:g} "
                         "times the image diagonal)")
    return Intrinsics(f, f, w / 2.0, h / 2.0)


def undistort_points(uv: np.ndarray, camera: Camera, iterations: int = 20) -> np.ndarray:
    """Distorted pixels ``(..., 2)`` -> ideal pinhole pixels of ``camera`` (same ``fx, fy, cx,
    cy``), inverting :meth:`Camera.project`'s radial + tangential model by fixed-point iteration
    ``x <- (x_d - tangential(x)) / radial(x)`` (converges for the mild distortion of real lenses;
    Human3.6M's moves points by at most a few pixels)."""
    uv = np.asarray(uv, dtype=np.float64)
    xd = (uv - np.array([camera.cx, camera.cy])) / np.array([camera.fx, camera.fy])
    k1, k2, k3 = camera.k
    p = np.array(camera.p)
    x = xd.copy()
    for _ in range(iterations):
        r2 = np.sum(x * x, axis=-1, keepdims=True)
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        tan = (x @ p)[..., None]
        x = (xd - p * r2) / (radial + tan)
    return x * np.array([camera.fx, camera.fy]) + np.array([camera.cx, camera.cy])


def solve_translation(poses: np.ndarray, uv: np.ndarray, intrinsics: Intrinsics,
                      weights: Optional[np.ndarray] = None,
                      model: str = "perspective") -> np.ndarray:
    """Root position per frame that best projects ``poses + T`` onto ``uv``.

    Args:
        poses: ``(F, J, 3)`` root-relative camera-frame poses (``X`` right, ``Y`` down, ``Z``
            forward), metres.
        uv: ``(F, J, 2)`` ideal pinhole pixels (undistorted).
        intrinsics: the camera's pinhole intrinsics.
        weights: ``(F, J)`` non-negative joint weights (detector scores), default 1.
        model: ``"perspective"`` (exact pinhole, linearised as in the module docstring) or
            ``"weak"`` (one depth for all joints).

    Returns:
        ``(F, 3)`` float64 root positions ``T`` in the camera frame, metres.
    """
    poses = np.asarray(poses, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[-1] != 3 or uv.shape != poses.shape[:2] + (2,):
        raise ValueError(f"solve_translation: expected poses (F, J, 3) and uv (F, J, 2), found "
                         f"{poses.shape} and {uv.shape}")
    f_, j_ = poses.shape[:2]
    w = np.ones((f_, j_)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (f_, j_) or not np.all(w >= 0):
        raise ValueError(f"solve_translation: weights must be (F, J) = {(f_, j_)} and >= 0")
    w = np.where(np.isfinite(uv).all(-1), w, 0.0)
    if np.any(w.sum(-1) == 0):
        raise ValueError("solve_translation: a frame has no usable joint (all weights zero)")
    ab = (np.nan_to_num(uv) - [intrinsics.cx, intrinsics.cy]) / [intrinsics.fx, intrinsics.fy]
    a, b = ab[..., 0], ab[..., 1]  # (F, J)
    x, y, z = poses[..., 0], poses[..., 1], poses[..., 2]
    zeros, ones = np.zeros_like(a), np.ones_like(a)
    if model == "perspective":
        # Rows [1, 0, -a] T = a z - x and [0, 1, -b] T = b z - y; unknowns (X, Y, Z).
        rows = np.concatenate([np.stack([ones, zeros, -a], -1),
                               np.stack([zeros, ones, -b], -1)], axis=1)  # (F, 2J, 3)
        rhs = np.concatenate([a * z - x, b * z - y], axis=1)  # (F, 2J)
    elif model == "weak":
        # Rows [x, 1, 0] (s, sX, sY) = a and [y, 0, 1] (s, sX, sY) = b.
        rows = np.concatenate([np.stack([x, ones, zeros], -1),
                               np.stack([y, zeros, ones], -1)], axis=1)  # (F, 2J, 3)
        rhs = np.concatenate([a, b], axis=1)
    else:
        raise ValueError(f"solve_translation: model must be 'perspective' or 'weak', found {model!r}")
    ww = np.concatenate([w, w], axis=1)  # (F, 2J)
    ata = np.einsum("fk,fki,fkj->fij", ww, rows, rows)  # (F, 3, 3)
    atb = np.einsum("fk,fki,fk->fi", ww, rows, rhs)  # (F, 3)
    sol = np.linalg.solve(ata + 1e-12 * np.eye(3), atb[..., None])[..., 0]  # (F, 3)
    if model == "weak":
        s = sol[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            sol = np.stack([sol[:, 1] / s, sol[:, 2] / s, 1.0 / s], axis=-1)
    return sol


def estimate_trajectory(poses: np.ndarray, uv: np.ndarray, image_size: tuple[float, float],
                        focal: Optional[float] = None, weights: Optional[np.ndarray] = None,
                        scale: float = 1.0, model: str = "perspective",
                        intrinsics: Optional[Intrinsics] = None) -> np.ndarray:
    """:func:`solve_translation` with ``poses`` multiplied by ``scale`` and intrinsics from
    ``intrinsics`` if given, else :func:`default_intrinsics` of ``image_size`` and ``focal``.

    Returns:
        ``(F, 3)`` float64 camera-frame root positions; ``poses * scale + T[:, None]`` is the
        absolute camera-frame pose.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive, found {scale}")
    intr = intrinsics if intrinsics is not None else default_intrinsics(image_size, focal)
    return solve_translation(np.asarray(poses, dtype=np.float64) * scale, uv, intr, weights, model)


def align_scale(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """Best single scale ``s = <p, t> / <p, p>`` (least squares over all of ``(..., 3)``)
    applied to ``pred``: the trajectory error left once the scale ambiguity of monocular
    lifting is removed. Returns ``(s * pred, s)``."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    denom = float(np.sum(pred * pred))
    s = float(np.sum(pred * target)) / denom if denom > 0 else 1.0
    return pred * s, s
