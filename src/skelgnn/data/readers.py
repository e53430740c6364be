"""Readers of the benchmark's pose and camera files (numpy only: ``prepare/`` imports them freely).

File formats (VideoPose3D's, see ``shared/data/cmu/README.md``):

* ``data_3d_<name>.npz`` -- key ``positions_3d``: ``subject -> action -> (F, 17 or 32, 3)`` world
  metres (32-joint Human3.6M arrays are reduced to 17 joints on read);
* ``data_2d_<name>_<source>.npz`` -- key ``positions_2d``: ``subject -> action -> [4 x (F, 17, 2)]``
  pixels, one array per camera; key ``metadata``;
* ``cameras.json`` -- intrinsics and per-subject extrinsics.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from skelgnn.data.npz import load_npz_object, npz_keys, require_file
from skelgnn.geometry import COORDINATE_LIMIT, Camera
from skelgnn.skeleton import H36M32_KEEP

__all__ = ["read_positions_3d", "read_positions_2d", "read_cameras", "h36m_cameras", "read_json_file", "as_mapping",
           "NUM_JOINTS"]

log = logging.getLogger(__name__)

NUM_JOINTS = 17


def as_mapping(obj: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected a dict, found {type(obj).__name__}")
    return obj


def _coordinates(value: Any, where: str, shape: str, last: int) -> np.ndarray:
    """``value`` as a 3-d float32 array ``(F, J, last)`` of finite coordinates within
    :data:`COORDINATE_LIMIT` (``shape`` describes the expected shape in messages).

    Accepts real numeric arrays (float16/32/64, ints) and object arrays or nested lists holding
    numbers; refuses bool, complex, string, datetime and structured arrays, ragged nesting and
    values that are NaN, infinite (also after the cast to float32) or absurdly large.
    """
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{where}: expected an array of shape {shape}, found ragged nested "
                         f"sequences ({exc})") from None
    if arr.ndim != 3 or arr.shape[-1] != last:
        raise ValueError(f"{where}: expected shape {shape}, found {arr.shape}")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{where}: expected a {shape} array of numbers, found an object array "
                             f"holding non-numbers ({exc})") from None
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{where}: expected a {shape} array of real numbers, found dtype "
                         f"{arr.dtype}; store float32 or float64 coordinates")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int(np.count_nonzero(~np.isfinite(out)))
        raise ValueError(f"{where}: {bad} NaN/inf values (or values beyond float32); expected "
                         "finite coordinates")
    if out.size and float(np.abs(out).max()) > COORDINATE_LIMIT:
        raise ValueError(f"{where}: coordinates up to {float(np.abs(out).max()):.3g}; expected "
                         f"magnitudes below {COORDINATE_LIMIT:g} (metres for 3D, pixels for 2D): "
                         "a corrupt file or wrong units")
    return out


def read_positions_3d(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read a ``data_3d_*.npz`` file: ``subject -> action -> (F, J, 3)`` float32 world metres.

    Any joint count ``J`` (one per file); 32-joint Human3.6M arrays are reduced to 17 joints
    (indices ``H36M32_KEEP``).

    Raises:
        FileNotFoundError: missing file.
        ValueError: missing ``positions_3d`` key, joint counts differing within the file, a wrong
            shape, no frames, or NaN/inf (messages name the file, subject and action).
    """
    path = require_file(Path(path), "3D poses file")
    raw = as_mapping(load_npz_object(path, "positions_3d"), f"{path}: positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    num_joints = 0
    for subject in sorted(raw, key=str):
        actions = as_mapping(raw[subject], f"{path}: positions_3d[{subject!r}]")
        out[str(subject)] = {}
        for action in sorted(actions, key=str):
            where = f"{path}: subject {subject!r}, action {action!r}"
            arr = _coordinates(actions[action], where, "(F, J, 3)", 3)
            if arr.shape[1] == 0:
                raise ValueError(f"{where}: expected (F, J, 3) with J >= 1 joints, found {arr.shape}")
            if arr.shape[1] == 32:
                arr = arr[:, list(H36M32_KEEP)]  # (F, 17, 3)
            num_joints = num_joints or arr.shape[1]  # any skeleton; one per file
            if arr.shape[1] != num_joints:
                raise ValueError(f"{where}: expected {num_joints} joints (as the file's first "
                                 f"sequence) or 32, found {arr.shape[1]}")
            if arr.shape[0] == 0:
                raise ValueError(f"{where}: expected at least one frame, found 0")
            out[str(subject)][str(action)] = np.ascontiguousarray(arr)
    if not any(out.values()):
        raise ValueError(f"{path}: positions_3d holds no sequences")
    log.info("read %s: %d subjects, %d sequences", path, len(out), sum(map(len, out.values())))
    return out


def read_positions_2d(path: str | Path) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, Any]]:
    """Read a ``data_2d_*.npz`` file.

    Returns:
        ``(positions, metadata)``: ``positions[subject][action]`` is a list with one
        ``(F, J, 2)`` float32 pixel array per camera (any ``J``, the metadata's ``num_joints``
        or else the first array's, the same in the whole file); ``metadata`` is the file's
        ``metadata`` dict (empty when the key is absent).

    Raises:
        FileNotFoundError: missing file.
        ValueError: missing ``positions_2d`` key, wrong shape or joint count, NaN/inf.
    """
    path = require_file(Path(path), "2D keypoints file")
    raw = as_mapping(load_npz_object(path, "positions_2d"), f"{path}: positions_2d")
    metadata: dict[str, Any] = {}
    if "metadata" in npz_keys(path):
        metadata = dict(as_mapping(load_npz_object(path, "metadata"), f"{path}: metadata"))
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    num_joints = int(metadata.get("num_joints", 0) or 0)
    for subject in sorted(raw, key=str):
        actions = as_mapping(raw[subject], f"{path}: positions_2d[{subject!r}]")
        out[str(subject)] = {}
        for action in sorted(actions, key=str):
            views = actions[action]
            where = f"{path}: subject {subject!r}, action {action!r}"
            if isinstance(views, np.ndarray) and (views.dtype != object or views.ndim == 0):
                views = [views]
            if not isinstance(views, (list, tuple, np.ndarray)) or len(views) == 0:
                raise ValueError(f"{where}: expected a list of per-camera (F, 17, 2) arrays, "
                                 f"found {type(views).__name__}")
            arrays = []
            for cam, view in enumerate(views):
                cwhere = f"{where}, camera {cam}"
                arr = _coordinates(view, cwhere, "(F, J, 2)", 2)
                if arr.shape[1] == 0:
                    raise ValueError(f"{cwhere}: expected (F, J, 2) with J >= 1 joints, found "
                                     f"{arr.shape}")
                num_joints = num_joints or arr.shape[1]  # any skeleton; one per file
                if arr.shape[1] != num_joints:
                    raise ValueError(f"{cwhere}: expected {num_joints} joints, found {arr.shape[1]}")
                if arr.shape[0] == 0:
                    raise ValueError(f"{cwhere}: expected at least one frame, found 0")
                arrays.append(arr)
            out[str(subject)][str(action)] = arrays
    log.info("read %s: %d subjects, %d sequences", path, len(out), sum(map(len, out.values())))
    return out, metadata


