"""Sequence prediction: lift whole sequences with a model, as evaluation and inference both do.

Shape legend: ``N`` samples, ``F`` frames of one sequence, ``R`` receptive field, ``J`` joints.

A sequence of ``F`` frames is lifted from its encoded 2D padded to ``F + R - 1`` frames (the ends
replicated, so every frame is the centre of a full window). Temporal models run in sequence mode,
computing the overlapping windows once; ``chunk`` bounds the frames per forward pass.

Flip test-time augmentation averages the prediction with the mirrored prediction of the mirrored
input: ``y = (f(x) + M(f(M x))) / 2``, with ``M`` swapping left and right joints and negating x.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Union

import numpy as np
import torch

from skelgnn.data.codec import root_relative
from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.models import LifterModel
from skelgnn.skeleton import Skeleton

if TYPE_CHECKING:  # pragma: no cover
    from skelgnn.data import WindowDataset

__all__ = ["predict_sequence", "predict_sequences"]


@torch.no_grad()
def predict_sequence(model: LifterModel, inputs: torch.Tensor, flip_test: bool = True,
                     chunk: int = 8192, *, skeleton: Skeleton) -> torch.Tensor:
    """Lift one padded sequence.

    Args:
        model: a lifter in eval mode.
        inputs: ``(F + R - 1, J, 2)`` normalised 2D, ends already padded.
        flip_test: average with the prediction for the mirrored input.
        chunk: output frames per forward pass (bounds memory on long clips).
        skeleton: the data's skeleton (its left / right joints mirror the flip test; required, so
            no other layout's mirror is used by default).

    Returns:
        ``(F, J, 3)`` root-relative 3D (root joint exactly zero).
    """
    r = model.receptive_field
    f = inputs.shape[0] - r + 1
    outs = []
    for lo in range(0, f, chunk):
        hi = min(f, lo + chunk)
        x = inputs[lo: hi + r - 1].unsqueeze(0)  # (1, T + R - 1, J, 2)
        if flip_test:
            x = torch.cat([x, flip_2d(x, skeleton)], 0)  # (2, T + R - 1, J, 2)
            y = model.forward_sequence(x)  # (2, T, J, 3)
            y = 0.5 * (y[0] + flip_3d(y[1], skeleton))
        else:
            y = model.forward_sequence(x)[0]
        outs.append(y)
    return root_relative(torch.cat(outs, 0))  # (F, J, 3)


@torch.no_grad()
def predict_sequences(model: LifterModel, dataset: "WindowDataset", flip_test: bool = True,
                      progress: Union[bool, Callable[[int], None]] = False,
                      *, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Predict every frame of every sequence of a stride-1 dataset.

    ``progress``: ``True`` shows a tqdm bar; a callable is called with the frame count of each
    sequence once it is lifted (e.g. periodic log lines when stderr is not a terminal).
    ``skeleton``: the data's skeleton, as :func:`predict_sequence`.

    Returns:
        ``(pred, target)``, both ``(N, J, 3)`` float32 metres in the dataset's sample order.
    """
    if dataset.stride != 1:
        raise ValueError(f"evaluation needs every frame (dataset stride 1), got {dataset.stride}")
    if dataset.receptive_field != model.receptive_field:
        raise ValueError(f"dataset windows of {dataset.receptive_field} frames do not match the "
                         f"model's receptive field {model.receptive_field}")
    was_training = model.training
    model.eval()
    preds, targets = [], []
    seqs = dataset.sequences()
    if progress is True:
        from tqdm import tqdm

        seqs = tqdm(seqs, total=dataset.num_sequences, desc="evaluate", unit="seq", leave=False)
    try:
        for _, inputs, target in seqs:
            preds.append(predict_sequence(model, inputs, flip_test, skeleton=skeleton).numpy())
            targets.append(target.numpy())
            if callable(progress):
                progress(int(target.shape[0]))
    finally:
        model.train(was_training)
    return np.concatenate(preds, 0), np.concatenate(targets, 0)
