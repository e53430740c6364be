"""Human3.6M from the original files (``skelgnn prepare h36m``).

Reads the ``D3_Positions`` mocap files of the original release and writes the two files
VideoPose3D's ``prepare_data_h36m.py`` makes from them (the idea, not its code):

* ``data_3d_h36m.npz`` -- ``subject -> action -> (F, 32, 3)`` float32 world metres, all 32 joints
  (the readers of :mod:`skelgnn.data` reduce them to 17);
* ``data_2d_h36m_gt.npz`` -- the 17 kept joints projected through each subject's 4 cameras
  (:func:`skelgnn.data.h36m_cameras`, or a ``cameras.json``), pixels, plus ``metadata``.

Layout read: ``<root>/<subject>/MyPoseFeatures/D3_Positions/<Action>.cdf`` for the subjects S1, S5,
S6, S7, S8, S9, S11. Each CDF holds a variable ``Pose`` of shape ``(1, F, 96)``: one record of F
frames x 32 joints x (x, y, z) in millimetres, world frame, 50 fps. Read with ``cdflib``.

Naming follows VideoPose3D so results compare: the action is the file stem, with ``TakingPhoto``
-> ``Photo`` and ``WalkingDog`` -> ``WalkDog`` (``"TakingPhoto 1"`` -> ``"Photo 1"``); and S11's
``Directions`` (the take whose video is corrupted) is left out by default, explicitly, through
``exclude``.

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from skelgnn.geometry import Camera
from skelgnn.prepare import camera_table, project_views, write_camera_table, write_positions_2d, write_positions_3d
from skelgnn.progress import ProgressMode, track
from skelgnn.skeleton import H36M32, H36M32_KEEP

__all__ = [
    "H36M_SUBJECTS",
    "DEFAULT_EXCLUDE",
    "ACTION_RENAMES",
    "canonical_action",
    "read_d3_positions",
    "find_d3_files",
    "read_h36m_3d",
    "H36MPrepareResult",
    "prepare_h36m",
]

log = logging.getLogger(__name__)

H36M_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
"""The subjects with public 3D poses."""

DEFAULT_EXCLUDE: tuple[tuple[str, str], ...] = (("S11", "Directions"),)
"""``(subject, file stem)`` takes left out: S11 ``Directions`` has a corrupted video, and
VideoPose3D leaves it out of its files too."""

ACTION_RENAMES: tuple[tuple[str, str], ...] = (("TakingPhoto", "Photo"), ("WalkingDog", "WalkDog"))
"""Substrings renamed in action names (the names VideoPose3D's files use)."""

MM_PER_M = 1000.0


def canonical_action(stem: str) -> str:
    """The action key of a CDF file stem: ``"TakingPhoto 1"`` -> ``"Photo 1"``."""
    for old, new in ACTION_RENAMES:
        stem = stem.replace(old, new)
    return stem


def read_d3_positions(path: str | Path) -> np.ndarray:
    """One ``D3_Positions`` CDF file -> ``(F, 32, 3)`` float32 world metres.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a CDF file, no ``Pose`` variable, or a shape other than ``(1, F, 96)`` /
            ``(F, 96)``.
    """
    try:
        import cdflib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("reading Human3.6M CDF files needs cdflib: pip install cdflib") from exc
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CDF file not found: {path}")
    try:
        cdf = cdflib.CDF(str(path))
        variables = list(cdf.cdf_info().zVariables) + list(cdf.cdf_info().rVariables)
        if "Pose" not in variables:
            raise ValueError(f"{path}: no 'Pose' variable; variables present: {variables}")
        pose = np.asarray(cdf.varget("Pose"), dtype=np.float64)
    except ValueError:
        raise
    except Exception as exc:  # cdflib raises assorted errors on damaged files
        raise ValueError(f"{path}: not a readable CDF file ({type(exc).__name__}: {exc})") from exc
    if pose.ndim == 3 and pose.shape[0] == 1:
        pose = pose[0]
    if pose.ndim != 2 or pose.shape[1] != 3 * H36M32.num_joints or pose.shape[0] == 0:
        raise ValueError(f"{path}: 'Pose' should be (1, F, 96) millimetres (32 joints x 3), found "
                         f"{tuple(np.shape(cdf.varget('Pose')))}")
    if not np.isfinite(pose).all():
        raise ValueError(f"{path}: 'Pose' holds NaN or inf")
    return (pose.reshape(-1, H36M32.num_joints, 3) / MM_PER_M).astype(np.float32)  # (F, 32, 3)


def find_d3_files(root: str | Path, subjects: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """``subject -> sorted CDF files`` under ``<root>/<subject>/MyPoseFeatures/D3_Positions``.

    Raises:
        FileNotFoundError: ``root`` missing, a requested subject without that directory, or no
            CDF file at all (the message shows the expected layout).
    """
    root = Path(root)
    layout = "<root>/S1/MyPoseFeatures/D3_Positions/<Action>.cdf"
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M directory not found: {root}; expected the layout {layout}")
    chosen = list(subjects) if subjects is not None else [s for s in H36M_SUBJECTS if (root / s).is_dir()]
    out: dict[str, list[Path]] = {}
    for subject in chosen:
        folder = root / subject / "MyPoseFeatures" / "D3_Positions"
        if not folder.is_dir():
            raise FileNotFoundError(f"no {folder}; expected the layout {layout}")
        files = sorted(folder.glob("*.cdf"))
        if files:
            out[subject] = files
    if not out:
        raise FileNotFoundError(f"no CDF files under {root}; expected the layout {layout}")
    return out


def read_h36m_3d(root: str | Path, subjects: Sequence[str] | None = None,
                 exclude: Iterable[tuple[str, str]] = DEFAULT_EXCLUDE,
                 progress: ProgressMode = False) -> dict[str, dict[str, np.ndarray]]:
    """All ``D3_Positions`` files: ``subject -> action -> (F, 32, 3)`` float32 world metres.

    Args:
        root: the Human3.6M root directory.
        subjects: subjects to read (default: those of :data:`H36M_SUBJECTS` present).
        exclude: ``(subject, file stem)`` pairs to leave out (default :data:`DEFAULT_EXCLUDE`).
        progress: a bar or log lines over the files (:mod:`skelgnn.progress`).

    Raises:
        ValueError: two files of a subject map to one action key, or a reader error.
    """
    files = find_d3_files(root, subjects)
    skip = {(str(s), str(a)) for s, a in exclude}
    jobs = [(s, p) for s, paths in files.items() for p in paths if (s, p.stem) not in skip]
    for s, p in ((s, p) for s, paths in files.items() for p in paths if (s, p.stem) in skip):
        log.info("leaving out %s %s (in exclude)", s, p.name)
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, path in track(jobs, "prepare h36m", len(jobs), "file", progress):
        action = canonical_action(path.stem)
        if action in out.get(subject, {}):
            raise ValueError(f"{path}: action {action!r} of {subject} comes from two files")
        out.setdefault(subject, {})[action] = read_d3_positions(path)
    return out


@dataclass(frozen=True)
class H36MPrepareResult:
    """What :func:`prepare_h36m` wrote."""

    out_dir: str
    files: tuple[str, ...]
    sequences: int
    frames: int
    subjects: tuple[str, ...]


def prepare_h36m(root: str | Path, out_dir: str | Path, *, subjects: Sequence[str] | None = None,
                 cameras: str | Path | Mapping[str, Sequence[Camera]] | None = None,
                 exclude: Iterable[tuple[str, str]] = DEFAULT_EXCLUDE, name: str = "h36m",
                 progress: ProgressMode = False) -> H36MPrepareResult:
    """Write ``data_3d_<name>.npz`` (32 joints, metres) and ``data_2d_<name>_gt.npz`` (17 joints
    projected through each subject's cameras, pixels) from the original CDF files.

    Args:
        root: Human3.6M root (``<root>/S1/MyPoseFeatures/D3_Positions/*.cdf``).
        out_dir: output directory (created).
        subjects: subjects to convert (default: all of :data:`H36M_SUBJECTS` present).
        cameras: a ``cameras.json`` path or table keyed by the Human3.6M subjects; default the
            built-in :func:`skelgnn.data.h36m_cameras`.
        exclude: ``(subject, file stem)`` takes to leave out.
        name: dataset name in the file names.
        progress: a bar or log lines (:mod:`skelgnn.progress`).

    Raises:
        FileNotFoundError: missing directories or files.
        ValueError: unreadable CDF, a subject without cameras.
    """
    table, origin = camera_table(cameras)
    poses = read_h36m_3d(root, subjects, exclude, progress)
    missing = sorted(s for s in poses if s not in table)
    if missing:
        raise ValueError(f"no cameras for subjects {missing}; the camera table has {sorted(table)}")
    keep = list(H36M32_KEEP)
    gt = {s: {a: project_views(p[:, keep].astype(np.float64), table[s]) for a, p in acts.items()}
          for s, acts in poses.items()}
    out = Path(out_dir)
    files = [write_positions_3d(out / f"data_3d_{name}.npz", poses),
             write_positions_2d(out / f"data_2d_{name}_gt.npz", gt),
             write_camera_table(out / "cameras.json", {s: table[s] for s in poses}, origin)]
    frames = sum(p.shape[0] for acts in poses.values() for p in acts.values())
    count = sum(len(acts) for acts in poses.values())
    log.info("prepared %d Human3.6M sequences (%d frames) into %s", count, frames, out)
    return H36MPrepareResult(out_dir=str(out), files=tuple(str(f) for f in files), sequences=count,
                             frames=frames, subjects=tuple(sorted(poses)))
