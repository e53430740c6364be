"""Forming training batches: one builder for the optimiser steps and for precise BN.

Both walk an epoch's sample ``order`` in steps of ``batch_size``, mirror the samples an epoch's
``flips`` mark (with the data's skeleton, so any layout's left and right joints swap correctly),
and skip batches under two samples (batch norm needs two). Shape legend: ``B`` batch, ``R``
receptive field, ``J`` joints.
"""
from __future__ import annotations

import math
from typing import Iterator, Optional, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.skeleton import Skeleton

__all__ = ["Batch", "flip_batch", "epoch_batches", "bn_input_batches", "knee_balance_weights"]

KNEE_BIN_DEG = 5.0
"""Width of the knee-angle bins of :func:`knee_balance_weights`."""


class _Windows(Protocol):
    def batch(self, idx: np.ndarray) -> tuple[Tensor, Tensor]: ...


Batch = tuple[int, np.ndarray, Tensor, Tensor]
"""``(step, sample indices, x (B, R, J, 2), y (B, J, 3))``."""


def flip_batch(x: Tensor, y: Tensor, mask: Tensor, skeleton: Skeleton) -> tuple[Tensor, Tensor]:
    """Mirror the samples where ``mask`` ``(B,)`` is True: ``x`` ``(B, R, J, 2)`` 2D inputs and
    ``y`` ``(B, J, 3)`` 3D targets, with ``skeleton``'s left / right joints swapped."""
    if not bool(mask.any()):
        return x, y
    x = torch.where(mask.view(-1, 1, 1, 1), flip_2d(x, skeleton), x)
    y = torch.where(mask.view(-1, 1, 1), flip_3d(y, skeleton), y)
    return x, y


def epoch_batches(dataset: _Windows, order: Sequence[int] | np.ndarray, batch_size: int, *,
                  skeleton: Skeleton, flips: Optional[Tensor] = None, rank: int = 0, world: int = 1,
                  steps: Optional[int] = None) -> Iterator[Batch]:
    """The batches of one epoch (``dataset.batch(idx) -> (x, y)``), in ``order``.

    Args:
        order: sample indices in the epoch's order.
        batch_size: the global batch; each of ``world`` processes takes its ``rank``'s slice of
            ``batch_size // world`` samples.
        skeleton: the data's skeleton (required: another layout's flip would swap wrong joints).
        flips: one flag per position in ``order``: mirror that sample.
        steps: only the first ``steps`` batches (default: the whole epoch).

    Yields:
        ``(step, idx, x, y)``; a step whose global batch is under ``2 * world`` samples, or whose
        slice is under two, is skipped.
    """
    n = len(order)
    local = batch_size // world
    total = math.ceil(n / batch_size)
    for step in range(total if steps is None else min(steps, total)):
        start = step * batch_size
        lo = start + rank * local  # this rank's slice of the batch
        hi = min(lo + local, start + batch_size, n)
        idx = np.asarray(order[lo:hi])
        if hi - start < 2 * world or len(idx) < 2:
            continue  # batch norm needs two samples per process
        x, y = dataset.batch(idx)  # (B, R, J, 2), (B, J, 3)
        if flips is not None:
            x, y = flip_batch(x, y, flips[lo:hi], skeleton)
        yield step, idx, x, y


def bn_input_batches(dataset: _Windows, order: Sequence[int] | np.ndarray, batch_size: int,
                     count: int, *, skeleton: Skeleton, flips: Optional[Tensor] = None,
                     device: Optional[torch.device] = None) -> Iterator[Tensor]:
    """The inputs of the first ``count`` training batches of an epoch (:func:`epoch_batches` on one
    process), for precise BN (:func:`skelgnn.models.bn.recompute_bn_stats`). Yields
    ``(B, R, J, 2)``."""
    for _, _, x, _ in epoch_batches(dataset, order, batch_size, skeleton=skeleton, flips=flips,
                                    steps=count):
        yield x if device is None else x.to(device)


def knee_balance_weights(targets: np.ndarray, skeleton: Skeleton, strength: float) -> np.ndarray:
    """Sampling probabilities ``(N,)`` of training targets ``(N, J, 3)``: each sample weighted by
    ``frequency ** -strength`` of its knee angle (the mean of both hip-knee-ankle angles, degrees,
    in bins of :data:`KNEE_BIN_DEG`), normalised to sum to 1; ``strength`` 1 makes every occupied
    bin equally likely.

    Raises:
        ValueError: a skeleton without ``RKnee`` and ``LKnee`` (with their parents and children).
    """
    from skelgnn.data.bodyshape import joint_angles

    names = list(skeleton.names)
    if "RKnee" not in names or "LKnee" not in names:
        raise ValueError(f"train.balance_knees needs a skeleton with RKnee and LKnee; this one "
                         f"has {names}")
    triples = []
    for knee in ("RKnee", "LKnee"):
        k = names.index(knee)
        children = [j for j, p in enumerate(skeleton.parents) if p == k]
        if skeleton.parents[k] < 0 or not children:
            raise ValueError(f"train.balance_knees: {knee} needs a parent and a child joint")
        triples.append((int(skeleton.parents[k]), k, children[0]))
    angle = joint_angles(np.asarray(targets, dtype=np.float64), tuple(triples)).mean(-1)  # (N,)
    bins = np.floor(angle / KNEE_BIN_DEG).astype(np.int64)
    _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    weights = counts[inverse].astype(np.float64) ** -float(strength)
    return weights / weights.sum()
