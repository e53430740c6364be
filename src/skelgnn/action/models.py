r"""Skeleton action classifiers: a D-HCSF encoder and an ST-GCN-style baseline.

Both share one backbone so that only the spatial operator differs: a per-joint linear embedding
``C -> C_0``, then blocks of

.. math::
    H = \mathrm{ReLU}(\mathrm{BN}(S(X))), \qquad
    Y = \mathrm{ReLU}(\mathrm{BN}(\mathrm{TConv}_{k \times 1,\ \mathrm{stride}\ s}(H)) + R(X))

(``R`` identity, or a strided 1x1 convolution when the width or length changes), then mean
pooling over frames and joints and a linear classifier. ``S`` is

* ``dhcsf``: the package's :class:`skelgnn.layers.dhcsf.DHCSF` layer (hop groups up to ``K``, channel
  squeezing ``d``, dynamic offsets from a temporal-aware graph over ``W`` frames);
* ``stgcn``: ST-GCN's spatial graph convolution with the spatial-configuration partition,
  ``S(X) = \sum_{p} (\hat A_p \odot M_p) X W_p`` over the partitions self / towards the root /
  away from the root, ``\hat A_p`` row-normalised by the 1-hop degree and ``M_p`` a learnable
  edge importance (initialised to 1).

Shape letters: ``B`` batch, ``T`` frames, ``J`` joints, ``C`` channels, ``K`` classes.
Input ``(B, T, J, C_in)``, output logits ``(B, K)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from skelgnn.layers.graph import adjacency
from skelgnn.layers.dhcsf import DHCSF

__all__ = ["ENCODERS", "ClassifierConfig", "SpatialGraphConv", "ActionClassifier",
           "build_classifier", "spatial_partitions"]

ENCODERS: tuple[str, ...] = ("dhcsf", "stgcn")


def spatial_partitions(parents: Sequence[int]) -> Tensor:
    """ST-GCN's spatial-configuration partition ``(3, J, J)``: self, the neighbour nearer the
    root (parent), the neighbours farther from it (children); each row divided by the joint's
    degree with self loop, so a full row over the three partitions sums to 1."""
    j = len(parents)
    a = torch.zeros(3, j, j)
    a[0] = torch.eye(j)
    for child, parent in enumerate(parents):
        if parent >= 0:
            a[1, child, parent] = 1.0  # centripetal
            a[2, parent, child] = 1.0  # centrifugal
    degree = adjacency(parents, self_loops=True).sum(-1)  # (J,)
    return a / degree.view(1, j, 1)


class SpatialGraphConv(nn.Module):
    r"""``Y = \sum_p (\hat A_p \odot M_p) X W_p + b`` over the partitions of
    :func:`spatial_partitions`. Shapes: ``(B, T, J, C_in) -> (B, T, J, C_out)``."""

    partitions: Tensor  # buffer, (P, J, J)

    def __init__(self, in_channels: int, out_channels: int, parents: Sequence[int]) -> None:
        super().__init__()
        parts = spatial_partitions(parents)
        self.register_buffer("partitions", parts)
        self.importance = nn.Parameter(torch.ones_like(parts))
        self.proj = nn.Linear(parts.shape[0] * in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        agg = torch.einsum("pij,btjc->btipc", self.partitions * self.importance, x)
        return self.proj(agg.flatten(-2))


class _Block(nn.Module):
    """Spatial operator, BN, ReLU, temporal convolution, BN, residual, ReLU."""

    def __init__(self, spatial: nn.Module, in_channels: int, out_channels: int, kernel: int,
                 stride: int, dropout: float) -> None:
        super().__init__()
        self.spatial = spatial
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.tconv = nn.Conv2d(out_channels, out_channels, (kernel, 1), (stride, 1), (kernel // 2, 0))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout)
        if in_channels == out_channels and stride == 1:
            self.residual: nn.Module = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:  # (B, T, J, C_in) -> (B, T', J, C_out)
        h = self.spatial(x).permute(0, 3, 1, 2)  # (B, C, T, J)
        h = self.drop(torch.relu(self.bn1(h)))
        h = self.bn2(self.tconv(h))
        y = torch.relu(h + self.residual(x.permute(0, 3, 1, 2)))
        return y.permute(0, 2, 3, 1)


@dataclass
class ClassifierConfig:
    """Hyper-parameters of :class:`ActionClassifier`."""

    encoder: str = "stgcn"
    num_classes: int = 13
    parents: list[int] = field(default_factory=list)
    in_channels: int = 3
    channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    strides: list[int] = field(default_factory=lambda: [1, 2, 2])
    temporal_kernel: int = 9
    dropout: float = 0.2
    # D-HCSF only
    max_hop: int = 3
    split: int = 1
    squeeze: float = 0.5
    dynamic: str = "temporal"
    window: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ActionClassifier(nn.Module):
    """Embedding, encoder blocks, mean pooling over time and joints, linear classifier."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        if cfg.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {cfg.encoder!r}")
        if not cfg.parents:
            raise ValueError("ClassifierConfig.parents is empty")
        if len(cfg.channels) != len(cfg.strides) or not cfg.channels:
            raise ValueError("channels and strides must be non-empty and of equal length")
        self.cfg = cfg
        j = len(cfg.parents)
        self.data_bn = nn.BatchNorm1d(j * cfg.in_channels)
        self.embed = nn.Linear(cfg.in_channels, cfg.channels[0])
        blocks = []
        c_in = cfg.channels[0]
        for c_out, stride in zip(cfg.channels, cfg.strides):
            if cfg.encoder == "dhcsf":
                spatial: nn.Module = DHCSF(c_in, c_out, cfg.parents, max_hop=cfg.max_hop,
                                           split=cfg.split, squeeze=cfg.squeeze,
                                           dynamic=cfg.dynamic, window=cfg.window)
            else:
                spatial = SpatialGraphConv(c_in, c_out, cfg.parents)
            blocks.append(_Block(spatial, c_in, c_out, cfg.temporal_kernel, stride, cfg.dropout))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c_in, cfg.num_classes)

    def features(self, x: Tensor) -> Tensor:
        """``(B, T, J, C_in)`` -> pooled ``(B, C_last)``."""
        b, t, j, c = x.shape
        if j != len(self.cfg.parents) or c != self.cfg.in_channels:
            raise ValueError(f"expected (B, T, {len(self.cfg.parents)}, {self.cfg.in_channels}) "
                             f"clips, got {tuple(x.shape)}")
        x = self.data_bn(x.reshape(b, t, j * c).transpose(1, 2)).transpose(1, 2).reshape(b, t, j, c)
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return h.mean(dim=(1, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def build_classifier(encoder: str, num_classes: int, parents: Sequence[int],
                     **overrides: Any) -> ActionClassifier:
    """An :class:`ActionClassifier` with default widths and ``overrides``."""
    cfg = ClassifierConfig(encoder=encoder, num_classes=num_classes, parents=list(parents), **overrides)
    return ActionClassifier(cfg)
