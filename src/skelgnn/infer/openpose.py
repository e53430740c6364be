"""OpenPose's JSON output: one file per frame, as ``openpose --write_json DIR`` writes it.

Each file (``<name>_<12-digit frame>_keypoints.json``) is ``{"version": 1.3, "people": [{
"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...], ...}, ...]}``: per person a flat list
of ``J x 3`` numbers, ``J = 25`` for the BODY_25 model (the default; layout ``body25``) and 18 for
COCO-18. An undetected joint is written as ``0, 0, 0``; it is read as missing (NaN, score 0).
:func:`read_openpose` reads a directory of such files (or one file) as one
:class:`~skelgnn.infer.keypoints.KeypointSequence`: frames numbered by the 12 digits before
``_keypoints`` (else in sorted file order), the person of each frame chosen like the JSON reader
does (``person="score"``: the highest mean joint confidence; ``"track"``: the nearest to the last
choice). OpenPose writes no image size: pass it (``--image-size W H``).

Shape letters: ``F`` frames, ``J`` joints.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import numpy as np

from skelgnn.fileio import check_file_size
from skelgnn.infer.keypoints import (MAX_JSON_BYTES, MAX_KEYPOINT_JOINTS, MAX_KEYPOINT_VALUES,
                                     KeypointSequence, _mark_missing, _mean_score, _numbers, _pick)

__all__ = ["read_openpose", "is_openpose_json", "openpose_files"]

_FRAME = re.compile(r"(\d+)_keypoints$")

MAX_FILES = 1_000_000
"""At most this many frame files in one directory (about 9 hours at 30 fps)."""


def openpose_files(directory: Path) -> list[Path]:
    """The frame files of an OpenPose output directory, in frame order.

    Raises:
        ValueError: no ``*.json`` file in it, or more than :data:`MAX_FILES`.
    """
    files = []
    for path in directory.iterdir():
        if path.suffix.lower() == ".json" and path.is_file():
            files.append(path)
            if len(files) > MAX_FILES:
                raise ValueError(f"{directory}: more than {MAX_FILES} JSON files")
    if not files:
        raise ValueError(f"{directory}: no OpenPose JSON files (*_keypoints.json) in the directory")

    def key(path: Path) -> tuple[int, str]:
        match = _FRAME.search(path.stem)
        return (int(match.group(1)) if match else -1, path.name)

    return sorted(files, key=key)


def _load(path: Path) -> dict:
    check_file_size(path, MAX_JSON_BYTES, "OpenPose JSON file")  # the JSON reader's bound
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON: nested too deeply to parse") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise ValueError(f"{path}: not an OpenPose keypoints file: expected an object with a "
                         "'people' list")
    return data


def is_openpose_json(data: object) -> bool:
    """Whether parsed JSON ``data`` is one OpenPose frame file (an object with a ``people``
    list)."""
    return isinstance(data, dict) and isinstance(data.get("people"), list)


def _people(data: dict, path: Path) -> list[tuple[np.ndarray, float]]:
    out = []
    for k, person in enumerate(data["people"]):
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise ValueError(f"{path}: person {k} has no 'pose_keypoints_2d'")
        flat = _numbers(person["pose_keypoints_2d"], f"{path}: person {k}", "'pose_keypoints_2d'")
        if flat.ndim != 1 or flat.size == 0 or flat.size % 3:
            raise ValueError(f"{path}: person {k}: 'pose_keypoints_2d' must be a flat list "
                             f"[x0, y0, c0, ...] whose length is a multiple of 3, found "
                             f"shape {flat.shape}")
        kp = flat.reshape(-1, 3).copy()  # (J, 3)
        kp[kp[:, 2] <= 0, :2] = np.nan  # OpenPose writes 0, 0, 0 for a joint it did not find
        out.append((kp, _mean_score(kp[:, 2])))
    return out


def read_openpose(path: str | Path, person: str = "score",
                  layout: Optional[str] = None) -> KeypointSequence:
    """One person's keypoints from an OpenPose output directory or one frame file.

    Args:
        path: the ``--write_json`` directory, or one ``*_keypoints.json`` file.
        person: ``"score"`` or ``"track"`` (see the module docstring).
        layout: the declared layout (default: ``"body25"`` for 25 joints, else undeclared).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: not OpenPose JSON, people with different joint counts, or nobody in any
            frame.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"keypoints not found: {path}")
    files = openpose_files(path) if path.is_dir() else [path]
    frames: list[int] = []
    people: list[list[tuple[np.ndarray, float]]] = []
    for i, file in enumerate(files):
        match = _FRAME.search(file.stem)
        frames.append(int(match.group(1)) if match and path.is_dir() else i)
        people.append(_people(_load(file), file))
    counts = {kp.shape[0] for frame in people for kp, _ in frame}
    if not counts:
        raise ValueError(f"{path}: nobody detected in any of the {len(files)} OpenPose frames")
    if len(counts) > 1:
        raise ValueError(f"{path}: people with different joint counts {sorted(counts)}")
    j = counts.pop()
    if j > MAX_KEYPOINT_JOINTS or len(files) * j > MAX_KEYPOINT_VALUES:
        raise ValueError(f"{path}: {len(files)} frames x {j} joints is over the bounds of "
                         f"{MAX_KEYPOINT_JOINTS} joints and {MAX_KEYPOINT_VALUES:,} keypoints")
    kp = np.full((len(files), j, 3), np.nan)
    kp[..., 2] = 0.0
    previous: Optional[np.ndarray] = None
    for i, frame in enumerate(people):
        if frame:
            previous = _pick(frame, previous, person)
            kp[i] = previous
    if layout is None and j == 25:
        layout = "body25"
    return KeypointSequence(_mark_missing(kp), np.asarray(frames), layout, None, None, str(path))
