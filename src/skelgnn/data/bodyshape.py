"""Body-proportion augmentation: the training 3D re-built with other people's proportions.

Shape letters: ``F`` frames, ``J`` joints (Human3.6M-17).

A lifter trained on one mocap set learns that set's proportions along with its poses. The CMU
benchmark's skeleton has short thighs and a short torso (thigh / shank 0.81, mid-hip to
mid-shoulder / leg 0.57, shoulder / hip width 1.31 in 3D); Shelf's ground truth has 0.97, 0.73
and 1.60, and OpenPose's 2D on it is further still (2D thigh / shank 1.12 against the training
2D's 0.83). A lifter can only explain a thigh that looks long next to its shank by foreshortening
the shank: on ``shelf_dev`` the shipped checkpoints bend standing people's knees (140 degrees,
truth 169), and re-building the same ground truth with the training set's bone lengths before
projecting it takes 4 degrees off their limb-direction error (``benchmarks/footage_diagnosis.py``,
docs/DESIGN.md "Real footage").

:class:`BodyShape` draws one set of bone-length factors per view (log-uniform in a range per bone
group, the same for left and right) and :func:`reshape_body` applies it: every bone keeps its
direction in every frame and gets its new length, so 2D (projected afterwards) and 3D target
stay consistent. The knees are then opened by a few degrees (:func:`extend_knees`): the CMU
skeleton's knee sits off its hip-ankle line, so its straightest legs read 165-168 degrees where
footage ground truth has standing knees at 167-173, and only 2.8% of its training frames are
straighter than 165. Only views the run projects itself (virtual cameras) are reshaped; the
benchmark's fixed views stay as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from skelgnn.skeleton import H36M17

__all__ = ["BodyShape", "BONE_GROUPS", "reshape_body", "extend_knees", "knee_angles",
           "joint_angles"]

_LEGS = ((1, 2, 3), (4, 5, 6))  # (hip, knee, ankle), right then left

BONE_GROUPS: dict[str, tuple[int, ...]] = {
    "hip_width": (1, 4),     # pelvis -> hips
    "thigh": (2, 5),         # hips -> knees
    "shank": (3, 6),         # knees -> ankles
    "torso": (7, 8),         # pelvis -> spine -> thorax
    "head": (9, 10),         # thorax -> nose -> head
    "shoulder_width": (11, 14),  # thorax -> shoulders
    "upper_arm": (12, 15),   # shoulders -> elbows
    "forearm": (13, 16),     # elbows -> wrists
}
"""Bone groups of :class:`BodyShape`, as the child joints (Human3.6M-17) of their bones."""


def reshape_body(poses: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scale each bone of ``poses (..., 17, 3)`` by ``factors (17,)`` (index = the bone's child
    joint; the root's entry is unused), keeping every bone's direction and the root in place.

    Raises:
        ValueError: not Human3.6M-17 poses, or a factor that is not positive and finite.
    """
    poses = np.asarray(poses, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    parents = H36M17.parents
    if poses.shape[-2:] != (len(parents), 3) or factors.shape != (len(parents),):
        raise ValueError(f"reshape_body: expected (..., {len(parents)}, 3) poses and "
                         f"({len(parents)},) factors, got {poses.shape} and {factors.shape}")
    if not (np.isfinite(factors).all() and (factors > 0).all()):
        raise ValueError("reshape_body: bone factors must be positive and finite")
    out = poses.copy()
    for j, p in enumerate(parents):  # parents precede their children
        if p >= 0:
            out[..., j, :] = out[..., p, :] + factors[j] * (poses[..., j, :] - poses[..., p, :])
    return out


def joint_angles(poses: np.ndarray, triples: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """``(..., len(triples))`` angles in degrees at the middle joint of each ``(a, joint, b)``
    triple of ``poses (..., J, 3)`` (180 = straight)."""
    out = []
    for first, joint, last in triples:
        a, b = poses[..., first, :] - poses[..., joint, :], poses[..., last, :] - poses[..., joint, :]
        cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1),
                                           1e-12)
        out.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.stack(out, axis=-1)


