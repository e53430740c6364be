"""Martinez et al. (ICCV 2017): the fully connected residual lifter.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from skelgnn.models.base import (SingleFrameModel, check_blocks_dropout, check_positive,
                                 scale_init)

__all__ = ["FCNConfig", "FCN"]


@dataclass(frozen=True)
class FCNConfig:
    """Martinez et al. (2017) fully connected residual lifter."""

    hidden: int = 1024
    """Units per linear layer."""
    blocks: int = 2
    """Residual blocks of two linear layers."""
    dropout: float = 0.5
    """Dropout after every hidden layer."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights and bias (1 = the layer's default init, which
    starts predictions about 2 m from the targets; 0.01 starts them near the root). Chosen on
    val for every architecture (docs/DESIGN.md)."""
    num_joints: int = 17
    """J."""
    arch: str = field(default="fcn", init=False)

    def __post_init__(self) -> None:
        check_positive(self, "hidden", self.hidden)
        check_blocks_dropout(self)

    @property
    def receptive_field(self) -> int:
        return 1


class FCN(SingleFrameModel):
    """Martinez et al. (ICCV 2017): linear 2J -> H, ``blocks`` residual blocks of two
    linear + batch norm + ReLU + dropout layers, linear H -> 3J.

    Shapes: as :class:`LifterModel`.
    """

    def __init__(self, config: FCNConfig) -> None:
        super().__init__()
        self.config = config
        h, j = config.hidden, config.num_joints
        self.inp = nn.Sequential(nn.Linear(2 * j, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
                                 nn.Dropout(config.dropout))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
                          nn.Dropout(config.dropout), nn.Linear(h, h), nn.BatchNorm1d(h),
                          nn.ReLU(inplace=True), nn.Dropout(config.dropout))
            for _ in range(config.blocks))
        self.out = nn.Linear(h, 3 * j)
        scale_init(self.out, config.head_init)

    def lift_frames(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        h = self.inp(x.reshape(n, -1))  # (N, H)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h).reshape(n, self.num_joints, 3)
