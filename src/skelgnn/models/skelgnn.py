"""The Skeletal GNN (Zeng et al., ICCV 2021): D-HCSF layers on the skeleton graph.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from skelgnn.models.base import (LifterModel, TemporalConv, activation, centre_frames,
                                 check_head_init, check_widths, scale_init)
from skelgnn.layers.grading import GRADINGS
from skelgnn.layers.dhcsf import DHCSF, JointLinear
from skelgnn.options import Dynamic, Fusion, WeightSharing, check_choice
from skelgnn.skeleton import H36M17

__all__ = ["SkeletalGNNConfig", "SkeletalGNN", "GraphBlock", "PoseMix", "TemporalGraphLevel"]


@dataclass(frozen=True)
class SkeletalGNNConfig:
    """Skeletal GNN built from D-HCSF layers."""

    channels: int = 96
    """C, the feature width of every graph layer."""
    blocks: int = 3
    """Residual blocks (two D-HCSF layers each) at the output frame."""
    filter_widths: tuple[int, ...] = (1,)
    """Temporal filter widths; their product is the receptive field ((1,) = single frame)."""
    max_hop: int = 3
    """K, the farthest hop group."""
    split: int = 1
    """s, hops 0..s form the full-width short-range group."""
    squeeze: float = 0.5
    """d, channel ratio per extra long-range hop (1.0 = no squeezing)."""
    fusion: Fusion = "hierarchical"
    """'hierarchical' or 'flat' fusion of the hop groups."""
    weight_sharing: WeightSharing = "pairwise"
    """'pairwise' (one matrix per joint pair of the short range, LCN-style; chosen on val),
    'unshared' per-joint weights, or 'shared' per-hop weights."""
    static_init: str = "softmax"
    """Static graph parametrisation: 'softmax' over each row's support, or 'row' normalisation."""
    dynamic: Dynamic = "temporal"
    """'none' (static graph), 'framewise' (W = 1) or 'temporal' (in multi-frame models, each
    temporal level's graph sees that level's window of W = filter width frames; single-frame
    models are frame-wise either way)."""
    hidden_ratio: float = 0.25
    """C_h = max(1, round(C * hidden_ratio)), the dynamic-graph embedding width."""
    alpha_init: float = 0.1
    """Initial weight of the dynamic offsets."""
    learn_alpha: bool = True
    """Learn alpha per hop group (else fixed)."""
    grading: str = "fixed"
    """Hop grading: 'fixed' (long-range widths by ``squeeze`` only, the paper's) or 'gated' (a
    learnable gate per channel of every hop group before fusion, initialised to 1;
    skelgnn.layers.grading, the hop-grading ablation)."""
    dropout: float = 0.1
    """Dropout after every layer."""
    embedding: str = "joint"
    """Input embedding: 'joint' (each joint's own 2D coordinates, 2 -> C with weights per joint;
    the paper's) or 'pose' (every joint's features from the whole 2D pose, ``h_j = W_j vec(x) +
    b_j``, so bone vectors and pose-level cues exist before the first non-linearity)."""
    global_channels: int = 0
    """Width of a pose-level pathway added to every residual block (0: none): the block's input
    is flattened over joints, squeezed to this width (BN, ReLU, dropout) and expanded back to
    every joint, beside the graph layers."""
    readout: str = "joint"
    """Head input: 'joint' (each joint's features) or 'global' (each joint's features next to the
    mean over joints)."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights and bias (1 = the layer's default init, which
    starts predictions about 2 m from the targets; 0.01 starts them near the root). Chosen on
    val for every architecture (docs/DESIGN.md)."""
    num_joints: int = 17
    """J."""
    parents: tuple[int, ...] = H36M17.parents
    """Skeleton defining the hop structure."""
    arch: str = field(default="skelgnn", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter_widths", tuple(int(w) for w in self.filter_widths))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        check_widths(self.filter_widths)
        if self.channels < 4:
            raise ValueError(f"channels must be >= 4, got {self.channels}")
        if self.blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {self.blocks}")
        if not 0 <= self.split <= self.max_hop:
            raise ValueError(f"need 0 <= split <= max_hop, got split={self.split}, "
                             f"max_hop={self.max_hop}")
        if not 0 < self.squeeze <= 1:
            raise ValueError(f"squeeze must be in (0, 1], got {self.squeeze}")
        check_choice(self.fusion, Fusion, "fusion")
        check_choice(self.weight_sharing, WeightSharing, "weight_sharing")
        check_choice(self.dynamic, Dynamic, "dynamic")
        if self.static_init not in ("softmax", "row"):
            raise ValueError(f"static_init must be 'softmax' or 'row', got {self.static_init!r}")
        if not 0 < self.hidden_ratio <= 4:
            raise ValueError(f"hidden_ratio must be in (0, 4], got {self.hidden_ratio}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.embedding not in ("joint", "pose"):
            raise ValueError(f"embedding must be 'joint' or 'pose', got {self.embedding!r}")
        if self.readout not in ("joint", "global"):
            raise ValueError(f"readout must be 'joint' or 'global', got {self.readout!r}")
        if self.global_channels < 0:
            raise ValueError(f"global_channels must be >= 0, got {self.global_channels}")
        if self.grading not in GRADINGS:
            raise ValueError(f"grading must be one of {GRADINGS}, got {self.grading!r}")
        check_head_init(self)
        if len(self.parents) != self.num_joints:
            raise ValueError(f"parents has {len(self.parents)} entries for num_joints="
                             f"{self.num_joints}")

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)


class PoseMix(nn.Module):
    r"""A pose-level pathway: every joint's features from the whole pose through a bottleneck.

    .. math:: y_j = \mathrm{drop}(\mathrm{ReLU}(\mathrm{BN}(\mathrm{vec}(X) V)))\, U_j

    Shapes:
        input ``(..., J, C)``, output ``(..., J, C)``.
    """

    def __init__(self, num_joints: int, channels: int, width: int, dropout: float) -> None:
        super().__init__()
        self.num_joints, self.channels, self.width = num_joints, channels, width
        self.squeeze = nn.Linear(num_joints * channels, width, bias=False)
        self.act = activation(width, dropout)
        self.expand = nn.Linear(width, num_joints * channels)

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-2]
        g = self.act(self.squeeze(x.reshape(*lead, self.num_joints * self.channels)))  # (.., G)
        return self.expand(g).reshape(*lead, self.num_joints, self.channels)  # (.., J, C)

    def extra_repr(self) -> str:
        return f"joints={self.num_joints}, channels={self.channels}, width={self.width}"


