"""Scores of a world frame against a known vertical: up error, standing foot, heading-aligned
world MPJPE.

For footage with 3D ground truth in a gravity-aligned frame (mocap seen through a virtual camera,
a calibrated multi-view rig whose world ``z`` is up):

* :func:`up_error_deg`: the angle between the predicted and the true up direction, both in camera
  coordinates (for a world -> camera rotation ``R`` with world ``z`` up, the true up is ``R[:, 2]``);
* :func:`standing_foot_right`: the fraction of frames where the lower foot of the prediction
  (world ``y`` up) is the truly lower foot, over the frames where the true feet differ in height
  by more than ``min_gap`` (5 cm): whether the world's up is good enough to tell which leg
  carries the person;
* :func:`heading_aligned_mpjpe`: the mean joint error of root-relative world-frame poses after one
  rotation about the vertical per clip (the heading, which a camera-facing world frame cannot
  know): what is left measures the world's tilt and the pose together;
* :func:`path_error`: the mean distance between the predicted and the true horizontal path of the
  root after one rotation about the vertical and one shift per clip: how well the trajectory
  follows the person across the floor (its jitter and drift), whatever the heading and start.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import numpy as np

__all__ = ["up_error_deg", "standing_foot_right", "heading_aligned_mpjpe", "path_error",
           "z_up_to_y_up"]


def up_error_deg(pred_up: np.ndarray, true_up: np.ndarray) -> float:
    """Angle in degrees between two ``(3,)`` directions."""
    a = np.asarray(pred_up, dtype=np.float64)
    b = np.asarray(true_up, dtype=np.float64)
    if a.shape != (3,) or b.shape != (3,):
        raise ValueError(f"up_error_deg: expected two (3,) directions, found {a.shape}, {b.shape}")
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """Points ``(..., 3)`` of a z-up world in a right-handed y-up world: ``(x, z, -y)``."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def standing_foot_right(pred_heights: np.ndarray, true_heights: np.ndarray,
                        min_gap: float = 0.05) -> tuple[float, int]:
    """Fraction of frames whose predicted lower foot is the truly lower one, and the number of
    frames counted.

    Args:
        pred_heights: ``(F, 2)`` predicted heights of the (left, right) feet along the predicted up.
        true_heights: ``(F, 2)`` true heights of the same feet, same order.
        min_gap: only frames where the true feet differ in height by more than this count.

    Returns:
        ``(fraction, frames)``; ``(nan, 0)`` when no frame counts.
    """
    p = np.asarray(pred_heights, dtype=np.float64)
    t = np.asarray(true_heights, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or t.shape != p.shape:
        raise ValueError(f"standing_foot_right: expected (F, 2) heights, found {p.shape}, {t.shape}")
    use = np.abs(t[:, 0] - t[:, 1]) > min_gap
    if not use.any():
        return float("nan"), 0
    right = np.argmin(p[use], axis=1) == np.argmin(t[use], axis=1)
    return float(right.mean()), int(use.sum())


def heading_aligned_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean joint distance (units of the input) between root-relative y-up poses ``(F, J, 3)``
    after the one rotation about ``y`` that best aligns ``pred`` with ``target`` over the clip
    (least squares, closed form). Centre the poses on their roots before calling."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 3 or t.shape != p.shape:
        raise ValueError(f"heading_aligned_mpjpe: expected matching (F, J, 3), found {p.shape}, {t.shape}")
    # rotation about y by a: x' = c x + s z, z' = -s x + c z; maximise sum t . R p
    a = np.sum(t[..., 0] * p[..., 0] + t[..., 2] * p[..., 2])
    b = np.sum(t[..., 0] * p[..., 2] - t[..., 2] * p[..., 0])
    ang = np.arctan2(b, a)
    c, s = np.cos(ang), np.sin(ang)
    rot = np.stack([c * p[..., 0] + s * p[..., 2], p[..., 1], -s * p[..., 0] + c * p[..., 2]], -1)
    return float(np.linalg.norm(rot - t, axis=-1).mean())


def path_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean horizontal distance (units of the input) between two root paths ``(F, 3)`` (world,
    ``y`` up) after the rotation about ``y`` and the horizontal shift that best align ``pred`` with
    ``target`` over the clip (least squares, closed form; heights are ignored)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.ndim != 2 or p.shape[-1] != 3 or t.shape != p.shape or len(p) == 0:
        raise ValueError(f"path_error: expected matching (F, 3) paths, found {p.shape}, {t.shape}")
    a = p[:, [0, 2]] - p[:, [0, 2]].mean(0)
    b = t[:, [0, 2]] - t[:, [0, 2]].mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    turn = u @ np.diag([1.0, np.sign(np.linalg.det(u @ vt))]) @ vt  # a proper rotation
    return float(np.linalg.norm(a @ turn - b, axis=-1).mean())
