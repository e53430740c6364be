"""A world frame for camera-frame poses: gravity up, the floor at height 0, a stated facing.

Lifted poses live in the camera frame (``X`` right, ``Y`` down, ``Z`` forward): a tilted camera
makes the figure lean, and nothing says where the floor is. :func:`estimate_world_frame` picks,
from the absolute camera-frame poses of a whole clip (root-relative pose + trajectory):

* **up** (world ``+y``): a given direction (``up``; :func:`skelgnn.motion.pipeline.build_motion` passes
  the learnt camera up of :mod:`skelgnn.motion.gravity`, which does not assume an upright torso), else
  the mean torso direction (Hip -> Thorax) over the clip -- people are upright on average, but a
  person who leans all clip long tilts this one -- either refined by a plane fit through the foot
  contacts when they spread over the floor (walking) enough to define a plane (the plane's
  normal then wins if it is within ``plane_max_deg`` of the first estimate);
* **floor** (world ``y = 0``): ``ankle_height`` below the ``contact_quantile`` quantile of the
  lowest ankle's height per frame (the ankles, joints 3 and 6, are the lowest Human3.6M joints;
  on the CMU mocap they are 8 cm above the floor when the foot is flat);
* **facing**: ``"camera"`` (default): world ``+z`` is the horizontal direction from the scene to
  the camera, so the world is seen as the camera saw it, only levelled; ``"person"``: world
  ``+z`` is the person's mean facing direction over the clip (from the hips: forward = left x up),
  the BVH convention of a character facing ``+z`` with its left at ``+x``;
* **origin**: on the floor below the root (joint 0) in the first frame.

World axes are right-handed: ``x = y x z``. Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = ["WorldFrame", "estimate_world_frame", "ANKLE_HEIGHT"]

ANKLE_HEIGHT = 0.08
"""Metres between the ankle joint and the floor with the foot flat (the CMU benchmark's value)."""

_HIP, _RHIP, _LHIP, _THORAX = 0, 1, 4, 8
_FEET = (3, 6)


@dataclass(frozen=True, eq=False)
class WorldFrame:
    """A rigid map camera -> world.

    Attributes:
        rotation: ``(3, 3)``; rows are the world ``x, y, z`` axes in camera coordinates, so
            ``p_world = rotation (p_cam - origin)``.
        origin: ``(3,)`` the world origin in camera coordinates (metres).
    """

    rotation: np.ndarray
    origin: np.ndarray

    def to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> world ``(..., 3)``, float64."""
        return (np.asarray(points_cam, dtype=np.float64) - self.origin) @ self.rotation.T

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` -> camera frame, the inverse of :meth:`to_world`."""
        return np.asarray(points_world, dtype=np.float64) @ self.rotation + self.origin


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    if not n > 1e-9:
        raise ValueError("world frame: a direction is degenerate (zero length)")
    return v / n


def estimate_world_frame(poses_cam: np.ndarray, facing: str = "camera",
                         ankle_height: float = ANKLE_HEIGHT, contact_quantile: float = 0.1,
                         contact_band: float = 0.03, min_spread: float = 0.3,
                         up: Optional[np.ndarray] = None, plane_max_deg: float = 30.0) -> WorldFrame:
    """The world frame of a clip (see the module docstring).

    Args:
        poses_cam: ``(F, 17, 3)`` absolute camera-frame poses (Human3.6M joints), metres.
        facing: ``"camera"`` or ``"person"``.
        ankle_height: ankle height above the floor when in contact.
        contact_quantile: quantile of the per-frame lowest ankle height taken as contact.
        contact_band: ankle points within this distance of the contact height are contacts.
        min_spread: contacts must spread this far (m, second principal extent) for a plane fit.
        up: ``(3,)`` the up direction in camera coordinates (normalised here); ``None``: the
            clip's mean torso direction.
        plane_max_deg: the contacts' plane replaces ``up`` only within this angle of it.
    """
    p = np.asarray(poses_cam, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (H36M17.num_joints, 3) or len(p) == 0:
        raise ValueError(f"estimate_world_frame: expected (F, 17, 3) poses, found {p.shape}")
    if facing not in ("camera", "person"):
        raise ValueError(f"facing must be 'camera' or 'person', found {facing!r}")
    if up is None:
        torso = p[:, _THORAX] - p[:, _HIP]
        up = _unit(np.mean(torso / np.linalg.norm(torso, axis=-1, keepdims=True), axis=0))
    else:
        up = np.asarray(up, dtype=np.float64)
        if up.shape != (3,) or not np.all(np.isfinite(up)):
            raise ValueError(f"estimate_world_frame: up must be a finite (3,) direction, found {up}")
        up = _unit(up)
    feet = p[:, list(_FEET)].reshape(-1, 3)  # (2F, 3)
    lowest = (p[:, list(_FEET)] @ up).min(axis=1)  # (F,)
    contact = np.quantile(lowest, contact_quantile)
    pts = feet[np.abs(feet @ up - contact) < contact_band]
    if len(pts) >= 3:
        centred = pts - pts.mean(0)
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        spread = sv[1] / np.sqrt(len(pts))
        normal = vt[2] * np.sign(vt[2] @ up)
        if spread > min_spread and normal @ up > np.cos(np.radians(plane_max_deg)):
            up = normal
            lowest = (p[:, list(_FEET)] @ up).min(axis=1)
            contact = np.quantile(lowest, contact_quantile)
    floor = contact - ankle_height
    if facing == "camera":
        toward = np.array([0.0, 0.0, -1.0])  # from the scene back to the camera
    else:
        left = np.mean(p[:, _LHIP] - p[:, _RHIP], axis=0)
        toward = np.cross(left, up)
    z = _unit(toward - (toward @ up) * up)
    x = np.cross(up, z)
    rotation = np.stack([x, up, z])  # rows: world axes in camera coordinates
    root0 = p[0, _HIP]
    origin = root0 - (root0 @ up - floor) * up
    return WorldFrame(rotation=rotation, origin=origin)