def _parse_camera_table(table: Any, origin: str) -> dict[str, list[Camera]]:
    table = as_mapping(table, origin)
    for key in ("intrinsics", "extrinsics"):
        if key not in table:
            raise ValueError(f"{origin}: missing key {key!r}; keys present: {sorted(table)}")
    intrinsics = table["intrinsics"]
    if not isinstance(intrinsics, list) or not intrinsics:
        raise ValueError(f"{origin}: 'intrinsics' must be a non-empty list, found {type(intrinsics).__name__}")
    extrinsics = as_mapping(table["extrinsics"], f"{origin}: extrinsics")
    out: dict[str, list[Camera]] = {}
    for subject in sorted(extrinsics):
        views = extrinsics[subject]
        if not isinstance(views, list) or len(views) != len(intrinsics):
            found = len(views) if isinstance(views, list) else type(views).__name__
            raise ValueError(f"{origin}: extrinsics[{subject!r}]: expected {len(intrinsics)} cameras "
                             f"(one per intrinsics entry), found {found}")
        cams = []
        for c, (intr, extr) in enumerate(zip(intrinsics, views)):
            try:
                cams.append(Camera.from_dict(as_mapping(intr, "intrinsics"), as_mapping(extr, "extrinsics")))
            except ValueError as exc:
                raise ValueError(f"{origin}: subject {subject!r}, camera {c}: {exc}") from exc
        out[str(subject)] = cams
    return out


def read_json_file(path: Path) -> Any:
    """Parse a JSON file; every way it can fail is a ``ValueError`` naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON (nested too deeply to parse)") from None
    except ValueError as exc:  # JSONDecodeError, and integers with thousands of digits
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def read_cameras(path: str | Path) -> dict[str, list[Camera]]:
    """Read a ``cameras.json`` table: ``subject -> [Camera per camera index]``.

    Camera ``c`` of a subject is ``intrinsics[c]`` with ``extrinsics[subject][c]``.
    """
    path = require_file(Path(path), "camera table")
    return _parse_camera_table(read_json_file(path), str(path))


def h36m_cameras() -> dict[str, list[Camera]]:
    """The packaged Human3.6M camera table (subjects S1, S5, S6, S7, S8, S9, S11)."""
    resource = resources.files("skelgnn") / "resources" / "cameras_h36m.json"
    return _parse_camera_table(json.loads(resource.read_text(encoding="utf-8")), "skelgnn:resources/cameras_h36m.json")
