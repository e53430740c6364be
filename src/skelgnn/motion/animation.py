"""Export a lifted clip for animation tools: BVH (joint rotations), JSON and CSV (positions).

BVH (Biovision Hierarchy) stores a skeleton of fixed bone offsets and, per frame, the root's
position and every joint's rotation. :func:`positions_to_bvh` turns 17 Human3.6M joint positions
per frame into the form Blender, MotionBuilder and retargeting tools expect: position channels on
the root only, rotation-only channels below it, OFFSETs that are the bone lengths. (Blender's
importer takes a joint's position channels as its whole translation, not as an addition to its
OFFSET, so position channels below the root would collapse the figure there.)

1. **fixed bone lengths**: each bone's median length over the clip (:func:`bone_lengths`); a
   lifted clip's bones stretch a little from frame to frame, and that variation is what the
   file cannot hold (:attr:`BvhSolution.residual`);
2. **rest pose** (the BVH offsets, y up, facing +z, left at +x): legs straight down, spine and
   neck straight up, arms out sideways (a T-pose); the three-way branches (Hip -> hips and spine,
   Thorax -> neck and shoulders) keep the clip's median shape, expressed in a frame built from
   the branch itself, so one rotation places all three children;
3. **rotations**, solved from the root outwards, each bone aimed from its already-placed parent
   at the joint's position in the clip (so errors do not accumulate down the limbs): at a branch,
   the rotation that best maps the rest offsets of the three children onto their targets
   (Kabsch: SVD of ``sum_c o_c d_c^T``); along a chain, the smallest rotation (swing, no twist)
   turning the bone from its parent's orientation onto its target. A branch's three bones do not
   keep exactly the same angles in every frame (lifted poses, and even mocap, flex there): its
   children land within that flex of their targets (a few millimetres on mocap);
4. **Euler angles**: local rotations ``L_j = G_parent^T G_j`` written as ``Zrotation Xrotation
   Yrotation`` channels, the same order for every joint (intrinsic, ``L = Rz Rx Ry``, degrees;
   unwrapped over frames so no channel jumps by 360); the root also has ``Xposition Yposition
   Zposition`` (its OFFSET is zero, so readers that add the OFFSET and Blender, which does not,
   agree). Lengths in centimetres (the common BVH unit).

Leaf joints (feet, wrists, head) are joints with zero rotation and a 5 cm ``End Site`` along their
bone, so a reader that keeps only joints still sees all 17 positions. The file reads back with
:func:`skelgnn.prepare.bvh.read_bvh` (tests/motion/test_animation.py) and with Blender's own importer
(:mod:`skelgnn.motion.blender`, tests/motion/test_blender.py) to the positions
:attr:`BvhSolution.positions` predicts.

JSON and CSV hold the positions themselves (:func:`write_json`, :func:`write_csv`), metres.

Shape letters: ``F`` frames, ``J`` joints (17).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from skelgnn.fileio import ZIP_READ_ERRORS, atomic_path, check_npz_members
from skelgnn.skeleton import H36M17

__all__ = [
    "BVH_NAMES",
    "BvhSolution",
    "bone_lengths",
    "matrix_to_euler_zxy",
    "positions_to_bvh",
    "write_bvh",
    "write_json",
    "write_csv",
    "load_motion_npz",
    "export_motion",
    "EXPORT_SUFFIXES",
]

EXPORT_SUFFIXES = (".bvh", ".json", ".csv")
BVH_NAMES: tuple[str, ...] = tuple(n.replace("/", "_") for n in H36M17.names)
"""Joint names in BVH files (``Neck/Nose`` -> ``Neck_Nose``: BVH names are single tokens)."""

_PARENTS = H36M17.parents
_CHILDREN = {j: [c for c, p in enumerate(_PARENTS) if p == j] for j in range(len(_PARENTS))}
# T-pose rest directions (y up, facing +z, left at +x) of each joint's bone from its parent.
_REST_DIR = {1: (-1, 0, 0), 2: (0, -1, 0), 3: (0, -1, 0), 4: (1, 0, 0), 5: (0, -1, 0),
             6: (0, -1, 0), 7: (0, 1, 0), 8: (0, 1, 0), 9: (0, 1, 0), 10: (0, 1, 0),
             11: (1, 0, 0), 12: (1, 0, 0), 13: (1, 0, 0), 14: (-1, 0, 0), 15: (-1, 0, 0),
             16: (-1, 0, 0)}
# Branch joints: (joint, left child, right child, up child) -> frame x = left - right, y ~ up.
_BRANCHES = {0: (4, 1, 7), 8: (11, 14, 9)}
_CM = 100.0
_END_SITE_CM = 5.0

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _text_out(path: str | Path) -> Iterator[IO[str]]:
    """A text handle whose content replaces ``path`` only once complete."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """``(J,)`` median length of every joint's bone to its parent over the clip (0 for the root)."""
    p = np.asarray(positions, dtype=np.float64)
    out = np.zeros(len(_PARENTS))
    for c, par in enumerate(_PARENTS):
        if par >= 0:
            out[c] = np.median(np.linalg.norm(p[:, c] - p[:, par], axis=-1))
    return out