def knee_angles(poses: np.ndarray) -> np.ndarray:
    """``(..., 2)`` right and left knee angles of ``poses (..., 17, 3)``, degrees (180 = straight)."""
    return joint_angles(poses, _LEGS)


def extend_knees(poses: np.ndarray, degrees: float, limit: float = 179.0) -> np.ndarray:
    """Open both knees of ``poses (..., 17, 3)`` by ``degrees`` (the shank turned away from the
    thigh in their common plane, its length kept), never past ``limit`` degrees; a knee already
    at or past it is left as it is."""
    out = np.array(poses, dtype=np.float64)
    if degrees <= 0:
        return out
    for hip, knee, ankle in _LEGS:
        thigh = out[..., hip, :] - out[..., knee, :]
        shank = out[..., ankle, :] - out[..., knee, :]
        axis = np.cross(thigh, shank)
        norm = np.linalg.norm(axis, axis=-1, keepdims=True)
        angle = knee_angles(out)[..., 0 if hip == 1 else 1]
        turn = np.radians(np.clip(np.minimum(degrees, limit - angle), 0.0, None))[..., None]
        turn = np.where(norm > 1e-9, turn, 0.0)
        k = axis / np.maximum(norm, 1e-12)
        # Rodrigues; k is perpendicular to the shank, so the k (k . v) term vanishes
        out[..., ankle, :] = out[..., knee, :] + shank * np.cos(turn) + np.cross(k, shank) * np.sin(turn)
    return out


@dataclass(frozen=True)
class BodyShape:
    """Ranges ``(low, high)`` of the bone-length factor of each group of :data:`BONE_GROUPS`
    (drawn log-uniform, one factor per group and view). The defaults reach from the CMU
    benchmark's own proportions (factor 1) to Shelf's (thigh 1.19x relative to the shank, torso
    1.28x relative to the leg, shoulders 1.22x relative to the hips) and somewhat beyond, for
    detectors that put hips higher and shoulders wider than the ground truth does."""

    hip_width: tuple[float, float] = (0.9, 1.5)
    thigh: tuple[float, float] = (0.95, 1.35)
    shank: tuple[float, float] = (0.8, 1.05)
    torso: tuple[float, float] = (0.95, 1.4)
    head: tuple[float, float] = (0.8, 1.2)
    shoulder_width: tuple[float, float] = (0.95, 1.65)
    upper_arm: tuple[float, float] = (0.9, 1.15)
    forearm: tuple[float, float] = (0.9, 1.15)
    knee_extension_deg: tuple[float, float] = (0.0, 15.0)
    """Both knees opened by ``U(low, high)`` degrees per view (at most to 179): the CMU skeleton's
    knee sits off its hip-ankle line (walking reaches 168 degrees at the 99th percentile, people
    standing still 165), where footage ground truth has standing knees at 167-173."""

    def __post_init__(self) -> None:
        for f in fields(self):
            low, high = getattr(self, f.name)
            if f.name == "knee_extension_deg":
                if not 0 <= low <= high <= 45:
                    raise ValueError(f"BodyShape.knee_extension_deg must be a range 0 <= low <= "
                                     f"high <= 45, got {(low, high)}")
            elif not (0 < low <= high and math.isfinite(high)):
                raise ValueError(f"BodyShape.{f.name} must be a range 0 < low <= high, got "
                                 f"{(low, high)}")

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One ``(17,)`` factor vector for :func:`reshape_body` (1 for the root)."""
        factors = np.ones(len(H36M17.parents))
        for name, joints in BONE_GROUPS.items():
            low, high = getattr(self, name)
            factors[list(joints)] = math.exp(rng.uniform(math.log(low), math.log(high)))
        return factors

    def apply(self, poses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``poses (F, 17, 3)`` re-built with one draw of :meth:`sample`, then the knees opened
        by one draw of ``knee_extension_deg`` (:func:`extend_knees`)."""
        shaped = reshape_body(poses, self.sample(rng))
        return extend_knees(shaped, float(rng.uniform(*self.knee_extension_deg)))
