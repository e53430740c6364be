"""Footage you can measure on: score a lifter on real detections with 3D ground truth.

``skelgnn evaluate --footage FILE`` lifts every track of a 'footage with 3D' file through the
same code path as ``skelgnn infer`` (:func:`skelgnn.motion.pipeline.lift_and_place` with infer's
defaults: layout conversion, flip repair, gap filling, joints never seen placed from the body,
the world frame, a rolled camera levelled) and scores it on the joints both skeletons share.

**The 'footage with 3D' format** (one ``.npz``, readable without pickle). Rows are samples of
one person seen by one camera; consecutive rows of a track are consecutive frames.

=================  ============  ==============================================================
entry              shape         meaning
=================  ============  ==============================================================
``keypoints``      (N, J, 2|3)   2D detections in pixels (+ score); missing: NaN / score 0
``layout``         ()            ``coco17``, ``blazepose33``, ``body25`` or ``h36m17`` (as ``skelgnn infer``)
``image_size``     (2,)          width, height in pixels
``track_offsets``  (T+1,)        track ``i`` is rows ``track_offsets[i]:track_offsets[i+1]``
``gt3d_cam``       (N, G, 3)     3D ground truth in the camera frame, metres (any axes)
``gt_names``       (G,)          joint names of ``gt3d_cam`` (see :data:`LIMB_JOINTS`)
``valid``          (N,)          optional: rows whose ground truth is scored (default all)
``up_cam``         (N, 3)        optional: the world's up direction in camera coordinates
``K``              (3, 3)        optional: intrinsics (focal for the trajectory); or (V, 3, 3)
``tracks``         (T, >=1)      optional: column 0 the camera (view) of each track
``fps``            ()            optional: frame rate
=================  ============  ==============================================================

``up_cam`` is the world up axis seen from the camera: with world-to-camera extrinsics
``X_cam = R X_world + t`` and world ``z`` up it is ``R[:, 2]``; instead of ``up_cam`` a file may
hold ``R`` ``(V, 3, 3)`` (per view, with ``tracks[:, 0]``) and ``world_up`` ``(3,)``.
Ground-truth joint names are matched case-insensitively, ``left_``/``right_`` as ``l_``/``r_``
and ``foot`` as ``ankle`` (``RHip``, ``right_hip`` and ``r_hip`` are the same joint).

The Shelf development file (``shelf_dev.npz``, see its README) is read as it is: its
``coco17_names`` make the layout ``coco17``, its ``shelf15_names`` are the ground-truth names,
and its per-view ``R`` with world ``z`` up give ``up_cam``.

**Scores** (per scored frame, then means over frames; also per track), on the 12 limb joints
(hips, knees, ankles, shoulders, elbows, wrists) both skeletons have, each pose centred on its
mid-hip: MPJPE (mm, Protocol #1 after centring), P-MPJPE (mm, Protocol #2), the
definition-independent limb-direction error (degrees: the angle between predicted and true
thighs, shanks, upper arms and forearms after the one rotation per frame that best aligns the
predicted bone directions with the true ones), knee angles (predicted and true, degrees, 180 =
straight), the world up error and the root's path error when the file knows the vertical (the
path: the mid-hip's horizontal track in the predicted world against the truth's, after one turn
about the vertical and one shift per track, :func:`skelgnn.motion.world_metrics.path_error`, mm,
over the scored frames), the foot skating of the placed motion (cm/s), and how many tracks were
lifted or refused. The constant-pose floor is the file's own mean pose (generalised Procrustes mean of
the scored ground truth) scored on the same frames; it has no camera orientation, so no MPJPE.

Shape letters: ``N`` rows, ``F`` frames of a track, ``J`` joints, ``G`` ground-truth joints.
"""
from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from skelgnn.data.bodyshape import joint_angles
from skelgnn.fileio import ZIP_READ_ERRORS, check_npz_members
from skelgnn.infer.layouts import LAYOUTS
from skelgnn.metrics import p_mpjpe
from skelgnn.skeleton import H36M17

