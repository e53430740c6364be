"""From a lifted clip to motion in a scene: smoothing, root trajectory and world frame.

:func:`build_motion` chains the three steps the ``--focal`` / ``--smooth`` options of ``skelgnn
infer`` and ``skelgnn video`` control:

1. optionally smooth the root-relative poses (:func:`skelgnn.motion.smoothing.one_euro`);
2. solve the root's camera-frame position per frame (:func:`skelgnn.motion.trajectory.estimate_trajectory`,
   full perspective, detector scores as weights), smoothed too when asked;
3. estimate a world frame -- y up, floor at y = 0, facing the camera -- from the whole clip
   (:func:`skelgnn.motion.world.estimate_world_frame`) and express the absolute poses in it.

Shape letters: ``F`` frames, ``J`` joints (17, Human3.6M order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from skelgnn.motion.smoothing import one_euro
from skelgnn.motion.trajectory import default_intrinsics, estimate_trajectory
from skelgnn.motion.world import WorldFrame, estimate_world_frame

__all__ = ["Motion", "build_motion", "MIN_WEIGHT"]

MIN_WEIGHT = 0.05
"""Smallest joint weight in the trajectory fit: filled joints (score 0) still count a little, so
a frame whose joints were all filled keeps a solution."""


@dataclass(frozen=True, eq=False)
class Motion:
    """A clip placed in the scene.

    Attributes:
        poses_3d: ``(F, J, 3)`` root-relative camera-frame metres (smoothed if asked).
        trajectory: ``(F, 3)`` root position in the camera frame, metres.
        poses_world: ``(F, J, 3)`` absolute poses in the world frame (y up, floor y = 0).
        world: the camera -> world map.
        focal: focal length used, pixels.
        smoothed: whether the One-Euro filter was applied.
    """

    poses_3d: np.ndarray
    trajectory: np.ndarray
    poses_world: np.ndarray
    world: WorldFrame
    focal: float
    smoothed: bool

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz entries this adds to ``poses_3d.npz`` (see README, "From video to motion")."""
        return {"trajectory": self.trajectory.astype(np.float32),
                "poses_world": self.poses_world.astype(np.float32),
                "world_rotation": self.world.rotation.astype(np.float32),
                "world_origin": self.world.origin.astype(np.float32),
                "focal_px": np.array(self.focal), "smoothed": np.array(self.smoothed)}


def build_motion(poses_3d: np.ndarray, keypoints_2d: np.ndarray, image_size: tuple[float, float],
                 fps: Optional[float] = None, scores: Optional[np.ndarray] = None,
                 focal: Optional[float] = None, smooth: bool = False,
                 facing: str = "camera") -> Motion:
    """Smooth (optional), place and level a lifted clip.

    Args:
        poses_3d: ``(F, 17, 3)`` root-relative camera-frame metres.
        keypoints_2d: ``(F, 17, 2)`` pixels of the real camera (no missing values).
        image_size: ``(W, H)`` of the camera image.
        fps: frame rate (needed by the filter; 30 when unknown).
        scores: ``(F, 17)`` joint scores (weights of the fit), default 1.
        focal: focal length in pixels (default: the image diagonal, see
            :func:`skelgnn.motion.trajectory.default_intrinsics`).
        smooth: apply the One-Euro filter to the poses and the trajectory.
        facing: world facing, see :func:`skelgnn.motion.world.estimate_world_frame`.
    """
    poses = np.asarray(poses_3d, dtype=np.float64)
    uv = np.asarray(keypoints_2d, dtype=np.float64)
    rate = float(fps) if fps else 30.0
    if smooth:
        poses = one_euro(poses, rate)
        poses = poses - poses[:, :1]  # keep the root at the origin
    weights = None if scores is None else np.clip(np.nan_to_num(np.asarray(scores, np.float64)),
                                                   MIN_WEIGHT, None)
    intr = default_intrinsics(image_size, focal)
    traj = estimate_trajectory(poses, uv, image_size, weights=weights, intrinsics=intr)
    if smooth:
        traj = one_euro(traj, rate)
    absolute = poses + traj[:, None]
    world = estimate_world_frame(absolute, facing=facing)
    return Motion(poses_3d=poses.astype(np.float32), trajectory=traj,
                  poses_world=world.to_world(absolute), world=world, focal=intr.fx,
                  smoothed=smooth)
