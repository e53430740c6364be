"""Glue shared by ``skelgnn action`` and ``benchmarks/action.py``: clip sets for a split, and
saving / loading a trained classifier.

An action checkpoint is a ``torch.save`` dict read back with ``weights_only=True``:
``{"format": "skelgnn-action/1", "classifier": ClassifierConfig dict, "state": state_dict,
"classes": [...], "clip_spec": ClipSpec dict, "source": {...}, "train": TrainConfig dict,
"history": [...]}``.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from skelgnn.action.clips import (ClipSet, ClipSpec, labels_for, make_clip_set, read_labels,
                                  split_subjects)
from skelgnn.action.models import ActionClassifier, ClassifierConfig
from skelgnn.action.sources import load_sequences
from skelgnn.data import positions_3d_path, read_positions_3d, resolve_data_dir

__all__ = ["ACTION_FORMAT", "cmu_clip_sets", "ntu_clip_sets", "save_action_model",
           "load_action_model"]

log = logging.getLogger(__name__)

ACTION_FORMAT = "skelgnn-action/1"


def cmu_clip_sets(source: str, data_dir: Optional[str | Path], spec: ClipSpec,
                  parts: Sequence[str] = ("train", "test"), holdout_val: bool = False,
                  checkpoint: Optional[str | Path] = None, classes: Optional[Sequence[str]] = None,
                  **lift_options: Any) -> dict[str, ClipSet]:
    """Clip sets of the benchmark's split parts from one 3D source. ``classes`` default to the
    categories of the whole action table (``actions.csv``, else the first words of every action
    key of the 3D file), sorted, so every part indexes them alike; with ``holdout_val``
    ``train`` leaves out the val subjects (model selection)."""
    data_dir = resolve_data_dir(data_dir)
    table = read_labels(data_dir)
    if not table:
        p3 = read_positions_3d(positions_3d_path(data_dir))
        table = labels_for((a for acts in p3.values() for a in acts), {})
    out: dict[str, ClipSet] = {}
    sequences = {part: load_sequences(source, data_dir, split_subjects(data_dir, part, holdout_val),
                                      checkpoint, **lift_options) for part in parts}
    labels = labels_for((s.action for seqs in sequences.values() for s in seqs), table)
    if classes is None:
        classes = sorted(set(table.values()) | set(labels.values()))
    for part, seqs in sequences.items():
        out[part] = make_clip_set(seqs, labels, classes, spec)
        log.info("%s %s: %d clips", source, part, len(out[part]))
    return out


def ntu_clip_sets(ntu_dir: str | Path, spec: ClipSpec) -> dict[str, ClipSet]:
    """Cross-subject ``train`` / ``test`` clip sets of the ``*.skeleton`` files in ``ntu_dir``."""
    from skelgnn.action.ntu import NTU_XSUB_TRAIN, ntu_labels, ntu_sequences

    paths = sorted(Path(ntu_dir).glob("*.skeleton"))
    if not paths:
        raise FileNotFoundError(f"no .skeleton files in {ntu_dir}")
    seqs = ntu_sequences(paths)
    labels, classes = ntu_labels(seqs)
    train_ids = {f"P{p:03d}" for p in NTU_XSUB_TRAIN}
    parts = {"train": [s for s in seqs if s.subject in train_ids],
             "test": [s for s in seqs if s.subject not in train_ids]}
    return {part: make_clip_set(s, labels, classes, spec) for part, s in parts.items() if s}


def save_action_model(path: str | Path, model: ActionClassifier, classes: Sequence[str],
                      spec: ClipSpec, **extra: Any) -> Path:
    """Write an action checkpoint (atomically)."""
    from skelgnn.models.checkpoint import save_checkpoint

    payload = {"format": ACTION_FORMAT, "classifier": model.cfg.to_dict(),
               "state": model.state_dict(), "classes": list(classes), "clip_spec": asdict(spec),
               **extra}
    return save_checkpoint(payload, path)


def load_action_model(path: str | Path) -> tuple[ActionClassifier, dict[str, Any]]:
    """Read an action checkpoint: the model in eval mode and the whole payload.

    Raises:
        FileNotFoundError: no file. ValueError: not an action checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"action model not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise ValueError(f"{path}: cannot read action model: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != ACTION_FORMAT:
        raise ValueError(f"{path}: not a skelgnn action model (expected format {ACTION_FORMAT!r})")
    model = ActionClassifier(ClassifierConfig(**data["classifier"]))
    model.load_state_dict(data["state"])
    return model.eval(), data
