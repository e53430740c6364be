"""Stance knees: a standing leg's knee straightened in depth, for detector keypoints.

The lifters learn the knees of their training skeleton (CMU mocap mapped to Human3.6M-17), and
that skeleton's knee sits off the hip-ankle line: its straightest knees read 155-168 degrees and
its planted, still legs about 144 (the val subject, median). A detector marks the anatomical knee,
and real people standing read 169-175 (Shelf). Lifted from a detector's 2D, a standing leg comes
out bent, and the bend lies in depth, the part one view cannot see: the 2D leg is straight.

:func:`stance_weights` picks the legs that stand -- the foot in contact with the floor
(:mod:`skelgnn.motion.contacts`), the lifted leg under its hip (hip -> ankle within
:data:`VERTICAL_MAX_DEG` of the world's down), the 2D leg straight (the knee within
:data:`BEND_2D_MAX` of the leg's 2D length from the hip-ankle line) and the 2D ankle still
(slower than :data:`SPEED_MAX` person heights a second) -- smoothed over :data:`SMOOTH_S` seconds;
:func:`straighten_knees` moves each picked knee along the camera's depth axis, its image position
kept, until its angle reaches :data:`TARGET_DEG` (never bending it further). A sitting or
crouching leg (not under its hip, or bent in 2D) and a moving one are left as lifted.
:func:`stand_legs` (what the pipeline runs) then gives the clip's legs one thigh and one shank
length, measured where they stand, so the bones do not change length from frame to frame.

:func:`skelgnn.motion.pipeline.lift_and_place` applies it to detector layouts (any but
``h36m17``, whose keypoints may come from mocap with the training skeleton's own knees);
``skelgnn infer`` / ``video`` / ``evaluate --footage`` take ``--stance-knees on|off|auto``. Chosen
on shelf_dev (``python benchmarks/stance_knees.py``; docs/DESIGN.md "Real footage").

Shape letters: ``F`` frames; legs are ``(F, 2)`` in the contacts' order (left, right).
"""
from __future__ import annotations

import numpy as np

from skelgnn.data.bodyshape import joint_angles
from skelgnn.motion.smoothing import gaussian

__all__ = ["LEGS", "TARGET_DEG", "BEND_2D_MAX", "SPEED_MAX", "VERTICAL_MAX_DEG", "SMOOTH_S",
           "MIN_STANDING_FRAMES", "THIGH_SHANK_RANGE", "knee_angle", "stance_weights",
           "straighten_knees", "leg_lengths", "set_leg_lengths", "stand_legs"]

LEGS = ((4, 5, 6), (1, 2, 3))
"""Human3.6M-17 (hip, knee, ankle) of the columns: (left, right), as foot contacts."""
TARGET_DEG = 170.0
"""Knee angle a standing knee is straightened to (Shelf's standing knees: 169-175)."""
BEND_2D_MAX = 0.1
"""Largest distance of the 2D knee from the 2D hip-ankle line, as a share of that line's length."""
SPEED_MAX = 0.3
"""Fastest 2D ankle, person heights (median 2D height of the clip) a second."""
VERTICAL_MAX_DEG = 25.0
"""Largest angle of the lifted hip -> ankle direction from the world's down."""
SMOOTH_S = 0.1
"""Sigma (seconds) of the Gaussian on the per-frame weights, so a knee does not jump."""
MIN_STANDING_FRAMES = 10
"""Standing frames of a leg needed to measure the person's thigh and shank (:func:`stand_legs`)."""
THIGH_SHANK_RANGE = (0.8, 1.15)
"""Thigh-to-shank length ratios :func:`stand_legs` accepts from the 2D (the training skeleton's is
0.81, Shelf's people 0.94-1.06; a camera looking down on the legs shortens the shank in the
image, and read as it stands a clip's 2D gave 1.29-1.34)."""


def knee_angle(poses: np.ndarray, leg: tuple[int, int, int]) -> np.ndarray:
    """``(...)`` hip-knee-ankle angle of ``(..., J, 3)`` poses, degrees (180: straight)."""
    return joint_angles(poses, (leg,))[..., 0]


