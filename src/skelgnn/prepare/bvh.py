"""BVH motion capture -> the benchmark's npz files (``skelgnn prepare bvh``).

The pipeline, each step a function:

1. :func:`read_bvh` parses a ``.bvh`` or ``.bvh.gz`` file into a :class:`BvhMotion` (hierarchy +
   motion channels, one numpy array);
2. :func:`forward_kinematics` turns the channels into joint positions (vectorised over frames);
3. a :class:`JointMap` (TOML; the CMU one is built in) names the BVH joint(s) behind each of the 17
   target joints, the units, the axes and the leading frames to drop; :func:`motion_to_joints`
   applies it and resamples to the output frame rate;
4. :func:`place_sequence` centres the pelvis track and puts the ankles above the floor;
5. :func:`prepare_bvh` does all files, names sequences (:func:`cmu_category` on the descriptions of
   ``CMU-INDEX.md``), assigns cameras, projects, optionally adds the synthetic detector
   (:class:`DetectorModel`), and writes ``data_3d_<name>.npz``, ``data_2d_<name>_gt.npz``
   (``_det.npz``), ``cameras.json`` and ``actions.csv``.

Why our own parser: the BVH libraries on PyPI were tried on these files (2314-frame 13_01).
``pybvh`` 0.9 computes the same positions (within 6e-14) at a similar speed, but makes matplotlib
a hard dependency, reads no ``.gz`` and assumes a fixed channel layout (6 root channels, then 3
rotations per joint); ``bvhio`` 1.5 agrees within 3e-5 file units (it computes in float32) but is
about 20 times slower (a Python object per joint, one pose at a time). The format is small (a
brace-nested hierarchy, then one row of numbers per frame), so a vectorised reader is short, as
fast, and adds no dependency; ``tests/test_prepare_bvh.py`` checks it against ``pybvh`` when that
is installed.

Rotation convention (the BVH one): a joint's Euler channels, in degrees, are intrinsic rotations in
the declared channel order, so ``CHANNELS 3 Zrotation Xrotation Yrotation`` gives
``R = Rz(z) Rx(x) Ry(y)``; ``p_child = p_parent + R_parent_global offset_child`` and
``R_child_global = R_parent_global R_child``. Position channels add to the joint's offset.

Shape letters: ``N`` original frames, ``F`` output frames, ``J`` joints, ``K`` motion channels.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import logging
import math
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from skelgnn.geometry import Camera
from skelgnn.skeleton import H36M17, Skeleton, skeleton_metadata

__all__ = [
    "BvhMotion",
    "read_bvh",
    "euler_to_matrix",
    "forward_kinematics",
    "JointMap",
    "load_joint_map",
    "leading_rest_frames",
    "motion_to_joints",
    "place_sequence",
    "fast_joint_frames",
    "CMU_CATEGORY_RULES",
    "cmu_category",
    "read_cmu_index",
    "sequence_keys",
    "assign_cameras",
    "DetectorModel",
    "add_detector_noise",
    "PreparedSequence",
    "PrepareResult",
    "find_bvh_files",
    "prepare_bvh",
]

log = logging.getLogger(__name__)

_AXES = {"X": 0, "Y": 1, "Z": 2}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file.

    Attributes:
        names: joint names in file order (``End Site`` s are not joints; see ``end_sites``).
        parents: parent index of every joint, ``-1`` for the root; parents precede children.
        offsets: ``(J, 3)`` float64 rest offsets from the parent, in file units.
        channels: channel names of every joint (``Xposition``, ``Zrotation``, ...).
        frame_time: seconds per frame.
        motion: ``(N, K)`` float64 channel values, one row per frame, columns in the order of
            ``channels`` over all joints.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray
    source: str = ""
    end_sites: tuple[tuple[str, int, tuple[float, float, float]], ...] = ()
    """``(name, parent joint, offset)`` of every ``End Site``, named ``"<parent>/End"``; joint
    maps and :func:`forward_kinematics` may name them like joints (hand and toe tips)."""

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        """Index of joint ``name``; ``ValueError`` listing the joints when absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"{self.source or 'BVH'}: no joint {name!r}; joints: {list(self.names)}") from None

    def channel_start(self, joint: int) -> int:
        """Column of ``motion`` holding the first channel of ``joint``."""
        return sum(len(c) for c in self.channels[:joint])

    def rotation_channels(self, joint: int) -> tuple[str, np.ndarray]:
        """The Euler axis order (e.g. ``"ZXY"``) and ``(N, 3)`` angles in degrees of ``joint``
        (an empty order and ``(N, 0)`` when it has no rotation channels)."""
        start = self.channel_start(joint)
        cols, order = [], ""
        for i, name in enumerate(self.channels[joint]):
            if name.endswith("rotation"):
                cols.append(start + i)
                order += name[0].upper()
        return order, self.motion[:, cols]

    def position_channels(self, joint: int) -> np.ndarray:
        """``(N, 3)`` position channel values (x, y, z) of ``joint``; zeros for absent channels."""
        start = self.channel_start(joint)
        out = np.zeros((self.num_frames, 3))
        for i, name in enumerate(self.channels[joint]):
            if name.endswith("position"):
                out[:, _AXES[name[0].upper()]] = self.motion[:, start + i]
        return out


