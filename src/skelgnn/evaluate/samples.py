"""Per-sample errors: saved beside a score so that two models can be compared sample by sample.

Shape legend: ``N`` samples.

``skelgnn evaluate --per-sample FILE.npz`` (and ``benchmarks/run.py``, into the run directory,
outside git) writes, for every test sample, its P1 and P2 in mm and its key ``(subject, action,
camera, frame)``. :func:`paired_difference` aligns two such files on their keys and gives the mean
difference with a confidence interval that respects the correlation of neighbouring frames: the
unit of resampling is a sequence (subject, action, camera), not a frame.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from skelgnn.fileio import ZIP_READ_ERRORS, atomic_open, check_npz_members
from skelgnn.metrics import mpjpe, p_mpjpe

__all__ = ["PerSample", "per_sample_errors", "save_per_sample", "load_per_sample",
           "paired_difference"]


@dataclass(frozen=True, eq=False)
class PerSample:
    """Per-sample errors in mm and the samples' keys, parallel ``(N,)`` arrays."""

    p1: np.ndarray
    p2: np.ndarray
    subject: np.ndarray
    action: np.ndarray
    camera: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return int(self.p1.shape[0])

    def keys(self) -> np.ndarray:
        """One string per sample, ``subject/action/camera/frame`` (for aligning two files)."""
        return np.char.add(self.sequences(), np.char.add("/", self.frame.astype(str)))

    def sequences(self) -> np.ndarray:
        """One string per sample naming its sequence, ``subject/action/camera``."""
        sa = np.char.add(np.char.add(self.subject.astype(str), "/"), self.action.astype(str))
        return np.char.add(np.char.add(sa, "/"), self.camera.astype(str))


def per_sample_errors(pred: np.ndarray, target: np.ndarray, labels: Any) -> PerSample:
    """P1 and P2 (mm) of every sample of predictions and targets in metres, ``(N, J, 3)``;
    ``labels`` is the dataset's :class:`~skelgnn.data.windows.SampleLabels`."""
    e1 = np.asarray(mpjpe(pred * 1000.0, target * 1000.0), dtype=np.float64)
    e2 = np.asarray(p_mpjpe(pred.astype(np.float64) * 1000.0,
                            target.astype(np.float64) * 1000.0), dtype=np.float64)
    return PerSample(e1, e2, np.asarray(labels.subject).astype(str),
                     np.asarray(labels.action).astype(str), np.asarray(labels.camera, np.int64),
                     np.asarray(labels.frame, np.int64))


def save_per_sample(path: str | Path, errors: PerSample, meta: Optional[dict] = None) -> Path:
    """Write ``errors`` to an ``.npz`` (float32 errors, about 1.5 MB for the 92,692 test samples),
    atomically; ``meta`` (model, source, checkpoint, ...) goes in as a JSON string."""
    import json

    path = Path(path)
    with atomic_open(path) as fh:
        np.savez_compressed(fh, p1=errors.p1.astype(np.float32), p2=errors.p2.astype(np.float32),
                            subject=errors.subject, action=errors.action, camera=errors.camera,
                            frame=errors.frame, meta=np.array(json.dumps(meta or {})))
    return path


def load_per_sample(path: str | Path) -> tuple[PerSample, dict]:
    """The errors and metadata of a :func:`save_per_sample` file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a per-sample file (a missing array or arrays of different lengths).
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"per-sample errors not found: {path}")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle anything else
        raise ValueError(f"{path}: not a per-sample error file (not a zip archive)")
    names = ("p1", "p2", "subject", "action", "camera", "frame")
    try:
        check_npz_members(path)  # headers that lie about their size, before numpy allocates
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise ValueError(f"{path}: not a per-sample error file (missing {missing})")
            arrays = {n: z[n] for n in names}
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not a readable npz file: {type(exc).__name__}: {exc}") from None
    if len({len(a) for a in arrays.values()}) != 1:
        raise ValueError(f"{path}: per-sample arrays of different lengths")
    return PerSample(arrays["p1"].astype(np.float64), arrays["p2"].astype(np.float64),
                     arrays["subject"], arrays["action"], arrays["camera"], arrays["frame"]), meta


def paired_difference(a: PerSample, b: PerSample, metric: str = "p1",
                      mask: Optional[np.ndarray] = None, boot: int = 2000, seed: int = 0,
                      level: float = 0.95) -> dict[str, float]:
    """Mean of ``b - a`` (positive: ``a`` is better) over the samples both files hold, with a
    percentile confidence interval from a bootstrap over sequences (each resample draws whole
    sequences with replacement and recomputes the sample-weighted mean difference), and the
    share of sequence resamples in which ``a`` is not better (a one-sided bootstrap p-value).

    Args:
        a, b: per-sample errors; aligned on their keys (samples in only one are dropped).
        metric: ``"p1"`` or ``"p2"``.
        mask: optional ``(len(a),)`` boolean selection over ``a``'s samples (a subset).

    Raises:
        ValueError: no common samples, or an unknown metric.
    """
    if metric not in ("p1", "p2"):
        raise ValueError(f"metric must be 'p1' or 'p2', got {metric!r}")
    ka, kb = a.keys(), b.keys()
    common, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    if mask is not None:
        keep = np.asarray(mask, bool)[ia]
        ia, ib = ia[keep], ib[keep]
    if len(ia) == 0:
        raise ValueError("the two per-sample files share no samples")
    d = getattr(b, metric)[ib] - getattr(a, metric)[ia]  # (n,)
    seq_names, seq = np.unique(a.sequences()[ia], return_inverse=True)
    sums = np.bincount(seq, weights=d)
    counts = np.bincount(seq).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(boot, len(sums)))
    means = sums[draws].sum(1) / counts[draws].sum(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "level": level, "p_not_better": float((means <= 0).mean()),
            "a_better_share": float((d > 0).mean()), "samples": int(len(d)),
            "sequences": int(len(seq_names)), "boot": boot}
