"""Hard test poses that no model chose.

Shape legend: ``N`` test samples, ``M`` training poses in the bank, ``J`` joints.

The fixed hard subsets of the data directory (``hard_<source>_top{5,10}.json``) were selected by
the errors of one published model, so a model of the same family is scored on its own worst
cases and looks better there than it is. The subsets here are defined by the data alone:

* **rare** (primary): the test samples whose 3D pose is farthest from every training pose. Rarity
  of a sample is the mean per-joint distance (mm) from its root-relative 3D pose, in the camera's
  frame as the lifter must produce it, to its nearest neighbour (Euclidean over the flattened
  pose) in a seeded bank of ``bank`` training poses drawn from every camera of the ``train``
  subjects. It is the standard model-free notion of a hard pose (a lifter cannot have memorised a
  pose it never saw), it is the same subset for every 2D source, and it ranks the ``val`` or
  ``test`` subjects without looking at any prediction.
* **noisy** (second, ``det`` only): the samples whose detected 2D keypoints are farthest from the
  projected ground truth (mean per-joint distance in pixels): hard for the input, not the pose.

The top ``5%`` and ``10%`` of each measure are the subsets (``rare5``, ``rare10``, ``noisy10``).
They are deterministic in the data directory and the parameters (:class:`HardFreeSpec`), and
cached as ``.npz`` under ``$SKELGNN_CACHE`` (default ``~/.cache/skelgnn``)/``hard_free`` because
the nearest-neighbour search takes a minute on two cores.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from skelgnn.fileio import atomic_open

__all__ = ["HardFreeSpec", "HardFree", "nearest_pose_distance", "hard_free_measures",
           "top_fraction", "cache_dir"]

log = logging.getLogger(__name__)

SUBSETS = (("rare5", "rarity_mm", 0.05), ("rare10", "rarity_mm", 0.10),
           ("noisy10", "noise_2d_px", 0.10))
"""(subset name, measure, fraction of the scored samples): what :func:`evaluate_checkpoint`
reports as ``<name>_p1`` with ``model_free=True``."""


@dataclass(frozen=True)
class HardFreeSpec:
    """The parameters of the model-free measures (recorded beside every figure)."""

    bank: int = 50_000
    """Training poses in the rarity bank (seeded draw from every camera of every train frame)."""
    seed: int = 0
    """Seed of the bank's draw."""
    version: int = 1
    """Bumped whenever the definition changes, so old caches are not reused."""


@dataclass(frozen=True, eq=False)
class HardFree:
    """The measures of every sample of a subject list, in :func:`load_benchmark` record order
    (that of a stride-1 :class:`~skelgnn.data.windows.WindowDataset` on the same records)."""

    rarity_mm: np.ndarray
    """``(N,)`` mean per-joint distance to the nearest bank pose, mm."""
    noise_2d_px: Optional[np.ndarray]
    """``(N,)`` mean per-joint distance of the det 2D from the gt 2D, px (None without det)."""
    keys: list[tuple[str, str, int, int]]
    """``(subject, action, camera, frame)`` of every sample."""
    spec: HardFreeSpec

    def subset(self, measure: str, fraction: float) -> list[tuple[str, str, int, int]]:
        """Keys of the top ``fraction`` of samples by ``measure`` (see :func:`top_fraction`)."""
        values = getattr(self, measure)
        if values is None:
            raise ValueError(f"measure {measure!r} is not available for this data")
        return [self.keys[i] for i in top_fraction(values, fraction)]


def cache_dir() -> Path:
    """``$SKELGNN_CACHE/hard_free``, default ``~/.cache/skelgnn/hard_free``."""
    base = os.environ.get("SKELGNN_CACHE") or Path.home() / ".cache" / "skelgnn"
    return Path(base) / "hard_free"


