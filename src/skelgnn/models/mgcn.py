"""Modulated-GCN-style lifter (Zou & Tang, ICCV 2021), written from the paper.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``N`` samples (batch times frames), ``J`` joints, ``C`` channels.

A graph convolution shares one feature transform ``W`` across joints; Modulated GCN keeps the
sharing (small model) and adds two cheap per-graph parameters:

* weight modulation: a learnable vector ``m_k`` per joint rescales joint ``k``'s transformed
  feature before it is aggregated, so every joint effectively has its own feature transform
  ``diag(m_k) W`` (the paper's approximation of unshared, pre-aggregation weights);
* affinity modulation: a learnable dense ``J x J`` matrix ``Q``, initialised near zero, is added
  to the normalised skeleton adjacency, so the graph can grow edges the skeleton lacks (hands to
  feet, left to right).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from skelgnn.models.graph_baseline import GraphConfigChecks, ResidualGraphNet
from skelgnn.skeleton import H36M17

__all__ = ["MGCNConfig", "ModulatedGraphConv", "MGCN"]


@dataclass(frozen=True)
class MGCNConfig(GraphConfigChecks):
    """Modulated GCN (Zou & Tang 2021): residual blocks of modulated graph convolutions."""

    channels: int = 128
    """Feature width (128 and 4 blocks: about 0.3 M parameters, the paper's small model)."""
    blocks: int = 4
    """Residual blocks of two modulated graph convolutions."""
    dropout: float = 0.0
    """Dropout after every hidden layer."""
    decouple: bool = True
    """Separate transforms for a joint's own feature and its neighbours' (``W_0``, ``W_1``, as
    SemGCN and the paper's implementation); False: one shared ``W``."""
    q_init: float = 1e-6
    """Initial value of every entry of the affinity modulation ``Q`` (small: the network starts
    as a plain skeleton GCN)."""
    norm: Literal["channel", "joint"] = "joint"
    """Batch norm statistics per (joint, channel) or per channel (models/bn.py)."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights (as the other baselines)."""
    num_joints: int = 17
    """J."""
    parents: tuple[int, ...] = H36M17.parents
    """Skeleton giving the adjacency that ``Q`` modulates."""
    arch: str = field(default="mgcn", init=False)


class ModulatedGraphConv(nn.Module):
    r"""Modulated graph convolution (weight and affinity modulation), our implementation.

    .. math::
        y_j = \sum_k A'_{jk}\,\big(m_k \odot W x_k\big) + b, \qquad
        A' = \hat A + \tfrac12 (Q + Q^\top), \qquad
        \hat A = D^{-1/2} (A + I) D^{-1/2}

    with ``A`` the skeleton's bone adjacency, ``m_k`` (``C_out``) the modulation vector of joint
    ``k``'s transformed feature (initialised to ones) and ``Q`` (``J x J``, dense, initialised to ``q_init``) the
    affinity modulation, symmetrised so that ``A'`` stays symmetric. With ``decouple`` the joint's
    own term uses its own weight: ``y_j = A'_{jj} m_j \odot W_0 x_j + \sum_{k \ne j} A'_{jk}
    m_k \odot W_1 x_k + b``. ``Q = 0``, ``m = 1`` (and ``W_0 = W_1``) is a plain GCN layer
    (Kipf & Welling).

    Shapes:
        input ``(N, J, C_in)``, output ``(N, J, C_out)``.
    """

    adj: Tensor  # buffer, normalised skeleton adjacency (J, J)

    def __init__(self, in_channels: int, out_channels: int, parents: tuple[int, ...],
                 decouple: bool = True, q_init: float = 1e-6) -> None:
        super().__init__()
        from skelgnn.layers.graph import adjacency, normalize_symmetric

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.decouple = decouple
        self.q_init = q_init
        j = len(parents)
        self.register_buffer("adj", normalize_symmetric(adjacency(parents, self_loops=True)))
        self.weight = nn.Parameter(torch.empty(2 if decouple else 1, in_channels, out_channels))
        self.modulation = nn.Parameter(torch.empty(j, out_channels))  # m, (J, C_out)
        self.affinity = nn.Parameter(torch.empty(j, j))  # Q
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weight.data:
            nn.init.xavier_uniform_(w)
        nn.init.ones_(self.modulation)
        nn.init.constant_(self.affinity, self.q_init)
        bound = 1.0 / math.sqrt(self.out_channels)
        nn.init.uniform_(self.bias, -bound, bound)

    def adjacency(self) -> Tensor:
        """``A' = \\hat A + (Q + Q^T) / 2``, ``(J, J)``."""
        return self.adj + 0.5 * (self.affinity + self.affinity.t())

    def forward(self, x: Tensor) -> Tensor:
        adj = self.adjacency()
        if not self.decouple:
            return adj @ (self.modulation * (x @ self.weight[0])) + self.bias
        eye = torch.eye(adj.shape[0], dtype=adj.dtype, device=adj.device)
        h0 = self.modulation * (x @ self.weight[0])  # (N, J, C_out)
        h1 = self.modulation * (x @ self.weight[1])
        # joint j's own term scales h0_j: a diagonal matrix times h0 is a per-joint scale
        return torch.diagonal(adj).unsqueeze(-1) * h0 + (adj * (1 - eye)) @ h1 + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, decouple={self.decouple}"


class MGCN(ResidualGraphNet):
    """Modulated-GCN lifter: input modulated graph conv 2 -> C, ``blocks`` residual blocks of two
    modulated graph convolutions (batch norm, ReLU, dropout), output modulated graph conv C -> 3
    (:class:`~skelgnn.models.graph_baseline.ResidualGraphNet`).

    Shapes: as :class:`LifterModel`.
    """

    out: ModulatedGraphConv

    def __init__(self, config: MGCNConfig) -> None:
        def conv(cin: int, cout: int) -> ModulatedGraphConv:
            return ModulatedGraphConv(cin, cout, config.parents, decouple=config.decouple,
                                      q_init=config.q_init)

        super().__init__(config, conv)
        # only the output transform and bias are shrunk: m and Q keep their meaning
        with torch.no_grad():
            self.out.weight.mul_(config.head_init)
            self.out.bias.mul_(config.head_init)
