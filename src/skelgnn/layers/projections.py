"""Projections of the graph layers, channels-last: per-joint and per-pair linear maps and the
batch norm over channels (split out of :mod:`skelgnn.layers.dhcsf`, which re-exports them).

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints, ``P`` joint pairs, ``C`` channels.

* :class:`GroupBatchNorm` -- batch norm over the channel axis of ``(..., C)`` features, statistics
  shared over joints and frames (the SemGCN habit).
* :class:`JointLinear` -- one ``C_in x C_out`` map per joint (or shared), as one batched matmul.
* :class:`PairLinear` -- one map per (target, source) joint pair of the short range, with a
  per-sample coefficient per pair, gathered and scattered as batched matmuls.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["GroupBatchNorm", "JointLinear", "PairLinear"]


class GroupBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` over the last (channel) axis of a ``(..., C)`` tensor.

    Statistics are shared over every leading axis (batch, frames, joints).

    Shapes:
        input ``(..., C)``, output the same.
    """

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


class JointLinear(nn.Module):
    r"""A linear map per joint, optionally with weights unshared across joints (LCN-style).

    .. math::
        y_j = x_j W_j + b_j \quad\text{(unshared)}, \qquad y_j = x_j W + b \quad\text{(shared)}

    Shapes:
        input ``(..., J, C_in)``, output ``(..., J, C_out)``.
    """

    def __init__(self, num_joints: int, in_channels: int, out_channels: int,
                 shared: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.shared = shared
        shape = (in_channels, out_channels) if shared else (num_joints, in_channels, out_channels)
        self.weight = nn.Parameter(torch.empty(shape))
        bshape = (out_channels,) if shared else (num_joints, out_channels)
        self.bias = nn.Parameter(torch.empty(bshape)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if self.shared:
            y = x @ self.weight
        else:
            # (J, ..., C_in) @ (J, C_in, C_out): one batched matmul over joints
            lead = x.shape[:-2]
            xj = x.reshape(-1, self.num_joints, self.in_channels).transpose(0, 1)  # (J, N, C_in)
            y = torch.bmm(xj, self.weight).transpose(0, 1).reshape(*lead, self.num_joints,
                                                                   self.out_channels)
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, joints={self.num_joints}, "
                f"shared={self.shared}, bias={self.bias is not None}")


class PairLinear(nn.Module):
    r"""Graph aggregation with one weight matrix per (target, source) joint pair of a support
    (locally connected, as LCN of Ci et al., ICCV 2019):

    .. math:: y_i = \sum_{j \in S(i)} a_{ij}\, x_j W_{ij}

    ``a`` are per-pair coefficients (a static graph's edge weights, optionally plus per-sample
    dynamic offsets). With per-target weights (:class:`JointLinear` after a weighted average) a
    joint's neighbours all pass through one matrix and differ only by a scalar, so the layer cannot
    tell its parent from its child; per-pair weights can, at ``|S| / J`` times the MACs.

    The support pairs are stored as index buffers; the aggregation is one gather, one batched
    matmul over pairs and one matmul with a one-hot ``(J, P)`` map that sums each pair into its
    target (no loop over joints or pairs; unlike ``index_add`` it exports to ONNX exactly).

    Args:
        mask: ``(J, J)`` support, ``mask[i, j] > 0`` where ``j`` feeds ``i``.
        in_channels, out_channels: ``C_in``, ``C_out``.

    Shapes:
        input ``(..., J, C_in)`` and coefficients ``(P,)`` or ``(..., P)`` (pair ``p`` feeds
        joint ``dst[p]`` from joint ``src[p]``); output ``(..., J, C_out)``.
    """

    # buffers (register_buffer), declared so that type checkers see tensors, not ``Module``
    dst: Tensor  # (P,) target joint of each pair
    src: Tensor  # (P,) source joint of each pair
    scatter: Tensor  # (J, P) one-hot pair -> target map

    def __init__(self, mask: Tensor, in_channels: int, out_channels: int) -> None:
        super().__init__()
        dst, src = torch.nonzero(mask > 0, as_tuple=True)
        self.num_joints = int(mask.shape[0])
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.register_buffer("dst", dst.clone())  # (P,)
        self.register_buffer("src", src.clone())  # (P,)
        # one-hot (J, P) map summing each pair's message into its target joint: a matmul, which
        # exports to ONNX exactly (index_add with repeated targets does not)
        scatter = torch.zeros(self.num_joints, len(dst))
        scatter[dst, torch.arange(len(dst))] = 1.0
        self.register_buffer("scatter", scatter, persistent=False)  # derived from dst
        self.weight = nn.Parameter(torch.empty(len(dst), in_channels, out_channels))
        self.reset_parameters()

    @property
    def num_pairs(self) -> int:
        return int(self.dst.numel())

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels)  # as JointLinear: the coefficients average
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: Tensor, coef: Tensor) -> Tensor:
        lead = x.shape[:-2]
        out = self.joint_major(x.reshape(-1, self.num_joints, self.in_channels), coef)
        return out.transpose(0, 1).reshape(*lead, self.num_joints, self.out_channels)  # (.., J, C)

    def joint_major(self, x: Tensor, coef: Tensor) -> Tensor:
        """``(N, J, C_in)`` input, ``(P,)`` or ``(N, P)`` coefficients -> ``(J, N, C_out)``
        (joint-major, before the transpose back to sample-major)."""
        xs = x[:, self.src]  # (N, P, C_in)
        ys = torch.bmm(xs.transpose(0, 1), self.weight)  # (P, N, C_out)
        if coef.dim() == 1:
            ys = ys * coef.view(-1, 1, 1)
        else:
            ys = ys * coef.reshape(-1, self.num_pairs).transpose(0, 1).unsqueeze(-1)
        n = ys.shape[1]
        return (self.scatter @ ys.reshape(self.num_pairs, -1)).view(self.num_joints, n, -1)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, pairs={self.num_pairs}"
