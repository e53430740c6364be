"""The MPI-INF-3DHP test set: reading it and scoring a lifter on it (``skelgnn evaluate --dataset 3dhp``).

Layout: ``<root>/TS1 .. TS6/annot_data.mat``. Each file holds (MATLAB array sizes, from the
dataset's README):

* ``annot2`` -- ``2 x 17 x 1 x N``: 2D joints in pixels of the test camera;
* ``univ_annot3`` -- ``3 x 17 x 1 x N``: 3D joints in millimetres in the camera frame, rescaled to
  the height of Human3.6M's universal skeleton (the annotations the official evaluation uses);
* ``valid_frame`` -- ``1 x N`` (or ``N x 1``): 1 where a frame is scored.

The files come as MATLAB v7.3 (HDF5; read with ``h5py``, which shows every array with its axes
reversed, e.g. ``annot2`` as ``(N, 1, 17, 2)``) or v5 (read with ``scipy.io.loadmat``, which keeps
MATLAB's order). :func:`read_annot_mat` undoes the reversal, so both give MATLAB's order.
Images are 2048 x 2048 in TS1-TS4 (studio) and 1920 x 1080 in TS5-TS6 (outdoor).

Joints. The 17 test joints, in the dataset's order: head_top, neck, right shoulder / elbow /
wrist, left shoulder / elbow / wrist, right hip / knee / ankle, left hip / knee / ankle, pelvis,
spine, head. :data:`TO_H36M17` maps them to our Human3.6M-17 layout the way evaluations of
Human3.6M-trained lifters on 3DHP do: pelvis -> Hip, spine -> Spine, neck -> Thorax, head ->
Neck/Nose, **head_top -> Head**. On this package's CMU benchmark our ``Head`` joint is the midpoint
of the eyes, about 0.11 m above Neck/Nose, while 3DHP's head_top is the crown of the skull, a few
centimetres higher still; the Head error therefore carries a systematic offset for CMU-trained
models. We keep head_top because it is the joint every published 3DHP table scores (the
official 14-joint set includes it) and because Human3.6M's own ``Head`` is a head-top marker, so
Human3.6M-trained checkpoints are scored as they are elsewhere.

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

Shape letters: ``N`` frames of a sequence, ``V`` valid frames, ``J`` joints.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from skelgnn.metrics import DEFAULT_AUC_THRESHOLDS, auc, mpjpe, pck

__all__ = [
    "TEST_SEQUENCES",
    "IMAGE_SIZES",
    "SCENES",
    "MPI3DHP_JOINTS",
    "TO_H36M17",
    "JOINT_SETS",
    "PCK_THRESHOLD_MM",
    "read_annot_mat",
    "TestSequence",
    "load_test_sequence",
    "load_test_set",
    "score_3dhp",
    "evaluate_3dhp",
    "evaluate_checkpoint_3dhp",
    "format_3dhp_report",
]

log = logging.getLogger(__name__)

TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")

IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}
"""``(width, height)`` in pixels of each test sequence's video."""

SCENES: dict[str, tuple[str, ...]] = {"GS": ("TS1", "TS2"), "noGS": ("TS3", "TS4"), "Outdoor": ("TS5", "TS6")}

MPI3DHP_JOINTS: tuple[str, ...] = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "pelvis", "spine", "head",
)
"""The 17 test joints in the order of ``annot_data.mat``."""

TO_H36M17: tuple[int, ...] = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
"""For each Human3.6M-17 joint (Hip, RHip, RKnee, RFoot, LHip, LKnee, LFoot, Spine, Thorax,
Neck/Nose, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist), its 3DHP test joint."""

JOINT_SETS: dict[int, tuple[int, ...]] = {
    17: tuple(range(17)),
    14: (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16),
}
"""Scored joints in Human3.6M-17 indices: all 17, or the official 14 (no Hip, Spine, Neck/Nose)."""

PCK_THRESHOLD_MM = 150.0
MM_PER_M = 1000.0


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _is_hdf5(path: Path) -> bool:
    # MATLAB v7.3 files are HDF5 with a 512-byte user block; HDF5 looks for its signature at
    # offsets 0, 512, 1024, ...
    signature = b"\x89HDF\r\n\x1a\n"
    with path.open("rb") as f:
        head = f.read(4096)
    return any(head[o:o + 8] == signature for o in (0, 512, 1024, 2048))