__all__ = ["LIMB_JOINTS", "LIMB_BONES", "Footage", "FootageTrack", "read_footage",
           "write_footage", "limb_direction_error", "limb_bone_errors", "knee_angles", "score_frames",
           "constant_pose", "evaluate_footage", "format_footage_report"]

log = logging.getLogger(__name__)

LIMB_JOINTS: tuple[str, ...] = ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
                                "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
                                "l_wrist")
"""The 12 joints scored, in this order (left and right are the person's own)."""

_H36M_INDEX = {"r_hip": 1, "r_knee": 2, "r_ankle": 3, "l_hip": 4, "l_knee": 5, "l_ankle": 6,
               "l_shoulder": 11, "l_elbow": 12, "l_wrist": 13, "r_shoulder": 14, "r_elbow": 15,
               "r_wrist": 16}
H36M_LIMB = tuple(_H36M_INDEX[n] for n in LIMB_JOINTS)
"""Human3.6M-17 indices of :data:`LIMB_JOINTS`."""

LIMB_BONES: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (3, 4), (4, 5),     # thighs, shanks
                                           (6, 7), (7, 8), (9, 10), (10, 11))  # arms
"""Bones of the limb-direction error, as index pairs into :data:`LIMB_JOINTS`."""

_HIPS = (0, 3)
_KNEES = ((0, 1, 2), (3, 4, 5))  # (hip, knee, ankle), right then left


def _canonical(name: str) -> str:
    n = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    for long, short in (("right_", "r_"), ("left_", "l_")):
        if n.startswith(long):
            n = short + n[len(long):]
    if n[:1] in "rl" and len(n) > 1 and n[1] != "_":  # RHip, LKnee (Human3.6M style)
        n = n[0] + "_" + n[1:]
    return n.replace("foot", "ankle")


@dataclass(frozen=True)
class FootageTrack:
    """One person seen by one camera over consecutive frames.

    Attributes:
        name: e.g. ``view1/person0``.
        keypoints: ``(F, J, 2|3)`` pixels (+ scores) in the file's layout.
        gt: ``(F, 12, 3)`` ground truth of :data:`LIMB_JOINTS`, camera frame, metres.
        valid: ``(F,)`` rows scored.
        up_cam: ``(3,)`` world up in camera coordinates, or None.
        focal: focal length in pixels, or None.
    """

    name: str
    keypoints: np.ndarray
    gt: np.ndarray
    valid: np.ndarray
    up_cam: Optional[np.ndarray] = None
    focal: Optional[float] = None


@dataclass(frozen=True)
class Footage:
    """A 'footage with 3D' file (see the module docstring)."""

    tracks: tuple[FootageTrack, ...]
    layout: str
    image_size: tuple[float, float]
    fps: Optional[float]
    source: str


def _entry(data: Any, key: str, path: Path) -> np.ndarray:
    if key not in data:
        raise ValueError(f"{path}: a footage file needs the entry {key!r} (see docs/BENCHMARK.md, "
                         f"'Footage you can measure on'); found {sorted(data.keys())}")
    return np.asarray(data[key])


