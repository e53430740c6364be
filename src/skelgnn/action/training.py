r"""Training and scoring of action classifiers on a :class:`~skelgnn.action.clips.ClipSet`.

Training: AdamW on the cross-entropy, cosine learning-rate decay to zero over ``epochs``; each
epoch draws ``samples_per_epoch`` clips at random (all clips when ``None``). With several
cameras per clip a random subset is also a random choice of views.

Scores: top-1 accuracy over clips, the confusion matrix ``C[i, k]`` = number of clips of true
class ``i`` predicted as ``k``, and per-class accuracy ``C[i, i] / \sum_k C[i, k]`` for the
classes present in the scored set (the mean of those is the class-balanced accuracy).

Shape letters: ``N`` clips, ``K`` classes.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from skelgnn.action.clips import ClipSet

__all__ = ["TrainConfig", "ActionScores", "train_classifier", "predict_logits",
           "confusion_matrix", "score_predictions", "evaluate_classifier"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings."""

    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-3
    samples_per_epoch: Optional[int] = 1600
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ActionScores:
    """Scores of one classifier on one clip set."""

    top1: float
    balanced: float
    per_class: dict[str, float]
    confusion: list[list[int]]
    classes: list[str]
    num_clips: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_classifier(model: nn.Module, clips: ClipSet, cfg: TrainConfig,
                     progress: Optional[Callable[[int, float, float], None]] = None) -> list[dict[str, float]]:
    """Train ``model`` in place; returns one ``{epoch, loss, train_top1, seconds}`` per epoch.

    ``progress(epoch, loss, top1)`` is called after each epoch."""
    if len(clips) == 0:
        raise ValueError("no training clips")
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    x_all = torch.from_numpy(clips.poses)
    y_all = torch.from_numpy(clips.labels)
    per_epoch = len(clips) if cfg.samples_per_epoch is None else min(cfg.samples_per_epoch, len(clips))
    steps = math.ceil(per_epoch / cfg.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * steps))
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(clips), generator=gen)[:per_epoch]
        total, correct, seen = 0.0, 0, 0
        for i in range(steps):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            logits = model(x_all[idx])
            loss = loss_fn(logits, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y_all[idx]).sum())
            seen += len(idx)
        row = {"epoch": epoch, "loss": total / max(seen, 1), "train_top1": correct / max(seen, 1),
               "seconds": time.perf_counter() - t0}
        history.append(row)
        log.info("epoch %d: loss %.4f, train top-1 %.3f (%.1f s)", epoch, row["loss"],
                 row["train_top1"], row["seconds"])
        if progress is not None:
            progress(epoch, row["loss"], row["train_top1"])
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, clips: ClipSet, batch_size: int = 128) -> np.ndarray:
    """``(N, K)`` logits in eval mode."""
    model.eval()
    x = torch.from_numpy(clips.poses)
    out = [model(x[i:i + batch_size]) for i in range(0, len(clips), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, len(clips.classes)), np.float32)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts, rows true class, columns predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0
                        or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def score_predictions(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str] | tuple[str, ...]) -> ActionScores:
    """Top-1, per-class accuracy (classes present in ``y_true`` only) and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    support = cm.sum(1)
    per_class = {c: float(cm[i, i] / support[i]) for i, c in enumerate(classes) if support[i] > 0}
    n = int(cm.sum())
    return ActionScores(
        top1=float(np.trace(cm) / n) if n else float("nan"),
        balanced=float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        per_class=per_class, confusion=cm.tolist(), classes=list(classes), num_clips=n)


def evaluate_classifier(model: nn.Module, clips: ClipSet) -> ActionScores:
    """Score ``model`` on every clip of ``clips``."""
    logits = predict_logits(model, clips)
    return score_predictions(clips.labels, logits.argmax(1), clips.classes)