def read_annot_mat(path: str | Path, names: Sequence[str] = ("annot2", "univ_annot3", "valid_frame")
                   ) -> dict[str, np.ndarray]:
    """Read variables of a MATLAB file (v7.3 via ``h5py`` or v5 via ``scipy.io``) in MATLAB's axis
    order (``annot2`` as ``(2, 17, 1, N)`` whichever the format).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a MATLAB file, or a variable missing (the message lists those present).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    out: dict[str, np.ndarray] = {}
    if _is_hdf5(path):
        try:
            import h5py
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ValueError(f"{path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: pip install h5py") from exc
        with h5py.File(path, "r") as f:
            present = sorted(f.keys())
            for name in names:
                if name not in f or not isinstance(f[name], h5py.Dataset):
                    raise ValueError(f"{path}: no variable {name!r}; variables present: {present}")
                out[name] = np.asarray(f[name][()]).T  # h5py shows MATLAB's axes reversed
        return out
    try:
        import scipy.io
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError(f"{path} is a MATLAB v5 file; reading it needs scipy: pip install scipy") from exc
    try:
        raw = scipy.io.loadmat(str(path), variable_names=list(names))
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise ValueError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    for name in names:
        if name not in raw:
            present = sorted(k for k in raw if not k.startswith("__"))
            raise ValueError(f"{path}: no variable {name!r}; variables read: {present}")
        out[name] = np.asarray(raw[name])
    return out


def _joints_last(arr: np.ndarray, channels: int, name: str, where: str) -> np.ndarray:
    """MATLAB ``(C, 17, [1,] N)`` -> ``(N, 17, C)`` float64."""
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 4 and a.shape[2] == 1:
        a = a[:, :, 0, :]
    if a.ndim != 3 or a.shape[0] != channels or a.shape[1] != len(MPI3DHP_JOINTS):
        raise ValueError(f"{where}: {name} should be {channels} x 17 x 1 x N in MATLAB's order "
                         f"({channels} x 17 x N accepted), found {a.shape}")
    return np.ascontiguousarray(a.transpose(2, 1, 0))  # (N, 17, C)


@dataclass(frozen=True, eq=False)
class TestSequence:
    """One 3DHP test sequence, joints already in Human3.6M-17 order.

    Attributes:
        name: ``TS1`` .. ``TS6``.
        keypoints_2d: ``(N, 17, 2)`` float64 pixels (``annot2``).
        poses_3d: ``(N, 17, 3)`` float64 camera-frame millimetres (``univ_annot3``), absolute.
        valid: ``(N,)`` bool, the frames that are scored.
        image_size: ``(width, height)`` in pixels.
    """

    name: str
    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    valid: np.ndarray
    image_size: tuple[int, int]

    @property
    def scene(self) -> str:
        return next(s for s, names in SCENES.items() if self.name in names)

    @property
    def num_valid(self) -> int:
        return int(self.valid.sum())


def load_test_sequence(path: str | Path, name: str) -> TestSequence:
    """Read one ``annot_data.mat`` and map its joints to Human3.6M-17 (:data:`TO_H36M17`).

    Raises:
        ValueError: unknown sequence name, wrong shapes, frame counts that disagree, NaN in a valid
            frame, or no valid frame.
    """
    if name not in IMAGE_SIZES:
        raise ValueError(f"unknown 3DHP test sequence {name!r}; expected one of {list(TEST_SEQUENCES)}")
    raw = read_annot_mat(path)
    where = str(path)
    kp = _joints_last(raw["annot2"], 2, "annot2", where)[:, list(TO_H36M17)]  # (N, 17, 2)
    p3 = _joints_last(raw["univ_annot3"], 3, "univ_annot3", where)[:, list(TO_H36M17)]  # (N, 17, 3)
    valid_raw = np.asarray(raw["valid_frame"])
    if valid_raw.size != kp.shape[0] or sum(d > 1 for d in valid_raw.shape) > 1:
        raise ValueError(f"{where}: valid_frame should be 1 x N with N = {kp.shape[0]} (the frames "
                         f"of annot2), found {valid_raw.shape}")
    if p3.shape[0] != kp.shape[0]:
        raise ValueError(f"{where}: annot2 has {kp.shape[0]} frames, univ_annot3 {p3.shape[0]}")
    valid = valid_raw.reshape(-1) != 0
    if not valid.any():
        raise ValueError(f"{where}: no valid frame (valid_frame is all 0)")
    if not (np.isfinite(kp[valid]).all() and np.isfinite(p3[valid]).all()):
        raise ValueError(f"{where}: NaN or inf in the annotations of valid frames")
    return TestSequence(name=name, keypoints_2d=kp, poses_3d=p3, valid=valid, image_size=IMAGE_SIZES[name])


def load_test_set(root: str | Path, sequences: Sequence[str] | None = None) -> list[TestSequence]:
    """Read ``<root>/TS*/annot_data.mat``: the requested sequences (default all present).

    Raises:
        FileNotFoundError: ``root`` missing, a requested sequence missing, or none present.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"3DHP test set directory not found: {root}; expected "
                                "<root>/TS1 .. TS6/annot_data.mat (mpi_inf_3dhp_test_set)")
    if sequences is None:
        names = [n for n in TEST_SEQUENCES if (root / n / "annot_data.mat").is_file()]
        if not names:
            raise FileNotFoundError(f"no TS1 .. TS6/annot_data.mat under {root}")
    else:
        names = list(sequences)
        for n in names:
            if n not in IMAGE_SIZES:
                raise ValueError(f"unknown 3DHP test sequence {n!r}; expected some of {list(TEST_SEQUENCES)}")
            if not (root / n / "annot_data.mat").is_file():
                raise FileNotFoundError(f"{root / n / 'annot_data.mat'} not found")
    return [load_test_sequence(root / n / "annot_data.mat", n) for n in names]


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

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
                  sequences: Sequence[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Lift every test sequence's valid frames with ``predict`` and score them (:func:`score_3dhp`)."""
    seqs = load_test_set(data_dir, sequences)
    items: Any = seqs
    if progress:
        from tqdm import tqdm

        items = tqdm(seqs, desc="3dhp", unit="seq", leave=False)
    predictions = {}
    for seq in items:
        pred_m = np.asarray(predict(seq.keypoints_2d[seq.valid], seq.image_size), dtype=np.float64)
        predictions[seq.name] = pred_m * MM_PER_M  # (V, 17, 3) mm
    result = score_3dhp(predictions, seqs, joints)
    result["data_dir"] = str(data_dir)
    return result


def evaluate_checkpoint_3dhp(checkpoint: str | Path, data_dir: str | Path, joints: int = 17,
                             flip_test: bool = True, progress: bool = False) -> dict[str, Any]:
    """Score a checkpoint on the 3DHP test set through :class:`skelgnn.inference.Lifter`."""
    from skelgnn.inference import Lifter

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