def read_footage(path: str | Path) -> Footage:
    """Read a 'footage with 3D' npz (or Shelf's ``shelf_dev.npz`` as it is).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable npz, a missing entry, a bad shape, an unknown layout, or
            ground truth lacking some of :data:`LIMB_JOINTS`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"footage file not found: {path}")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle anything else
        raise ValueError(f"{path}: not a readable npz file (not a zip archive)")
    try:
        check_npz_members(path)  # headers that lie about their size, before numpy allocates
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except ZIP_READ_ERRORS + (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable npz file ({exc})") from None
    keypoints = _entry(data, "keypoints", path).astype(np.float64)
    n = keypoints.shape[0]
    if keypoints.ndim != 3 or keypoints.shape[2] not in (2, 3):
        raise ValueError(f"{path}: 'keypoints' must be (N, J, 2|3), found {keypoints.shape}")
    if "layout" in data:
        layout = str(data["layout"])
    elif "coco17_names" in data:  # Shelf
        layout = "coco17"
    else:
        raise ValueError(f"{path}: a footage file needs a 'layout' entry, one of {list(LAYOUTS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"{path}: unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
    names = data.get("gt_names", data.get("shelf15_names"))
    if names is None:
        raise ValueError(f"{path}: a footage file needs 'gt_names', the names of gt3d_cam's joints")
    gt3d = _entry(data, "gt3d_cam", path).astype(np.float64)
    if gt3d.ndim != 3 or gt3d.shape[0] != n or gt3d.shape[1] != len(names) or gt3d.shape[2] != 3:
        raise ValueError(f"{path}: 'gt3d_cam' must be (N={n}, G={len(names)}, 3), found "
                         f"{gt3d.shape}")
    canon = [_canonical(x) for x in np.asarray(names).tolist()]
    lacking = [j for j in LIMB_JOINTS if j not in canon]
    if lacking:
        raise ValueError(f"{path}: the ground truth lacks {lacking} (gt_names: {canon}); the score "
                         f"needs all of {list(LIMB_JOINTS)}")
    gt12 = gt3d[:, [canon.index(j) for j in LIMB_JOINTS]]  # (N, 12, 3)
    offsets = _entry(data, "track_offsets", path).astype(np.int64)
    if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != n \
            or (np.diff(offsets) <= 0).any():
        raise ValueError(f"{path}: 'track_offsets' must rise from 0 to N={n}, found {offsets}")
    valid = np.asarray(data.get("valid", np.ones(n, bool)), dtype=bool)
    if valid.shape != (n,):
        raise ValueError(f"{path}: 'valid' must be (N={n},), found {valid.shape}")
    size = np.asarray(_entry(data, "image_size", path), dtype=np.float64).reshape(-1)
    if size.shape != (2,) or not (size > 0).all():
        raise ValueError(f"{path}: 'image_size' must be (width, height) > 0, found {size}")
    n_tracks = offsets.size - 1
    tracks_meta = data.get("tracks")
    views = (np.asarray(tracks_meta)[:, 0].astype(int) if tracks_meta is not None
             else np.zeros(n_tracks, int))
    up = _up_vectors(data, path, n, offsets, views)
    focal = _focals(data, views)
    out = []
    for i in range(n_tracks):
        rows = slice(int(offsets[i]), int(offsets[i + 1]))
        if tracks_meta is not None and np.asarray(tracks_meta).shape[1] >= 2:
            name = f"view{views[i]}/person{int(np.asarray(tracks_meta)[i, 1])}"
        else:
            name = f"track{i}"
        out.append(FootageTrack(name, keypoints[rows], gt12[rows], valid[rows],
                                None if up is None else up[int(offsets[i])], focal[i]))
    fps = float(data["fps"]) if "fps" in data else None
    return Footage(tuple(out), layout, (float(size[0]), float(size[1])), fps, str(path))


def _up_vectors(data: dict, path: Path, n: int, offsets: np.ndarray,
                views: np.ndarray) -> Optional[np.ndarray]:
    """``(N, 3)`` unit world up in camera coordinates, or None when the file does not say."""
    if "up_cam" in data:
        up = np.asarray(data["up_cam"], dtype=np.float64)
        if up.shape != (n, 3):
            raise ValueError(f"{path}: 'up_cam' must be (N={n}, 3), found {up.shape}")
    elif "R" in data and ("world_up" in data or "shelf15_names" in data):
        world_up = np.asarray(data.get("world_up", (0.0, 0.0, 1.0)), dtype=np.float64)  # Shelf: z
        rot = np.asarray(data["R"], dtype=np.float64).reshape(-1, 3, 3)
        per_track = rot[views] @ world_up  # (T, 3)
        up = np.repeat(per_track, np.diff(offsets), axis=0)
    else:
        return None
    return up / np.linalg.norm(up, axis=-1, keepdims=True)


def _focals(data: dict, views: np.ndarray) -> list[Optional[float]]:
    if "K" not in data:
        return [None] * len(views)
    k = np.asarray(data["K"], dtype=np.float64).reshape(-1, 3, 3)
    return [float(np.sqrt(k[v if k.shape[0] > 1 else 0, 0, 0] * k[v if k.shape[0] > 1 else 0,
                                                                  1, 1])) for v in views]


def write_footage(path: str | Path, keypoints: np.ndarray, layout: str,
                  image_size: tuple[float, float], track_offsets: Sequence[int],
                  gt3d_cam: np.ndarray, gt_names: Sequence[str], **optional: Any) -> Path:
    """Write a 'footage with 3D' npz atomically (``optional``: ``valid``, ``up_cam``, ``K``,
    ``tracks``, ``fps``, ``R``, ``world_up``)."""
    from skelgnn.infer.lifter import save_npz_atomic

    arrays = {"keypoints": np.asarray(keypoints, dtype=np.float32), "layout": np.array(layout),
              "image_size": np.asarray(image_size, dtype=np.float64),
              "track_offsets": np.asarray(track_offsets, dtype=np.int64),
              "gt3d_cam": np.asarray(gt3d_cam, dtype=np.float64),
              "gt_names": np.array(list(gt_names))}
    arrays.update({k: np.asarray(v) for k, v in optional.items() if v is not None})
    return save_npz_atomic(path, arrays)


# ------------------------------------------------------------------------------------------- #
# scores
# ------------------------------------------------------------------------------------------- #
def _centre(poses: np.ndarray) -> np.ndarray:
    """Mid-hip centred ``(N, 12, 3)``."""
    return poses - poses[:, list(_HIPS)].mean(axis=1, keepdims=True)


def _bones(poses: np.ndarray) -> np.ndarray:
    """``(N, 8, 3)`` unit bone directions of :data:`LIMB_BONES`."""
    v = np.stack([poses[:, b] - poses[:, a] for a, b in LIMB_BONES], axis=1)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def limb_bone_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``(N, 8)`` angle of each of :data:`LIMB_BONES` after the one rotation per frame of
    :func:`limb_direction_error`, degrees (their mean over bones is that error)."""
    p, t = _bones(np.asarray(pred, np.float64)), _bones(np.asarray(true, np.float64))
    h = np.einsum("nbi,nbj->nij", p, t)  # (N, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))  # (N,)
    u[:, :, 2] *= d[:, None]
    rot = u @ vt  # p @ rot ~ t
    aligned = np.einsum("nbi,nij->nbj", p, rot)
    cos = np.clip((aligned * t).sum(-1), -1.0, 1.0)  # (N, 8)
    return np.degrees(np.arccos(cos))