class GraphBlock(nn.Module):
    """Two D-HCSF layers, each followed by batch norm, ReLU and dropout, with a residual (and,
    with ``global_channels > 0``, a :class:`PoseMix` pathway beside them)."""

    def __init__(self, cfg: SkeletalGNNConfig, dynamic: str) -> None:
        super().__init__()
        c = cfg.channels
        kw = _layer_kwargs(cfg)
        self.layers = nn.ModuleList(
            DHCSF(c, c, cfg.parents, dynamic=dynamic, window=1, **kw) for _ in range(2))
        self.acts = nn.ModuleList(activation(c, cfg.dropout) for _ in range(2))
        self.mix = (PoseMix(cfg.num_joints, c, cfg.global_channels, cfg.dropout)
                    if cfg.global_channels > 0 else None)

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer, act in zip(self.layers, self.acts):
            h = act(layer(h))
        if self.mix is not None:
            h = h + self.mix(x)
        return x + h


def _layer_kwargs(cfg: SkeletalGNNConfig) -> dict[str, Any]:
    return dict(max_hop=cfg.max_hop, split=cfg.split, squeeze=cfg.squeeze, fusion=cfg.fusion,
                weight_sharing=cfg.weight_sharing, static_init=cfg.static_init,
                hidden_channels=max(1, round(cfg.channels * cfg.hidden_ratio)),
                alpha_init=cfg.alpha_init, learn_alpha=cfg.learn_alpha, grading=cfg.grading)


