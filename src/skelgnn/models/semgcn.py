"""SemGCN-style graph convolution lifter (Zhao et al., CVPR 2019), with or without its non-local
blocks (``non_local``).

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from skelgnn.models.base import scale_init
from skelgnn.models.graph_baseline import GraphConfigChecks, ResidualGraphNet
from skelgnn.skeleton import H36M17

__all__ = ["SemGCNConfig", "SemGraphConv", "JointNonLocal", "SemGCN"]


@dataclass(frozen=True)
class SemGCNConfig(GraphConfigChecks):
    """SemGCN-style graph convolution (Zhao et al. 2019); its non-local blocks with ``non_local``."""

    channels: int = 128
    """Feature width."""
    blocks: int = 4
    """Residual blocks of two graph convolutions."""
    dropout: float = 0.0
    """Dropout after every layer (SemGCN uses none)."""
    norm: Literal["channel", "joint"] = "joint"
    """Batch norm statistics: 'joint' per (joint, channel) (``J * C`` features), 'channel' per
    channel pooled over joints (SemGCN's own: one mean and variance for joints whose features
    differ a lot). Either way the running statistics lagged the weights on val (eval-mode P1 far
    above train-mode), which ``train.precise_bn_batches`` fixes (configs/semgcn-1f.toml). Configs
    saved before this option existed load as 'channel', the behaviour they were trained with
    (models/registry.py)."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights and bias (1 = the layer's default init, which
    starts predictions about 2 m from the targets; 0.01 starts them near the root). Chosen on
    val for every architecture (docs/DESIGN.md)."""
    non_local: bool = False
    """A non-local block (:class:`JointNonLocal`) after the input layer and after every residual
    block, as SemGCN's full model has (its joints are not grouped and sub-sampled here)."""
    num_joints: int = 17
    """J."""
    parents: tuple[int, ...] = H36M17.parents
    """Skeleton giving the 1-hop adjacency."""
    arch: str = field(default="semgcn", init=False)


class SemGraphConv(nn.Module):
    r"""Semantic graph convolution (Zhao et al., CVPR 2019), our implementation.

    .. math:: Y = (\hat A \odot I)\,X W_0 + (\hat A \odot (1 - I))\,X W_1 + b,
        \qquad \hat A = \mathrm{softmax}_{\text{row support}}(E \odot (A + I))

    with learnable edge weights ``E`` on the 1-hop support (self loops included).

    Shapes:
        input ``(N, J, C_in)``, output ``(N, J, C_out)``.
    """

    support: Tensor  # buffer, bool (J, J): the 1-hop support with self loops

    def __init__(self, in_channels: int, out_channels: int, parents: tuple[int, ...]) -> None:
        super().__init__()
        from skelgnn.layers.graph import adjacency

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.register_buffer("support", adjacency(parents, self_loops=True) > 0)  # (J, J)
        j = len(parents)
        self.weight = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.edge_logits = nn.Parameter(torch.empty(j, j))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.weight.data[0])
        nn.init.xavier_uniform_(self.weight.data[1])
        nn.init.ones_(self.edge_logits)
        bound = 1.0 / math.sqrt(self.out_channels)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        adj = torch.softmax(self.edge_logits.masked_fill(~self.support, -1e9), dim=-1)
        eye = torch.eye(adj.shape[0], dtype=adj.dtype, device=adj.device)
        h0 = x @ self.weight[0]  # (N, J, C_out)
        h1 = x @ self.weight[1]
        return (adj * eye) @ h0 + (adj * (1 - eye)) @ h1 + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


class JointNonLocal(nn.Module):
    r"""A non-local block over joints (Wang et al., CVPR 2018; the embedded-Gaussian form SemGCN
    puts between its graph convolutions), our implementation:

    .. math:: y = x + \mathrm{BN}\big(W\,\mathrm{softmax}_k(\theta(x_j)\cdot\phi(x_k))\,g(x_k)\big)

    with ``theta``, ``phi``, ``g`` linear maps ``C -> C/2`` and ``W`` back to ``C``; the batch
    norm's scale starts at 0, so the block starts as the identity. Every joint attends to every
    joint, beyond the skeleton's edges.

    Shapes:
        input and output ``(N, J, C)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.theta = nn.Linear(channels, inner)
        self.phi = nn.Linear(channels, inner)
        self.g = nn.Linear(channels, inner)
        self.w = nn.Linear(inner, channels)
        self.bn = nn.BatchNorm1d(channels)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: Tensor) -> Tensor:
        attn = torch.softmax(self.theta(x) @ self.phi(x).transpose(1, 2), dim=-1)  # (N, J, J)
        y = self.w(attn @ self.g(x))  # (N, J, C)
        return x + self.bn(y.transpose(1, 2)).transpose(1, 2)


class SemGCN(ResidualGraphNet):
    """SemGCN-style lifter: input graph conv 2 -> C, ``blocks`` residual blocks of two graph
    convolutions (batch norm, ReLU), output graph conv C -> 3
    (:class:`~skelgnn.models.graph_baseline.ResidualGraphNet`); with ``non_local``, a
    :class:`JointNonLocal` after the input layer and after every block.

    Shapes: as :class:`LifterModel`.
    """

    def __init__(self, config: SemGCNConfig) -> None:
        super().__init__(config, lambda cin, cout: SemGraphConv(cin, cout, config.parents))
        scale_init(self.out, config.head_init)
        self.non_local = (nn.ModuleList(JointNonLocal(config.channels)
                                        for _ in range(config.blocks + 1))
                          if config.non_local else None)

    def lift_frames(self, x: Tensor) -> Tensor:
        if self.non_local is None:
            return super().lift_frames(x)
        h = self.non_local[0](self.inp_act(self.inp(x)))  # (N, J, C)
        for block, non_local in zip(self.blocks, self.non_local[1:]):
            h = non_local(h + block(h))
        return self.out(h)
