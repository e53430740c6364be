"""VideoPose3D-style temporal convolution lifter (Pavllo et al., CVPR 2019).

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import Tensor, nn

from skelgnn.models.base import (LifterModel, TemporalConv, activation,
                                 centre_frames, check_blocks_dropout, check_positive,
                                 check_widths, scale_init)

__all__ = ["TCNConfig", "TCN"]


@dataclass(frozen=True)
class TCNConfig:
    """VideoPose3D-style dilated temporal convolution model (Pavllo et al. 2019)."""

    channels: int = 1024
    """Feature width."""
    filter_widths: tuple[int, ...] = (1, 1, 1)
    """Filter widths; one expansion layer plus len - 1 residual blocks."""
    dropout: float = 0.25
    """Dropout after every layer."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights and bias (1 = the layer's default init, which
    starts predictions about 2 m from the targets; 0.01 starts them near the root). Chosen on
    val for every architecture (docs/DESIGN.md)."""
    num_joints: int = 17
    """J."""
    arch: str = field(default="tcn", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter_widths", tuple(int(w) for w in self.filter_widths))
        check_widths(self.filter_widths)
        check_positive(self, "channels", self.channels)
        check_blocks_dropout(self)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)


class TCN(LifterModel):
    """VideoPose3D-style temporal convolutional lifter (Pavllo et al., CVPR 2019).

    Joints are flattened into channels; an expansion convolution of width ``filter_widths[0]``,
    then per further width a residual block (dilated convolution, 1x1 convolution, each with batch
    norm, ReLU, dropout), and a 1x1 convolution to 3J. Window mode uses strided convolutions,
    sequence mode dilated ones (same weights).

    Shapes: as :class:`LifterModel`.
    """

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        self.config = config
        c, j = config.channels, config.num_joints
        fw = config.filter_widths
        self.expand = TemporalConv(2 * j, c, fw[0], bias=False)
        self.expand_act = activation(c, config.dropout)
        self.convs = nn.ModuleList(TemporalConv(c, c, f, bias=False) for f in fw[1:])
        self.conv_acts = nn.ModuleList(activation(c, config.dropout) for _ in fw[1:])
        self.pointwise = nn.ModuleList(nn.Linear(c, c, bias=False) for _ in fw[1:])
        self.point_acts = nn.ModuleList(activation(c, config.dropout) for _ in fw[1:])
        self.shrink = nn.Linear(c, 3 * j)
        scale_init(self.shrink, config.head_init)

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:
        b, t, j, _ = x.shape
        fw = self.config.filter_widths
        h = x.reshape(b, t, 1, 2 * j)  # joints flattened into channels: (B, T, 1, 2J)
        h = self.expand_act(self.expand(h, 1, sequence))  # (B, T', 1, C)
        dilation = fw[0]
        for i, f in enumerate(fw[1:]):
            res = centre_frames(h, f, dilation, sequence)
            h = self.conv_acts[i](self.convs[i](h, dilation, sequence))
            h = res + self.point_acts[i](self.pointwise[i](h))
            dilation *= f
        y = self.shrink(h)  # (B, T, 1, 3J)
        return y.reshape(b, y.shape[1], j, 3)