def _branch_frame(q: np.ndarray, left: int, right: int, up: int, joint: int) -> np.ndarray:
    """``(F, 3, 3)`` rotation whose columns are the branch's x (right -> left), y (towards the
    up child, orthogonalised) and z = x cross y, in the clip's coordinates."""
    x = _unit(q[:, left] - q[:, right])
    y = q[:, up] - q[:, joint]
    y = _unit(y - np.sum(y * x, -1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _rest_offsets(q: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(J, 3)`` rest offsets in metres of the clip ``q`` (see the module docstring, step 2)."""
    offsets = np.zeros((len(_PARENTS), 3))
    for c in range(1, len(_PARENTS)):
        offsets[c] = lengths[c] * np.asarray(_REST_DIR[c], dtype=np.float64)
    for joint, (left, right, up) in _BRANCHES.items():
        frame = _branch_frame(q, left, right, up, joint)  # (F, 3, 3)
        for c in _CHILDREN[joint]:
            local = np.einsum("fji,fj->fi", frame, _unit(q[:, c] - q[:, joint]))  # (F, 3)
            offsets[c] = lengths[c] * _unit(np.median(local, axis=0))
    return offsets


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(F, 3, 3)`` rotations ``R`` minimising ``sum_k |R src_k - dst_fk|^2`` for ``src (K, 3)``,
    ``dst (F, K, 3)``."""
    h = np.einsum("ki,fkj->fij", src, dst)  # (F, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("fji,fkj->fik", vt, u)))  # det(V U^T)
    fix = np.broadcast_to(np.eye(3), h.shape).copy()
    fix[:, 2, 2] = d
    return np.einsum("fji,fjk,fkl->fil", vt, fix, np.swapaxes(u, 1, 2))  # V D U^T


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(F, 3, 3)`` smallest rotations taking unit vectors ``a`` onto ``b`` (Rodrigues)."""
    v = np.cross(a, b)
    c = np.sum(a * b, -1)
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    opposite = c < -1 + 1e-9
    r = np.eye(3) + k + k @ k / np.where(opposite, 1.0, 1.0 + c)[..., None, None]
    if np.any(opposite):  # half turn about an axis perpendicular to a
        axis = np.cross(a[opposite], [1.0, 0.0, 0.0])
        axis = np.where(np.linalg.norm(axis, axis=-1, keepdims=True) < 1e-6,
                        np.cross(a[opposite], [0.0, 1.0, 0.0]), axis)
        axis = _unit(axis)
        r[opposite] = 2 * np.einsum("fi,fj->fij", axis, axis) - np.eye(3)
    return r


def matrix_to_euler_zxy(r: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations -> ``(..., 3)`` degrees ``(z, x, y)`` with ``R = Rz Rx Ry``
    (the inverse of :func:`skelgnn.prepare.bvh.euler_to_matrix` with order ``"ZXY"``).

    From ``R[2,1] = sin x``, ``R[0,1] = -sin z cos x``, ``R[1,1] = cos z cos x``, ``R[2,0] =
    -cos x sin y``, ``R[2,2] = cos x cos y``; at ``cos x = 0`` (gimbal lock) ``y = 0``."""
    r = np.asarray(r, dtype=np.float64)
    sx = np.clip(r[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    lock = np.abs(sx) > 1 - 1e-9
    z = np.where(lock, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(lock, 0.0, np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.degrees(np.stack([z, x, y], axis=-1))


@dataclass(frozen=True, eq=False)
class BvhSolution:
    """A clip solved as a BVH skeleton (:func:`positions_to_bvh`).

    Attributes:
        offsets: ``(J, 3)`` rest offsets from the parent, metres (zero for the root); their
            norms are the bone lengths.
        root: ``(F, 3)`` root positions, metres.
        euler: ``(F, J, 3)`` local rotations as ``(z, x, y)`` degrees, ``L = Rz Rx Ry``.
        positions: ``(F, J, 3)`` the joint positions the file encodes (its forward kinematics),
            metres.
        target: ``(F, J, 3)`` the clip that was solved, metres.
    """

    offsets: np.ndarray
    root: np.ndarray
    euler: np.ndarray
    positions: np.ndarray
    target: np.ndarray

    @property
    def residual(self) -> np.ndarray:
        """``(F, J)`` distance, metres, of every encoded joint from the clip's: what fixed bone
        lengths and rigid branches cannot hold."""
        return np.asarray(np.linalg.norm(self.positions - self.target, axis=-1))


def positions_to_bvh(positions: np.ndarray) -> BvhSolution:
    """Solve the BVH of a clip (the module docstring gives the steps).

    Args:
        positions: ``(F, 17, 3)`` y-up metres (e.g. ``poses_world``).
    """
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (len(_PARENTS), 3) or len(p) == 0:
        raise ValueError(f"BVH export: expected (F, 17, 3) positions, found {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("BVH export: positions must be finite (fill missing frames first)")
    lengths = bone_lengths(p)
    offsets = _rest_offsets(p, lengths)
    f, j = p.shape[:2]
    glob = np.zeros((f, j, 3, 3))  # (F, J, 3, 3) global orientation of every joint
    placed = np.zeros_like(p)
    placed[:, 0] = p[:, 0]
    for joint in range(j):  # parents precede children
        par = _PARENTS[joint]
        if par >= 0:
            placed[:, joint] = placed[:, par] + np.einsum("fij,j->fi", glob[:, par], offsets[joint])
        kids = _CHILDREN[joint]
        parent_rot = np.broadcast_to(np.eye(3), (f, 3, 3)) if par < 0 else glob[:, par]
        if not kids:
            glob[:, joint] = parent_rot
        elif len(kids) == 1:
            c = kids[0]
            a = _unit(np.einsum("fij,j->fi", parent_rot, offsets[c]))
            b = _unit(p[:, c] - placed[:, joint])
            glob[:, joint] = _swing(a, b) @ parent_rot
        else:
            dst = np.stack([p[:, c] - placed[:, joint] for c in kids], axis=1)  # (F, K, 3)
            glob[:, joint] = _kabsch(offsets[kids], dst)
    local = glob.copy()
    for joint in range(1, j):
        local[:, joint] = np.swapaxes(glob[:, _PARENTS[joint]], -1, -2) @ glob[:, joint]
    euler = np.unwrap(matrix_to_euler_zxy(local), period=360.0, axis=0)  # no 360-degree jumps
    return BvhSolution(offsets=offsets, root=p[:, 0].copy(), euler=euler, positions=placed, target=p)


def _bvh_text(solution: BvhSolution, fps: float) -> str:
    offsets, root, euler = solution.offsets, solution.root, solution.euler
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        out.write(f"{pad}{kind} {BVH_NAMES[j]}\n{pad}{{\n")
        o = offsets[j] * _CM
        out.write(f"{pad}  OFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}\n")
        if j == 0:
            out.write(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n")
        else:
            out.write(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation\n")
        if _CHILDREN[j]:
            for c in _CHILDREN[j]:
                joint(c, depth + 1)
        else:
            end = _unit(offsets[j]) * _END_SITE_CM
            out.write(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} "
                      f"{end[2]:.6f}\n{pad}  }}\n")
        out.write(f"{pad}}}\n")

    joint(0, 0)
    order = []

    def walk(j: int) -> None:
        order.append(j)
        for c in _CHILDREN[j]:
            walk(c)

    walk(0)
    out.write(f"MOTION\nFrames: {len(root)}\nFrame Time: {1.0 / fps:.10g}\n")
    for f in range(len(root)):
        values = [*(root[f] * _CM)] + [v for j in order for v in euler[f, j]]
        out.write(" ".join(f"{v:.5f}" for v in values) + "\n")
    return out.getvalue()


def write_bvh(positions: np.ndarray, path: str | Path, fps: float = 30.0) -> np.ndarray:
    """Write ``(F, 17, 3)`` y-up metre positions as a BVH file (atomically); returns the
    ``(F, 17, 3)`` positions it encodes (:attr:`BvhSolution.positions`), metres."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, found {fps}")
    solution = positions_to_bvh(positions)
    with _text_out(path) as fh:
        fh.write(_bvh_text(solution, fps))
    res = solution.residual * 1000.0
    logger.info("BVH %s: fixed bone lengths place the joints %.1f mm from the clip's on average "
                "(max %.1f mm)", path, res.mean(), res.max())
    return solution.positions


def write_json(positions: np.ndarray, path: str | Path, fps: float = 30.0,
               frame: str = "world") -> Path:
    """Write positions as JSON: ``{"format", "units": "m", "frame", "fps", "joint_names",
    "parents", "num_frames", "positions": [F][17][3]}`` (0.1 mm precision)."""
    p = np.asarray(positions, dtype=np.float64)
    doc = {"format": "skelgnn-motion-1", "units": "m", "frame": frame, "fps": float(fps),
           "joint_names": list(H36M17.names), "parents": list(_PARENTS), "num_frames": len(p),
           "positions": np.round(p, 4).tolist()}
    with _text_out(path) as fh:
        json.dump(doc, fh)
    return Path(path)


def write_csv(positions: np.ndarray, path: str | Path, fps: float = 30.0) -> Path:
    """Write positions as CSV: columns ``frame, time_s, <joint>_x_m, <joint>_y_m, <joint>_z_m``
    for every joint, one row per frame."""
    p = np.asarray(positions, dtype=np.float64)
    with _text_out(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["frame", "time_s"] + [f"{n}_{a}_m" for n in BVH_NAMES for a in "xyz"])
        for f, pose in enumerate(p):
            w.writerow([f, f"{f / fps:.6f}"] + [f"{v:.4f}" for v in pose.ravel()])
    return Path(path)


def load_motion_npz(path: str | Path) -> tuple[np.ndarray, float, str]:
    """Positions to export from a ``poses_3d.npz``: ``poses_world`` when present (``frame =
    "world"``), else ``poses_3d`` (+ ``trajectory`` when present) turned from the camera's y-down
    axes to y-up by a half turn about x (``frame = "camera"``). Returns ``(positions (F, 17, 3),
    fps (30 when absent), frame)``."""
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"poses file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an npz file")
    try:
        check_npz_members(path)  # sizes from the headers, before anything is inflated
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            fps = _npz_fps(data["fps"], path) if "fps" in keys else 30.0
            if "poses_world" in keys:
                return _real(data["poses_world"], path, "poses_world"), fps, "world"
            if "poses_3d" not in keys:
                raise ValueError(f"{path}: expected 'poses_world' or 'poses_3d'; found "
                                 f"{sorted(keys)}")
            p = _real(data["poses_3d"], path, "poses_3d")
            if "trajectory" in keys:
                traj = _real(data["trajectory"], path, "trajectory")
                if traj.shape != (len(p), 3):
                    raise ValueError(f"{path}: 'trajectory' must be ({len(p)}, 3), found "
                                     f"{traj.shape}")
                p = p + traj[:, None]
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not a readable npz file: {type(exc).__name__}: {exc}") from None
    return p * np.array([1.0, -1.0, -1.0]), fps if fps > 0 else 30.0, "camera"


def _real(value: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``value`` as float64 when it holds real numbers shaped like poses (bool and complex
    arrays are refused as such, not as a shape)."""
    if value.dtype.kind not in "fiu":
        raise ValueError(f"{path}: '{key}' must hold real numbers, found dtype {value.dtype}")
    if key != "trajectory" and (value.ndim != 3 or value.shape[1:] != (len(_PARENTS), 3)):
        raise ValueError(f"{path}: '{key}' must be (F, 17, 3), found {value.shape}")
    return value.astype(np.float64)


def _npz_fps(value: np.ndarray, path: Path) -> float:
    if value.size != 1 or value.dtype.kind not in "fiu":
        raise ValueError(f"{path}: 'fps' must be one number, found {value.dtype} {value.shape}")
    return float(value.reshape(()))


MAX_POSITION_M = 1e4
"""The largest absolute coordinate (metres) an export writes: 10 km, beyond any capture."""

FPS_RANGE = (0.1, 1e5)
"""Frame rates an export writes: our BVH reader's Frame Time range
(:data:`skelgnn.prepare.bvh_reader.FRAME_TIME_RANGE`), so every file we write we read back."""


def check_export(positions: Any, fps: float, origin: str | Path) -> np.ndarray:
    """What every motion writer checks (the readers' checks, applied before writing): real
    numbers (not bool or complex) of shape ``(F, 17, 3)`` with ``F >= 1``, finite, at most
    :data:`MAX_POSITION_M` in size, and a frame rate within :data:`FPS_RANGE`.

    Returns:
        the positions as float64.

    Raises:
        ValueError: naming ``origin`` and what is wrong.
    """
    p = np.asarray(positions)
    if p.dtype.kind not in "fiu":
        raise ValueError(f"{origin}: poses must be real numbers, found dtype {p.dtype}")
    if p.ndim != 3 or p.shape[1:] != (len(_PARENTS), 3) or len(p) == 0:
        raise ValueError(f"{origin}: poses must be (F, 17, 3) with F >= 1, found {p.shape}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all():
        raise ValueError(f"{origin}: poses hold NaN or inf")
    peak = float(np.abs(p).max())
    if peak > MAX_POSITION_M:
        raise ValueError(f"{origin}: poses reach {peak:.3g} m, over the bound of "
                         f"{MAX_POSITION_M:g} m; not a motion")
    if not (math.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise ValueError(f"{origin}: fps must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g}, "
                         f"found {fps:g}")
    return p


def export_motion(positions: np.ndarray, path: str | Path, fps: float = 30.0,
                  frame: str = "world") -> Path:
    """Write ``positions`` to ``path`` in the format its suffix names (``.bvh``, ``.json``,
    ``.csv``), after :func:`check_export`."""
    path = Path(path)
    positions = check_export(positions, fps, path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        write_bvh(positions, path, fps)
    elif suffix == ".json":
        write_json(positions, path, fps, frame)
    elif suffix == ".csv":
        write_csv(positions, path, fps)
    else:
        raise ValueError(f"{path}: unknown export type {suffix!r}; expected one of "
                         f"{', '.join(EXPORT_SUFFIXES)}")
    return path
