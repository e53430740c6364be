"""BVH motion capture: the parser and forward kinematics (numpy only).

:func:`read_bvh` parses a ``.bvh`` or ``.bvh.gz`` file into a :class:`BvhMotion` (hierarchy +
motion channels, one numpy array); :func:`forward_kinematics` turns the channels into joint
positions, vectorised over frames.

Why our own parser: the BVH libraries on PyPI were tried on these files (2314-frame 13_01).
``pybvh`` 0.9 computes the same positions (within 6e-14) at a similar speed, but makes matplotlib
a hard dependency, reads no ``.gz`` and assumes a fixed channel layout (6 root channels, then 3
rotations per joint); ``bvhio`` 1.5 agrees within 3e-5 file units (it computes in float32) but is
about 20 times slower (a Python object per joint, one pose at a time). The format is small (a
brace-nested hierarchy, then one row of numbers per frame), so a vectorised reader is short, as
fast, and adds no dependency; ``tests/prepare/test_prepare_bvh.py`` checks it against ``pybvh`` when that
is installed.

Rotation convention (the BVH one): a joint's Euler channels, in degrees, are intrinsic rotations in
the declared channel order, so ``CHANNELS 3 Zrotation Xrotation Yrotation`` gives
``R = Rz(z) Rx(x) Ry(y)``; ``p_child = p_parent + R_parent_global offset_child`` and

Shape letters: ``N`` frames, ``J`` joints, ``K`` motion channels.
"""
from __future__ import annotations

import gzip
import zlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["BvhMotion", "read_bvh", "euler_to_matrix", "forward_kinematics"]

_AXES = {"X": 0, "Y": 1, "Z": 2}


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


MAX_BVH_BYTES = 256 << 20
"""The most text one BVH file may hold, after gzip decompression (256 MiB; CMU's longest trial
is about 10 MB): a ``.bvh.gz`` is inflated in chunks and refused once past it."""

MAX_BVH_FRAMES = 1_000_000
"""The most frames one BVH file may declare (2.3 hours at 120 fps)."""

MAX_BVH_MAGNITUDE = 1e7
"""The largest absolute OFFSET or motion value read (centimetres, inches or degrees: far beyond
any capture volume); larger values overflow forward kinematics to inf."""

FRAME_TIME_RANGE = (1e-5, 10.0)
"""Seconds per frame a BVH file may declare (100 000 fps to 0.1 fps)."""


def _open_text(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read(MAX_BVH_BYTES + 1)  # at most the bound, whatever the gzip inflates to
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: could not be read ({exc})") from exc
    if len(data) > MAX_BVH_BYTES:
        raise ValueError(f"{path}: more than {MAX_BVH_BYTES:,} bytes of BVH text (after "
                         "decompression), over the bound; not a motion-capture file of this world")
    return data.decode("ascii", errors="replace")


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
            assert pending is not None  # for the type checker: expect raised otherwise
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
            assert values is not None  # for the type checker: expect raised otherwise
            expect(all(abs(v) <= MAX_BVH_MAGNITUDE for v in values),  # NaN fails too
                   f"OFFSET values that are finite and at most {MAX_BVH_MAGNITUDE:g} in size")
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
    expect(not stack and bool(names), "a closed hierarchy with at least one joint")
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
    if not FRAME_TIME_RANGE[0] <= frame_time <= FRAME_TIME_RANGE[1]:
        raise ValueError(f"{path}: Frame Time must be between {FRAME_TIME_RANGE[0]:g} and "
                         f"{FRAME_TIME_RANGE[1]:g} seconds, found {m.group(2)}")
    num_channels = sum(len(c) for c in channels)
    if num_channels == 0:
        raise ValueError(f"{path}: no joint has CHANNELS; the file holds no motion")
    if num_frames > MAX_BVH_FRAMES:
        raise ValueError(f"{path}: Frames: {num_frames} is over the bound of {MAX_BVH_FRAMES:,}")
    if num_frames * num_channels > (len(body) - m.end() + 1) // 2:  # a value and a separator each
        raise ValueError(f"{path}: declares {num_frames} frames x {num_channels} channels but the "
                         f"motion block has only {len(body) - m.end():,} characters; the file is "
                         "truncated or its frame count is wrong")
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
    if values.size and float(np.abs(values).max()) > MAX_BVH_MAGNITUDE:
        raise ValueError(f"{path}: the motion block holds {float(np.abs(values).max()):.3g}, over "
                         f"the bound of {MAX_BVH_MAGNITUDE:g}")
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
