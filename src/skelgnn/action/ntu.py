"""Reader for the NTU RGB+D ``.skeleton`` text format (Kinect v2, 25 joints).

File layout (whitespace-separated numbers, one record per line)::

    <frame count>
    per frame:  <body count>
      per body: <bodyID> <clippedEdges> <handLeftConfidence> <handLeftState>
                <handRightConfidence> <handRightState> <isRestricted> <leanX> <leanY>
                <trackingState>
                <joint count>   (25)
        per joint: x y z depthX depthY colorX colorY orientationW orientationX
                   orientationY orientationZ trackingState

``x y z`` are camera-space metres. File names read ``SsssCcccPpppRrrrAaaa`` (setup, camera,
performer, replication, action, 1-based). The 25 joints keep their own skeleton,
:data:`NTU25` (no mapping to the 17-joint layout).

Shape letters: ``M`` bodies, ``F`` frames, ``J`` joints (25).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from skelgnn.action.clips import PoseSequence
from skelgnn.skeleton import Skeleton

__all__ = ["NTU25", "NTU_XSUB_TRAIN", "NtuName", "NtuSkeleton", "parse_ntu_name",
           "read_ntu_skeleton", "ntu_sequences", "ntu_labels"]

NTU25 = Skeleton(
    names=("SpineBase", "SpineMid", "Neck", "Head", "LShoulder", "LElbow", "LWrist", "LHand",
           "RShoulder", "RElbow", "RWrist", "RHand", "LHip", "LKnee", "LAnkle", "LFoot",
           "RHip", "RKnee", "RAnkle", "RFoot", "SpineShoulder", "LHandTip", "LThumb",
           "RHandTip", "RThumb"),
    parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1,
             7, 7, 11, 11),
    joints_left=(4, 5, 6, 7, 12, 13, 14, 15, 21, 22),
    joints_right=(8, 9, 10, 11, 16, 17, 18, 19, 23, 24),
)
"""The Kinect v2 skeleton of NTU RGB+D, rooted at the spine base."""

NTU_XSUB_TRAIN: tuple[int, ...] = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28,
                                   31, 34, 35, 38)
"""Training performers of NTU RGB+D 60's cross-subject protocol (the others are test)."""

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_BODY_FIELDS = 10
_JOINT_FIELDS = 12


@dataclass(frozen=True)
class NtuName:
    setup: int
    camera: int
    performer: int
    replication: int
    action: int  # 1-based action class


@dataclass(frozen=True, eq=False)
class NtuSkeleton:
    """One file: ``joints`` ``(M, F, 25, 3)`` float32 metres, NaN where a body is absent in a
    frame; ``body_ids`` the ``M`` body ids in order of first appearance."""

    joints: np.ndarray
    body_ids: tuple[str, ...]

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[1])

    def main_body(self) -> np.ndarray:
        """``(F, 25, 3)`` of the body present in most frames, absent frames filled from the
        nearest present one (an all-NaN array if no body is ever present)."""
        if not self.body_ids:
            return np.full((self.num_frames, NTU25.num_joints, 3), np.nan, np.float32)
        present = np.isfinite(self.joints[..., 0, 0])  # (M, F)
        body = self.joints[int(present.sum(1).argmax())]
        ok = np.isfinite(body[:, 0, 0])
        idx = np.where(ok, np.arange(len(ok)), -1)
        idx = np.maximum.accumulate(idx)  # last present frame at or before each frame
        first = int(np.argmax(ok))
        idx[idx < 0] = first
        return body[idx]


def parse_ntu_name(name: str | Path) -> NtuName:
    """Parse ``SsssCcccPpppRrrrAaaa`` from a file name.

    Raises:
        ValueError: the name does not contain that pattern."""
    m = _NAME.search(Path(name).name)
    if m is None:
        raise ValueError(f"{name}: not an NTU RGB+D name (expected SsssCcccPpppRrrrAaaa)")
    return NtuName(*(int(g) for g in m.groups()))


def read_ntu_skeleton(path: str | Path) -> NtuSkeleton:
    """Read one ``.skeleton`` file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated file, a bad count or a non-numeric field (with the line number).
    """
    path = Path(path)
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    pos = 0

    def take(what: str) -> list[str]:
        nonlocal pos
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        if pos >= len(lines):
            raise ValueError(f"{path}: file ends early, expected {what}")
        pos += 1
        return lines[pos - 1].split()

    def count(what: str, limit: int) -> int:
        fields = take(what)
        try:
            n = int(fields[0]) if len(fields) == 1 else -1
        except ValueError:
            n = -1
        if not 0 <= n <= limit:
            raise ValueError(f"{path}, line {pos}: bad {what} {' '.join(fields)!r}")
        return n

    num_frames = count("frame count", 10**6)
    frames: list[dict[str, np.ndarray]] = []
    order: list[str] = []
    for _ in range(num_frames):
        bodies: dict[str, np.ndarray] = {}
        for _ in range(count("body count", 64)):
            info = take("body info")
            if len(info) != _BODY_FIELDS:
                raise ValueError(f"{path}, line {pos}: body info has {len(info)} fields, "
                                 f"expected {_BODY_FIELDS}")
            body_id = info[0]
            n_joints = count("joint count", 1000)
            if n_joints != NTU25.num_joints:
                raise ValueError(f"{path}, line {pos}: {n_joints} joints, expected {NTU25.num_joints}")
            xyz = np.empty((n_joints, 3), np.float32)
            for j in range(n_joints):
                fields = take("joint")
                if len(fields) != _JOINT_FIELDS:
                    raise ValueError(f"{path}, line {pos}: joint has {len(fields)} fields, "
                                     f"expected {_JOINT_FIELDS}")
                try:
                    xyz[j] = [float(v) for v in fields[:3]]
                except ValueError:
                    raise ValueError(f"{path}, line {pos}: non-numeric joint coordinates") from None
            bodies[body_id] = xyz
            if body_id not in order:
                order.append(body_id)
        frames.append(bodies)
    joints = np.full((len(order), num_frames, NTU25.num_joints, 3), np.nan, np.float32)
    for f, bodies in enumerate(frames):
        for body_id, xyz in bodies.items():
            joints[order.index(body_id), f] = xyz
    return NtuSkeleton(joints, tuple(order))


def ntu_sequences(paths: Iterable[str | Path], fps: float = 30.0,
                  min_frames: int = 1) -> list[PoseSequence]:
    """Main-body sequences of NTU files, root-relative (spine base subtracted), as
    :class:`PoseSequence` with ``subject = 'P<performer>'``, ``action = 'A<action>'`` (label
    it with :func:`ntu_labels`) and ``camera`` the NTU camera (1-3). Files without a body or
    with fewer than ``min_frames`` frames are skipped."""
    out = []
    for path in sorted(Path(p) for p in paths):
        name = parse_ntu_name(path)
        skel = read_ntu_skeleton(path)
        poses = skel.main_body()
        if skel.num_frames < min_frames or not np.isfinite(poses).all():
            continue
        out.append(PoseSequence(f"P{name.performer:03d}", f"A{name.action:03d} {path.stem}",
                                name.camera, poses - poses[:, :1], fps))
    return out


def ntu_labels(sequences: Sequence[PoseSequence]) -> tuple[dict[str, str], list[str]]:
    """``action -> class`` (``'A001'``, ...) of :func:`ntu_sequences` output, and the sorted
    classes."""
    labels = {s.action: s.action.split()[0] for s in sequences}
    return labels, sorted(set(labels.values()))