def limb_direction_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean angle between predicted and true limb bones after one rotation per frame, degrees.

    The rotation (proper, no scale) best aligning the predicted unit bone directions of
    :data:`LIMB_BONES` with the true ones (Kabsch) is applied first, so the figure depends on
    neither joint definitions (where a skeleton puts its hips and shoulders) nor bone lengths.

    Args:
        pred: ``(N, 12, 3)`` :data:`LIMB_JOINTS`.
        true: ``(N, 12, 3)``.

    Returns:
        ``(N,)`` degrees.
    """
    return limb_bone_errors(pred, true).mean(axis=1)


def knee_angles(poses: np.ndarray) -> np.ndarray:
    """``(N, 2)`` right and left knee angles in degrees (hip-knee-ankle; 180 = straight)."""
    return joint_angles(poses, _KNEES)


def score_frames(pred: np.ndarray, true: np.ndarray, with_mpjpe: bool = True
                 ) -> dict[str, np.ndarray]:
    """Per-frame scores of ``(N, 12, 3)`` poses (metres) against the truth.

    Returns:
        ``mpjpe_mm`` (mid-hip centred; omitted without ``with_mpjpe``), ``p_mpjpe_mm``,
        ``limb_deg``, ``knee_pred_deg`` and ``knee_true_deg`` (both knees averaged), each ``(N,)``.
    """
    p, t = _centre(np.asarray(pred, np.float64)), _centre(np.asarray(true, np.float64))
    out: dict[str, np.ndarray] = {}
    if with_mpjpe:
        out["mpjpe_mm"] = 1000.0 * np.linalg.norm(p - t, axis=-1).mean(axis=1)
    out["p_mpjpe_mm"] = 1000.0 * np.asarray(p_mpjpe(p, t), dtype=np.float64)
    out["limb_deg"] = limb_direction_error(p, t)
    out["knee_pred_deg"] = knee_angles(p).mean(axis=1)
    out["knee_true_deg"] = knee_angles(t).mean(axis=1)
    return out


def constant_pose(gt: np.ndarray, iterations: int = 5) -> np.ndarray:
    """The mean pose of ``(N, 12, 3)`` ground truth: mid-hip centred, each pose rotated onto the
    running mean (generalised Procrustes, rotation only), ``(12, 3)``."""
    poses = _centre(np.asarray(gt, np.float64))
    mean = poses[0]
    for _ in range(iterations):
        h = np.einsum("nji,jk->nik", poses, mean)  # (N, 3, 3)
        u, _, vt = np.linalg.svd(h)
        d = np.sign(np.linalg.det(u @ vt))
        u[:, :, 2] *= d[:, None]
        mean = np.einsum("nji,nik->njk", poses, u @ vt).mean(axis=0)
    return mean


def _true_world(up_cam: np.ndarray) -> np.ndarray:
    """Rows of a world frame with ``y`` along the true up and ``z`` towards the camera, as
    :func:`skelgnn.motion.world.estimate_world_frame` builds the predicted one (``x = y x z``)."""
    up = np.asarray(up_cam, dtype=np.float64) / np.linalg.norm(up_cam)
    back = np.array([0.0, 0.0, -1.0])  # from the scene to the camera, levelled below
    toward: np.ndarray = back - float(back @ up) * up
    z = toward / np.linalg.norm(toward)
    return np.stack([np.cross(up, z), up, z])


def _mean(values: list[np.ndarray]) -> float:
    joined = np.concatenate(values) if values else np.zeros(0)
    return float(joined.mean()) if joined.size else math.nan


_SUMMARY_KEYS = ("mpjpe_mm", "p_mpjpe_mm", "limb_deg", "knee_pred_deg", "knee_true_deg")


def evaluate_footage(footage: Footage, lifter: Any, min_score: float = 0.3,
                     reframe: bool = True, smooth: bool = False,
                     level: bool = True, stance_knees: Optional[bool] = None) -> dict[str, Any]:
    """Lift every track as ``skelgnn infer`` does and score it (see the module docstring).

    Args:
        footage: from :func:`read_footage`.
        lifter: a :class:`skelgnn.infer.lifter.Lifter` (its ``flip_repair`` and ``flip_test``
            settings are used as they are).
        min_score, reframe, smooth, level, stance_knees: as ``skelgnn infer`` ``--min-score``,
            ``--no-reframe``, ``--smooth``, ``--no-level``, ``--stance-knees`` (None: auto).

    Returns:
        a JSON-ready dict: ``overall`` and ``constant_pose`` means over scored frames,
        ``per_track`` rows, ``tracks`` / ``lifted`` / ``refused`` counts and reasons.
    """
    from skelgnn.motion.pipeline import lift_and_place
    from skelgnn.motion.world_metrics import path_error, up_error_deg

    per_track: list[dict[str, Any]] = []
    refused: list[dict[str, str]] = []
    collected: dict[str, list[np.ndarray]] = {k: [] for k in _SUMMARY_KEYS}
    floor: dict[str, list[np.ndarray]] = {k: [] for k in _SUMMARY_KEYS[1:]}
    up_errors: list[float] = []
    path_errors: list[float] = []
    skating: list[float] = []
    all_gt = np.concatenate([t.gt[t.valid] for t in footage.tracks]) \
        if footage.tracks else np.zeros((0, 12, 3))
    if all_gt.shape[0] == 0:
        raise ValueError(f"{footage.source}: no scored (valid) frame in any track")
    mean_pose = constant_pose(all_gt)
    swapped = 0
    frames_lifted = 0
    stance_weights: list[np.ndarray] = []
    for track in footage.tracks:
        if not track.valid.any():
            continue
        try:
            pred, motion = lift_and_place(lifter, track.keypoints, footage.image_size,
                                          footage.layout, min_score, reframe=reframe,
                                          fps=footage.fps, focal=track.focal, smooth=smooth,
                                          level=level, stance_knees=stance_knees)
        except ValueError as exc:
            refused.append({"track": track.name, "reason": str(exc)})
            log.info("footage %s: refused: %s", track.name, exc)
            continue
        if motion.stance_knees is not None:
            stance_weights.append(motion.stance_knees)
        poses = motion.poses_3d[:, list(H36M_LIMB)]  # (F, 12, 3)
        scores = score_frames(poses[track.valid], track.gt[track.valid])
        const = score_frames(np.repeat(mean_pose[None], int(track.valid.sum()), axis=0),
                             track.gt[track.valid], with_mpjpe=False)
        for k in _SUMMARY_KEYS:
            collected[k].append(scores[k])
        for k in floor:
            floor[k].append(const[k])
        row: dict[str, Any] = {"track": track.name, "frames": int(len(track.valid)),
                               "scored": int(track.valid.sum())}
        row.update({k: float(v.mean()) for k, v in scores.items()})
        row["constant_limb_deg"] = float(const["limb_deg"].mean())
        row["unseen_joints"] = [H36M17.names[j] for j in pred.report.unseen]
        n_swapped = pred.flips.swapped_frames if pred.flips is not None else 0
        row["flip_swapped_frames"] = n_swapped
        row["level_roll_deg"] = float(motion.roll_deg)
        swapped += n_swapped
        frames_lifted += len(track.valid)
        row["skating_cm_s"] = float(motion.skating["cm_per_s"])
        skating.append(row["skating_cm_s"])
        if track.up_cam is not None:
            row["up_error_deg"] = up_error_deg(motion.world.rotation[1], track.up_cam)
            up_errors.append(row["up_error_deg"])
            true_root = 0.5 * (track.gt[:, _HIPS[0]] + track.gt[:, _HIPS[1]])  # (F, 3) camera
            pred_root = 0.5 * (motion.poses_world[:, 1] + motion.poses_world[:, 4])  # world, y up
            ok = track.valid & np.isfinite(true_root).all(axis=1)
            if ok.sum() >= 2:
                row["path_mm"] = 1000.0 * path_error(pred_root[ok],
                                                     true_root[ok] @ _true_world(track.up_cam).T)
                path_errors.append(row["path_mm"])
        per_track.append(row)
    scored = int(sum(len(v) for v in collected["p_mpjpe_mm"]))
    overall: dict[str, Any] = {k: _mean(v) for k, v in collected.items()}
    overall["frames"] = scored
    if up_errors:
        overall["up_error_deg"] = float(np.mean(up_errors))
    if path_errors:
        overall["path_mm"] = float(np.mean(path_errors))
    if skating:
        overall["skating_cm_s"] = float(np.mean(skating))
    result: dict[str, Any] = {
        "footage": footage.source,
        "checkpoint": lifter.info.get("checkpoint", "?"),
        "options": {"min_score": min_score, "reframe": reframe, "smooth": smooth, "level": level,
                    "flip_repair": bool(getattr(lifter, "flip_repair", False)),
                    "flip_test": bool(getattr(lifter, "flip_test", False)),
                    "stance_knees": (footage.layout != "h36m17") if stance_knees is None
                    else bool(stance_knees)},
        "stance_knee_share": (float(np.concatenate(stance_weights).mean()) if stance_weights
                              else None),
        "joints": list(LIMB_JOINTS),
        "tracks": len([t for t in footage.tracks if t.valid.any()]),
        "lifted": len(per_track),
        "refused": refused,
        "tracks_with_unseen_joints": sum(bool(r["unseen_joints"]) for r in per_track),
        "flip_swapped_frames": swapped,
        "frames_lifted": frames_lifted,
        "overall": overall,
        "constant_pose": {**{k: _mean(v) for k, v in floor.items()}, "frames": scored},
        "per_track": per_track,
    }
    return result


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_footage_report(result: dict[str, Any]) -> str:
    """A Markdown report of :func:`evaluate_footage`'s result."""
    o, c = result["overall"], result["constant_pose"]
    opts = result["options"]
    lines = [
        f"# Footage: {Path(result['footage']).name}",
        "",
        f"checkpoint {result['checkpoint']}; flip repair {'on' if opts['flip_repair'] else 'off'}"
        f", smooth {'on' if opts['smooth'] else 'off'}, reframe "
        f"{'on' if opts['reframe'] else 'off'}, stance knees "
        + (f"on (weight {result['stance_knee_share']:.2f} over the legs' frames)"
           if opts.get("stance_knees") and result.get("stance_knee_share") is not None else "off")
        + f", min score {opts['min_score']:g}. Tracks lifted "
        f"{result['lifted']} of {result['tracks']} ({len(result['refused'])} refused, "
        f"{result['tracks_with_unseen_joints']} with joints never seen placed from the body); "
        f"flip repair swapped {result['flip_swapped_frames']} of {result['frames_lifted']} "
        f"frames. Scored on {o['frames']} frames, 12 limb joints, mid-hip centred.",
        "",
        "| lifter | MPJPE mm | P-MPJPE mm | limb dir. deg | knee pred. deg | knee true deg "
        "| up error deg | path error mm | skating cm/s |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {result['checkpoint']} | {_fmt(o['mpjpe_mm'])} | {_fmt(o['p_mpjpe_mm'])} | "
        f"{_fmt(o['limb_deg'])} | {_fmt(o['knee_pred_deg'])} | {_fmt(o['knee_true_deg'])} | "
        f"{_fmt(o.get('up_error_deg'))} | {_fmt(o.get('path_mm'))} | {_fmt(o.get('skating_cm_s'))} |",
        f"| constant pose (the set's mean) | - | {_fmt(c['p_mpjpe_mm'])} | {_fmt(c['limb_deg'])} "
        f"| {_fmt(c['knee_pred_deg'])} | {_fmt(c['knee_true_deg'])} | - | - | - |",
        "",
        "| track | frames | scored | MPJPE | P-MPJPE | limb dir. | constant limb dir. | knee "
        "pred. | knee true | up error | path error | skating | swapped | never seen |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["per_track"]:
        lines.append(
            f"| {r['track']} | {r['frames']} | {r['scored']} | {_fmt(r['mpjpe_mm'])} | "
            f"{_fmt(r['p_mpjpe_mm'])} | {_fmt(r['limb_deg'])} | {_fmt(r['constant_limb_deg'])} "
            f"| {_fmt(r['knee_pred_deg'])} | {_fmt(r['knee_true_deg'])} | "
            f"{_fmt(r.get('up_error_deg'))} | {_fmt(r.get('path_mm'))} | "
            f"{_fmt(r.get('skating_cm_s'))} | {r['flip_swapped_frames']} | "
            f"{', '.join(r['unseen_joints']) or '-'} |")
    for r in result["refused"]:
        lines.append(f"| {r['track']} | refused: {r['reason']} |||||||||||||")
    return "\n".join(lines) + "\n"
