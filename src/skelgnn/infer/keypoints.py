"""Reading the 2D keypoints users bring (gap filling: :mod:`skelgnn.infer.gaps`).

Formats :func:`read_keypoints` understands:

* **npz** (read with ``allow_pickle=False``): array ``keypoints`` ``(F, J, 2|3)`` in pixels
  (third column: confidence), optional ``layout`` (string), ``fps`` (number) and ``image_size``
  (``(width, height)`` pixels).
* **JSON, COCO results style**: a list of ``{"image_id" or "frame": int, "keypoints":
  [x1, y1, s1, x2, ...], "score": float}``, one entry per detected person.
* **OpenPose JSON** (:mod:`skelgnn.infer.openpose`): a ``--write_json`` directory of
  ``*_keypoints.json`` frame files, or one of them (``people[].pose_keypoints_2d``).
* **JSON, mmpose predictions**: a list of ``{"frame_id": int, "instances": [{"keypoints":
  [[x, y], ...], "keypoint_scores": [...], "bbox_score": float}]}`` (or a dict holding that list
  under ``"instance_info"``, as mmpose's demo scripts write it).

A JSON file may also be a dict ``{"annotations" or "instance_info": [...], "layout": ...,
"fps": ..., "image_size": [w, h]}`` to declare those values; mmpose's ``meta_info.dataset_name``
(``"coco"``, ``"h36m"``) declares the layout too. The frames of a JSON file run from its
smallest to its largest frame number; frames it does not mention hold no person (all joints
missing). Where a frame has several people, the most confident one is kept (``person="score"``), or
the one nearest the previous frame's choice (``person="track"``, a minimal tracker).

Shape letters: ``F`` frames, ``J`` joints, ``P`` people in a frame.
"""
from __future__ import annotations

import json
import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from skelgnn.fileio import ZIP_READ_ERRORS, check_file_size, check_npz_members
from skelgnn.geometry import COORDINATE_LIMIT

__all__ = [
    "KeypointSequence",
    "PERSON_CHOICES",
    "read_keypoints",
    "read_json_detections",
    "check_image_size",
    "as_keypoint_array",
]

log = logging.getLogger(__name__)

_MMPOSE_DATASETS = {"coco": "coco17", "h36m": "h36m17"}
"""mmpose ``meta_info.dataset_name`` -> our layout name."""

MAX_JSON_BYTES = 128 << 20
"""The largest keypoints JSON file read (128 MiB: ten minutes of five people at 30 fps is
about 70 MB); it is parsed whole."""

MAX_KEYPOINT_JOINTS = 256
"""The most joints per person a keypoints file may have."""

MAX_KEYPOINT_VALUES = 10_000_000
"""The most keypoints (frames x joints) one file may span: 5 hours of 17 joints at 30 fps,
240 MB as float64 (x, y, score)."""

PERSON_CHOICES: tuple[str, ...] = ("score", "track")
"""How one person is picked in a frame with several: the most confident, or the nearest to the
previous frame's choice."""

MAX_FRAME_SPAN_FACTOR = 100
"""A JSON file's frames run from its smallest to its largest frame number, and frames without a
detection are filled by interpolation. The span may be at most this many times the number of
frames that have a detection (or 10 000 frames, whichever is larger): enough for detections run
on every 30th frame, not for two detections a billion frame numbers apart (terabytes of array)."""


@dataclass(frozen=True)
class KeypointSequence:
    """Keypoints of one person read from a file, in the file's own layout.

    Attributes:
        keypoints: ``(F, J, 3)`` float64 pixels and score; missing joints are NaN with score 0.
        frames: ``(F,)`` int frame numbers (``0..F-1`` for npz files).
        layout: the layout the file declares, or None.
        fps: frames per second when the file says, else None.
        image_size: ``(width, height)`` in pixels when the file says, else None.
        source: the path read.
    """

    keypoints: np.ndarray
    frames: np.ndarray
    layout: Optional[str] = None
    fps: Optional[float] = None
    image_size: Optional[tuple[float, float]] = None
    source: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[1])


