"""Evaluation: predict every frame of a dataset, then score it under the benchmark protocol.

Shape legend: ``N`` samples, ``F`` frames of one sequence, ``R`` receptive field, ``J`` joints.

* :func:`skelgnn.models.predict.predict_sequences` lifts whole sequences in sequence mode (temporal
  models compute overlapping windows once), with optional flip test-time augmentation.
* :func:`score` turns per-sample predictions into the protocol's figures: P1 (MPJPE) and P2
  (P-MPJPE) in millimetres, per-sample and action-wise means, a per-action table, the fixed
  hard subsets and the model's own hardest 5% / 10%.
* :func:`evaluate_checkpoint` does both for a checkpoint on a benchmark directory; with
  ``max_samples`` it scores a seeded subsample (:func:`subsample_records`) for a quick look, and
  the figures say so (``subsample`` in the dict, a line in the report). Never report those.
  With ``model_free`` it adds the hard subsets no model chose (:mod:`skelgnn.evaluate.hard_free`);
  with ``per_sample`` it saves every sample's errors (:mod:`skelgnn.evaluate.samples`).
* :class:`ProgressLog` logs progress lines at most every few seconds, for logs and pipes where
  a progress bar is noise.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from skelgnn.models.checkpoint import load_model
from skelgnn.data import (Sequence2D3D, WindowDataset, load_benchmark, read_skeleton,
                          read_split, resolve_data_dir)
from skelgnn.metrics import group_mean, mpjpe, p_mpjpe
from skelgnn.models.predict import predict_sequences

__all__ = ["score", "load_hard_subset", "evaluate_checkpoint", "format_report", "ProgressLog",
           "subsample_records", "check_model_fits_data"]

log = logging.getLogger(__name__)


class ProgressLog:
    """Progress as log lines: ``s/S sequences, f/F frames, t s`` at the start, then at
    most every ``every`` seconds, and always after the last sequence.

    Call it with the frame count of each sequence once lifted (``predict_sequences``'s
    ``progress``).
    """

    def __init__(self, sequences: int, frames: int, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sequences, self.frames, self.every, self.clock = sequences, frames, every, clock
        self.done_sequences = self.done_frames = 0
        self.start = self.last = clock()
        log.info("lifting %d sequences, %d frames", sequences, frames)

    def __call__(self, frames: int) -> None:
        self.done_sequences += 1
        self.done_frames += frames
        now = self.clock()
        if now - self.last >= self.every or self.done_sequences == self.sequences:
            self.last = now
            log.info("%d/%d sequences, %d/%d frames, %.0f s", self.done_sequences,
                     self.sequences, self.done_frames, self.frames, now - self.start)


def subsample_records(records: Sequence[Sequence2D3D], max_samples: int, seed: int = 0
                      ) -> list[Sequence2D3D]:
    """At most ``max_samples`` frames of ``records``, for a quick look.

    Whole sequences are drawn in the order of a permutation seeded by ``seed`` until
    ``max_samples`` frames are reached; the last one drawn is cut to its first frames so the
    total is exactly ``min(max_samples, all frames)`` (its last frames then see edge padding
    where the full sequence had real neighbours). The chosen records keep their sorted order.
    """
    if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
        raise ValueError(f"max_samples must be an integer >= 1, found {max_samples!r}")
    order = np.random.default_rng(seed).permutation(len(records))
    chosen: dict[int, Sequence2D3D] = {}
    left = max_samples
    for i in order:
        if left <= 0:
            break
        rec = records[int(i)]
        if rec.num_frames > left:
            rec = dataclasses.replace(rec, keypoints_2d=rec.keypoints_2d[:left],
                                      poses_3d=rec.poses_3d[:left],
                                      trajectory=rec.trajectory[:left])
        chosen[int(i)] = rec
        left -= rec.num_frames
    return [chosen[i] for i in sorted(chosen)]


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
    (``{category: {"p1", "p2", "samples"}}``), ``per_joint_p1`` (``J`` values: each joint's
    mean position error, the root's 0 for root-relative poses), ``own_hard5_p1``,
    ``own_hard10_p1`` and, for each entry ``name`` of ``hard_subsets``, ``<name>_p1`` (e.g.
    ``hard5_p1``), plus ``samples``.
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
        "per_joint_p1": [float(v) for v in 1000.0 * np.linalg.norm(
            pred.astype(np.float64) - target, axis=-1).mean(axis=0)],
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
                        progress: Union[bool, str] = True, max_samples: Optional[int] = None,
                        seed: int = 0, model_free: bool = False,
                        per_sample: Optional[str | Path] = None) -> dict[str, Any]:
    """Score a checkpoint on the test subjects of a benchmark directory.

    Args:
        checkpoint: path of a skelgnn checkpoint.
        data_dir: benchmark directory (None: the default location).
        source: 2D source; None means the source the checkpoint was trained on.
        flip_test: flip test-time augmentation.
        subjects: subjects to score (None: the split's ``test`` list). The fixed hard subsets
            (``hard5_p1``, ``hard10_p1``) are scored only on the test list itself.
        progress: ``True`` / ``"bar"``: a tqdm bar; ``"log"``: :class:`ProgressLog` lines;
            ``False``: none.
        max_samples: score a subsample of at most this many frames
            (:func:`subsample_records` with ``seed``) for a quick look; no fixed hard subsets.
        model_free: also score the hard subsets no model chose
            (:mod:`skelgnn.evaluate.hard_free`: ``rare5_p1``, ``rare10_p1``, ``noisy10_p1`` and
            their definition under ``model_free``); not with ``max_samples``.
        per_sample: write every sample's P1 / P2 and key to this ``.npz``
            (:mod:`skelgnn.evaluate.samples`, for paired tests between models).

    Returns:
        :func:`score`'s dict plus ``model``, ``source``, ``tta``, ``checkpoint``, ``data_dir``
        (the absolute benchmark directory scored) and ``subjects``; with
        ``max_samples`` also ``subsample`` (``max_samples``, ``seed``, ``of_samples``: the
        frames of the full set, ``sequences``).
    """
    model, codec, info = load_model(checkpoint)
    src = source or info.get("source", "det")
    root = resolve_data_dir(data_dir).resolve()
    skeleton = read_skeleton(root, src)
    check_model_fits_data(model, info, checkpoint, skeleton, root)
    # explicit subjects need no split file; without one, nothing is known to be the test split
    has_split = subjects is None or (root / "split.json").is_file()
    test = read_split(root / "split.json")["test"] if has_split else []
    if subjects is None:
        subjects = test
    records = load_benchmark(root, src, subjects=subjects)
    subsample = None
    if max_samples is not None:
        full = sum(r.num_frames for r in records)
        records = subsample_records(records, max_samples, seed)
        subsample = {"max_samples": max_samples, "seed": seed, "of_samples": full,
                     "sequences": len(records)}
        log.info("scoring a subsample of %d of %d samples (seed %d): a quick look, not a "
                    "reported figure", sum(r.num_frames for r in records), full, seed)
    dataset = WindowDataset(records, model.receptive_field, stride=1, codec=codec)
    shown: Union[bool, ProgressLog] = progress in (True, "bar")
    if progress == "log":
        shown = ProgressLog(dataset.num_sequences, len(dataset))
    pred, target = predict_sequences(model, dataset, flip_test, progress=shown,
                                     skeleton=skeleton)
    hard = {}
    # the fixed hard subsets list test samples: they mean something on the whole test split only
    on_test = sorted(subjects) == sorted(test) and subsample is None
    if subsample is not None:
        log.info("subsample: no fixed hard subsets")
    elif not on_test:
        log.info("scoring subjects %s, not the test split: no fixed hard subsets", list(subjects))
    for name, pct in (("hard5", 5), ("hard10", 10)) if on_test else ():
        path = root / f"hard_{src}_top{pct}.json"
        if path.is_file():
            hard[name] = load_hard_subset(path)
        else:
            log.warning("no fixed hard subset %s; %s_p1 is not reported", path, name)
    free_meta = None
    if model_free and subsample is None:
        from dataclasses import asdict

        from skelgnn.evaluate.hard_free import SUBSETS, hard_free_measures

        measures = hard_free_measures(root, subjects)
        free_meta = {"spec": asdict(measures.spec), "subsets": {}}
        for name, measure, fraction in SUBSETS:
            if getattr(measures, measure) is None:
                continue
            hard[name] = measures.subset(measure, fraction)
            free_meta["subsets"][name] = {"measure": measure, "fraction": fraction,
                                          "samples": len(hard[name])}
    elif model_free:
        log.info("subsample: no model-free hard subsets")
    result = score(pred, target, dataset, hard)
    if free_meta is not None:
        result["model_free"] = free_meta
    if per_sample is not None:
        from skelgnn.evaluate.samples import per_sample_errors, save_per_sample

        save_per_sample(per_sample, per_sample_errors(pred, target, dataset.labels),
                        {"model": info.get("preset", info.get("arch", "?")), "source": src,
                         "checkpoint": str(checkpoint), "tta": bool(flip_test),
                         "subsample": subsample})
    result.update({"model": info.get("preset", info.get("arch", "?")), "source": src,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "tta": bool(flip_test), "checkpoint": str(checkpoint),
                   "data_dir": str(root), "subjects": list(subjects)})
    if subsample is not None:
        result["subsample"] = subsample
    return result


def check_model_fits_data(model: Any, info: Mapping[str, Any], checkpoint: str | Path,
                          skeleton: Any, root: Path) -> None:
    """Refuse to score a model on data of another skeleton (joint count, or the bone list of a
    graph model), and warn when the checkpoint names a training data directory other than
    ``root``.

    Raises:
        ValueError: the model's skeleton is not the data's (one line naming both).
    """
    parents = getattr(model.config, "parents", None)
    joints = int(model.num_joints)
    if joints != skeleton.num_joints or (parents is not None
                                         and tuple(int(p) for p in parents) != skeleton.parents):
        what = "joints" if joints != skeleton.num_joints else "bones"
        raise ValueError(
            f"{checkpoint} is a {joints}-joint model whose skeleton does not match the data in "
            f"{root} ({skeleton.num_joints} joints; different {what}): evaluate it on the data it "
            "was trained for (--data DIR)")
    trained_on = (info.get("config") or {}).get("data", {}).get("root")
    if trained_on:
        try:
            same = Path(trained_on).expanduser().resolve() == root
        except OSError:  # pragma: no cover - an unreadable path
            same = False
        if not same:
            log.warning("%s was trained on %s; scoring it on %s", Path(checkpoint).name,
                        trained_on, root)


def format_report(result: dict[str, Any]) -> str:
    """A human-readable table of :func:`score` / :func:`evaluate_checkpoint` output."""
    sub = result.get("subsample")
    head = ([f"SUBSAMPLE: {result['samples']} of {sub['of_samples']} samples "
             f"({sub['sequences']} sequences, seed {sub['seed']}); a quick look, not a figure to "
             "report", ""] if sub else [])
    data = [f"data {result['data_dir']}  subjects {' '.join(result.get('subjects', []))}"] \
        if "data_dir" in result else []
    lines = head + data + [f"model {result.get('model', '?')}  source {result.get('source', '?')}  "
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
                       ("rare5_p1", "rarest 5%"), ("rare10_p1", "rarest 10%"),
                       ("noisy10_p1", "noisiest 2D 10%"),
                       ("own_hard5_p1", "own hardest 5%"), ("own_hard10_p1", "own hardest 10%")):
        if key in result:
            lines.append(f"{label + ' P1':22s} {result[key]:9.2f}")
    return "\n".join(lines)
