"""Dataset preparation: turn original motion-capture files into the benchmark's npz files.

* :mod:`skelgnn.prepare.bvh` -- BVH motion capture (the CMU benchmark) -> ``data_3d_*.npz``,
  ``data_2d_*_gt.npz`` (and optionally a synthetic-detector ``data_2d_*_det.npz``);
* :mod:`skelgnn.prepare.h36m` -- Human3.6M ``D3_Positions`` CDF files -> ``data_3d_h36m.npz`` and
  ``data_2d_h36m_gt.npz``;
* :mod:`skelgnn.prepare.mpi3dhp` -- the MPI-INF-3DHP test set reader (scored by
  :mod:`skelgnn.evaluate.mpi3dhp`).

This module holds what they share: the writers of VideoPose3D's npz format (a pickled dict in a 0-d
object array under ``positions_3d`` / ``positions_2d``, plus ``metadata``), which the readers of
:mod:`skelgnn.data` accept, written atomically; the 17-joint metadata; the projection of world
poses through a subject's cameras; a ``cameras.json`` writer; and the camera table a converter
uses.

Shape letters: ``F`` frames, ``J`` joints, ``C`` cameras.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from skelgnn.data.readers import h36m_cameras, read_cameras
from skelgnn.fileio import atomic_write_text, usual_mode
from skelgnn.geometry import Camera
from skelgnn.skeleton import H36M17

__all__ = [
    "H36M17_METADATA",
    "write_positions_3d",
    "write_positions_2d",
    "project_views",
    "write_camera_table",
    "camera_table",
]

H36M17_METADATA: dict[str, Any] = {
    "num_joints": H36M17.num_joints,
    "keypoints_symmetry": [list(H36M17.joints_left), list(H36M17.joints_right)],
    "layout_name": "h36m",
}
"""The ``metadata`` of a 17-joint 2D file (VideoPose3D's keys plus ``layout_name``)."""


def _atomic_savez(path: Path, **arrays: np.ndarray) -> Path:
    """``np.savez_compressed`` to a temporary file beside ``path``, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        usual_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _object_scalar(value: Any) -> np.ndarray:
    """A 0-d object array holding ``value`` (what ``np.savez`` makes of a dict)."""
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def write_positions_3d(path: str | Path, positions: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Write a ``data_3d_*.npz`` file: ``subject -> action -> (F, J, 3)`` float32 world metres.

    Subjects and actions are stored in sorted order (plain ``dict`` s, as VideoPose3D stores them).
    """
    out = {str(s): {str(a): np.ascontiguousarray(positions[s][a], dtype=np.float32)
                    for a in sorted(positions[s])} for s in sorted(positions)}
    return _atomic_savez(Path(path), positions_3d=_object_scalar(out))


def write_positions_2d(path: str | Path, positions: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                       metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a ``data_2d_*.npz`` file: ``subject -> action -> [C x (F, J, 2)]`` float32 pixels and
    ``metadata`` (default :data:`H36M17_METADATA`)."""
    out = {str(s): {str(a): [np.ascontiguousarray(v, dtype=np.float32) for v in positions[s][a]]
                    for a in sorted(positions[s])} for s in sorted(positions)}
    meta = dict(H36M17_METADATA if metadata is None else metadata)
    return _atomic_savez(Path(path), positions_2d=_object_scalar(out), metadata=_object_scalar(meta))


def project_views(world: np.ndarray, cameras: Sequence[Camera]) -> list[np.ndarray]:
    """Project world poses ``(F, J, 3)`` (metres) through every camera: ``C x (F, J, 2)`` float64
    pixels (``Camera.project(Camera.world_to_camera(x))``, VideoPose3D's GT 2D)."""
    return [cam.project(cam.world_to_camera(world)) for cam in cameras]


def write_camera_table(path: str | Path, cameras: Mapping[str, Sequence[Camera]], source: str) -> Path:
    """Write a ``cameras.json`` table (``intrinsics`` once, ``extrinsics`` per subject).

    Raises:
        ValueError: the subjects' cameras do not share one set of intrinsics (the format stores the
            intrinsics once for all subjects).
    """
    subjects = sorted(cameras)
    if not subjects:
        raise ValueError("write_camera_table: no subjects")
    intrinsic_keys = ("id", "res_w", "res_h", "fx", "fy", "cx", "cy", "k", "p")
    first = [{k: v for k, v in cam.to_dict().items() if k in intrinsic_keys} for cam in cameras[subjects[0]]]
    extrinsics = {}
    for subject in subjects:
        intr = [{k: v for k, v in cam.to_dict().items() if k in intrinsic_keys} for cam in cameras[subject]]
        if intr != first:
            raise ValueError(f"write_camera_table: subject {subject!r} has other intrinsics than "
                             f"{subjects[0]!r}; cameras.json stores one set for all subjects")
        extrinsics[subject] = [{"orientation": list(cam.orientation), "translation_m": list(cam.translation)}
                               for cam in cameras[subject]]
    text = json.dumps({"intrinsics": first, "extrinsics": extrinsics, "source": source}, indent=1) + "\n"
    return atomic_write_text(path, text)  # a unique temporary name: nothing followed through a link


def camera_table(cameras: str | Path | Mapping[str, Sequence[Camera]] | None
                 ) -> tuple[Mapping[str, Sequence[Camera]], str]:
    """The camera table a converter was given, and where it came from (for ``cameras.json``).

    ``None`` gives the built-in Human3.6M table; a mapping is used as it is; a path is read with
    :func:`skelgnn.data.read_cameras`.
    """
    if cameras is None:
        return h36m_cameras(), "Human3.6M camera calibration (skelgnn built-in table)"
    if isinstance(cameras, Mapping):
        return cameras, "camera table given in code"
    return read_cameras(cameras), f"camera table {cameras}"
