"""Controls that isolate the D-HCSF layer: the flagship's whole-pose embedding in front of a body
without it.

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints, ``C`` channels, ``H`` inner width.

The flagship (``skelgnn-1f``) is a dense whole-pose embedding (``h_j = W_j vec(x) + b_j``), three
residual blocks of two D-HCSF layers and a per-joint head. A control keeps the embedding (same
kind, same width ``C``, same batch norm, ReLU and dropout), the three residual blocks of two layers
and the head, and replaces each D-HCSF layer by a plain one:

* ``body="mlp"``: a dense layer over the whole flattened pose, ``J*C -> H`` then ``H -> J*C``
  (a bottleneck, so the width ``H`` can be set to a parameter budget): the embedding in front of a
  Martinez-style MLP;
* ``body="lcn"``: a locally connected graph layer (Ci et al., ICCV 2019), one weight matrix per
  (target, source) joint pair within ``hops`` hops, the messages averaged over each joint's
  support with fixed weights: no hop groups, no channel squeezing, no hierarchical fusion, no
  static-graph learning and no dynamic graph (``C -> H`` then ``H -> C`` per block).

Dense and locally connected layers use every weight once per frame, so their multiply-accumulates
equal their parameters; the D-HCSF layer reuses its dynamic-graph projections over joints and
aggregates over dense graphs, so it has more MACs than parameters (6.5 M MACs for 3.6 M
parameters). One control therefore matches the flagship in parameters or in MACs, not both: the
registry has a preset for each (``control-<body>-1f`` at the parameter count,
``control-<body>-1f-macs`` at the MACs).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from skelgnn.layers.graph import cumulative_mask
from skelgnn.layers.projections import JointLinear, PairLinear
from skelgnn.models.base import (SingleFrameModel, activation, check_blocks_dropout,
                                 check_positive, scale_init)
from skelgnn.skeleton import H36M17

__all__ = ["ControlConfig", "PoseControl", "LCNLayer"]

BODIES = ("mlp", "lcn")


@dataclass(frozen=True)
class ControlConfig:
    """The flagship's whole-pose embedding in front of a plain MLP or LCN body."""

    body: str = "mlp"
    """'mlp' (dense over the flattened pose) or 'lcn' (locally connected over ``hops`` hops)."""
    channels: int = 96
    """C, the per-joint width of the embedding and of every block's output (the flagship's)."""
    hidden: int = 372
    """H, the inner width of every block (set to match a parameter or MAC budget)."""
    blocks: int = 3
    """Residual blocks of two layers (the flagship's three)."""
    hops: int = 1
    """LCN support: every joint within this many hops (self included; 1 = the skeleton's bones)."""
    dropout: float = 0.1
    """Dropout after every layer (the flagship's)."""
    head_init: float = 0.01
    """Scale of the head's initial weights and bias (as every model, chosen on val)."""
    num_joints: int = 17
    """J."""
    parents: tuple[int, ...] = H36M17.parents
    """Skeleton defining the LCN support."""
    arch: str = field(default="control", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        if self.body not in BODIES:
            raise ValueError(f"control body must be one of {BODIES}, got {self.body!r}")
        check_positive(self, "channels", self.channels)
        check_positive(self, "hidden", self.hidden)
        if self.hops < 0:
            raise ValueError(f"ControlConfig.hops must be >= 0, got {self.hops}")
        check_blocks_dropout(self)
        if len(self.parents) != self.num_joints:
            raise ValueError(f"parents has {len(self.parents)} entries for num_joints="
                             f"{self.num_joints}")

    @property
    def receptive_field(self) -> int:
        return 1


class LCNLayer(nn.Module):
    r"""A locally connected graph layer: :math:`y_i = \frac{1}{|S(i)|}\sum_{j \in S(i)} x_j
    W_{ij} + b_i` over the support ``S(i)`` of joints within ``hops`` hops of ``i``.

    Shapes:
        input ``(..., J, C_in)``, output ``(..., J, C_out)``.
    """

    coef: Tensor  # (P,) fixed 1 / |S(dst)| per pair

    def __init__(self, parents: tuple[int, ...], hops: int, in_channels: int,
                 out_channels: int) -> None:
        super().__init__()
        mask = cumulative_mask(parents, hops)  # (J, J)
        self.pairs = PairLinear(mask, in_channels, out_channels)
        degree = mask.sum(-1)  # (J,)
        self.register_buffer("coef", 1.0 / degree[self.pairs.dst], persistent=False)
        bound = in_channels ** -0.5
        self.bias = nn.Parameter(torch.empty(len(parents), out_channels).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return self.pairs(x, self.coef) + self.bias


class _Dense(nn.Module):
    """A dense layer over the flattened pose: ``(..., J, C_in) -> (..., J_out, C_out)``."""

    def __init__(self, joints_in: int, c_in: int, joints_out: int, c_out: int) -> None:
        super().__init__()
        self.joints_out, self.c_out = joints_out, c_out
        self.linear = nn.Linear(joints_in * c_in, joints_out * c_out)

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-2]
        y = self.linear(x.reshape(*lead, -1))
        return y.reshape(*lead, self.joints_out, self.c_out)


class _Block(nn.Module):
    """Two plain layers (each followed by batch norm, ReLU, dropout) with a residual."""

    def __init__(self, cfg: ControlConfig) -> None:
        super().__init__()
        j, c, h = cfg.num_joints, cfg.channels, cfg.hidden
        if cfg.body == "mlp":
            # the bottleneck is one pose-level vector of H units, normalised over its units
            self.layers = nn.ModuleList([_Dense(j, c, 1, h), _Dense(1, h, j, c)])
        else:
            self.layers = nn.ModuleList([LCNLayer(cfg.parents, cfg.hops, c, h),
                                         LCNLayer(cfg.parents, cfg.hops, h, c)])
        self.acts = nn.ModuleList([activation(h, cfg.dropout), activation(c, cfg.dropout)])

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer, act in zip(self.layers, self.acts):
            h = act(layer(h))
        return x + h


class PoseControl(SingleFrameModel):
    """The flagship's whole-pose embedding (``2J -> J*C``, batch norm over channels, ReLU,
    dropout), ``blocks`` residual blocks of a plain body (:class:`ControlConfig`), and the
    flagship's per-joint head ``C -> 3``.

    Shapes: as :class:`~skelgnn.models.base.LifterModel`.
    """

    def __init__(self, config: ControlConfig) -> None:
        super().__init__()
        self.config = config
        j, c = config.num_joints, config.channels
        self.embed = _Dense(j, 2, j, c)
        self.embed_act = activation(c, config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.blocks))
        self.head = JointLinear(j, c, 3)
        scale_init(self.head, config.head_init)

    def lift_frames(self, x: Tensor) -> Tensor:
        h = self.embed_act(self.embed(x))  # (N, J, C)
        for block in self.blocks:
            h = block(h)
        return self.head(h)  # (N, J, 3)