def stance_weights(poses_3d: np.ndarray, keypoints_2d: np.ndarray, contacts: np.ndarray,
                   up_cam: np.ndarray, fps: float, bend_max: float = BEND_2D_MAX,
                   speed_max: float = SPEED_MAX, vertical_max_deg: float = VERTICAL_MAX_DEG
                   ) -> np.ndarray:
    """``(F, 2)`` weights in [0, 1] of the legs that stand (see the module docstring).

    Args:
        poses_3d: ``(F, 17, 3)`` camera-frame poses (root-relative or not).
        keypoints_2d: ``(F, 17, 2)`` pixels, no missing values.
        contacts: ``(F, 2)`` bool foot contacts (left, right).
        up_cam: ``(3,)`` the world's up in camera coordinates.
        fps: frame rate.
        bend_max, speed_max, vertical_max_deg: the gate's thresholds (:data:`BEND_2D_MAX`,
            :data:`SPEED_MAX`, :data:`VERTICAL_MAX_DEG`; ``benchmarks/stance_knees.py`` sweeps them).
    """
    p = np.asarray(poses_3d, dtype=np.float64)
    uv = np.asarray(keypoints_2d, dtype=np.float64)
    c = np.asarray(contacts, dtype=bool)
    if p.ndim != 3 or p.shape[1:] != (17, 3) or uv.shape[:2] != p.shape[:2] or c.shape != (len(p), 2):
        raise ValueError(f"stance_weights: need (F, 17, 3) poses, (F, 17, 2) keypoints and (F, 2) "
                         f"contacts of one clip, found {p.shape}, {uv.shape}, {c.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"stance_weights: the frame rate must be positive, found {fps}")
    up = np.asarray(up_cam, dtype=np.float64)
    up = up / max(float(np.linalg.norm(up)), 1e-12)
    n = len(p)
    if n == 0:
        return np.zeros((0, 2))
    height = float(np.median(uv[..., 1].max(axis=1) - uv[..., 1].min(axis=1)))
    gate = c.copy()
    for side, (hip, knee, ankle) in enumerate(LEGS):
        leg = uv[:, ankle] - uv[:, hip]
        length = np.maximum(np.linalg.norm(leg, axis=-1), 1e-9)
        off = uv[:, knee] - uv[:, hip]
        bend = np.abs(leg[:, 0] * off[:, 1] - leg[:, 1] * off[:, 0]) / length / length
        speed = np.zeros(n)
        if n > 1 and height > 0:
            step = np.linalg.norm(np.diff(uv[:, ankle], axis=0), axis=-1) * fps / height
            speed[1:], speed[0] = step, step[0]
        down = p[:, ankle] - p[:, hip]
        cos = -(down @ up) / np.maximum(np.linalg.norm(down, axis=-1), 1e-12)
        vertical = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        gate[:, side] &= (bend < bend_max) & (speed < speed_max) & (vertical < vertical_max_deg)
    weights = gaussian(gate.astype(np.float64), SMOOTH_S * fps)
    return np.clip(weights, 0.0, 1.0)


def straighten_knees(poses_3d: np.ndarray, weights: np.ndarray, target_deg: float = TARGET_DEG,
                     steps: int = 24) -> np.ndarray:
    """``(F, 17, 3)`` camera-frame poses with each knee moved along the depth axis (``x, y``
    kept) by ``weights`` ``(F, 2)`` (left, right) of the way that brings its angle to
    ``target_deg``; the whole way to the hip-ankle line where the 2D bend keeps it below the
    target, none where it is already straighter. The thigh and the shank change length in the
    frames it moves (:func:`stand_legs` makes them one length again)."""
    out = np.array(poses_3d, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if out.ndim != 3 or out.shape[1:] != (17, 3) or w.shape != (len(out), 2):
        raise ValueError(f"straighten_knees: need (F, 17, 3) poses and (F, 2) weights, found "
                         f"{out.shape} and {w.shape}")
    for side, leg in enumerate(LEGS):
        hip, knee, ankle = leg
        a, b, c = out[:, hip], out[:, knee].copy(), out[:, ankle]
        along = c[:, :2] - a[:, :2]
        t = np.clip(np.sum((b[:, :2] - a[:, :2]) * along, -1)
                    / np.maximum(np.sum(along * along, -1), 1e-12), 0.0, 1.0)
        z_line = a[:, 2] + t * (c[:, 2] - a[:, 2])  # the hip-ankle line's depth at the knee

        def angle_at(share: np.ndarray) -> np.ndarray:
            trial = out.copy()
            trial[:, knee, 2] = b[:, 2] + share * (z_line - b[:, 2])
            return knee_angle(trial, leg)

        lo, hi = np.zeros(len(out)), np.ones(len(out))
        for _ in range(steps):  # the least share of the way that reaches the target
            mid = (lo + hi) / 2
            ok = angle_at(mid) >= target_deg
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        share = np.where(angle_at(np.ones(len(out))) >= target_deg, hi, 1.0)
        share = np.where(knee_angle(out, leg) >= target_deg, 0.0, share)
        out[:, knee, 2] = b[:, 2] + np.clip(w[:, side], 0.0, 1.0) * share * (z_line - b[:, 2])
    return out


def leg_lengths(poses: np.ndarray) -> np.ndarray:
    """``(F, 2, 2)`` thigh and shank lengths of the left and right leg."""
    p = np.asarray(poses, dtype=np.float64)
    return np.stack([np.stack([np.linalg.norm(p[:, knee] - p[:, hip], axis=-1),
                               np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1)], -1)
                     for hip, knee, ankle in LEGS], 1)


def set_leg_lengths(poses: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``poses`` with each thigh and shank along its own direction at ``lengths`` (``(2, 2)``
    or per frame ``(F, 2, 2)``, as :func:`leg_lengths`), from the hip down: the knee and the
    ankle move, nothing else."""
    out = np.array(poses, dtype=np.float64)
    size = np.broadcast_to(np.asarray(lengths, dtype=np.float64), (len(out), 2, 2))
    for side, (hip, knee, ankle) in enumerate(LEGS):
        thigh, shank = out[:, knee] - out[:, hip], out[:, ankle] - out[:, knee]
        unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)  # noqa: E731
        out[:, knee] = out[:, hip] + unit(thigh) * size[:, side, :1]
        out[:, ankle] = out[:, knee] + unit(shank) * size[:, side, 1:]
    return out


def stand_legs(poses_3d: np.ndarray, weights: np.ndarray, target_deg: float = TARGET_DEG
               ) -> np.ndarray:
    """Standing knees straightened (:func:`straighten_knees`), the legs then given one thigh and
    one shank length for the whole clip: a skeleton with fixed bones (BVH) can follow them.

    Those lengths are measured where the legs stand straightened (frames weighted over 0.5, at
    least :data:`MIN_STANDING_FRAMES` of them, both sides' medians averaged), since a knee
    straightened in depth takes the proportions its image implies; the split between thigh and
    shank is kept within :data:`THIGH_SHANK_RANGE`, the leg's length as measured. Every frame
    then gets them, the knee and the ankle moving along the leg. Without enough standing frames
    each frame keeps the bone lengths it was lifted with.
    """
    p = np.asarray(poses_3d, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    straight = straighten_knees(p, w, target_deg)
    measured = leg_lengths(straight)  # (F, 2, 2)
    sides = [np.median(measured[w[:, side] > 0.5, side], axis=0)
             for side in range(2) if int((w[:, side] > 0.5).sum()) >= MIN_STANDING_FRAMES]
    if not sides:
        return set_leg_lengths(straight, leg_lengths(p))
    thigh, shank = np.mean(sides, axis=0)
    ratio = float(np.clip(thigh / max(float(shank), 1e-9), *THIGH_SHANK_RANGE))
    total = float(thigh + shank)
    one = np.array([total * ratio / (1.0 + ratio), total / (1.0 + ratio)])
    return set_leg_lengths(straight, np.stack([one, one]))