class TemporalGraphLevel(nn.Module):
    """One temporal level of the multi-frame Skeletal GNN.

    A temporal convolution (kernel ``f``, dilation = product of the earlier widths) mixes frames
    per joint; a :class:`~skelgnn.layers.dhcsf.DHCSF` layer then mixes joints at every remaining frame.
    With ``dynamic="temporal"`` its offsets are computed from the level's own ``f`` input frames
    (``padding="valid"``, same geometry as the temporal convolution, so strided and dilated
    execution agree); ``"framewise"`` computes them from each output frame alone.
    A residual adds the centre frames of the level's input.
    """

    def __init__(self, cfg: SkeletalGNNConfig, kernel: int) -> None:
        super().__init__()
        c = cfg.channels
        self.kernel = kernel
        self.tconv = TemporalConv(c, c, kernel)
        self.tact = activation(c, cfg.dropout)
        self.dhcsf = DHCSF(c, c, cfg.parents, dynamic=cfg.dynamic, window=kernel,
                           padding="valid", **_layer_kwargs(cfg))
        self.gact = activation(c, cfg.dropout)

    def forward(self, x: Tensor, dilation: int, sequence: bool) -> Tensor:
        u = self.tact(self.tconv(x, dilation, sequence))  # (B, T', J, C)
        if sequence:
            y = self.dhcsf(u, context=x, dilation=dilation)
        else:
            y = self.dhcsf(u, context=x, dilation=1, stride=self.kernel)
        return centre_frames(x, self.kernel, dilation, sequence) + self.gact(y)  # (B, T', J, C)


class SkeletalGNN(LifterModel):
    """The Skeletal GNN (Zeng et al., ICCV 2021) of D-HCSF layers.

    Per-joint embedding of the first ``filter_widths[0]`` frames (2 -> C, weights per joint), one
    :class:`TemporalGraphLevel` per further filter width (multi-frame variants), ``blocks``
    residual blocks of two D-HCSF layers at the output frame, and a per-joint head C -> 3.
    In single-frame models the dynamic graph is frame-wise (``W = 1``), as the paper prescribes
    for ``T = 1``; in multi-frame models the temporal-aware window lives in the temporal levels.

    Shapes:
        ``forward``: ``(B, R, J, 2) -> (B, J, 3)``; ``forward_sequence``:
        ``(B, T + R - 1, J, 2) -> (B, T, J, 3)``.
    """

    def __init__(self, config: SkeletalGNNConfig) -> None:
        super().__init__()
        self.config = config
        c, j = config.channels, config.num_joints
        f0 = config.filter_widths[0]
        if config.embedding == "pose":
            # one dense map of the whole (window of the) pose to every joint's C channels
            self.embed = TemporalConv(2 * j, j * c, f0)
        else:
            self.embed = TemporalConv(2, c, f0, num_joints=j)
        self.embed_act = activation(c, config.dropout)
        self.levels = nn.ModuleList(TemporalGraphLevel(config, f)
                                    for f in config.filter_widths[1:])
        block_dynamic = "none" if config.dynamic == "none" else "framewise"
        self.blocks = nn.ModuleList(GraphBlock(config, block_dynamic)
                                    for _ in range(config.blocks))
        self.head = JointLinear(j, 2 * c if config.readout == "global" else c, 3)
        scale_init(self.head, config.head_init)

    def embed_input(self, x: Tensor, sequence: bool) -> Tensor:
        """``(B, T, J, 2) -> (B, T', J, C)``: the first layer, before its activation."""
        if self.config.embedding == "pose":
            b, t, j, _ = x.shape
            h = self.embed(x.reshape(b, t, 1, 2 * j), 1, sequence)  # (B, T', 1, J*C)
            return h.reshape(b, h.shape[1], j, self.config.channels)  # (B, T', J, C)
        return self.embed(x, 1, sequence)

    def forward_features(self, x: Tensor, sequence: bool) -> Tensor:
        widths = self.config.filter_widths
        h = self.embed_act(self.embed_input(x, sequence))  # (B, T', J, C)
        dilation = widths[0]
        for level, f in zip(self.levels, widths[1:]):
            h = level(h, dilation, sequence)
            dilation *= f
        for block in self.blocks:
            h = block(h)
        return h  # (B, T, J, C)

    def forward_head(self, h: Tensor) -> Tensor:
        if self.config.readout == "global":
            h = torch.cat([h, h.mean(dim=-2, keepdim=True).expand_as(h)], dim=-1)  # (B,T,J,2C)
        return self.head(h)  # (B, T, J, 3)

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:
        return self.forward_head(self.forward_features(x, sequence))
