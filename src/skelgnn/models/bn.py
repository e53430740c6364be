"""Batch normalisation helpers: per-(joint, channel) batch norm and precise BN statistics.

Shape legend: ``N`` samples (batch times frames), ``J`` joints, ``C`` channels, ``B`` batch,
``R`` receptive field.

* :class:`JointBatchNorm` normalises every (joint, channel) feature with its own statistics.
  Batch norm over channels only (:class:`~skelgnn.layers.dhcsf.GroupBatchNorm`) pools all joints into one
  mean and variance per channel; in a graph network whose joints carry very different features
  (a wrist moves far more than a hip) those pooled statistics fit no joint, and a network trained
  with them can be good in train mode (batch statistics) and bad in eval mode (running ones).
* :func:`recompute_bn_stats` ("precise BN", Wu & Johnson 2021): after training, replace every
  batch norm's running statistics by their average over ``N`` training batches computed with the
  final weights. A small momentum late in a schedule leaves the running statistics an average
  over weights of several epochs ago; this removes that lag. Its input batches come from the
  training stage's one batch builder (:func:`skelgnn.train.batches.bn_input_batches`).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn

__all__ = ["JointBatchNorm", "norm_activation", "recompute_bn_stats"]


class JointBatchNorm(nn.Module):
    r"""Batch norm with statistics per (joint, channel): ``BatchNorm1d`` over ``J * C`` features.

    .. math:: y_{njc} = \gamma_{jc}\,\frac{x_{njc} - \mu_{jc}}{\sqrt{\sigma^2_{jc} + \epsilon}}
        + \beta_{jc}

    with ``mu`` and ``sigma`` taken over the ``N`` samples only. The inner layer is a plain
    ``BatchNorm1d``, so distributed training synchronises it like any other.

    Shapes:
        input ``(..., J, C)``, output the same.
    """

    def __init__(self, num_joints: int, channels: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.channels = channels
        self.bn = nn.BatchNorm1d(num_joints * channels)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        return self.bn(x.reshape(-1, self.num_joints * self.channels)).reshape(shape)

    def extra_repr(self) -> str:
        return f"joints={self.num_joints}, channels={self.channels}"


NORMS = ("channel", "joint")


def norm_activation(norm: str, num_joints: int, channels: int, dropout: float) -> nn.Module:
    """Batch norm (``norm``: 'channel', pooled over joints, or 'joint', per (joint, channel)),
    ReLU, dropout.

    Shapes: ``(N, J, C)`` in and out."""
    if norm == "channel":
        from skelgnn.models.base import activation

        return activation(channels, dropout)
    if norm != "joint":
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return nn.Sequential(JointBatchNorm(num_joints, channels), nn.ReLU(inplace=True),
                         nn.Dropout(dropout))


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.track_running_stats]


def _running_stats(m: nn.modules.batchnorm._BatchNorm) -> tuple[Tensor, Tensor, Tensor]:
    """Running mean, running variance and batch count of a batch norm that tracks them."""
    assert m.running_mean is not None and m.running_var is not None
    assert m.num_batches_tracked is not None  # track_running_stats: all three are buffers
    return m.running_mean, m.running_var, m.num_batches_tracked


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, batches: Iterable[Tensor]) -> int:
    r"""Re-estimate every batch norm's running mean and variance from ``batches`` ("precise BN").

    Every batch norm layer's running statistics are reset, then the model runs over ``batches``
    (inputs ``(B, R, J, 2)``, without gradient) with its batch norm layers in train mode and every
    other layer in eval mode (dropout off, so the statistics describe the features the eval-mode
    network sees); each layer's running statistics become the plain average over the batches of
    the per-batch statistics:

    .. math:: \hat\mu = \frac1N \sum_{b=1}^N \mu_b, \qquad
        \hat\sigma^2 = \frac1N \sum_{b=1}^N \tfrac{n_b}{n_b - 1}\,\sigma^2_b

    (``BatchNorm``'s cumulative average, ``momentum=None``). With equal batch sizes this is the
    mean of the batch means, i.e. the mean over all samples. Layer momenta and the model's
    train/eval mode are restored afterwards.

    Returns:
        the number of batches used (0: nothing changed).
    """
    bns = _batch_norms(model)
    if not bns:
        return 0
    modes = {m: m.training for m in model.modules()}
    momenta = [m.momentum for m in bns]
    saved = [tuple(s.clone() for s in _running_stats(m)) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.eval()
    for m in bns:
        m.train()
    n = 0
    try:
        for x in batches:
            model(x)
            n += 1
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        for module, mode in modes.items():
            module.train(mode)
        if n == 0:  # nothing seen: keep the old statistics
            for m, old in zip(bns, saved):
                for stat, value in zip(_running_stats(m), old):
                    stat.copy_(value)
    return n
