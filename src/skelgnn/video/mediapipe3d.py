"""MediaPipe's own 3D, kept beside ours: ``pose_world_landmarks`` in the Human3.6M-17 layout.

MediaPipe BlazePose estimates, besides the 33 image landmarks, 33 *world* landmarks: metres,
origin at the centre of the hips, axes roughly the camera's (x right, y down, z away from the
camera). ``skelgnn video`` saves them, converted to the 17-joint layout of our own poses
(:func:`world_landmarks_to_h36m`: the same mid-point recipe as the 2D conversion,
:func:`skelgnn.infer.layouts.convert`) and root-relative, as ``poses_3d_mediapipe`` in
``poses_3d.npz``, and prints how far the two agree (:func:`agreement_mm`: P-MPJPE between them),
so a user can see and use both.

Shape letters: ``F`` frames.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from skelgnn.infer.layouts import convert
from skelgnn.metrics import p_mpjpe

__all__ = ["world_landmarks_to_h36m", "stack_world_landmarks", "agreement_mm"]


def world_landmarks_to_h36m(world: np.ndarray) -> np.ndarray:
    """``(F, 33, 3)`` BlazePose world landmarks (metres; NaN where nobody was found) ->
    ``(F, 17, 3)`` Human3.6M-17 joints, root-relative (pelvis at the origin)."""
    w = np.asarray(world, dtype=np.float64)
    if w.ndim != 3 or w.shape[1:] != (33, 3):
        raise ValueError(f"world landmarks must be (F, 33, 3), found {tuple(w.shape)}")
    xy = convert(w[..., :2], "blazepose33")[..., :2]  # (F, 17, 2)
    z = convert(w[..., [2, 2]], "blazepose33")[..., :1]  # (F, 17, 1)
    out = np.concatenate([xy, z], axis=-1)
    return out - out[:, :1]


def stack_world_landmarks(per_frame: Sequence[Optional[np.ndarray]]) -> np.ndarray:
    """Per-frame ``(33, 3)`` world landmarks or None -> ``(F, 33, 3)`` with NaN frames."""
    out = np.full((len(per_frame), 33, 3), np.nan)
    for i, w in enumerate(per_frame):
        if w is not None:
            out[i] = w
    return out


def agreement_mm(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, int]:
    """Mean P-MPJPE in mm between two ``(F, 17, 3)`` clips over the frames both have, and the
    number of those frames (NaN, 0 when none)."""
    a, b = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    both = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    if not both.any():
        return float("nan"), 0
    return float(1000.0 * np.mean(p_mpjpe(a[both], b[both]))), int(both.sum())
