"""Evaluation: predict every frame of a dataset, then score it under the benchmark protocol.

Shape legend: ``N`` samples, ``F`` frames of one sequence, ``R`` receptive field, ``J`` joints.

* :func:`skelgnn.predict.predict_sequences` lifts whole sequences in sequence mode (temporal
  models compute overlapping windows once), with optional flip test-time augmentation.
* :func:`score` turns per-sample predictions into the protocol's figures: P1 (MPJPE) and P2
  (P-MPJPE) in millimetres, per-sample and action-wise means, a per-action table, the fixed
  hard subsets and the model's own hardest 5% / 10%.
* :func:`evaluate_checkpoint` does both for a checkpoint on a benchmark directory.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from skelgnn.checkpoint import load_model
from skelgnn.data import (WindowDataset, load_benchmark, read_skeleton, read_split,
                          resolve_data_dir)
from skelgnn.metrics import group_mean, mpjpe, p_mpjpe
from skelgnn.predict import predict_sequences

__all__ = ["score", "load_hard_subset", "evaluate_checkpoint", "format_report"]

log = logging.getLogger(__name__)


def load_hard_subset(path: str | Path) -> list[tuple[str, str, int, int]]:
    """The ``samples`` list of a ``hard_*_top*.json`` file as ``(subject, action, camera, frame)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hard-pose subset not found: {path}")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "samples" not in data:
        raise ValueError(f"{path}: expected a JSON object with key 'samples'")
    return [(str(s), str(a), int(c), int(f)) for s, a, c, f in data["samples"]]


def _own_hard(errors: np.ndarray, fraction: float) -> float:
    k = max(1, math.ceil(fraction * errors.shape[0]))
    return float(np.sort(errors)[::-1][:k].mean())


def score(pred: np.ndarray, target: np.ndarray, dataset: WindowDataset,
          hard_subsets: Optional[Mapping[str, Sequence[tuple[str, str, int, int]]]] = None
          ) -> dict[str, Any]:
    """Benchmark figures for predictions in metres (reported in millimetres).

    Returns a dict with ``p1``, ``p2`` (per-sample means), ``p1_action``, ``p2_action``
    (action-wise: mean per action category, then over categories), ``per_action``
    (``{category: {"p1", "p2", "samples"}}``), ``own_hard5_p1``, ``own_hard10_p1`` and, for each
    entry ``name`` of ``hard_subsets``, ``<name>_p1`` (e.g. ``hard5_p1``), plus ``samples``.
    """
    e1 = np.asarray(mpjpe(pred * 1000.0, target * 1000.0), dtype=np.float64)  # (N,) mm
    e2 = np.asarray(p_mpjpe(pred.astype(np.float64) * 1000.0, target.astype(np.float64) * 1000.0))
    cats = dataset.labels.category
    p1_action, p1_per = group_mean(e1, cats.tolist())
    p2_action, p2_per = group_mean(e2, cats.tolist())
    counts = {c: int(n) for c, n in zip(*np.unique(cats, return_counts=True))}
    out: dict[str, Any] = {
        "p1": float(e1.mean()), "p2": float(e2.mean()),
        "p1_action": float(p1_action), "p2_action": float(p2_action),
        "per_action": {c: {"p1": float(p1_per[c]), "p2": float(p2_per[c]), "samples": counts[c]}
                       for c in p1_per},
        "own_hard5_p1": _own_hard(e1, 0.05), "own_hard10_p1": _own_hard(e1, 0.10),
        "samples": int(e1.shape[0]),
    }
    for name, keys in (hard_subsets or {}).items():
        idx = dataset.find_samples(keys)
        out[f"{name}_p1"] = float(e1[idx].mean())
    return out


def evaluate_checkpoint(checkpoint: str | Path, data_dir: Optional[str | Path] = None,
                        source: Optional[str] = None, flip_test: bool = True,
                        subjects: Optional[Sequence[str]] = None,
                        progress: bool = True) -> dict[str, Any]:
    """Score a checkpoint on the test subjects of a benchmark directory.

    Args:
        checkpoint: path of a skelgnn checkpoint.
        data_dir: benchmark directory (None: the default location).
        source: 2D source; None means the source the checkpoint was trained on.
        flip_test: flip test-time augmentation.
        subjects: subjects to score (None: the split's ``test`` list). The fixed hard subsets
            (``hard5_p1``, ``hard10_p1``) are scored only on the test list itself.

    Returns:
        :func:`score`'s dict plus ``model``, ``source``, ``tta``, ``checkpoint``.
    """
    model, codec, info = load_model(checkpoint)
    src = source or info.get("source", "det")
    root = resolve_data_dir(data_dir)
    # explicit subjects need no split file; without one, nothing is known to be the test split
    has_split = subjects is None or (root / "split.json").is_file()
    test = read_split(root / "split.json")["test"] if has_split else []
    if subjects is None:
        subjects = test
    records = load_benchmark(root, src, subjects=subjects)
    dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    skeleton = read_skeleton(root, src, num_joints=model.num_joints)
    pred, target = predict_sequences(model, dataset, flip_test, progress=progress,
                                     skeleton=skeleton)
    hard = {}
    # the fixed hard subsets list test samples: they mean something on the test subjects only
    on_test = sorted(subjects) == sorted(test)
    if not on_test:
        log.info("scoring subjects %s, not the test split: no fixed hard subsets", list(subjects))
    for name, pct in (("hard5", 5), ("hard10", 10)) if on_test else ():
        path = root / f"hard_{src}_top{pct}.json"
        if path.is_file():
            hard[name] = load_hard_subset(path)
        else:
            log.warning("no fixed hard subset %s; %s_p1 is not reported", path, name)
    result = score(pred, target, dataset, hard)
    result.update({"model": info.get("preset", info.get("arch", "?")), "source": src,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "tta": bool(flip_test), "checkpoint": str(checkpoint)})
    return result


def format_report(result: dict[str, Any]) -> str:
    """A human-readable table of :func:`score` / :func:`evaluate_checkpoint` output."""
    lines = [f"model {result.get('model', '?')}  source {result.get('source', '?')}  "
             f"flip TTA {'on' if result.get('tta', True) else 'off'}  "
             f"samples {result['samples']}",
             "",
             f"{'':22s} {'P1 (mm)':>9s} {'P2 (mm)':>9s}",
             f"{'per-sample mean':22s} {result['p1']:9.2f} {result['p2']:9.2f}",
             f"{'action-wise mean':22s} {result['p1_action']:9.2f} {result['p2_action']:9.2f}",
             "",
             f"{'action':22s} {'P1':>9s} {'P2':>9s} {'samples':>9s}"]
    for cat, row in result["per_action"].items():
        lines.append(f"{cat:22s} {row['p1']:9.2f} {row['p2']:9.2f} {row['samples']:9d}")
    lines.append("")
    for key, label in (("hard5_p1", "fixed hard 5%"), ("hard10_p1", "fixed hard 10%"),
                       ("own_hard5_p1", "own hardest 5%"), ("own_hard10_p1", "own hardest 10%")):
        if key in result:
            lines.append(f"{label + ' P1':22s} {result[key]:9.2f}")
    return "\n".join(lines)