def check_image_size(image_size: Any) -> tuple[float, float]:
    """``(width, height)`` as two positive floats.

    Raises:
        ValueError: not two real numbers (bools, complex numbers and strings are refused), or a
            zero / negative / non-finite side, or a side above
            :data:`~skelgnn.geometry.COORDINATE_LIMIT` pixels.
    """
    try:
        arr = np.asarray(image_size)
        if arr.dtype.kind not in "fiuO" or arr.size != 2:
            raise TypeError
        w, h = (float(v) for v in arr.astype(np.float64).reshape(-1))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"image size must be (width, height) in pixels, found "
                         f"{image_size!r}") from None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise ValueError(f"image size must be positive (width, height) pixels, found {w:g} x {h:g}")
    if max(w, h) > COORDINATE_LIMIT:
        raise ValueError(f"image size must be at most {COORDINATE_LIMIT:g} pixels a side, found "
                         f"{w:g} x {h:g}; pass the image's (width, height) in pixels")
    return w, h


def as_keypoint_array(keypoints: Any, name: str = "keypoints") -> np.ndarray:
    """``keypoints`` as a float64 array, refusing what is not real numbers.

    Accepts float16/32/64 and integer arrays, nested lists of numbers, tensors, and object arrays
    holding numbers (``None`` becomes NaN, a missing value). Refuses bool, complex, string,
    datetime and structured arrays, ragged nesting, and objects that are not numbers.

    Raises:
        ValueError: naming ``name``, the dtype found and what to pass instead.
    """
    try:
        arr = np.asarray(keypoints)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name}: expected an (F, J, 2) or (F, J, 3) array of pixel coordinates, "
                         f"found ragged nested sequences ({exc})") from None
    if arr.dtype.kind not in "fiuO":
        raise ValueError(f"{name}: expected real pixel coordinates (float or int), found dtype "
                         f"{arr.dtype}; convert to a float array first")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: expected real pixel coordinates, found an object array holding "
                         f"non-numbers ({exc})") from None


def _check_fps(value: Any, where: str) -> float:
    """Frames per second: one positive finite number."""
    arr = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray(None)
    fps = float("nan")
    if arr.dtype.kind in "fiu" and arr.size == 1:
        fps = float(arr.reshape(()))
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"{where}: 'fps' must be one positive number (frames per second), "
                         f"found {value!r}")
    return fps


# --------------------------------------------------------------------------------------------
# npz
# --------------------------------------------------------------------------------------------

def _npz_scalar_str(value: np.ndarray, name: str, path: Path) -> str:
    if value.dtype.kind not in "US" or value.size != 1:
        raise ValueError(f"{path}: entry {name!r} must be a single string, found {value.dtype} "
                         f"array of shape {value.shape}")
    item = value.reshape(()).item()
    return item.decode() if isinstance(item, bytes) else str(item)


