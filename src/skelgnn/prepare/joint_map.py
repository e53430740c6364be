"""From BVH joints to the 17 benchmark joints: the joint map, and one sequence's conversion.

A :class:`JointMap` (TOML; the CMU one is built in, ``resources/cmu_joint_map.toml``) names the BVH
joint(s) behind each of the 17 target joints, the units, the axes and the leading frames to drop;
:func:`motion_to_joints` applies it and resamples to the output frame rate;
:func:`place_sequence` centres the pelvis track and puts the ankles above the floor.

Shape letters: ``N`` original frames, ``F`` output frames, ``J`` joints.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from skelgnn.prepare.bvh_reader import BvhMotion, forward_kinematics
from skelgnn.skeleton import H36M17, Skeleton

__all__ = ["JointMap", "load_joint_map", "leading_rest_frames", "motion_to_joints", "place_sequence",
           "fast_joint_frames"]


_AXIS_RE = re.compile(r"^([+-]?)([xyz])$")


@dataclass(frozen=True)
class JointMap:
    """How one family of BVH files becomes the benchmark joints (see ``cmu_joint_map.toml``, and
    ``cmu23_joint_map.toml`` for a 23-joint layout).

    Attributes:
        name: short name (``"cmu"``).
        joints: per target joint (``target`` order) the BVH joints (or End Sites,
            ``"<joint>/End"``) whose mean position it takes.
        scale: file units -> metres.
        axes: world X, Y, Z as signed BVH axes, e.g. ``("x", "-z", "y")``.
        drop_rest_frames: drop the leading frames whose root rotation channels are all exactly 0.
        settle_frames: frames dropped after those (only when there were rest frames).
        description: free text.
        skeleton: the target layout (``None``: :data:`H36M17`); any tree (``[skeleton]`` table).
        floor_joints: target joints placed above the floor (:func:`place_sequence`).
    """

    name: str
    joints: tuple[tuple[str, ...], ...]
    scale: float = 1.0
    axes: tuple[str, str, str] = ("x", "y", "z")
    drop_rest_frames: bool = False
    settle_frames: int = 0
    description: str = ""
    skeleton: Skeleton | None = None
    floor_joints: tuple[str, ...] = ("RFoot", "LFoot")

    @property
    def target(self) -> Skeleton:
        """The target skeleton (:data:`H36M17` unless the map declares one)."""
        return self.skeleton or H36M17

    def __post_init__(self) -> None:
        n = self.target.num_joints
        if len(self.joints) != n or any(not j for j in self.joints):
            raise ValueError(f"joint map {self.name!r}: expected {n} targets, each "
                             f"with at least one BVH joint; found {len(self.joints)}")
        missing_floor = [f for f in self.floor_joints if f not in self.target.names]
        if not self.floor_joints or missing_floor:
            raise ValueError(f"joint map {self.name!r}: floor_joints {list(self.floor_joints)} must "
                             f"name target joints; unknown {missing_floor}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"joint map {self.name!r}: scale must be positive, found {self.scale}")
        letters = []
        for a in self.axes:
            m = _AXIS_RE.match(str(a).strip().lower())
            if m is None:
                raise ValueError(f"joint map {self.name!r}: axes entries must be like 'x' or '-z', found {a!r}")
            letters.append(m.group(2))
        if len(self.axes) != 3 or sorted(letters) != ["x", "y", "z"]:
            raise ValueError(f"joint map {self.name!r}: axes must name x, y and z once each, found {self.axes}")
        if self.settle_frames < 0:
            raise ValueError(f"joint map {self.name!r}: settle_frames must be >= 0, found {self.settle_frames}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], origin: str = "joint map") -> "JointMap":
        """Build from the parsed TOML (keys ``name, scale, axes, drop_rest_frames, settle_frames,
        description, floor_joints``, a ``[joints]`` table keyed by the target joint names, and an
        optional ``[skeleton]`` table ``names, parents, joints_left, joints_right`` for a target
        layout other than :data:`H36M17`)."""
        known = {"name", "scale", "axes", "drop_rest_frames", "settle_frames", "description", "joints",
                 "skeleton", "floor_joints"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{origin}: unknown keys {unknown}; expected some of {sorted(known)}")
        table = raw.get("joints")
        if not isinstance(table, Mapping):
            raise ValueError(f"{origin}: missing [joints] table (target joint -> BVH joint or list)")
        skeleton = _skeleton_table(raw["skeleton"], origin) if "skeleton" in raw else None
        target = skeleton or H36M17
        missing = [n for n in target.names if n not in table]
        extra = sorted(set(table) - set(target.names))
        if missing or extra:
            raise ValueError(f"{origin}: [joints] must name exactly the {target.num_joints} targets "
                             f"{list(target.names)}; missing {missing}, unknown {extra}")
        joints = []
        for n in target.names:
            v = table[n]
            src = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, list) else None
            if not src or not all(isinstance(s, str) for s in src):
                raise ValueError(f"{origin}: [joints] {n!r} must be a BVH joint name or a list of names, found {v!r}")
            joints.append(src)
        axes = raw.get("axes", ["x", "y", "z"])
        if not isinstance(axes, list):
            raise ValueError(f"{origin}: axes must be a list of three strings, found {axes!r}")
        try:
            return cls(name=str(raw.get("name", Path(origin).stem)), joints=tuple(joints),
                       scale=float(raw.get("scale", 1.0)), axes=tuple(str(a) for a in axes),  # type: ignore[arg-type]
                       drop_rest_frames=bool(raw.get("drop_rest_frames", False)),
                       settle_frames=int(raw.get("settle_frames", 0)),
                       description=str(raw.get("description", "")), skeleton=skeleton,
                       floor_joints=tuple(raw.get("floor_joints", ("RFoot", "LFoot"))))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{origin}: {exc}") from exc

    @property
    def bvh_joints(self) -> tuple[str, ...]:
        """Every BVH joint the map reads, without repeats."""
        return tuple(dict.fromkeys(j for group in self.joints for j in group))

    def axes_matrix(self) -> np.ndarray:
        """``(3, 3)`` matrix ``A`` with ``world = A @ bvh`` (signed axis permutation)."""
        out = np.zeros((3, 3))
        for row, a in enumerate(self.axes):
            m = _AXIS_RE.match(a.strip().lower())
            assert m is not None  # checked in __post_init__
            out[row, "xyz".index(m.group(2))] = -1.0 if m.group(1) == "-" else 1.0
        return out


def _skeleton_table(raw: Any, origin: str) -> Skeleton:
    """The ``[skeleton]`` table of a joint map: ``names``, ``parents`` (``-1`` for the root), and
    optionally ``joints_left`` / ``joints_right`` (names or indices, paired)."""
    if not isinstance(raw, Mapping) or "names" not in raw or "parents" not in raw:
        raise ValueError(f"{origin}: [skeleton] needs 'names' and 'parents' lists")
    names = [str(n) for n in raw["names"]]
    side = {k: [names.index(v) if isinstance(v, str) and v in names else v
                for v in raw.get(k, [])] for k in ("joints_left", "joints_right")}
    try:
        return Skeleton(tuple(names), tuple(raw["parents"]), tuple(side["joints_left"]),
                        tuple(side["joints_right"]))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{origin}: [skeleton]: {exc}") from exc


def load_joint_map(path: str | Path | None = None) -> JointMap:
    """Read a joint-map TOML file; ``None`` gives the built-in CMU map (``cmu_joint_map.toml``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: invalid TOML or an invalid map (the message names the file and the key).
    """
    if path is None:
        origin = "skelgnn:resources/cmu_joint_map.toml"
        text = (resources.files("skelgnn") / "resources" / "cmu_joint_map.toml").read_text(encoding="utf-8")
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"joint map not found: {p}; expected a TOML file like "
                                    "skelgnn/resources/cmu_joint_map.toml")
        origin, text = str(p), p.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin}: invalid TOML ({exc})") from exc
    return JointMap.from_dict(raw, origin)


def leading_rest_frames(motion: BvhMotion) -> int:
    """Number of leading frames whose root rotation channels are all exactly zero."""
    _, angles = motion.rotation_channels(motion.parents.index(-1))
    if angles.shape[1] == 0:
        return 0
    moving = np.flatnonzero(np.any(angles != 0.0, axis=1))
    return int(moving[0]) if moving.size else motion.num_frames


def _frame_step(source_fps: float, fps: float | None, where: str) -> int:
    if fps is None:
        return 1
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"--fps must be positive, found {fps}")
    ratio = source_fps / fps
    step = int(round(ratio))
    if step < 1 or abs(ratio - step) > 1e-3 * ratio:
        raise ValueError(f"{where}: {source_fps:.3f} fps cannot be resampled to {fps} fps by keeping "
                         f"every n-th frame; choose an fps that divides {source_fps:.3f}")
    return step


def motion_to_joints(motion: BvhMotion, joint_map: JointMap, fps: float | None = 60.0) -> tuple[np.ndarray, int, int]:
    """The target joints of one file (``joint_map.target`` order), in world metres (not yet placed).

    Drops the leading rest and settle frames the map asks for, keeps every ``step``-th frame
    after the first kept one (``step = source fps / fps``; ``fps=None`` keeps all), runs forward
    kinematics on those frames only, takes each target as the mean of its BVH joints, scales and
    rotates into the world axes. All in float64.

    Returns:
        ``(poses (F, J, 3) float64, first kept original frame s, step)``.

    Raises:
        ValueError: a BVH joint of the map is missing, the frame rate cannot be reached, or no
            frame is left.
    """
    where = motion.source or "BVH"
    step = _frame_step(motion.fps, fps, where)
    start = 0
    if joint_map.drop_rest_frames:
        rest = leading_rest_frames(motion)
        start = rest + joint_map.settle_frames if rest else 0
    frames = np.arange(start, motion.num_frames, step)
    if frames.size == 0:
        raise ValueError(f"{where}: no frames left after dropping the first {start} of {motion.num_frames}")
    names = joint_map.bvh_joints
    raw = forward_kinematics(motion, names, frames)  # (F, B, 3)
    col = {n: i for i, n in enumerate(names)}
    joints = np.stack([raw[:, [col[n] for n in group]].mean(axis=1)
                       for group in joint_map.joints], axis=1)  # (F, J, 3)
    world = joints @ (joint_map.scale * joint_map.axes_matrix()).T  # (F, J, 3)
    return world, int(start), step


def place_sequence(poses: np.ndarray, floor_height: float = 0.08, root: int = 0,
                   feet: Sequence[int] = (3, 6)) -> np.ndarray:
    """Place a world sequence ``(F, J, 3)`` (Z up): subtract the mean ``(x, y)`` of the ``root``
    joint over the sequence, and shift ``z`` so the lowest of the ``feet`` joints over the whole
    sequence sits at ``floor_height`` (the benchmark puts the ankles 0.08 m above the floor)."""
    poses = np.asarray(poses, dtype=np.float64)
    shift = np.zeros(3)
    shift[:2] = poses[:, root, :2].mean(axis=0)
    shift[2] = poses[:, list(feet), 2].min() - floor_height
    return poses - shift


def fast_joint_frames(poses: np.ndarray, fps: float, speed: float = 15.0) -> int:
    """Frames (after the first) in which some joint moved faster than ``speed`` m/s since the
    previous frame (the ``fast_joint_frames`` column of ``actions.csv``)."""
    step = np.linalg.norm(np.diff(poses, axis=0), axis=-1)  # (F - 1, J)
    return int(np.count_nonzero(step.max(axis=1) * fps > speed)) if len(step) else 0
