"""The contract every lifting model shares, and the small building blocks several use.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.

* ``forward(x)``: ``(B, R, J, 2)`` normalised 2D -> ``(B, J, 3)`` root-relative 3D (metres) of the
  centre frame. ``R = 1`` for single-frame models.
* ``forward_sequence(x)``: ``(B, T + R - 1, J, 2) -> (B, T, J, 3)``: a whole sequence in one pass,
  overlapping windows computed once (dilated instead of strided temporal convolutions, the
  VideoPose3D equivalence). Single-frame models apply themselves frame by frame.
* ``receptive_field``, ``num_joints``, and ``config`` (the frozen dataclass it was built from).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from skelgnn.layers.dhcsf import GroupBatchNorm, JointLinear, temporal_unfold

__all__ = ["LifterModel", "SingleFrameModel", "TemporalConv", "check_widths", "check_positive",
           "check_head_init", "check_blocks_dropout", "scale_init", "activation", "centre_frames"]


def check_widths(widths: tuple[int, ...]) -> None:
    if not widths or any(int(w) < 1 or int(w) % 2 == 0 for w in widths):
        raise ValueError(f"filter_widths must be a non-empty tuple of odd integers, got {widths}")


def check_positive(cfg: Any, name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{type(cfg).__name__}.{name} must be >= 1, got {value}")


def check_head_init(cfg: Any) -> None:
    if not 0 < cfg.head_init <= 1:
        raise ValueError(f"{type(cfg).__name__}.head_init must be in (0, 1], got {cfg.head_init}")


def check_blocks_dropout(cfg: Any) -> None:
    check_head_init(cfg)
    if getattr(cfg, "blocks", 0) < 0:
        raise ValueError(f"{type(cfg).__name__}.blocks must be >= 0, got {cfg.blocks}")
    if not 0 <= cfg.dropout < 1:
        raise ValueError(f"{type(cfg).__name__}.dropout must be in [0, 1), got {cfg.dropout}")


class LifterModel(nn.Module):
    """Base class: input checks and the window / sequence contract."""

    config: Any  # the frozen config dataclass the model was built from

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    def _check_input(self, x: Tensor, sequence: bool) -> None:
        if x.dim() != 4 or x.shape[-1] != 2 or x.shape[-2] != self.num_joints:
            raise ValueError(f"{type(self).__name__} expects normalised 2D keypoints shaped "
                             f"(B, T, {self.num_joints}, 2), got {tuple(x.shape)}")
        r = self.receptive_field
        if sequence and x.shape[1] < r:
            raise ValueError(f"{type(self).__name__}.forward_sequence needs at least R = {r} "
                             f"frames (T + R - 1), got {x.shape[1]}; pad the sequence ends")
        if not sequence and x.shape[1] != r:
            raise ValueError(f"{type(self).__name__} has receptive field {r}: expected input "
                             f"(B, {r}, {self.num_joints}, 2), got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        """``(B, R, J, 2) -> (B, J, 3)``."""
        self._check_input(x, sequence=False)
        return self._forward(x, sequence=False)[:, 0]

    def forward_sequence(self, x: Tensor) -> Tensor:
        """``(B, T + R - 1, J, 2) -> (B, T, J, 3)``."""
        self._check_input(x, sequence=True)
        return self._forward(x, sequence=True)

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class SingleFrameModel(LifterModel):
    """Single-frame models lift every frame independently."""

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:
        b, t = x.shape[:2]
        y = self.lift_frames(x.reshape(b * t, self.num_joints, 2))  # (B*T, J, 3)
        return y.reshape(b, t, self.num_joints, 3)

    def lift_frames(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def scale_init(module: nn.Module, scale: float) -> None:
    """Multiply ``module``'s freshly initialised parameters by ``scale`` (output layers)."""
    if scale != 1.0:
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(scale)


def activation(channels: int, dropout: float) -> nn.Sequential:
    """BatchNorm over channels, ReLU, dropout."""
    return nn.Sequential(GroupBatchNorm(channels), nn.ReLU(inplace=True), nn.Dropout(dropout))


class TemporalConv(nn.Module):
    """A temporal convolution (kernel over frames, 1 over joints) as one linear map on a
    :func:`~skelgnn.layers.dhcsf.temporal_unfold` window; the same weights serve strided (window) and
    dilated (sequence) execution.

    Shapes:
        input ``(B, T, J, C_in)``, output ``(B, T', J, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True,
                 num_joints: Optional[int] = None) -> None:
        super().__init__()
        self.kernel = kernel
        if num_joints is None:
            self.linear: nn.Module = nn.Linear(kernel * in_channels, out_channels, bias=bias)
        else:  # per-joint weights
            self.linear = JointLinear(num_joints, kernel * in_channels, out_channels, bias=bias)

    def forward(self, x: Tensor, dilation: int, sequence: bool) -> Tensor:
        if sequence:
            h = temporal_unfold(x, self.kernel, dilation=dilation)
        else:
            h = temporal_unfold(x, self.kernel, stride=self.kernel)
        return self.linear(h)


def centre_frames(x: Tensor, kernel: int, dilation: int, sequence: bool) -> Tensor:
    """Frames of ``x`` at the centres of a temporal convolution's windows (for residuals)."""
    if kernel == 1:
        return x
    if sequence:
        pad = dilation * (kernel - 1) // 2
        return x[:, pad: x.shape[1] - pad]
    return x[:, kernel // 2:: kernel]