_CHANNEL_RE = re.compile(r"^[XYZ](position|rotation)$", re.IGNORECASE)


def _open_text(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="ascii", errors="replace") as f:
            return f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: could not be read ({exc})") from exc


def _parse_hierarchy(tokens: list[str], where: str, end_sites: list[Any] | None = None
                     ) -> tuple[list[str], list[int], list[list[float]], list[tuple[str, ...]]]:
    """Names, parents, offsets and channels of the joints of a tokenised HIERARCHY section;
    ``(name, parent, offset)`` of every End Site is appended to ``end_sites`` when given."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []  # joint index per open brace (-2 for an End Site block)
    pending: int | None = None  # the joint whose '{' comes next
    i = 0

    def expect(cond: bool, what: str) -> None:
        if not cond:
            near = " ".join(tokens[max(0, i - 3): i + 3])
            raise ValueError(f"{where}: malformed HIERARCHY: expected {what} near '{near}'")

    expect(bool(tokens) and tokens[0] == "HIERARCHY", "'HIERARCHY' first")
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            expect(i + 1 < len(tokens), "a joint name")
            expect((tok == "ROOT") == (not stack), "ROOT only at the top level and JOINT inside it")
            parent = next((j for j in reversed(stack) if j >= 0), -1)
            expect(not stack or stack[-1] >= 0, "no JOINT inside an End Site")
            names.append(tokens[i + 1])
            parents.append(parent)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
            i += 2
        elif tok == "End":
            expect(i + 1 < len(tokens) and tokens[i + 1] == "Site", "'End Site'")
            pending = -2
            i += 2
        elif tok == "{":
            expect(pending is not None, "ROOT, JOINT or End Site before '{'")
            stack.append(pending)
            pending = None
            i += 1
        elif tok == "}":
            expect(bool(stack), "a matching '{'")
            stack.pop()
            i += 1
            if not stack:
                break
        elif tok == "OFFSET":
            expect(bool(stack) and i + 3 < len(tokens), "OFFSET x y z inside a block")
            try:
                values: list[float] | None = [float(t) for t in tokens[i + 1: i + 4]]
            except ValueError:
                values = None
            expect(values is not None, "three numbers after OFFSET")
            if stack[-1] >= 0:
                offsets[stack[-1]] = values
            elif end_sites is not None:  # an End Site: its parent is the nearest open joint
                parent = next(j for j in reversed(stack) if j >= 0)
                site = f"{names[parent]}/End"
                if any(e[0] == site for e in end_sites):
                    site = f"{site}{sum(e[1] == parent for e in end_sites) + 1}"
                end_sites.append((site, parent, tuple(values)))
            i += 4
        elif tok == "CHANNELS":
            expect(bool(stack) and stack[-1] >= 0 and i + 1 < len(tokens) and tokens[i + 1].isdigit(),
                   "CHANNELS n inside a joint")
            n = int(tokens[i + 1])
            chans = tuple(tokens[i + 2: i + 2 + n])
            expect(len(chans) == n and all(_CHANNEL_RE.match(c) for c in chans),
                   f"{n} channel names like Xposition / Zrotation")
            channels[stack[-1]] = chans
            i += 2 + n
        else:
            expect(False, "ROOT, JOINT, End Site, OFFSET, CHANNELS or a brace")
    expect(not stack and names, "a closed hierarchy with at least one joint")
    return names, parents, offsets, channels


def read_bvh(path: str | Path) -> BvhMotion:
    """Parse a ``.bvh`` (or gzip-compressed ``.bvh.gz``) file.

    The motion block is converted in one vectorised pass (``np.fromstring`` on the whole block),
    so a 4 MiB file reads in a fraction of a second.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a BVH file, a malformed hierarchy, a frame count or row length that does
            not match the channels, or non-numeric motion values (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BVH file not found: {path}")
    text = _open_text(path)
    head, sep, body = text.partition("MOTION")
    if not sep:
        raise ValueError(f"{path}: no MOTION section; expected a BVH file (HIERARCHY ... MOTION ...)")
    end_sites: list[Any] = []
    names, parents, offsets, channels = _parse_hierarchy(head.split(), str(path), end_sites)

    m = re.match(r"\s*Frames:\s*(\d+)\s*Frame\s+Time:\s*(\S+)\s*\n", body)
    if m is None:
        raise ValueError(f"{path}: expected 'Frames: N' and 'Frame Time: t' after MOTION")
    num_frames = int(m.group(1))
    try:
        frame_time = float(m.group(2))
    except ValueError:
        raise ValueError(f"{path}: Frame Time {m.group(2)!r} is not a number") from None
    if not frame_time > 0:
        raise ValueError(f"{path}: Frame Time must be positive, found {frame_time}")
    num_channels = sum(len(c) for c in channels)
    with warnings.catch_warnings():
        # numpy warns (DeprecationWarning) and stops early when a token is not a number.
        warnings.simplefilter("error")
        try:
            values = np.fromstring(body[m.end():], dtype=np.float64, sep=" ")
        except (DeprecationWarning, ValueError):
            raise ValueError(f"{path}: the motion block holds a value that is not a number") from None
    if values.size != num_frames * num_channels:
        raise ValueError(f"{path}: expected {num_frames} frames x {num_channels} channels = "
                         f"{num_frames * num_channels} motion values, found {values.size}")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: the motion block holds NaN or inf")
    return BvhMotion(names=tuple(names), parents=tuple(parents),
                     offsets=np.asarray(offsets, dtype=np.float64), channels=tuple(channels),
                     frame_time=frame_time, motion=values.reshape(num_frames, num_channels),
                     source=str(path), end_sites=tuple(end_sites))


# --------------------------------------------------------------------------------------------
# Forward kinematics
# --------------------------------------------------------------------------------------------

def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices of intrinsic Euler angles.

    Args:
        angles_deg: ``(..., len(order))`` angles in degrees, one per axis of ``order``.
        order: the axes in channel order, e.g. ``"ZXY"``: ``R = Rz Rx Ry`` (intrinsic rotations
            applied in that order, the BVH convention).

    Returns:
        ``(..., 3, 3)`` float64 matrices (identity for an empty ``order``).
    """
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    if angles.shape[-1] != len(order) or any(a not in _AXES for a in order):
        raise ValueError(f"euler_to_matrix: order {order!r} needs angles (..., {len(order)}), "
                         f"found {angles.shape}")
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(order):
        c, s = np.cos(angles[..., k]), np.sin(angles[..., k])
        r = np.zeros(angles.shape[:-1] + (3, 3))
        a = _AXES[axis]
        b, d = (a + 1) % 3, (a + 2) % 3  # the plane the rotation turns: b -> d
        r[..., a, a] = 1.0
        r[..., b, b] = c
        r[..., d, d] = c
        r[..., b, d] = -s
        r[..., d, b] = s
        out = out @ r  # (..., 3, 3)
    return out


def forward_kinematics(motion: BvhMotion, joints: Sequence[str] | None = None,
                       frames: np.ndarray | slice | None = None) -> np.ndarray:
    """World positions of joints, in file units and axes.

    Only the requested joints and their ancestors are computed.

    Args:
        motion: a parsed file.
        joints: joint names (default: all joints, in file order); End Sites as ``"<parent>/End"``
            (``motion.end_sites``).
        frames: which frames (index array or slice; default all).

    Returns:
        ``(F, len(joints), 3)`` float64 positions.
    """
    wanted = list(motion.names) if joints is None else [str(j) for j in joints]
    sites = {name: (parent, np.asarray(off)) for name, parent, off in motion.end_sites}
    idx = [sites[j][0] if j in sites else motion.index(j) for j in wanted]
    needed: set[int] = set()
    for j in idx:
        while j != -1 and j not in needed:
            needed.add(j)
            j = motion.parents[j]
    sel = slice(None) if frames is None else frames
    num = np.arange(motion.num_frames)[sel].shape[0]
    rot: dict[int, np.ndarray] = {}
    pos: dict[int, np.ndarray] = {}
    for j in sorted(needed):  # parents precede children in file order
        order, angles = motion.rotation_channels(j)
        local_r = euler_to_matrix(angles[sel], order) if order else np.broadcast_to(np.eye(3), (num, 3, 3))
        local_t = motion.offsets[j] + motion.position_channels(j)[sel]  # (F, 3)
        p = motion.parents[j]
        if p == -1:
            pos[j] = local_t
            rot[j] = local_r
        else:
            pos[j] = pos[p] + np.einsum("fij,fj->fi", rot[p], local_t)  # (F, 3)
            rot[j] = rot[p] @ local_r  # (F, 3, 3)
    out = [pos[j] + rot[j] @ sites[name][1] if name in sites else pos[j]
           for name, j in zip(wanted, idx)]  # End Site: parent + R_parent offset
    return np.stack(out, axis=1)  # (F, J, 3)


# --------------------------------------------------------------------------------------------
# Joint maps
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# One sequence
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Naming: CMU action categories and sequence keys
# --------------------------------------------------------------------------------------------

CMU_CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    (r"^playground\b.*\bclimb", "Climb"),
    (r"^playground\b.*\bjump", "Jump"),
    (r"\bdance\b", "Dance"),
    (r"\bbasketball\b", "Basketball"),
    (r"\bsoccer\b", "Soccer"),
    (r"\btai chi\b", "TaiChi"),
    (r"\bjumping jacks\b", "Exercise"),
    (r"\bjump up to grab\b", "Reach"),
    (r"\bjump", "Jump"),
    (r"\brun\b", "Run"),
    (r"\bwalk\b|\bnavigate\b", "Walk"),
    (r"\bclimb\b", "Climb"),
    (r"\bpunch\b|\bswordplay\b|\bboxing\b", "Fight"),
    (r"\bsit on\b", "Sit"),
    (r"\blaugh\b|\bdirect traffic\b|\bwave\b", "Expressions"),
    (r"\bdrink\b|\bwash\b|\bsweep\b|\bmop\b|\bscoop\b", "Everyday"),
)
"""``(regex, category)`` pairs; the first match on the lower-cased CMU description wins
(shared/data/cmu/README.md, "Action categories")."""

OTHER_CATEGORY = "Other"


def cmu_category(description: str) -> str:
    """Action category of a CMU description by :data:`CMU_CATEGORY_RULES` (``"Other"`` when no
    rule matches)."""
    text = description.lower()
    for pattern, category in CMU_CATEGORY_RULES:
        if re.search(pattern, text):
            return category
    return OTHER_CATEGORY


_INDEX_RE = re.compile(r"^\s*(\d+_\d+)\s+(.*?)\s*$")


def read_cmu_index(path: str | Path) -> dict[str, str]:
    """Trial descriptions of ``CMU-INDEX.md`` (lines ``NN_TT  description``): ``"07_01" -> "walk"``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CMU index not found: {path}")
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _INDEX_RE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def sequence_keys(stem: str, parent: str = "") -> tuple[str, str]:
    """``(subject key, trial)`` of a BVH file: ``"07_03"`` -> ``("S07", "07_03")``; a name
    without ``<subject>_<trial>`` uses its parent directory as the subject."""
    m = re.match(r"^(\w+?)_(\w+)$", stem)
    subject = m.group(1) if m else (parent or "S")
    if subject.isdigit():
        subject = f"S{int(subject):02d}"
    return subject, stem


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------

def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def assign_cameras(subjects: Iterable[str], table: Mapping[str, Sequence[Camera]]
                   ) -> tuple[dict[str, list[Camera]], dict[str, str]]:
    """Cameras for every subject.

    A table holding every subject is used as it is. Otherwise (e.g. the Human3.6M table, keyed
    S1 .. S11) its subjects are handed out in turn, cyclically in natural order (S1, S5, S6, S7,
    S8, S9, S11), over all subjects in sorted order: the benchmark's S01 -> S1, S02 -> S5, ...,
    S08 -> S11, S09 -> S1. (Mixing the two would be ambiguous: CMU's S11 is not Human3.6M's S11.)

    The cyclic hand-out depends on which subjects are converted: convert all of them, or pass a
    table with every subject (e.g. the benchmark's ``cameras.json``), to get the benchmark's cameras.

    Returns:
        ``(subject -> cameras, subject -> name of the table subject they came from)``.
    """
    if not table:
        raise ValueError("camera table is empty")
    subjects = sorted(subjects)
    if all(s in table for s in subjects):
        return {s: list(table[s]) for s in subjects}, {s: s for s in subjects}
    pool = sorted(table, key=_natural_key)
    origin = {s: pool[k % len(pool)] for k, s in enumerate(subjects)}
    return {s: list(table[origin[s]]) for s in subjects}, origin


# --------------------------------------------------------------------------------------------
# Synthetic detector
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DetectorModel:
    """The synthetic 2D detector of the CMU benchmark (shared/data/cmu/README.md, "Synthetic
    detector"): GT 2D with occasional left/right limb swaps, plus AR(1) jitter and outlier bursts,
    all in pixels.

    * jitter per joint and axis: ``e_0 = sigma_j n_0``, ``e_t = rho e_(t-1) + sqrt(1 - rho^2)
      sigma_j n_t`` (stationary std ``sigma_j``);
    * outliers: per joint and frame a burst starts with probability ``burst_prob``, lasts
      ``U{1..burst_max_len}`` frames and displaces the joint by a fixed vector of uniform direction
      and length ``U(burst_min_px, burst_max_px)``; a later burst overrides an earlier one;
    * swaps: per frame and limb pair (knee + ankle, elbow + wrist) with probability ``swap_prob``
      the left and right limbs exchange positions for ``U{1..swap_max_len}`` frames.

    Random draws per (subject, action, camera), in this order: normal ``(F, J, 2)``; uniform
    ``(F, J)`` burst starts; integers ``(F, J)`` burst lengths; uniform ``(F, J)`` angles; uniform
    ``(F, J)`` magnitudes; uniform ``(F, 2)`` swap starts; integers ``(F, 2)`` swap lengths.
    """

    sigma: tuple[float, ...] = (3.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0, 3.0, 3.0, 3.5, 3.5,
                                4.0, 5.0, 6.5, 4.0, 5.0, 6.5)
    """stationary jitter std per joint (px): 3.0 pelvis/hips/spine/thorax, 3.5 neck-nose/head,
    4.0 shoulders/knees, 5.0 elbows/ankles, 6.5 wrists."""
    rho: float = 0.7
    burst_prob: float = 0.01
    burst_max_len: int = 6
    burst_min_px: float = 15.0
    burst_max_px: float = 60.0
    swap_prob: float = 0.002
    swap_max_len: int = 4
    swap_pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (((5, 6), (2, 3)), ((12, 13), (15, 16)))
    """(left joints, right joints) of each limb pair: knee + ankle, elbow + wrist."""
    seed: int = 20211011

    def for_skeleton(self, skeleton: Skeleton) -> "DetectorModel":
        """This detector for another layout whose first joints are not necessarily
        :data:`H36M17`'s: a joint named like an H36M17 joint keeps that joint's jitter, any other
        takes its nearest such ancestor's (hand tips a wrist's, toes an ankle's); each limb swap
        pair also swaps the descendants of its joints that mirror each other (skeleton's left /
        right pairs). The 17-joint layout gives back an equal model."""
        by_name = dict(zip(H36M17.names, self.sigma))
        sigma, remap = [], {}
        for j in range(skeleton.num_joints):
            k = j
            while skeleton.names[k] not in by_name and skeleton.parents[k] != -1:
                k = skeleton.parents[k]
            sigma.append(by_name.get(skeleton.names[k], max(self.sigma)))
        for j, n in enumerate(H36M17.names):
            if n in skeleton.names:
                remap[j] = skeleton.names.index(n)
        flip = skeleton.flip_permutation()
        children = skeleton.children()
        pairs = []
        for left, right in self.swap_pairs:
            lj = [remap[j] for j in left if j in remap]
            rj = [remap[j] for j in right if j in remap]
            stack = list(lj)
            while stack:  # descendants of the left joints whose mirror is a descendant on the right
                for c in children[stack.pop()]:
                    if flip[c] != c and c not in lj:
                        lj.append(c)
                        rj.append(int(flip[c]))
                        stack.append(c)
            pairs.append((tuple(lj), tuple(rj)))
        return dataclasses.replace(self, sigma=tuple(sigma), swap_pairs=tuple(pairs))

    def apply(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Detections ``(F, J, 2)`` float64 for one view's GT ``(F, J, 2)`` pixels, drawing from
        ``rng`` in the documented order."""
        gt = np.asarray(gt, dtype=np.float64)
        f, j = gt.shape[:2]
        if len(self.sigma) != j:
            raise ValueError(f"DetectorModel: {len(self.sigma)} sigmas for {j} joints")
        sigma = np.asarray(self.sigma)[None, :, None]
        noise = rng.normal(size=(f, j, 2))
        burst_start = rng.uniform(size=(f, j)) < self.burst_prob
        burst_len = rng.integers(1, self.burst_max_len + 1, size=(f, j))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=(f, j))
        length = rng.uniform(self.burst_min_px, self.burst_max_px, size=(f, j))
        swap_start = rng.uniform(size=(f, len(self.swap_pairs))) < self.swap_prob
        swap_len = rng.integers(1, self.swap_max_len + 1, size=(f, len(self.swap_pairs)))

        # AR(1) jitter: the recursion runs over frames; everything else is vectorised.
        jitter = np.empty((f, j, 2))
        jitter[0] = sigma[0] * noise[0]
        innovation = math.sqrt(1.0 - self.rho ** 2) * sigma[0] * noise
        for t in range(1, f):
            jitter[t] = self.rho * jitter[t - 1] + innovation[t]

        # Bursts: for each (frame, joint) the latest burst still running, if any.
        offset = np.zeros((f, j, 2))
        vec = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * length[..., None]  # (F, J, 2)
        frames, joints = np.nonzero(burst_start)  # sorted by frame: later bursts written last
        for t0, jj in zip(frames.tolist(), joints.tolist()):
            offset[t0: t0 + burst_len[t0, jj], jj] = vec[t0, jj]

        det = gt.copy()
        swapped = np.zeros((f, len(self.swap_pairs)), dtype=bool)
        for t0, k in zip(*np.nonzero(swap_start)):
            swapped[t0: t0 + swap_len[t0, k], k] = True
        for k, (left, right) in enumerate(self.swap_pairs):
            rows = swapped[:, k]
            det[np.ix_(rows, list(left))] = gt[np.ix_(rows, list(right))]
            det[np.ix_(rows, list(right))] = gt[np.ix_(rows, list(left))]
        return det + jitter + offset


def add_detector_noise(positions_2d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                       model: DetectorModel | None = None) -> dict[str, dict[str, list[np.ndarray]]]:
    """Synthetic detections for every view: one ``np.random.default_rng(model.seed)`` consumed in
    sorted subject, sorted action key, camera 0.. order (see :class:`DetectorModel`)."""
    model = model or DetectorModel()
    rng = np.random.default_rng(model.seed)
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject in sorted(positions_2d):
        out[subject] = {}
        for action in sorted(positions_2d[subject]):
            out[subject][action] = [model.apply(view, rng) for view in positions_2d[subject][action]]
    return out


# --------------------------------------------------------------------------------------------
# The whole directory
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreparedSequence:
    """One converted file."""

    subject: str
    trial: str
    action: str
    """the action key, ``<Category> <trial>``."""
    category: str
    description: str
    path: str
    source_frames: int
    first_frame: int
    """first kept original frame (0-based)."""
    frames: int
    fast_joint_frames: int


@dataclass(frozen=True)
class PrepareResult:
    """What :func:`prepare_bvh` wrote."""

    out_dir: str
    files: tuple[str, ...]
    sequences: tuple[PreparedSequence, ...]
    camera_sources: dict[str, str] = field(default_factory=dict)
    """subject -> the camera-table subject whose extrinsics it uses."""

    @property
    def num_frames(self) -> int:
        return sum(s.frames for s in self.sequences)


def find_bvh_files(root: str | Path) -> list[Path]:
    """Every ``*.bvh`` / ``*.bvh.gz`` under ``root`` (recursively), sorted by name; a file given
    directly is returned alone."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"BVH directory not found: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and (p.name.endswith(".bvh") or p.name.endswith(".bvh.gz"))]
    if not files:
        raise FileNotFoundError(f"no .bvh or .bvh.gz files under {root}")
    return sorted(files, key=lambda p: (p.name, str(p)))


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".bvh.gz", ".bvh"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _camera_table(cameras: str | Path | Mapping[str, Sequence[Camera]] | None
                  ) -> tuple[Mapping[str, Sequence[Camera]], str]:
    from skelgnn.data import h36m_cameras, read_cameras

    if cameras is None:
        return h36m_cameras(), "Human3.6M camera calibration (skelgnn built-in table)"
    if isinstance(cameras, Mapping):
        return cameras, "camera table given in code"
    return read_cameras(cameras), f"camera table {cameras}"


def prepare_bvh(bvh_dir: str | Path, out_dir: str | Path, *, fps: float | None = 60.0,
                cameras: str | Path | Mapping[str, Sequence[Camera]] | None = None,
                joint_map: str | Path | JointMap | None = None, name: str = "cmu",
                index: str | Path | None = None, detector: DetectorModel | None = None,
                floor_height: float = 0.08, progress: bool = False) -> PrepareResult:
    """Convert a directory of BVH files into a benchmark directory.

    Args:
        bvh_dir: directory searched recursively for ``.bvh`` / ``.bvh.gz`` (or one file).
        out_dir: where ``data_3d_<name>.npz``, ``data_2d_<name>_gt.npz`` (and ``_det.npz`` with
            a ``detector``), ``cameras.json`` and ``actions.csv`` are written.
        fps: output frame rate (every ``source fps / fps``-th frame; ``None`` keeps all).
        cameras: a ``cameras.json`` path or a ``subject -> cameras`` table; subjects not in it get
            its subjects cyclically (:func:`assign_cameras`). Default: the built-in Human3.6M table.
        joint_map: a :class:`JointMap` or TOML path; default the built-in CMU map.
        name: dataset name in the file names.
        index: ``CMU-INDEX.md`` with the trial descriptions (default: ``<bvh_dir>/CMU-INDEX.md``
            when present). A trial with a description gets the category of
            :func:`cmu_category` (``Other`` when no rule matches); one without (or with no index)
            gets ``Unknown``, so its action key is ``Unknown <trial>``.
        detector: also write ``data_2d_<name>_det.npz`` with this synthetic detector.
        floor_height: height of the lowest ankle over a sequence (metres).
        progress: show a tqdm progress bar on stderr.

    Raises:
        FileNotFoundError: missing directory, files, joint map, index or camera table.
        ValueError: an unreadable BVH, a map naming a missing joint, two files with one action
            key, or an unreachable frame rate (messages name the file).
    """
    from skelgnn.prepare import project_views, write_camera_table, write_positions_2d, write_positions_3d

    if not re.match(r"^\w+$", name):
        raise ValueError(f"--name must be a word like 'cmu', found {name!r}")
    bvh_dir = Path(bvh_dir)
    files = find_bvh_files(bvh_dir)
    jmap = joint_map if isinstance(joint_map, JointMap) else load_joint_map(joint_map)
    if index is None and bvh_dir.is_dir() and (bvh_dir / "CMU-INDEX.md").is_file():
        index = bvh_dir / "CMU-INDEX.md"
    descriptions = read_cmu_index(index) if index is not None else {}
    table, table_origin = _camera_table(cameras)
    target = jmap.target
    feet = tuple(target.names.index(f) for f in jmap.floor_joints)
    metadata = None if target == H36M17 else skeleton_metadata(target, jmap.name)
    if detector is not None and len(detector.sigma) != target.num_joints:
        detector = detector.for_skeleton(target)

    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="prepare bvh", unit="file")
    poses: dict[str, dict[str, np.ndarray]] = {}
    sequences: list[PreparedSequence] = []
    for path in iterator:
        stem = _stem(path)
        subject, trial = sequence_keys(stem, path.parent.name)
        motion = read_bvh(path)
        world, start, _ = motion_to_joints(motion, jmap, fps)
        world = place_sequence(world, floor_height, root=target.root, feet=feet)
        description = descriptions.get(trial, "Unknown")
        category = cmu_category(description) if trial in descriptions else "Unknown"
        action = f"{category} {trial}"
        if action in poses.get(subject, {}):
            raise ValueError(f"{path}: action key {action!r} of subject {subject} comes from two files")
        poses.setdefault(subject, {})[action] = world
        out_fps = fps if fps is not None else motion.fps
        sequences.append(PreparedSequence(
            subject=subject, trial=trial, action=action, category=category, description=description,
            path=str(path), source_frames=motion.num_frames, first_frame=start, frames=world.shape[0],
            fast_joint_frames=fast_joint_frames(world, out_fps)))
        log.debug("%s: %d -> %d frames, first kept %d", path, motion.num_frames, world.shape[0], start)

    cams, cam_origin = assign_cameras(poses, table)
    gt = {s: {a: project_views(w, cams[s]) for a, w in acts.items()} for s, acts in poses.items()}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_positions_3d(out / f"data_3d_{name}.npz", poses),
               write_positions_2d(out / f"data_2d_{name}_gt.npz", gt, metadata)]
    if detector is not None:
        written.append(write_positions_2d(out / f"data_2d_{name}_det.npz", add_detector_noise(gt, detector),
                                          metadata))
    mapping = ", ".join(f"{s}->{o}" for s, o in sorted(cam_origin.items()))
    written.append(write_camera_table(out / "cameras.json", cams,
                                      f"{table_origin}; subject -> camera subject: {mapping}"))
    written.append(_write_actions(out / "actions.csv", sequences))
    seqs = tuple(sorted(sequences, key=lambda s: (s.subject, s.trial)))
    log.info("prepared %d sequences (%d frames) into %s", len(seqs), sum(s.frames for s in seqs), out)
    return PrepareResult(out_dir=str(out), files=tuple(str(p) for p in written), sequences=seqs,
                         camera_sources=cam_origin)


def _write_actions(path: Path, sequences: Sequence[PreparedSequence]) -> Path:
    """``actions.csv`` in the benchmark's columns (``frames_60fps`` holds the output frame count)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["subject", "trial", "category", "description", "frames_60fps", "action_key",
                     "fast_joint_frames"])
    for s in sorted(sequences, key=lambda s: (s.subject, s.trial)):
        trial = s.trial.split("_", 1)[1] if "_" in s.trial else s.trial
        writer.writerow([s.subject, trial, s.category, s.description, s.frames, s.action, s.fast_joint_frames])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path
