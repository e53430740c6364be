"""Scoring a lifter on the MPI-INF-3DHP test set (``skelgnn evaluate --dataset 3dhp``).

The test set is read by :mod:`skelgnn.prepare.mpi3dhp` (sequences, valid frames, the joint map to
Human3.6M-17); this module lifts and scores it.

Joint sets. ``17``: all mapped joints. ``14``: the official evaluation's joints (head_top, neck,
shoulders, elbows, wrists, hips, knees, ankles), i.e. without pelvis, spine and head; its PCK and
AUC equal the ``Total`` of the official MATLAB script.

Metrics, on valid frames, with predictions and ``univ_annot3`` both made relative to the pelvis:
PCK at 150 mm (a joint counts when its error is below the threshold), AUC (mean PCK over the 31
thresholds 0, 5, ..., 150 mm) and MPJPE (mm), per sequence, per scene (GS = TS1-2 green screen,
noGS = TS3-4 studio without green screen, Outdoor = TS5-6) and overall, each pooled over its
frames (as the official script pools them).

Lifting: each sequence's valid frames are lifted as one clip (temporal models see consecutive
valid frames, the choice of the public lifting evaluations), at that sequence's image size.

Shape letters: ``V`` valid frames of a sequence, ``J`` joints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from skelgnn.infer.lifter import Lifter
from skelgnn.metrics import DEFAULT_AUC_THRESHOLDS, auc, mpjpe, pck
from skelgnn.prepare.mpi3dhp import SCENES, TestSequence, load_test_set
from skelgnn.progress import ProgressMode, track

__all__ = [
    "JOINT_SETS",
    "PCK_THRESHOLD_MM",
    "score_3dhp",
    "Predictor",
    "evaluate_3dhp",
    "evaluate_checkpoint_3dhp",
    "format_3dhp_report",
]

JOINT_SETS: dict[int, tuple[int, ...]] = {
    17: tuple(range(17)),
    14: (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16),
}
"""Scored joints in Human3.6M-17 indices: all 17, or the official 14 (no Hip, Spine, Neck/Nose)."""

PCK_THRESHOLD_MM = 150.0
MM_PER_M = 1000.0


def _figures(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {
        "frames": int(pred.shape[0]),
        "pck": 100.0 * float(np.mean(pck(pred, target, PCK_THRESHOLD_MM))),
        "auc": 100.0 * float(np.mean(auc(pred, target, DEFAULT_AUC_THRESHOLDS))),
        "mpjpe": float(np.mean(mpjpe(pred, target))),
    }


def score_3dhp(predictions: Mapping[str, np.ndarray], sequences: Sequence[TestSequence],
               joints: int = 17) -> dict[str, Any]:
    """Score root-relative predictions on the valid frames.

    Args:
        predictions: ``sequence name -> (V, 17, 3)`` millimetres, Human3.6M-17 order, one pose
            per valid frame (in frame order); made relative to joint 0 here.
        sequences: the test sequences.
        joints: ``17`` or ``14`` (:data:`JOINT_SETS`).

    Returns:
        ``{"joints", "pck_threshold_mm", "auc_thresholds_mm", "sequences": {name: figures},
        "scenes": {GS/noGS/Outdoor: figures}, "overall": figures}`` where figures are
        ``{"frames", "pck" (%), "auc" (%), "mpjpe" (mm)}``, pooled over frames.

    Raises:
        ValueError: unknown joint set, a sequence without predictions, or a wrong shape.
    """
    if joints not in JOINT_SETS:
        raise ValueError(f"joints must be one of {sorted(JOINT_SETS)}, found {joints!r}")
    keep = list(JOINT_SETS[joints])
    preds, gts, per_seq = {}, {}, {}
    for seq in sequences:
        if seq.name not in predictions:
            raise ValueError(f"no predictions for {seq.name}; predictions for {sorted(predictions)}")
        pred = np.asarray(predictions[seq.name], dtype=np.float64)
        if pred.shape != (seq.num_valid, 17, 3):
            raise ValueError(f"{seq.name}: predictions should be ({seq.num_valid}, 17, 3) (one per valid "
                             f"frame), found {pred.shape}")
        gt = seq.poses_3d[seq.valid]
        preds[seq.name] = (pred - pred[:, :1])[:, keep]  # (V, J', 3)
        gts[seq.name] = (gt - gt[:, :1])[:, keep]  # (V, J', 3)
        per_seq[seq.name] = _figures(preds[seq.name], gts[seq.name])
    scenes = {}
    for scene, names in SCENES.items():
        present = [n for n in names if n in preds]
        if present:
            scenes[scene] = _figures(np.concatenate([preds[n] for n in present]),
                                     np.concatenate([gts[n] for n in present]))
    overall = _figures(np.concatenate(list(preds.values())), np.concatenate(list(gts.values())))
    return {"joints": joints, "pck_threshold_mm": PCK_THRESHOLD_MM,
            "auc_thresholds_mm": [float(t) for t in DEFAULT_AUC_THRESHOLDS],
            "sequences": per_seq, "scenes": scenes, "overall": overall}


Predictor = Callable[[np.ndarray, tuple[int, int]], np.ndarray]
"""``(keypoints (V, 17, 2) pixels, (width, height)) -> (V, 17, 3)`` root-relative metres."""


def evaluate_3dhp(predict: Predictor, data_dir: str | Path, joints: int = 17,
                  sequences: Sequence[str] | None = None, progress: ProgressMode = False
                  ) -> dict[str, Any]:
    """Lift every test sequence's valid frames with ``predict`` and score them (:func:`score_3dhp`)."""
    seqs = load_test_set(data_dir, sequences)
    predictions = {}
    for seq in track(seqs, "3dhp", len(seqs), "sequence", progress):
        pred_m = np.asarray(predict(seq.keypoints_2d[seq.valid], seq.image_size), dtype=np.float64)
        predictions[seq.name] = pred_m * MM_PER_M  # (V, 17, 3) mm
    result = score_3dhp(predictions, seqs, joints)
    result["data_dir"] = str(data_dir)
    return result


