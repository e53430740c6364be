r"""The folded inference path of :class:`skelgnn.layers.dhcsf.HCSF`: the same function as
``HCSF.forward``, computed with weights precomputed once per weight version.

With hierarchical fusion and per-joint (or per-pair) weights, the long-range projections compose
linearly with the long-range fusion:
:math:`[Z_1 \| \dots \| Z_{G-1}] F_L = \sum_g A_g X\, (W_{g,i} F_{L,g})`, so per target joint ``i``
one ``((G-1) C_in, C_1)`` matrix replaces ``G-1`` projections, a concatenation and a linear layer.
The static graphs ``M_g`` are a softmax of the edge weights; they are computed once too. The
constants are cached on the layer, keyed on every weight's storage, version counter, dtype and
device, so any change (in-place updates, ``load_state_dict``, ``.to()``) recomputes them: they are
never stale. Training and autograd always take the reference path.

Shape legend as :mod:`skelgnn.layers.dhcsf`; ``N`` = ``B * T``, ``P`` short-range edges.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from skelgnn.layers.dhcsf import HCSF

__all__ = ["Folded", "folded_weights", "forward_folded"]

Folded = tuple[Tensor, Optional[Tensor], Tensor]
"""``(M (G, J, J), short-range edge coefficients (P,) or None, long-range weights (J, (G-1) C_in, C_1))``."""


def folded_weights(layer: "HCSF") -> Optional[Folded]:
    """The layer's inference-time constants, or ``None`` where the folded path does not apply
    (training, autograd on, flat fusion, one group, shared weights, hop gates)."""
    if (layer.training or torch.is_grad_enabled() or layer.fusion != "hierarchical"
            or layer.num_groups == 1 or layer.weight_sharing == "shared" or layer.gate is not None):
        return None
    assert layer.long_fuse is not None  # hierarchical fusion with G > 1
    projs = layer._projections()
    params = [layer.edge_weight, layer.long_fuse.weight, *(p.weight for p in projs)]
    key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
    cached = layer.__dict__.get("_folded")
    if cached is not None and cached[0] == key:
        return cached[1]
    adj = layer.static_adjacency()  # (G, J, J)
    coef0 = None
    if layer.weight_sharing == "pairwise":
        pair = layer._pair()
        coef0 = adj[0, pair.dst, pair.src]  # (P,)
    fl = layer.long_fuse.weight.t()  # (sum C_g, C_1)
    parts: list[Tensor] = []
    start = 0
    for proj in projs[1:]:
        c = proj.out_channels
        parts.append(proj.weight @ fl[start:start + c])  # (J, C_in, C_1)
        start += c
    folded = (adj, coef0, torch.cat(parts, dim=1))  # (J, (G-1) C_in, C_1)
    layer.__dict__["_folded"] = (key, folded)
    return folded


def forward_folded(layer: "HCSF", x: Tensor, offsets: Optional[Tensor], alpha: Optional[Tensor],
                   folded: Folded) -> Tensor:
    """``layer(x, offsets, alpha)`` with :func:`folded_weights`, joint-major inside: one copy in
    (the gather / aggregation), one out. ``x`` ``(B, T, J, C_in)`` -> ``(B, T, J, C_out)``."""
    adj, coef0, w_long = folded
    lead, j, g, c_in = x.shape[:-2], layer.num_joints, layer.num_groups, layer.in_channels
    xf = x.reshape(-1, j, c_in)  # (N, J, C_in)
    n = xf.shape[0]
    off = None
    if offsets is not None:
        off = offsets.reshape(n, g, j, j)
        if alpha is not None:
            off = off * alpha.view(-1, 1, 1)
    assert layer.long_fuse is not None and layer.out_fuse is not None  # as folded_weights
    if coef0 is not None:
        pair = layer._pair()
        coef = coef0 if off is None else coef0 + off[:, 0, pair.dst, pair.src]  # (N, P)
        z0 = pair.joint_major(xf, coef)  # (J, N, C_out)
    else:
        a0 = adj[0] if off is None else adj[0] + off[:, 0]
        agg0 = (a0 @ xf).transpose(0, 1)  # (J, N, C_in)
        z0 = torch.bmm(agg0, layer._projections()[0].weight)  # (J, N, C_out)
    a_long = adj[1:] if off is None else adj[1:] + off[:, 1:]  # (G-1, J, J) or (N, G-1, J, J)
    agg = torch.matmul(a_long.reshape(-1, (g - 1) * j, j), xf)  # (N, (G-1) J, C_in)
    agg = agg.view(n, g - 1, j, c_in).permute(2, 0, 1, 3)  # (J, N, G-1, C_in)
    agg = agg.reshape(j, n, (g - 1) * c_in)
    long = torch.relu(torch.baddbmm(layer.long_fuse.bias, agg, w_long))  # (J, N, C_1)
    if layer.bias is not None:
        z0 = z0 + layer.bias
    y = torch.addmm(z0.reshape(j * n, -1), long.reshape(j * n, -1), layer.out_fuse.weight.t())
    y = y.view(j, n, layer.out_channels).transpose(0, 1).contiguous()  # (N, J, C_out)
    return y.view(*lead, j, layer.out_channels)