def top_fraction(values: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the ``ceil(fraction * N)`` largest ``values`` (ties broken by index, so the
    subset is deterministic), in increasing index order."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, math.ceil(fraction * len(values)))
    order = np.lexsort((np.arange(len(values)), -np.asarray(values, np.float64)))
    return np.sort(order[:k])


def nearest_pose_distance(queries: np.ndarray, bank: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Mean per-joint distance from each query pose to its nearest pose in ``bank``.

    Args:
        queries: ``(N, J, 3)`` root-relative poses.
        bank: ``(M, J, 3)`` root-relative poses.

    Returns:
        ``(N,)`` distances in the inputs' unit. The nearest neighbour is found under the
        Euclidean distance of the flattened poses, then scored as a mean per-joint distance.
    """
    q = torch.from_numpy(np.ascontiguousarray(queries.reshape(len(queries), -1), np.float32))
    b = torch.from_numpy(np.ascontiguousarray(bank.reshape(len(bank), -1), np.float32))
    out = np.empty(len(queries), dtype=np.float64)
    j = queries.shape[1]
    with torch.no_grad():
        for lo in range(0, len(q), chunk):
            nn_idx = torch.cdist(q[lo:lo + chunk], b).argmin(1)  # (n,)
            diff = (q[lo:lo + chunk] - b[nn_idx]).view(-1, j, 3)
            out[lo:lo + chunk] = diff.norm(dim=-1).mean(-1).numpy()
    return out


def _fingerprint(root: Path, subjects: Sequence[str], spec: HardFreeSpec) -> str:
    parts = [str(root.resolve()), ",".join(subjects), json.dumps(asdict(spec), sort_keys=True)]
    for name in sorted(os.listdir(root)):
        if name.startswith("data_") and name.endswith(".npz") or name == "split.json":
            st = (root / name).stat()
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def hard_free_measures(data_dir: Optional[str | Path] = None,
                       subjects: Optional[Sequence[str]] = None,
                       spec: HardFreeSpec = HardFreeSpec(), cache: bool = True) -> HardFree:
    """Rarity (and, where the data directory has det 2D, 2D noise) of every sample of
    ``subjects`` (default: the split's test subjects), cached per data directory and spec.

    Raises:
        FileNotFoundError: no data directory, split file or 3D file.
        ValueError: no training subjects in the split.
    """
    from skelgnn.data import load_benchmark, read_split, resolve_data_dir

    root = resolve_data_dir(data_dir)
    split = read_split(root / "split.json")
    subjects = list(split["test"] if subjects is None else subjects)
    train = [s for s in split["train"] if s not in subjects]
    if not train:
        raise ValueError(f"{root}: no training subjects to measure rarity against")
    path = cache_dir() / f"{_fingerprint(root, subjects, spec)}.npz"
    gt = load_benchmark(root, "gt", subjects=subjects)
    keys = [(r.subject, r.action, int(r.camera), f) for r in gt for f in range(r.num_frames)]
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if int(z["samples"]) == len(keys):
                cached = z["noise_2d_px"] if z["noise_2d_px"].size else None
                return HardFree(z["rarity_mm"], cached, keys, spec)
    bank = np.concatenate([r.poses_3d for r in load_benchmark(root, "gt", subjects=train)])
    rng = np.random.default_rng(spec.seed)
    bank = bank[np.sort(rng.choice(len(bank), size=min(spec.bank, len(bank)), replace=False))]
    log.info("rarity of %d samples against %d training poses", len(keys), len(bank))
    rarity = nearest_pose_distance(np.concatenate([r.poses_3d for r in gt]), bank) * 1000.0
    noise: Optional[np.ndarray] = None
    if (root / "data_2d_cmu_det.npz").is_file():
        det = load_benchmark(root, "det", subjects=subjects)
        noise = np.concatenate([np.linalg.norm(d.keypoints_2d - g.keypoints_2d, axis=-1).mean(-1)
                                for d, g in zip(det, gt)]).astype(np.float64)
    if cache:
        try:
            with atomic_open(path) as fh:
                np.savez(fh, rarity_mm=rarity, samples=np.array(len(keys)),
                         noise_2d_px=noise if noise is not None else np.zeros(0))
        except (OSError, ValueError) as exc:  # a read-only home is no reason to fail scoring
            log.warning("could not cache the hard-pose measures: %s", exc)
    return HardFree(rarity, noise, keys, spec)