def evaluate_checkpoint_3dhp(checkpoint: str | Path, data_dir: str | Path, joints: int = 17,
                             flip_test: bool = True, progress: ProgressMode = False
                             ) -> dict[str, Any]:
    """Score a checkpoint on the 3DHP test set through :class:`skelgnn.infer.lifter.Lifter`."""
    lifter = Lifter.from_checkpoint(checkpoint, flip_test=flip_test)
    result = evaluate_3dhp(lifter.predict, data_dir, joints, progress=progress)
    result.update(checkpoint=str(checkpoint), preset=lifter.info.get("preset", "?"),
                  source=lifter.info.get("source", "?"), flip_test=flip_test)
    return result


def format_3dhp_report(result: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`score_3dhp` / :func:`evaluate_3dhp` figures."""
    rows = [(name, f) for name, f in result["sequences"].items()]
    rows += [(name, f) for name, f in result["scenes"].items()]
    rows.append(("All", result["overall"]))
    head = f"{'':8s} {'frames':>7s} {'PCK@150':>8s} {'AUC':>6s} {'MPJPE':>7s}"
    lines = []
    if "checkpoint" in result:
        lines.append(f"checkpoint: {result['checkpoint']} ({result.get('preset', '?')}, "
                     f"trained on {result.get('source', '?')} 2D; flip TTA "
                     f"{'on' if result.get('flip_test') else 'off'})")
    lines.append(f"MPI-INF-3DHP test set, valid frames, {result['joints']} joints, univ_annot3 "
                 "root-relative to the pelvis; PCK and AUC in %, MPJPE in mm")
    lines += [head, "-" * len(head)]
    for i, (name, f) in enumerate(rows):
        if i in (len(result["sequences"]), len(result["sequences"]) + len(result["scenes"])):
            lines.append("-" * len(head))
        lines.append(f"{name:8s} {f['frames']:7d} {f['pck']:8.1f} {f['auc']:6.1f} {f['mpjpe']:7.1f}")
    return "\n".join(lines)