def _read_npz(path: Path) -> KeypointSequence:
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle anything else
        raise ValueError(f"{path}: not a readable npz file (not a zip archive)")
    try:
        check_npz_members(path)  # headers that lie about their size, before numpy allocates
        with np.load(path, allow_pickle=False) as data:
            entries = {k: data[k] for k in data.files}
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not a readable npz file: {type(exc).__name__}: {exc}") from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # object arrays need pickle, which we refuse
            raise ValueError(f"{path}: cannot read without pickle (store plain numeric / string "
                             f"arrays): {exc}") from None
        if str(exc).startswith(str(path)):  # our own checks name the file already
            raise ValueError(str(exc)) from None
        raise ValueError(f"{path}: not a readable npz file: {exc}") from None
    if "keypoints" not in entries:
        raise ValueError(f"{path}: expected an array 'keypoints' (F, J, 2|3); found entries "
                         f"{sorted(entries)}")
    kp = entries["keypoints"]
    if kp.dtype.kind in "fiu" and kp.ndim == 3 and (
            kp.shape[1] > MAX_KEYPOINT_JOINTS or kp.shape[0] * kp.shape[1] > MAX_KEYPOINT_VALUES):
        raise ValueError(f"{path}: 'keypoints' {kp.shape} is over the bounds of "
                         f"{MAX_KEYPOINT_JOINTS} joints and {MAX_KEYPOINT_VALUES:,} keypoints")
    if kp.dtype.kind not in "fiu" or kp.ndim != 3 or kp.shape[2] not in (2, 3):
        raise ValueError(f"{path}: 'keypoints' must be a numeric (F, J, 2) or (F, J, 3) array, "
                         f"found {kp.dtype} {kp.shape}")
    kp = kp.astype(np.float64)
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], axis=-1)
    layout = _npz_scalar_str(entries["layout"], "layout", path) if "layout" in entries else None
    fps = _check_fps(entries["fps"], str(path)) if "fps" in entries else None
    image_size = None
    if "image_size" in entries:
        if entries["image_size"].size != 2:
            raise ValueError(f"{path}: 'image_size' must be (width, height), found shape "
                             f"{entries['image_size'].shape}")
        try:
            image_size = check_image_size(entries["image_size"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return KeypointSequence(_mark_missing(kp), np.arange(kp.shape[0]), layout, fps, image_size,
                            str(path))


def _mark_missing(kp: np.ndarray) -> np.ndarray:
    """Non-finite coordinates or scores -> NaN coordinates and score 0 (in place)."""
    bad = ~np.isfinite(kp).all(axis=-1)
    kp[bad, :2] = np.nan
    kp[bad, 2] = 0.0
    return kp


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

def _mean_score(scores: np.ndarray) -> float:
    """Mean of the finite scores (a person's confidence when the file gives none); 0 if none."""
    finite = scores[np.isfinite(scores)]
    return float(finite.mean()) if finite.size else 0.0


def _not_a_number(value: Any) -> Any:
    """The first item of a (nested) JSON list that is not a number or ``null`` -- a string such
    as ``"12.5"`` or a boolean, which ``float()`` would quietly accept -- else None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is not None and (isinstance(item, bool) or not isinstance(item, (int, float))):
            return item
    return None


def _numbers(value: Any, where: str, what: str) -> np.ndarray:
    """A JSON list of numbers as float64 (``null`` -> NaN, a missing value). Strings (even
    numeric ones, ``"12.5"``) and booleans are refused: a detector writes numbers, and a string
    there means the file was produced by something else."""
    odd = _not_a_number(value)
    if odd is not None:
        raise ValueError(f"{where}: {what} must hold numbers (or null for a missing value), found "
                         f"{type(odd).__name__} {_short(odd)}; write the values as JSON numbers")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{where}: {what} must hold numbers, found {_short(value)} ({exc})") \
            from None
    return arr


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _confidence(value: Any, where: str, fallback: float) -> float:
    """A person's confidence from ``score`` / ``bbox_score`` (None -> ``fallback``)."""
    if isinstance(value, list) and len(value) == 1:  # mmpose writes bbox_score as [s] at times
        value = value[0]
    if value is None or value == []:
        return fallback
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: a person's score must be a number, found {_short(value)}")
    return float(value)


def _instance_from_coco(entry: dict, path: Path, k: int) -> tuple[np.ndarray, float]:
    flat = entry.get("keypoints")
    if not isinstance(flat, list) or len(flat) == 0 or len(flat) % 3:
        raise ValueError(f"{path}: entry {k}: 'keypoints' must be a flat list [x1, y1, s1, ...] "
                         f"whose length is a multiple of 3, found {type(flat).__name__} of length "
                         f"{len(flat) if isinstance(flat, list) else '?'}")
    kp = _numbers(flat, f"{path}: entry {k}", "'keypoints'")
    if kp.ndim != 1:
        raise ValueError(f"{path}: entry {k}: 'keypoints' must be a flat list [x1, y1, s1, ...], "
                         f"found nested lists of shape {kp.shape}")
    kp = kp.reshape(-1, 3)  # (J, 3)
    return kp, _confidence(entry.get("score"), f"{path}: entry {k}", _mean_score(kp[:, 2]))


def _instance_from_mmpose(inst: dict, path: Path, k: int) -> tuple[np.ndarray, float]:
    if not isinstance(inst, dict):
        raise ValueError(f"{path}: frame entry {k}: each of 'instances' must be an object with "
                         f"'keypoints', found {_short(inst)}")
    pts = _numbers(inst.get("keypoints", []), f"{path}: frame entry {k}", "instance 'keypoints'")
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] not in (2, 3):
        raise ValueError(f"{path}: frame entry {k}: instance 'keypoints' must be a list of [x, y] "
                         f"pairs, found shape {pts.shape}")
    if "keypoint_scores" in inst:
        scores = _numbers(inst["keypoint_scores"], f"{path}: frame entry {k}",
                          "'keypoint_scores'").reshape(-1)
        if scores.shape[0] != pts.shape[0]:
            raise ValueError(f"{path}: frame entry {k}: {pts.shape[0]} keypoints but "
                             f"{scores.shape[0]} keypoint_scores")
    else:
        scores = pts[:, 2] if pts.shape[1] == 3 else np.ones(pts.shape[0])
    kp = np.concatenate([pts[:, :2], scores[:, None]], axis=-1)  # (J, 3)
    conf = inst.get("bbox_score", inst.get("score"))
    return kp, _confidence(conf, f"{path}: frame entry {k}", _mean_score(scores))


def _frame_number(entry: dict, keys: Sequence[str], path: Path, k: int) -> int:
    for key in keys:
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value != int(value) or abs(value) > 2 ** 53:
                raise ValueError(f"{path}: entry {k}: {key!r} must be an integer frame number, "
                                 f"found {_short(value)}")
            return int(value)
    raise ValueError(f"{path}: entry {k} has none of {list(keys)}: cannot tell its frame")


def _candidates_from_json(items: list, path: Path) -> dict[int, list[tuple[np.ndarray, float]]]:
    """Frame number -> list of (keypoints (J, 3), confidence) candidates."""
    by_frame: dict[int, list[tuple[np.ndarray, float]]] = {}
    for k, entry in enumerate(items):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {k} is a {type(entry).__name__}, expected an object")
        if "instances" in entry:  # mmpose predictions
            frame = _frame_number(entry, ("frame_id", "frame", "image_id"), path, k)
            people = by_frame.setdefault(frame, [])
            if not isinstance(entry["instances"] or [], list):
                raise ValueError(f"{path}: entry {k}: 'instances' must be a list of people, found "
                                 f"{_short(entry['instances'])}")
            for inst in entry["instances"] or []:
                people.append(_instance_from_mmpose(inst, path, k))
        elif "keypoints" in entry:  # COCO results
            frame = _frame_number(entry, ("frame", "image_id", "frame_id"), path, k)
            by_frame.setdefault(frame, []).append(_instance_from_coco(entry, path, k))
        else:
            raise ValueError(f"{path}: entry {k} has neither 'keypoints' (COCO results) nor "
                             f"'instances' (mmpose predictions); found keys {sorted(entry)}")
    return by_frame


def _pick(people: list[tuple[np.ndarray, float]], previous: Optional[np.ndarray],
          person: str) -> np.ndarray:
    """The kept person of one frame; ``previous`` ``(J, 3)`` is the last kept one."""
    if person == "track" and previous is not None and len(people) > 1:
        best, best_d = None, math.inf
        for kp, _ in people:
            ok = np.isfinite(kp[:, :2]).all(-1) & np.isfinite(previous[:, :2]).all(-1) \
                & (kp[:, 2] > 0) & (previous[:, 2] > 0)
            if not ok.any():
                continue
            d = float(np.linalg.norm(kp[ok, :2] - previous[ok, :2], axis=-1).mean())
            if d < best_d:
                best, best_d = kp, d
        if best is not None:
            return best
    return max(people, key=lambda p: p[1] if math.isfinite(p[1]) else -math.inf)[0]


def _read_json(path: Path, person: str) -> KeypointSequence:
    by_frame, j, info = read_json_detections(path)
    first, last = min(by_frame), max(by_frame)
    frames = np.arange(first, last + 1)
    kp = np.full((frames.size, j, 3), np.nan)
    kp[..., 2] = 0.0
    previous: Optional[np.ndarray] = None
    for i, f in enumerate(frames):
        people = by_frame.get(int(f), [])
        if people:
            previous = _pick(people, previous, person)
            kp[i] = previous
    return KeypointSequence(_mark_missing(kp), frames, info.layout, info.fps, info.image_size,
                            str(path))


def read_json_detections(path: str | Path) -> tuple[dict[int, list[tuple[np.ndarray, float]]], int,
                                                    KeypointSequence]:
    """Every person of every frame of a COCO-results or mmpose-predictions JSON file.

    Returns:
        frame number -> list of ``((J, 3) pixels + score, confidence)``, the joint count ``J``,
        and an empty :class:`KeypointSequence` carrying the file's ``layout``, ``fps`` and
        ``image_size``.
    """
    path = Path(path)
    check_file_size(path, MAX_JSON_BYTES, "keypoints JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON: nested too deeply to parse") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, 5000-digit integers
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    meta: dict[str, Any] = {}
    if isinstance(data, dict):
        meta = data
        for key in ("instance_info", "annotations"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            raise ValueError(f"{path}: a JSON object must hold the detections under "
                             f"'instance_info' or 'annotations'; found keys {sorted(meta)}")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of detections, found {type(data).__name__}")
    by_frame = _candidates_from_json(data, path)
    counts = {kp.shape[0] for people in by_frame.values() for kp, _ in people}
    if not counts:
        raise ValueError(f"{path}: no person detected in any frame")
    if len(counts) > 1:
        raise ValueError(f"{path}: detections have different joint counts {sorted(counts)}")
    j = counts.pop()
    if j > MAX_KEYPOINT_JOINTS:
        raise ValueError(f"{path}: {j} joints per person, over the bound of {MAX_KEYPOINT_JOINTS} "
                         "(the largest keypoint layout has 133)")
    first, last = min(by_frame), max(by_frame)
    detected = sum(1 for people in by_frame.values() if people)
    if last - first + 1 > max(10_000, MAX_FRAME_SPAN_FACTOR * detected):
        raise ValueError(f"{path}: frame numbers run from {first} to {last} ({last - first + 1} "
                         f"frames) but only {detected} frame(s) have a detection; frames without one "
                         "would all be invented by interpolation. Check that the frame numbers "
                         "('frame', 'frame_id' or 'image_id') are video frame indices")
    if (last - first + 1) * j > MAX_KEYPOINT_VALUES:
        raise ValueError(f"{path}: frames {first} to {last} x {j} joints is "
                         f"{(last - first + 1) * j:,} keypoints, over the bound of "
                         f"{MAX_KEYPOINT_VALUES:,}; split the file")
    fps = _check_fps(meta["fps"], str(path)) if meta.get("fps") is not None else None
    image_size = None
    if meta.get("image_size") is not None:
        try:
            image_size = check_image_size(meta["image_size"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    layout = meta.get("layout")
    if layout is not None and not isinstance(layout, str):
        raise ValueError(f"{path}: 'layout' must be a layout name (a string), found {_short(layout)}")
    if layout is None and isinstance(meta.get("meta_info"), dict):
        # mmpose's demo scripts name the keypoint set of the model in meta_info.dataset_name.
        layout = _MMPOSE_DATASETS.get(str(meta["meta_info"].get("dataset_name", "")).lower())
    info = KeypointSequence(np.zeros((0, j, 3)), np.zeros(0, dtype=int), layout, fps, image_size,
                            str(path))
    return by_frame, j, info


def _holds_people(path: Path) -> bool:
    """Whether the JSON file at ``path`` is an OpenPose frame file (an object with ``people``),
    judged from its first kilobytes."""
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith(b"{") and b'"people"' in head


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def read_keypoints(path: str | Path, person: str = "score") -> KeypointSequence:
    """Read one person's 2D keypoints from an npz or JSON file (see the module docstring).

    Args:
        path: ``.npz`` or ``.json`` file, or a directory of OpenPose JSON files
            (:mod:`skelgnn.infer.openpose`).
        person: how to choose among several people in a frame, one of :data:`PERSON_CHOICES`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unknown extension, a malformed file, or an invalid image size.
    """
    path = Path(path)
    if person not in PERSON_CHOICES:
        raise ValueError(f"person must be one of {list(PERSON_CHOICES)}, found {person!r}")
    if path.is_dir():  # OpenPose's --write_json directory: one file per frame
        from skelgnn.infer.openpose import read_openpose

        return read_openpose(path, person)
    if not path.is_file():
        raise FileNotFoundError(f"keypoints file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        seq = _read_npz(path)
    elif suffix == ".json" and _holds_people(path):  # one OpenPose frame file
        from skelgnn.infer.openpose import read_openpose

        seq = read_openpose(path, person)
    elif suffix == ".json":
        seq = _read_json(path, person)
    else:
        raise ValueError(f"{path}: unknown keypoints format {suffix!r}; expected .npz or .json")
    if seq.num_frames == 0 or seq.num_joints == 0:
        raise ValueError(f"{path}: no keypoints (shape {seq.keypoints.shape})")
    log.info("read %d frames x %d joints from %s", seq.num_frames, seq.num_joints, path)
    return seq
