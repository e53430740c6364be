"""The benchmark directory: where its files are, its split and action table, and
:func:`load_benchmark`, which pairs each 2D view with its camera-frame 3D target.

Directory layout (``shared/data/cmu/README.md``): ``data_3d_<dataset>.npz``,
``data_2d_<dataset>_<source>.npz``, ``cameras.json``, ``split.json``, ``actions.csv`` and the
``hard_<source>_top<pct>.json`` subsets.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from skelgnn.data.npz import DATA_ENV, DATA_HINT, DEFAULT_DATA_DIR, load_npz_object, npz_keys, require_file
from skelgnn.data.readers import (as_mapping, h36m_cameras, read_cameras, read_json_file,
                                  read_positions_2d, read_positions_3d)
from skelgnn.geometry import Camera
from skelgnn.skeleton import Skeleton

__all__ = ["read_split", "ActionInfo", "read_actions", "resolve_data_dir", "positions_3d_path",
           "positions_2d_path", "available_sources", "action_category", "Sequence2D3D",
           "load_benchmark", "read_skeleton", "camera_table", "cameras_for", "views_for"]

log = logging.getLogger(__name__)


def read_split(path: str | Path) -> dict[str, list[str]]:
    """Read ``split.json``: ``{"train": [...], "test": [...], "val": [...]}`` subject keys.

    ``val`` is optional (an empty list when absent) and must be a subset of ``train`` (the
    benchmark's validation subjects are held out of training only for model selection).
    """
    path = require_file(Path(path), "split file")
    raw = as_mapping(read_json_file(path), str(path))
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
    path = require_file(Path(path), "action table")
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
            raise FileNotFoundError(f"data directory not found: {p}; {DATA_HINT}")
        return p
    env = os.environ.get(DATA_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise FileNotFoundError(f"data directory from {DATA_ENV} not found: {p}; {DATA_HINT}")
        log.info("data directory from %s: %s", DATA_ENV, p)
        return p
    p = Path.cwd() / DEFAULT_DATA_DIR
    if p.is_dir():
        log.info("data directory: %s", p)
        return p
    raise FileNotFoundError(f"no data directory given and {DEFAULT_DATA_DIR} does not exist under "
                            f"{Path.cwd()}; {DATA_HINT}")


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


def camera_table(data_dir: Path, dataset: str) -> tuple[dict[str, list[Camera]], str]:
    path = data_dir / "cameras.json"
    if path.is_file():
        return read_cameras(path), str(path)
    if dataset == "h36m":
        log.info("no %s; using the packaged Human3.6M camera table", path)
        return h36m_cameras(), "skelgnn:resources/cameras_h36m.json"
    raise FileNotFoundError(f"camera table not found: {path}; {DATA_HINT}")


def cameras_for(cameras: Mapping[str, list[Camera]], subject: str, origin: str) -> list[Camera]:
    if subject not in cameras:
        raise ValueError(f"{origin}: no cameras for subject {subject!r}; subjects present: {sorted(cameras)}")
    return cameras[subject]


# --------------------------------------------------------------------------------------------
# Sequence records
# --------------------------------------------------------------------------------------------

def read_skeleton(data_dir: str | Path | None, source: str = "gt", dataset: str = "cmu",
                  num_joints: int | None = None) -> Skeleton:
    """The skeleton of a benchmark: from the ``parents`` (``joint_names``, ``keypoints_symmetry``)
    of its 2D file's metadata (:func:`skelgnn.prepare.bvh.prepare_bvh` writes them for maps other
    than Human3.6M-17), else :data:`~skelgnn.skeleton.H36M17`."""
    from skelgnn.skeleton import skeleton_from_metadata

    path = require_file(positions_2d_path(resolve_data_dir(data_dir), source, dataset),
                         f"2D keypoints file for source {source!r}")
    meta: dict[str, Any] = {}
    if "metadata" in npz_keys(path):
        meta = dict(as_mapping(load_npz_object(path, "metadata"), f"{path}: metadata"))
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


def views_for(p2: Mapping[str, Mapping[str, list[np.ndarray]]], path: Path, subject: str,
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
    require_file(path_2d, f"2D keypoints file for source {source!r}")
    p3 = read_positions_3d(path_3d)
    if subjects is None:
        chosen = sorted(p3)
    else:
        chosen = sorted(dict.fromkeys(str(s) for s in subjects))
        unknown = [s for s in chosen if s not in p3]
        if unknown:
            raise ValueError(f"{path_3d}: unknown subjects {unknown}; available: {sorted(p3)}")
    cameras, cam_origin = camera_table(data_dir, dataset)
    for subject in chosen:  # fail before the slow 2D read
        cameras_for(cameras, subject, cam_origin)
    p2, _ = read_positions_2d(path_2d)
    records: list[Sequence2D3D] = []
    for subject in chosen:
        cams = cameras_for(cameras, subject, cam_origin)
        for action, world in p3[subject].items():
            views = views_for(p2, path_2d, subject, action, len(cams), world.shape[0])
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
