"""Benchmark readers, the per-view sequence records, and the windowed training dataset.

File formats (VideoPose3D's, see ``shared/data/cmu/README.md``):

* ``data_3d_<name>.npz`` -- key ``positions_3d``: ``subject -> action -> (F, 17 or 32, 3)`` world
  metres (32-joint Human3.6M arrays are reduced to 17 joints on read);
* ``data_2d_<name>_<source>.npz`` -- key ``positions_2d``: ``subject -> action -> [4 x (F, 17, 2)]``
  pixels, one array per camera; key ``metadata``;
* ``cameras.json`` -- intrinsics and per-subject extrinsics; ``split.json``; ``actions.csv``.

The npz files hold a pickled dict inside a 0-d object array. They are read with
:func:`load_npz_object`, which never calls ``np.load(allow_pickle=True)``: it parses the ``.npy``
header itself and unpickles with a restricted unpickler that can only rebuild numpy arrays, dtypes
and plain containers, so a crafted file cannot run code.

Shape letters: ``B`` batch, ``F`` frames of a sequence, ``R`` receptive field (frames in one input
window), ``J`` joints, ``C`` channels.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from skelgnn.codec import PoseCodec
from skelgnn.fileio import ZIP_READ_ERRORS, check_npy_size, read_npy_header
from skelgnn.geometry import COORDINATE_LIMIT, Camera
from skelgnn.skeleton import H36M32_KEEP, Skeleton

__all__ = [
    "load_npz_object",
    "npz_keys",
    "read_positions_3d",
    "read_positions_2d",
    "read_cameras",
    "h36m_cameras",
    "read_split",
    "ActionInfo",
    "read_actions",
    "resolve_data_dir",
    "positions_3d_path",
    "positions_2d_path",
    "available_sources",
    "Sequence2D3D",
    "load_benchmark",
    "action_category",
    "SampleLabels",
    "WindowDataset",
    "SubjectSummary",
    "CategorySummary",
    "SourceSummary",
    "BenchmarkReport",
    "check_benchmark",
    "read_skeleton",
]

log = logging.getLogger(__name__)

NUM_JOINTS = 17
DATA_ENV = "SKELGNN_DATA"
DEFAULT_DATA_DIR = Path("..") / "shared" / "data" / "cmu"
_DATA_HINT = (f"pass --data DIR (the directory holding data_3d_cmu.npz, e.g. {DEFAULT_DATA_DIR}) "
              f"or set {DATA_ENV}")


# --------------------------------------------------------------------------------------------
# Safe npz reading
# --------------------------------------------------------------------------------------------

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(m, "_reconstruct") for m in _NUMPY_CORE]
    + [(m, "scalar") for m in _NUMPY_CORE]
    + [(m, "_frombuffer") for m in _NUMPY_NUMERIC]  # protocol-5 array pickles
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")]
    + [(b, name) for b in ("builtins", "__builtin__")
       for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                    "int", "float", "complex", "bool")]
)


class _ForbiddenGlobal(ValueError):
    """A pickle asked for a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals numpy arrays and plain containers need."""

    def __init__(self, file: io.BufferedIOBase, origin: str) -> None:
        # latin1 lets Python 2 numpy pickles (byte strings holding array data) load.
        super().__init__(file, encoding="latin1")
        self._origin = origin

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise _ForbiddenGlobal(
                f"{self._origin}: refusing to unpickle {module}.{name}; only numpy arrays, dtypes "
                "and plain containers are allowed in data files")
        if module == "__builtin__":
            module = "builtins"
        return super().find_class(module, name)


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}; {_DATA_HINT}")
    return path


def npz_keys(path: str | Path) -> list[str]:
    """The array names stored in an npz archive."""
    path = _require_file(Path(path), "npz file")
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not an npz (zip) archive ({type(exc).__name__}: {exc})") from None


def load_npz_object(path: str | Path, key: str) -> Any:
    """Read array ``key`` of an npz archive without ``allow_pickle=True``.

    Object arrays (VideoPose3D's pickled dicts) are read by opening the ``key.npy`` member of the
    zip, parsing its ``.npy`` header (``numpy.lib.format.read_magic`` /
    ``read_array_header_1_0`` / ``read_array_header_2_0``) and unpickling the rest with a
    restricted unpickler whose ``find_class`` resolves only numpy's array / dtype / scalar
    reconstructors, ``collections.OrderedDict`` and builtin containers and scalars; any other
    global (``os.system``, ``builtins.eval``, a class with ``__reduce__``...) raises ``ValueError``
    naming the file before anything is called. Plain (non-object) arrays are read with
    ``np.load(allow_pickle=False)``.

    Returns:
        The stored object: for a 0-d object array its single item (the dict), otherwise the array.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not an npz archive or a damaged one, ``key`` missing (the message lists the
            keys present), an unsupported header or one declaring more data than the member
            holds, a corrupt pickle, or a forbidden global.
    """
    path = _require_file(Path(path), "npz file")
    member = f"{key}.npy"
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if member not in names:
                present = [n[:-4] for n in names if n.endswith(".npy")]
                raise ValueError(f"{path}: no key {key!r}; keys present: {present}")
            stored = zf.getinfo(member).file_size
            with zf.open(member) as f:
                origin = f"{path}: key {key!r}"
                shape, dtype = read_npy_header(f, origin)
                check_npy_size(shape, dtype, stored - f.tell(), origin)
                payload = f.read() if dtype.hasobject else None
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not an npz (zip) archive, or a damaged one "
                         f"({type(exc).__name__}: {exc})") from None
    if payload is None:
        try:
            with np.load(path, allow_pickle=False) as npz:
                return npz[key]
        except (ValueError, *ZIP_READ_ERRORS) as exc:
            raise ValueError(f"{path}: key {key!r} could not be read ({type(exc).__name__}: "
                             f"{exc})") from None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload), str(path)).load()
    except _ForbiddenGlobal as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # corrupt pickle: UnpicklingError, EOFError, ValueError, MemoryError...
        raise ValueError(f"{path}: key {key!r} could not be unpickled ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, np.ndarray):
        raise ValueError(f"{path}: key {key!r} should unpickle to a numpy array, found {type(obj).__name__}")
    return obj.item() if obj.ndim == 0 else obj


# --------------------------------------------------------------------------------------------
# Pose readers
# --------------------------------------------------------------------------------------------

def _as_mapping(obj: Any, where: str) -> Mapping[Any, Any]:
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
    path = _require_file(Path(path), "3D poses file")
    raw = _as_mapping(load_npz_object(path, "positions_3d"), f"{path}: positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    num_joints = 0
    for subject in sorted(raw, key=str):
        actions = _as_mapping(raw[subject], f"{path}: positions_3d[{subject!r}]")
        out[str(subject)] = {}
        for action in sorted(actions, key=str):
            where = f"{path}: subject {subject!r}, action {action!r}"
            arr = _coordinates(actions[action], where, "(F, 17 or 32, 3)", 3)
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
    path = _require_file(Path(path), "2D keypoints file")
    raw = _as_mapping(load_npz_object(path, "positions_2d"), f"{path}: positions_2d")
    metadata: dict[str, Any] = {}
    if "metadata" in npz_keys(path):
        metadata = dict(_as_mapping(load_npz_object(path, "metadata"), f"{path}: metadata"))
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    num_joints = int(metadata.get("num_joints", 0) or 0)
    for subject in sorted(raw, key=str):
        actions = _as_mapping(raw[subject], f"{path}: positions_2d[{subject!r}]")
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
                arr = _coordinates(view, cwhere, "(F, 17, 2)", 2)
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
    table = _as_mapping(table, origin)
    for key in ("intrinsics", "extrinsics"):
        if key not in table:
            raise ValueError(f"{origin}: missing key {key!r}; keys present: {sorted(table)}")
    intrinsics = table["intrinsics"]
    if not isinstance(intrinsics, list) or not intrinsics:
        raise ValueError(f"{origin}: 'intrinsics' must be a non-empty list, found {type(intrinsics).__name__}")
    extrinsics = _as_mapping(table["extrinsics"], f"{origin}: extrinsics")
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
                cams.append(Camera.from_dict(_as_mapping(intr, "intrinsics"), _as_mapping(extr, "extrinsics")))
            except ValueError as exc:
                raise ValueError(f"{origin}: subject {subject!r}, camera {c}: {exc}") from exc
        out[str(subject)] = cams
    return out


def _read_json_file(path: Path) -> Any:
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
    path = _require_file(Path(path), "camera table")
    return _parse_camera_table(_read_json_file(path), str(path))


def h36m_cameras() -> dict[str, list[Camera]]:
    """The packaged Human3.6M camera table (subjects S1, S5, S6, S7, S8, S9, S11)."""
    resource = resources.files("skelgnn") / "resources" / "cameras_h36m.json"
    return _parse_camera_table(json.loads(resource.read_text(encoding="utf-8")), "skelgnn:resources/cameras_h36m.json")


def _cameras_for(cameras: Mapping[str, list[Camera]], subject: str, origin: str) -> list[Camera]:
    if subject not in cameras:
        raise ValueError(f"{origin}: no cameras for subject {subject!r}; subjects present: {sorted(cameras)}")
    return cameras[subject]


def read_split(path: str | Path) -> dict[str, list[str]]:
    """Read ``split.json``: ``{"train": [...], "test": [...], "val": [...]}`` subject keys.

    ``val`` is optional (an empty list when absent) and must be a subset of ``train`` (the
    benchmark's validation subjects are held out of training only for model selection).
    """
    path = _require_file(Path(path), "split file")
    raw = _as_mapping(_read_json_file(path), str(path))
    out: dict[str, list[str]] = {}
    for key in ("train", "test", "val"):
        if key not in raw:
            if key == "val":
                out[key] = []
                continue
            raise ValueError(f"{path}: missing key {key!r}; keys present: {sorted(raw)}")
        value = raw[key]
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise ValueError(f"{path}: {key!r} must be a list of subject names, found {value!r}")
        out[key] = list(value)
    if set(out["train"]) & set(out["test"]):
        raise ValueError(f"{path}: subjects in both train and test: {sorted(set(out['train']) & set(out['test']))}")
    if not set(out["val"]) <= set(out["train"]):
        raise ValueError(f"{path}: val subjects must be part of train; not in train: "
                         f"{sorted(set(out['val']) - set(out['train']))}")
    return out


@dataclass(frozen=True)
class ActionInfo:
    """One row of ``actions.csv``."""

    subject: str
    trial: str
    category: str
    description: str
    frames: int
    action_key: str
    fast_joint_frames: int


def read_actions(path: str | Path) -> dict[str, ActionInfo]:
    """Read ``actions.csv``: ``action_key -> ActionInfo``."""
    path = _require_file(Path(path), "action table")
    expected = ["subject", "trial", "category", "description", "frames_60fps", "action_key", "fast_joint_frames"]
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != expected:
            raise ValueError(f"{path}: expected columns {expected}, found {reader.fieldnames}")
        out: dict[str, ActionInfo] = {}
        for line, row in enumerate(reader, start=2):
            try:
                info = ActionInfo(row["subject"], row["trial"], row["category"], row["description"],
                                  int(row["frames_60fps"]), row["action_key"], int(row["fast_joint_frames"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from exc
            if info.action_key in out:
                raise ValueError(f"{path}, line {line}: duplicate action_key {info.action_key!r}")
            out[info.action_key] = info
    return out


# --------------------------------------------------------------------------------------------
# Locating the benchmark
# --------------------------------------------------------------------------------------------

def resolve_data_dir(path: str | Path | None = None) -> Path:
    """The benchmark directory.

    ``path`` when given (it must exist); otherwise the ``SKELGNN_DATA`` environment variable when
    set (it must exist: a mistyped variable is an error, not a silent fallback); otherwise
    ``../shared/data/cmu`` relative to the current working directory when present.

    Raises:
        FileNotFoundError: none of these names an existing directory; the message says to pass
            ``--data DIR``.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise FileNotFoundError(f"data directory not found: {p}; {_DATA_HINT}")
        return p
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise FileNotFoundError(f"data directory from {DATA_ENV} not found: {p}; {_DATA_HINT}")
        log.info("data directory from %s: %s", DATA_ENV, p)
        return p
    p = Path.cwd() / DEFAULT_DATA_DIR
    if p.is_dir():
        log.info("data directory: %s", p)
        return p
    raise FileNotFoundError(f"no data directory given and {DEFAULT_DATA_DIR} does not exist under "
                            f"{Path.cwd()}; {_DATA_HINT}")


_SOURCE_RE = re.compile(r"^\w+$")


def positions_3d_path(data_dir: str | Path, dataset: str = "cmu") -> Path:
    """``<data_dir>/data_3d_<dataset>.npz``."""
    return Path(data_dir) / f"data_3d_{dataset}.npz"


def positions_2d_path(data_dir: str | Path, source: str, dataset: str = "cmu") -> Path:
    """``<data_dir>/data_2d_<dataset>_<source>.npz`` (sources ``det`` and ``gt`` on CMU)."""
    if not _SOURCE_RE.match(source):
        raise ValueError(f"2D source must be a name like 'det' or 'gt', found {source!r}")
    return Path(data_dir) / f"data_2d_{dataset}_{source}.npz"


def available_sources(data_dir: str | Path, dataset: str = "cmu") -> list[str]:
    """The 2D sources present in ``data_dir`` (``data_2d_<dataset>_<source>.npz`` files)."""
    prefix = f"data_2d_{dataset}_"
    return sorted(p.name[len(prefix):-4] for p in Path(data_dir).glob(f"{prefix}*.npz")
                  if _SOURCE_RE.match(p.name[len(prefix):-4]))


def _camera_table(data_dir: Path, dataset: str) -> tuple[dict[str, list[Camera]], str]:
    path = data_dir / "cameras.json"
    if path.is_file():
        return read_cameras(path), str(path)
    if dataset == "h36m":
        log.info("no %s; using the packaged Human3.6M camera table", path)
        return h36m_cameras(), "skelgnn:resources/cameras_h36m.json"
    raise FileNotFoundError(f"camera table not found: {path}; {_DATA_HINT}")


# --------------------------------------------------------------------------------------------
# Sequence records
# --------------------------------------------------------------------------------------------

def read_skeleton(data_dir: str | Path | None, source: str = "gt", dataset: str = "cmu",
                  num_joints: int | None = None) -> Skeleton:
    """The skeleton of a benchmark: from the ``parents`` (``joint_names``, ``keypoints_symmetry``)
    of its 2D file's metadata (:func:`skelgnn.prepare.bvh.prepare_bvh` writes them for maps other
    than Human3.6M-17), else :data:`~skelgnn.skeleton.H36M17`."""
    from skelgnn.skeleton import skeleton_from_metadata

    path = _require_file(positions_2d_path(resolve_data_dir(data_dir), source, dataset),
                         f"2D keypoints file for source {source!r}")
    meta: dict[str, Any] = {}
    if "metadata" in npz_keys(path):
        meta = dict(_as_mapping(load_npz_object(path, "metadata"), f"{path}: metadata"))
    return skeleton_from_metadata(meta, num_joints)


def action_category(action_key: str) -> str:
    """The action category of an action key: its first word (``'Walk 07_03'`` -> ``'Walk'``)."""
    words = str(action_key).split()
    if not words:
        raise ValueError(f"action key must not be empty, found {action_key!r}")
    return words[0]


@dataclass(frozen=True, eq=False)
class Sequence2D3D:
    """One (subject, action, camera) view of a sequence.

    Attributes:
        subject, action: keys of the data files.
        camera: camera index (0-based, the order of the camera table).
        keypoints_2d: ``(F, 17, 2)`` float32 pixels (truncated to the 3D length; may be a view
            into the loaded 2D file).
        poses_3d: ``(F, 17, 3)`` float32 root-relative camera-frame metres (the target).
        trajectory: ``(F, 3)`` float32 camera-frame position of the root joint in metres, so
            ``poses_3d + trajectory[:, None]`` is the absolute camera-frame pose.
        image_size: ``(width, height)`` in pixels.
        calibration: the :class:`Camera` of this view.
    """

    subject: str
    action: str
    camera: int
    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    trajectory: np.ndarray
    image_size: tuple[int, int]
    calibration: Camera

    @property
    def num_frames(self) -> int:
        return int(self.poses_3d.shape[0])

    @property
    def category(self) -> str:
        return action_category(self.action)


def _views_for(p2: Mapping[str, Mapping[str, list[np.ndarray]]], path: Path, subject: str,
               action: str, num_cameras: int, num_frames: int) -> list[np.ndarray]:
    """The 2D views of one sequence, checked against the 3D and truncated to its length."""
    if subject not in p2:
        raise ValueError(f"{path}: no 2D keypoints for subject {subject!r}; subjects present: {sorted(p2)}")
    if action not in p2[subject]:
        raise ValueError(f"{path}: subject {subject!r} has no 2D keypoints for action {action!r} "
                         "(present in the 3D file)")
    views = p2[subject][action]
    if len(views) != num_cameras:
        raise ValueError(f"{path}: subject {subject!r}, action {action!r}: expected {num_cameras} "
                         f"cameras (the camera table), found {len(views)}")
    out = []
    for c, view in enumerate(views):
        if view.shape[0] < num_frames:
            raise ValueError(f"{path}: subject {subject!r}, action {action!r}, camera {c}: 2D has "
                             f"{view.shape[0]} frames, fewer than the 3D's {num_frames}")
        out.append(view[:num_frames])  # 2D may run a few frames past the 3D: truncate
    return out


def load_benchmark(data_dir: str | Path | None, source: str = "det",
                   subjects: Sequence[str] | None = None, dataset: str = "cmu") -> list[Sequence2D3D]:
    """Load one 2D source with its 3D targets as per-(subject, action, camera) records.

    Args:
        data_dir: the benchmark directory (``None``: :func:`resolve_data_dir`).
        source: 2D source, ``"det"`` (synthetic detector) or ``"gt"`` (projected ground truth).
        subjects: subjects to load (``None``: every subject of the 3D file).
        dataset: file name stem (``data_3d_<dataset>.npz``); with ``"h36m"`` the packaged Human3.6M
            cameras are used when the directory has no ``cameras.json``.

    Returns:
        Records sorted by subject, action, camera. Targets are ``R^T (X - t)`` minus the root.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: unknown subject (the message lists the available ones), a subject without
            cameras, 2D shorter than 3D, or any reader error.
    """
    data_dir = resolve_data_dir(data_dir)
    path_3d = positions_3d_path(data_dir, dataset)
    path_2d = positions_2d_path(data_dir, source, dataset)
    _require_file(path_2d, f"2D keypoints file for source {source!r}")
    p3 = read_positions_3d(path_3d)
    if subjects is None:
        chosen = sorted(p3)
    else:
        chosen = sorted(dict.fromkeys(str(s) for s in subjects))
        unknown = [s for s in chosen if s not in p3]
        if unknown:
            raise ValueError(f"{path_3d}: unknown subjects {unknown}; available: {sorted(p3)}")
    cameras, cam_origin = _camera_table(data_dir, dataset)
    for subject in chosen:  # fail before the slow 2D read
        _cameras_for(cameras, subject, cam_origin)
    p2, _ = read_positions_2d(path_2d)
    records: list[Sequence2D3D] = []
    for subject in chosen:
        cams = _cameras_for(cameras, subject, cam_origin)
        for action, world in p3[subject].items():
            views = _views_for(p2, path_2d, subject, action, len(cams), world.shape[0])
            for c, (cam, kp) in enumerate(zip(cams, views)):
                x_cam = cam.world_to_camera(world)  # (F, 17, 3) float64
                root = x_cam[:, :1]
                records.append(Sequence2D3D(
                    subject=subject, action=action, camera=c, keypoints_2d=kp,
                    poses_3d=(x_cam - root).astype(np.float32),
                    trajectory=root[:, 0].astype(np.float32),
                    image_size=cam.image_size, calibration=cam))
    log.info("loaded %d %s records (%d frames per camera) from %s", len(records), source,
             sum(r.num_frames for r in records if r.camera == 0), data_dir)
    return records


# --------------------------------------------------------------------------------------------
# Windowed dataset
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SampleLabels:
    """Per-sample labels of a :class:`WindowDataset`, parallel ``(N,)`` arrays."""

    subject: np.ndarray
    action: np.ndarray
    category: np.ndarray
    camera: np.ndarray
    frame: np.ndarray
    sequence: np.ndarray
    """index of the sample's record in the dataset's record list."""

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def __getitem__(self, i: int) -> tuple[str, str, int, int]:
        """``(subject, action, camera, frame)`` of sample ``i``."""
        return str(self.subject[i]), str(self.action[i]), int(self.camera[i]), int(self.frame[i])


class WindowDataset(torch.utils.data.Dataset):
    """Input windows of ``R`` frames and the 3D pose of their centre frame.

    Everything is precomputed once: each record's 2D keypoints are encoded by ``codec`` and padded
    by ``(R - 1) / 2`` edge-replicated frames at both ends, then all sequences are stored in one
    contiguous ``(sum(F + R - 1), J, 2)`` float32 array; the targets in one ``(sum(F), J, 3)``
    array. A sample is a (sequence, frame) pair; frames ``0, stride, 2 stride, ...`` of every
    sequence are samples, so ``stride=2`` trains on every 2nd frame and ``stride=1`` (test)
    predicts every frame.

    Args:
        records: sequences from :func:`load_benchmark`.
        receptive_field: ``R``, odd, >= 1.
        stride: frame step between samples, >= 1.
        codec: the normalisation (default ``PoseCodec()``, screen mode).
    """

    def __init__(self, records: Sequence[Sequence2D3D], receptive_field: int = 1, stride: int = 1,
                 codec: PoseCodec | None = None) -> None:
        if isinstance(receptive_field, bool) or not isinstance(receptive_field, int) \
                or receptive_field < 1 or receptive_field % 2 == 0:
            raise ValueError(f"receptive_field must be an odd integer >= 1, found {receptive_field!r}")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be an integer >= 1, found {stride!r}")
        if len(records) == 0:
            raise ValueError("WindowDataset needs at least one record, found none")
        self.receptive_field = receptive_field
        self.stride = stride
        self.codec = codec if codec is not None else PoseCodec()
        self.pad = (receptive_field - 1) // 2
        self.keys: list[tuple[str, str, int]] = [(r.subject, r.action, r.camera) for r in records]
        self.image_sizes: list[tuple[int, int]] = [tuple(r.image_size) for r in records]

        lengths = np.array([r.num_frames for r in records], dtype=np.int64)
        padded = lengths + 2 * self.pad
        self.input_offsets = np.concatenate([[0], np.cumsum(padded)]).astype(np.int64)
        self.target_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        num_joints = records[0].poses_3d.shape[1]
        self._inputs = np.empty((int(self.input_offsets[-1]), num_joints, 2), dtype=np.float32)
        self._targets = np.empty((int(self.target_offsets[-1]), num_joints, 3), dtype=np.float32)
        for s, rec in enumerate(records):
            if rec.keypoints_2d.shape[0] != rec.num_frames or rec.keypoints_2d.shape[1] != num_joints \
                    or rec.poses_3d.shape[1] != num_joints:
                raise ValueError(f"record {rec.subject} / {rec.action} / camera {rec.camera}: 2D "
                                 f"{rec.keypoints_2d.shape} and 3D {rec.poses_3d.shape} must share "
                                 f"F and J={num_joints}")
            x = self.codec.encode_2d(rec.keypoints_2d, rec.image_size)  # (F, J, 2)
            lo, hi = self.input_offsets[s], self.input_offsets[s + 1]
            self._inputs[lo:hi] = np.pad(x, ((self.pad, self.pad), (0, 0), (0, 0)), mode="edge")
            self._targets[self.target_offsets[s]:self.target_offsets[s + 1]] = self.codec.encode_3d(rec.poses_3d)

        counts = (lengths + stride - 1) // stride  # samples per sequence
        self.sample_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._seq = np.repeat(np.arange(len(records), dtype=np.int32), counts)  # (N,)
        local = np.arange(int(counts.sum()), dtype=np.int64) - self.sample_offsets[self._seq]
        self._frame = (local * stride).astype(np.int32)  # (N,)
        # Window of sample i: padded rows [start, start + R); padded row f + pad is frame f.
        self._window_start = self.input_offsets[self._seq] + self._frame  # (N,)
        self._target_row = self.target_offsets[self._seq] + self._frame  # (N,)
        self._window = np.arange(receptive_field, dtype=np.int64)
        log.info("WindowDataset: %d sequences, %d samples, R=%d, stride=%d, %.1f MiB",
                 len(records), len(self), receptive_field, stride,
                 (self._inputs.nbytes + self._targets.nbytes) / 2**20)

    def __len__(self) -> int:
        return int(self._seq.shape[0])

    @property
    def num_sequences(self) -> int:
        return len(self.keys)

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"sample index out of range 0..{n - 1}")
        return np.where(idx < 0, idx + n, idx)

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather samples with one fancy-indexing pass.

        Returns:
            ``inputs (B, R, J, 2)`` float32 and ``targets (B, J, 3)`` float32 tensors.
        """
        idx = self._check_indices(indices)
        rows = self._window_start[idx][:, None] + self._window  # (B, R)
        inputs = self._inputs[rows]  # (B, R, J, 2)
        targets = self._targets[self._target_row[idx]]  # (B, J, 3)
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs (R, J, 2), target (J, 3))`` of sample ``i``."""
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"WindowDataset index must be an int, found {type(i).__name__}; use batch()")
        inputs, targets = self.batch([int(i)])
        return inputs[0], targets[0]

    @cached_property
    def labels(self) -> SampleLabels:
        """``(subject, action, category, camera, frame, sequence)`` of every sample."""
        subjects = np.array([k[0] for k in self.keys])
        actions = np.array([k[1] for k in self.keys])
        categories = np.array([action_category(k[1]) for k in self.keys])
        cameras = np.array([k[2] for k in self.keys], dtype=np.int32)
        return SampleLabels(subject=subjects[self._seq], action=actions[self._seq],
                            category=categories[self._seq], camera=cameras[self._seq],
                            frame=self._frame.copy(), sequence=self._seq.copy())

    @staticmethod
    def action_category(action_key: str) -> str:
        """First word of an action key (see :func:`action_category`)."""
        return action_category(action_key)

    def find_samples(self, keys: Sequence[Sequence[Any]]) -> np.ndarray:
        """Sample indices of ``(subject, action, camera, frame)`` keys (e.g. a hard-pose subset).

        Raises:
            ValueError: a key names no sample of this dataset (unknown sequence, frame out of
                range, or a frame skipped by the stride).
        """
        where = {k: s for s, k in enumerate(self.keys)}
        out = np.empty(len(keys), dtype=np.int64)
        for n, key in enumerate(keys):
            subject, action, camera, frame = key
            s = where.get((str(subject), str(action), int(camera)))
            length = None if s is None else int(self.target_offsets[s + 1] - self.target_offsets[s])
            if s is None or not 0 <= int(frame) < length or int(frame) % self.stride:
                raise ValueError(f"sample {list(key)} is not in this dataset "
                                 f"({self.num_sequences} sequences, stride {self.stride})")
            out[n] = self.sample_offsets[s] + int(frame) // self.stride
        return out

    def sequences(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Whole sequences for sequence-mode inference: ``(record index, inputs (F + R - 1, J, 2),
        targets (F, J, 3))``, tensors sharing memory with the dataset (do not modify)."""
        for s in range(self.num_sequences):
            lo, hi = self.input_offsets[s], self.input_offsets[s + 1]
            tlo, thi = self.target_offsets[s], self.target_offsets[s + 1]
            yield s, torch.from_numpy(self._inputs[lo:hi]), torch.from_numpy(self._targets[tlo:thi])


# --------------------------------------------------------------------------------------------
# Benchmark check (``skelgnn data check``)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubjectSummary:
    """One subject of the benchmark."""

    subject: str
    split: str
    """``train``, ``val`` (part of train, held out for model selection), ``test`` or ``-``."""
    sequences: int
    frames: int
    cameras: int
    camera_source: str
    """the Human3.6M subject whose extrinsics this subject uses, or ``-``."""


@dataclass(frozen=True)
class CategorySummary:
    """One action category (first word of the action keys)."""

    category: str
    sequences: int
    frames: int
    train_frames: int
    test_frames: int


@dataclass(frozen=True)
class SourceSummary:
    """One 2D source compared with the projection of the 3D through the cameras."""

    source: str
    path: str
    sequences: int
    truncated: int
    """sequences whose 2D ran past the 3D (truncated)."""
    mean_error_px: float
    """mean Euclidean distance over joints, frames and cameras."""
    max_error_px: float


@dataclass(frozen=True)
class BenchmarkReport:
    """What :func:`check_benchmark` found; ``problems`` empty means the data are consistent."""

    data_dir: str
    subjects: tuple[SubjectSummary, ...]
    categories: tuple[CategorySummary, ...]
    sources: tuple[SourceSummary, ...]
    camera_ids: tuple[str, ...]
    image_sizes: tuple[tuple[int, int], ...]
    split_file: bool
    actions_file: bool
    hard_subsets: tuple[tuple[str, int], ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def num_sequences(self) -> int:
        return sum(s.sequences for s in self.subjects)

    @property
    def num_frames(self) -> int:
        return sum(s.frames for s in self.subjects)


def _match_h36m_subject(cams: list[Camera], table: Mapping[str, list[Camera]]) -> str:
    for name, ref in table.items():
        if len(ref) == len(cams) and all(
                np.allclose(a.orientation, b.orientation, atol=1e-6)
                and np.allclose(a.translation, b.translation, atol=1e-6) for a, b in zip(cams, ref)):
            return name
    return "-"


def check_benchmark(data_dir: str | Path | None, dataset: str = "cmu",
                    gt_tolerance_px: float = 0.01) -> BenchmarkReport:
    """Load and cross-check a benchmark directory.

    Reads the 3D file, every 2D source present (``data_2d_<dataset>_*.npz``), the camera table,
    and, when present, ``split.json``, ``actions.csv`` and the ``hard_*.json`` subsets. Projects
    the 3D through every camera (vectorised per subject and camera) and measures each 2D source
    against it; the ``gt`` source must match within ``gt_tolerance_px``.

    Raises:
        FileNotFoundError / ValueError: unreadable or malformed files (reader errors).

    Returns:
        A :class:`BenchmarkReport`; inconsistencies that do not stop loading (split vs data,
        actions.csv vs 3D lengths, GT reprojection above tolerance, bad hard-subset entries) are
        listed in ``problems``.
    """
    data_dir = resolve_data_dir(data_dir)
    problems: list[str] = []
    p3 = read_positions_3d(positions_3d_path(data_dir, dataset))
    cameras, cam_origin = _camera_table(data_dir, dataset)
    subjects = sorted(p3)
    for subject in subjects:
        _cameras_for(cameras, subject, cam_origin)
    sources = available_sources(data_dir, dataset)
    if not sources:
        raise FileNotFoundError(f"no 2D keypoints files data_2d_{dataset}_<source>.npz in {data_dir}; {_DATA_HINT}")

    split_path = data_dir / "split.json"
    split = read_split(split_path) if split_path.is_file() else None
    set_of: dict[str, str] = {}
    if split is not None:
        for s in split["train"]:
            set_of[s] = "val" if s in split["val"] else "train"
        for s in split["test"]:
            set_of[s] = "test"
        missing = sorted(set(set_of) - set(subjects))
        if missing:
            problems.append(f"{split_path}: subjects {missing} have no data in the 3D file")
        unassigned = [s for s in subjects if s not in set_of]
        if unassigned:
            problems.append(f"{split_path}: subjects {unassigned} are in neither train nor test")

    h36m = h36m_cameras()
    subject_rows = []
    for subject in subjects:
        cams = cameras[subject]
        subject_rows.append(SubjectSummary(
            subject=subject, split=set_of.get(subject, "-"), sequences=len(p3[subject]),
            frames=sum(a.shape[0] for a in p3[subject].values()), cameras=len(cams),
            camera_source=_match_h36m_subject(cams, h36m)))

    cats: dict[str, list[int]] = {}
    for subject in subjects:
        for action, arr in p3[subject].items():
            row = cats.setdefault(action_category(action), [0, 0, 0, 0])
            row[0] += 1
            row[1] += arr.shape[0]
            if set_of.get(subject) in ("train", "val"):
                row[2] += arr.shape[0]
            elif set_of.get(subject) == "test":
                row[3] += arr.shape[0]
    category_rows = tuple(CategorySummary(c, *v) for c, v in sorted(cats.items()))

    actions_path = data_dir / "actions.csv"
    if actions_path.is_file():
        actions = read_actions(actions_path)
        seen = {a: s for s in subjects for a in p3[s]}
        for key in sorted(set(seen) - set(actions)):
            problems.append(f"{actions_path}: no row for action {key!r}")
        for key in sorted(set(actions) - set(seen)):
            problems.append(f"{actions_path}: action {key!r} is not in the 3D file")
        for key in sorted(set(actions) & set(seen)):
            info, frames = actions[key], p3[seen[key]][key].shape[0]
            if info.frames != frames:
                problems.append(f"{actions_path}: {key!r} has frames_60fps={info.frames}, the 3D has {frames}")
            if info.subject != seen[key] or info.category != action_category(key):
                problems.append(f"{actions_path}: {key!r} row says subject {info.subject}, category "
                                f"{info.category}; the 3D file has {seen[key]}, {action_category(key)}")

    # Project every subject's frames through each camera in one call.
    projections: dict[str, list[np.ndarray]] = {}
    for subject in subjects:
        world = np.concatenate(list(p3[subject].values()))  # (F_s, 17, 3)
        projections[subject] = [cam.project(cam.world_to_camera(world)) for cam in cameras[subject]]

    source_rows = []
    for source in sources:
        path = positions_2d_path(data_dir, source, dataset)
        p2, _ = read_positions_2d(path)
        total, count, worst, truncated, sequences = 0.0, 0, 0.0, 0, 0
        for subject in subjects:
            cams = cameras[subject]
            per_view: list[list[np.ndarray]] = [[] for _ in cams]
            for action, world in p3[subject].items():
                views = _views_for(p2, path, subject, action, len(cams), world.shape[0])
                truncated += int(any(len(v) > world.shape[0] for v in p2[subject][action]))
                sequences += 1
                for c, v in enumerate(views):
                    per_view[c].append(v)
            for c in range(len(cams)):
                err = np.linalg.norm(np.concatenate(per_view[c]) - projections[subject][c], axis=-1)  # (F_s, 17)
                total += float(err.sum())
                count += err.size
                worst = max(worst, float(err.max()))
        extra = sorted(set(p2) - set(subjects))
        if extra:
            log.warning("%s: subjects %s have no 3D and are ignored", path, extra)
        row = SourceSummary(source, str(path), sequences, truncated, total / count, worst)
        source_rows.append(row)
        if source == "gt" and row.max_error_px >= gt_tolerance_px:
            problems.append(f"{path}: GT 2D differs from the projection of the 3D by up to "
                            f"{row.max_error_px:.4f} px; expected < {gt_tolerance_px} px")

    hard = []
    test_subjects = set(split["test"]) if split is not None else set(subjects)
    for hard_path in sorted(data_dir.glob("hard_*.json")):
        try:
            samples = json.loads(hard_path.read_text(encoding="utf-8"))["samples"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{hard_path}: expected a JSON object with a 'samples' list ({exc})") from exc
        bad = 0
        for entry in samples:
            try:
                subject, action, camera, frame = entry
                ok = (subject in test_subjects and action in p3.get(subject, {})
                      and 0 <= int(camera) < len(cameras[subject])
                      and 0 <= int(frame) < p3[subject][action].shape[0])
            except (TypeError, ValueError, KeyError):
                ok = False
            bad += not ok
        if bad:
            problems.append(f"{hard_path}: {bad} of {len(samples)} samples name no test sample")
        hard.append((hard_path.stem, len(samples)))

    first = cameras[subjects[0]]
    return BenchmarkReport(
        data_dir=str(data_dir), subjects=tuple(subject_rows), categories=category_rows,
        sources=tuple(source_rows), camera_ids=tuple(c.id for c in first),
        image_sizes=tuple(c.image_size for c in first), split_file=split is not None,
        actions_file=actions_path.is_file(), hard_subsets=tuple(hard), problems=tuple(problems))
