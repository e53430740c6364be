"""Skeleton layouts as small immutable value objects.

A :class:`Skeleton` holds joint names, the parent of every joint (``-1`` for the root) and the
left / right joint lists used by horizontal flipping. Removing joints returns a new, consistent
skeleton (parents re-linked to the nearest kept ancestor, left / right lists re-indexed), the habit
of VideoPose3D's ``common/skeleton.py``.

Two layouts are built in:

* :data:`H36M17` -- the 17-joint Human3.6M layout in VideoPose3D order, the layout every model of
  this package consumes and predicts;
* :data:`H36M32` -- the 32-joint layout of the original Human3.6M mocap files, with
  ``H36M32_KEEP``, the joints kept in the 17-joint layout (with both shoulders re-parented to
  the thorax).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Skeleton", "H36M17", "H36M32", "H36M32_KEEP",
           "skeleton_from_metadata", "skeleton_metadata"]


@dataclass(frozen=True)
class Skeleton:
    """An immutable kinematic tree.

    Attributes:
        names: joint names, one per joint.
        parents: parent index of each joint, ``-1`` for the root (exactly one root).
        joints_left: indices of left-side joints, paired element-wise with ``joints_right``.
        joints_right: indices of right-side joints.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        object.__setattr__(self, "joints_left", tuple(int(j) for j in self.joints_left))
        object.__setattr__(self, "joints_right", tuple(int(j) for j in self.joints_right))
        n = len(self.parents)
        if len(self.names) != n:
            raise ValueError(f"Skeleton: {len(self.names)} names for {n} parents")
        if sum(p == -1 for p in self.parents) != 1:
            raise ValueError("Skeleton: exactly one joint must have parent -1 (the root)")
        for j, p in enumerate(self.parents):
            if p != -1 and not 0 <= p < n:
                raise ValueError(f"Skeleton: joint {j} has parent {p}, outside 0..{n - 1}")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError("Skeleton: joints_left and joints_right must pair up (same length)")
        if set(self.joints_left) & set(self.joints_right):
            raise ValueError("Skeleton: a joint cannot be both left and right")
        for j in self.joints_left + self.joints_right:
            if not 0 <= j < n:
                raise ValueError(f"Skeleton: side joint {j} outside 0..{n - 1}")
        # Every joint must reach the root (no cycles).
        for j in range(n):
            seen, k = 0, j
            while k != -1:
                k = self.parents[k]
                seen += 1
                if seen > n:
                    raise ValueError(f"Skeleton: joint {j} is on a cycle of parents")

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    def children(self) -> list[list[int]]:
        """Children of every joint."""
        out: list[list[int]] = [[] for _ in self.parents]
        for j, p in enumerate(self.parents):
            if p >= 0:
                out[p].append(j)
        return out

    def bones(self) -> list[tuple[int, int]]:
        """``(parent, child)`` pairs, one per non-root joint, in child order."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right partner."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm

    def keep_joints(self, keep: Sequence[int]) -> "Skeleton":
        """A new skeleton with only ``keep`` (in that order); parents relink to the nearest kept
        ancestor, and left / right pairs survive only when both partners are kept."""
        keep = [int(k) for k in keep]
        if len(set(keep)) != len(keep):
            raise ValueError("keep_joints: indices must be unique")
        new_index = {old: new for new, old in enumerate(keep)}
        parents = []
        for old in keep:
            p = self.parents[old]
            while p != -1 and p not in new_index:
                p = self.parents[p]
            parents.append(-1 if p == -1 else new_index[p])
        left, right = [], []
        for lj, rj in zip(self.joints_left, self.joints_right):
            if lj in new_index and rj in new_index:
                left.append(new_index[lj])
                right.append(new_index[rj])
        return Skeleton(tuple(self.names[k] for k in keep), tuple(parents), tuple(left), tuple(right))

    def with_parents(self, updates: dict[int, int]) -> "Skeleton":
        """A copy with some joints re-parented (``{joint: new_parent}``)."""
        parents = list(self.parents)
        for j, p in updates.items():
            parents[j] = p
        return Skeleton(self.names, tuple(parents), self.joints_left, self.joints_right)


H36M17 = Skeleton(
    names=(
        "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
        "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)
"""Human3.6M 17-joint layout, VideoPose3D order; root = 0 (pelvis)."""

H36M32 = Skeleton(
    names=(
        "Hip", "RHip", "RKnee", "RFoot", "RToe", "RToeSite",
        "LHip", "LKnee", "LFoot", "LToe", "LToeSite",
        "Spine0", "Spine", "Thorax", "Neck/Nose", "Head",
        "LShoulderAnchor", "LShoulder", "LElbow", "LWrist", "LThumb", "LThumbSite", "LWristEnd",
        "LWristEndSite",
        "RShoulderAnchor", "RShoulder", "RElbow", "RWrist", "RThumb", "RThumbSite", "RWristEnd",
        "RWristEndSite",
    ),
    parents=(-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12,
             16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30),
    # Pairs: left 6-10 <-> right 1-5, left 16-23 <-> right 24-31.
    joints_left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    joints_right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)
"""The 32-joint layout of the original Human3.6M ``D3_Positions`` files (many duplicates)."""

H36M32_KEEP: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 32-joint layout kept by the reduction to 17 joints."""


def skeleton_metadata(skeleton: Skeleton, layout_name: str) -> dict[str, object]:
    """The ``metadata`` of a 2D npz file for ``skeleton``: VideoPose3D's keys (``num_joints``,
    ``keypoints_symmetry``) plus ``layout_name``, ``parents`` and ``joint_names``, so readers can
    rebuild the skeleton of any layout (:func:`skeleton_from_metadata`)."""
    return {"num_joints": skeleton.num_joints,
            "keypoints_symmetry": [list(skeleton.joints_left), list(skeleton.joints_right)],
            "layout_name": layout_name, "parents": list(skeleton.parents),
            "joint_names": list(skeleton.names)}


def skeleton_from_metadata(metadata: dict, num_joints: int | None = None) -> Skeleton:
    """The skeleton a 2D file's ``metadata`` describes: from its ``parents`` (with
    ``joint_names`` and ``keypoints_symmetry`` when present); without ``parents``, the 17-joint
    layout (the benchmark's files predate the key).

    Raises:
        ValueError: the metadata's joint count differs from ``num_joints``, or a 17-joint
            default is asked for another joint count.
    """
    meta = dict(metadata or {})
    if "parents" in meta:
        parents = [int(p) for p in meta["parents"]]
        names = meta.get("joint_names") or [f"joint{j}" for j in range(len(parents))]
        sym = meta.get("keypoints_symmetry") or [[], []]
        skel = Skeleton(tuple(names), tuple(parents), tuple(sym[0]), tuple(sym[1]))
    else:
        skel = H36M17
    if num_joints is not None and skel.num_joints != int(num_joints):
        raise ValueError(f"the data have {num_joints} joints but their metadata describe "
                         f"{skel.num_joints} (write 'parents' in the 2D file's metadata for a "
                         "layout other than Human3.6M-17)")
    return skel
