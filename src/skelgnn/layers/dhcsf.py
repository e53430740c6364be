"""Graph layers of the Skeletal GNN: hop-aware channel-squeezing fusion and dynamic graphs.

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints, ``C`` channels, ``G`` hop groups
(one short-range group for hops ``0..s`` plus one group per long-range hop ``s+1..K``).

Layers
------
* :class:`HCSF` -- hop-aware hierarchical channel-squeezing fusion (Zeng et al., ICCV 2021,
  section 3 of ``docs/PAPER.md``). Neighbours are grouped by hop distance, every group is aggregated
  over its own (learnable, topology-initialised) adjacency, long-range groups are squeezed to fewer
  channels and fused among themselves before they are fused with the short range.
* :class:`DynamicGraph` -- temporal-aware dynamic graph learning: per hop group a dense,
  per-sample offset ``O = tanh(theta(X) phi(X)^T)`` computed from a window of ``W`` frames.
* :class:`DHCSF` -- the two together, one layer.
* The per-joint / per-pair projections and :class:`GroupBatchNorm` they use live in
  :mod:`skelgnn.layers.projections` (re-exported here).

All layers work on channels-last ``(B, T, J, C)`` tensors so that every projection is one dense
matrix multiply and every temporal window a reshape (no layout round trips through ``Conv1d``).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, cast

import torch
from torch import Tensor, nn

from skelgnn.layers.folded import Folded, folded_weights, forward_folded
from skelgnn.layers.grading import GRADINGS, HopGate
from skelgnn.layers.graph import cumulative_mask, hop_masks, normalize_rows
from skelgnn.layers.projections import GroupBatchNorm, JointLinear, PairLinear

__all__ = [
    "GroupBatchNorm",
    "JointLinear",
    "PairLinear",
    "HCSF",
    "DynamicGraph",
    "DHCSF",
    "temporal_unfold",
    "squeezed_channels",
]

_FUSIONS = ("hierarchical", "flat")
_SHARING = ("shared", "unshared", "pairwise")
_STATIC_INIT = ("softmax", "row")


def squeezed_channels(out_channels: int, split: int, max_hop: int, squeeze: float) -> list[int]:
    """Output width of every hop group: ``[C_out, C_(s+1), ..., C_K]`` with
    ``C_k = max(1, floor(C_out * d**(k - s)))``."""
    widths = [out_channels]
    for k in range(split + 1, max_hop + 1):
        widths.append(max(1, int(math.floor(out_channels * squeeze ** (k - split) + 1e-9))))
    return widths


def temporal_unfold(x: Tensor, kernel: int, dilation: int = 1, stride: int = 1,
                    padding: int = 0) -> Tensor:
    """Stack each output frame's ``kernel`` input frames along the channel axis.

    ``(B, T, J, C) -> (B, T_out, J, kernel * C)`` with ``T_out = (T + 2 padding -
    dilation (kernel - 1) - 1) // stride + 1``; frame ``f`` of the window lands in channels
    ``f*C .. (f+1)*C``. A linear map on the result is a temporal convolution (kernel over frames,
    1 over joints). Zero padding. The non-overlapping case (``stride == kernel``, ``dilation == 1``)
    is a pure reshape, the fast path for training on windows.
    """
    if kernel == 1 and stride == 1 and padding == 0:
        return x
    b, t, j, c = x.shape
    if padding:
        x = nn.functional.pad(x, (0, 0, 0, 0, padding, padding))  # (B, T + 2p, J, C)
        t = x.shape[1]
    span = dilation * (kernel - 1) + 1
    if t < span:
        raise ValueError(f"temporal window of {span} frames does not fit {t} input frames")
    if stride == kernel and dilation == 1 and t % kernel == 0:
        x = x.reshape(b, t // kernel, kernel, j, c).transpose(2, 3)  # (B, T/k, J, k, C)
        return x.reshape(b, t // kernel, j, kernel * c)
    t_out = (t - span) // stride + 1
    frames = [x[:, f * dilation: f * dilation + (t_out - 1) * stride + 1: stride]
              for f in range(kernel)]
    return torch.cat(frames, dim=-1)  # (B, T_out, J, kernel * C)


def _hop_gate(grading: str, widths: Sequence[int]) -> Optional[HopGate]:
    """``None`` for the fixed grading, else a :class:`skelgnn.layers.grading.HopGate` over ``widths``."""
    if grading not in GRADINGS:
        raise ValueError(f"grading must be one of {GRADINGS}, got {grading!r}")
    return None if grading == "fixed" else HopGate(widths)


class DynamicGraph(nn.Module):
    r"""Temporal-aware dynamic graph offsets, one dense ``J x J`` matrix per hop group and frame.

    .. math::
        O_g = \tanh\!\Big(\frac{\theta_g(X)\,\phi_g(X)^\top}{\sqrt{C_h}}\Big)

    where :math:`\theta_g, \phi_g` are temporal convolutions (kernel ``window`` over frames, 1 over
    joints, ``C_in -> C_h``), so each frame's graph is computed from the ``window`` frames around
    it and one outlier frame cannot flip it. Offsets are dense (not masked by the skeleton) and not
    softmax-normalised; entries lie in ``(-1, 1)``. The ``1/sqrt(C_h)`` temperature keeps the
    initial ``tanh`` out of saturation (our choice; the paper shows no scaling).

    ``padding="same"`` keeps ``T`` frames (zero padding); ``padding="valid"`` with ``stride`` or
    ``dilation`` aligns the offsets with a temporal convolution of the same geometry, which is how
    the multi-frame Skeletal GNN uses it.

    Args:
        in_channels: ``C_in``.
        hidden_channels: ``C_h``, the embedding width.
        num_groups: ``G``, hop groups that each get their own offsets.
        window: ``W``, frames per embedding (1 = frame-wise dynamic graph).
        dilation: frame spacing inside the window.
        padding: ``"same"`` or ``"valid"``.

    Shapes:
        input ``(B, T, J, C_in)``; output ``(B, T', G, J, J)`` with ``T' = T`` for ``"same"``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_groups: int, window: int = 1,
                 dilation: int = 1, padding: str = "same") -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        if padding == "same" and window % 2 == 0:
            raise ValueError(f"'same' padding needs an odd window, got {window}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_groups = num_groups
        self.window = window
        self.dilation = dilation
        self.padding = padding
        self.embed = nn.Linear(window * in_channels, 2 * num_groups * hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embed.reset_parameters()

    def forward(self, x: Tensor, dilation: Optional[int] = None, stride: int = 1) -> Tensor:
        dil = self.dilation if dilation is None else dilation
        pad = dil * (self.window - 1) // 2 if self.padding == "same" else 0
        h = temporal_unfold(x, self.window, dil, stride, pad)  # (B, T', J, W*C_in)
        e = self.embed(h)  # (B, T', J, 2*G*C_h)
        b, t, j, _ = e.shape
        e = e.reshape(b, t, j, 2, self.num_groups, self.hidden_channels)
        e = e.permute(3, 0, 1, 4, 2, 5)  # (2, B, T', G, J, C_h)
        theta, phi = e[0], e[1]
        scores = theta @ phi.transpose(-1, -2)  # (B, T', G, J, J)
        return torch.tanh(scores * (1.0 / math.sqrt(self.hidden_channels)))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, hidden={self.hidden_channels}, groups={self.num_groups}, "
                f"window={self.window}, dilation={self.dilation}, padding={self.padding!r}")


class HCSF(nn.Module):
    r"""Hop-aware hierarchical channel-squeezing fusion over a skeleton graph.

    Hop groups ``g = 0..G-1``: group 0 is the short range, every joint within ``split`` (``s``)
    hops, self included (cumulative mask); group ``g >= 1`` holds the joints exactly
    ``s + g`` hops away (exact-k mask), up to ``max_hop`` (``K``). Each group has a static
    adjacency ``M_g`` with learnable weights on its support only, initialised from the topology
    (``static_init="softmax"``: softmax over each row's support, as SemGCN; ``"row"``: row
    normalisation kept by re-normalising the positive learned weights). With dynamic offsets
    ``O_g`` (from :class:`DynamicGraph`) the aggregation uses ``M_g + alpha_g O_g``:

    .. math::
        Z_g = (M_g + \alpha_g O_g)\, X\, W_g, \qquad W_g \in \mathbb{R}^{C_{in}\times C_g},
        \quad C_0 = C_{out},\; C_g = \max(1, \lfloor C_{out} d^{g} \rfloor)

    Hierarchical fusion (default) first fuses the long-range groups among themselves through a
    compact bottleneck, then adds them to the short range:

    .. math::
        L = \mathrm{ReLU}([Z_1 \| \dots \| Z_{G-1}]\, F_L), \qquad Y = Z_0 + L\, F_O + b

    (``concat(Z_0, L)`` followed by a 1x1 projection, with the short-range half of that projection
    folded into ``W_0``, which spans the same functions at lower cost). ``fusion="flat"`` is the
    ablation: ``Y = [Z_0 \| \dots \| Z_{G-1}] F + b``, one linear projection of everything.

    Joints without ``k``-hop neighbours have an all-zero row in ``M_k`` and contribute zero.
    The aggregation of all groups is one batched contraction over the stacked ``(G, J, J)``
    adjacency; only the per-group projections (``G`` is 1 to 5) loop. In inference mode the
    hierarchical fusion runs on precomputed weights (:mod:`skelgnn.layers.folded`).

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        parents: parent index per joint (``-1`` for the root), defines the hop structure.
        max_hop: ``K``, the farthest hop used (``K >= s``).
        split: ``s``, hops ``0..s`` form the short-range group.
        squeeze: ``d`` in ``(0, 1]``; 1 disables channel squeezing.
        fusion: ``"hierarchical"`` or ``"flat"``.
        weight_sharing: ``"shared"`` per-hop weights, ``"unshared"`` per target joint, or
            ``"pairwise"``: one matrix per (target, source) pair of the short-range group
            (:class:`PairLinear`, LCN-style; dynamic offsets then modulate the short-range edges
            and stay dense in the long-range groups), per target joint in the others.
        static_init: ``"softmax"`` or ``"row"``.
        bias: add a learnable bias.
        grading: ``"fixed"`` (widths by ``d`` only) or ``"gated"``: a learnable gate per
            channel of every group before fusion (:class:`skelgnn.layers.grading.HopGate`).

    Shapes:
        input ``(B, T, J, C_in)`` and optional offsets ``(B, T, G, J, J)``;
        output ``(B, T, J, C_out)``.
    """

    masks: Tensor  # buffer (G, J, J): each group's support
    # fusion layers: long_fuse and out_fuse for hierarchical fusion with G > 1, flat_fuse for
    # flat fusion with G > 1, none of them for G == 1
    long_fuse: Optional[nn.Linear]
    out_fuse: Optional[nn.Linear]
    flat_fuse: Optional[nn.Linear]

    def __init__(self, in_channels: int, out_channels: int, parents: Sequence[int],
                 max_hop: int = 3, split: int = 1, squeeze: float = 0.5,
                 fusion: str = "hierarchical", weight_sharing: str = "shared",
                 static_init: str = "softmax", bias: bool = True, grading: str = "fixed") -> None:
        super().__init__()
        if not 0 <= split <= max_hop:
            raise ValueError(f"need 0 <= split (s) <= max_hop (K), got s={split}, K={max_hop}")
        if not 0.0 < squeeze <= 1.0:
            raise ValueError(f"squeeze (d) must be in (0, 1], got {squeeze}")
        if fusion not in _FUSIONS:
            raise ValueError(f"fusion must be one of {_FUSIONS}, got {fusion!r}")
        if weight_sharing not in _SHARING:
            raise ValueError(f"weight_sharing must be one of {_SHARING}, got {weight_sharing!r}")
        if static_init not in _STATIC_INIT:
            raise ValueError(f"static_init must be one of {_STATIC_INIT}, got {static_init!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_joints = len(parents)
        self.max_hop = max_hop
        self.split = split
        self.squeeze = squeeze
        self.fusion = fusion
        self.weight_sharing = weight_sharing
        self.static_init = static_init
        self.group_channels = squeezed_channels(out_channels, split, max_hop, squeeze)
        self.num_groups = len(self.group_channels)

        exact = hop_masks(parents, max_hop)  # (K+1, J, J)
        masks = torch.cat([cumulative_mask(parents, split).unsqueeze(0), exact[split + 1:]], 0)
        self.register_buffer("masks", masks)  # (G, J, J)
        self.edge_weight = nn.Parameter(torch.empty_like(masks))  # (G, J, J), used on support only

        shared = weight_sharing == "shared"
        self.group_proj = nn.ModuleList(
            JointLinear(self.num_joints, in_channels, c, shared=shared, bias=False)
            for c in self.group_channels)
        if weight_sharing == "pairwise":
            # the short range (self and bones) gets one matrix per joint pair; the long-range
            # groups keep per-target weights (their squeezed widths make pairs cheap to skip)
            self.group_proj[0] = PairLinear(masks[0], in_channels, self.group_channels[0])
        long_width = sum(self.group_channels[1:])
        if self.num_groups == 1:
            self.long_fuse, self.out_fuse, self.flat_fuse = None, None, None
        elif fusion == "hierarchical":
            fused = self.group_channels[1]
            self.long_fuse = nn.Linear(long_width, fused, bias=True)
            self.out_fuse = nn.Linear(fused, out_channels, bias=False)
            self.flat_fuse = None
        else:
            self.long_fuse, self.out_fuse = None, None
            self.flat_fuse = nn.Linear(out_channels + long_width, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # learnable hop grading (skelgnn.layers.grading); "fixed" adds no module and no state-dict key
        self.gate = _hop_gate(grading, self.group_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.static_init == "softmax":
                self.edge_weight.fill_(1.0)  # softmax over the support -> 1/deg
            else:
                self.edge_weight.copy_(normalize_rows(self.masks))
        for proj in self._projections():
            proj.reset_parameters()
        for lin in (self.long_fuse, self.out_fuse, self.flat_fuse):
            if lin is not None:
                lin.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        if self.gate is not None:
            self.gate.reset_parameters()

    def _projections(self) -> list[JointLinear | PairLinear]:
        """``group_proj`` with its item types (``__init__`` fills it with these two only;
        ``ModuleList`` items are plain ``Module`` to a type checker)."""
        return [cast("JointLinear | PairLinear", proj) for proj in self.group_proj]

    def _pair(self) -> PairLinear:
        """The short range's per-pair projection (``weight_sharing="pairwise"`` only)."""
        pair = self.group_proj[0]
        assert isinstance(pair, PairLinear), "per-pair projection needs weight_sharing='pairwise'"
        return pair

    def static_adjacency(self) -> Tensor:
        """The learned static graphs ``M_g``, ``(G, J, J)``, zero off each group's support."""
        support = self.masks > 0
        if self.static_init == "softmax":
            logits = self.edge_weight.masked_fill(~support, -1e9)
            return torch.softmax(logits, dim=-1) * self.masks  # empty rows -> 0, never NaN
        return normalize_rows(self.edge_weight.abs() * self.masks)

    def folded_weights(self) -> Optional[Folded]:
        """The inference-time constants of :func:`skelgnn.layers.folded.folded_weights`, or ``None``
        where the folded path does not apply (training, autograd on, flat fusion, one group, shared
        weights, hop gates)."""
        return folded_weights(self)

    def graphs(self, offsets: Optional[Tensor] = None, alpha: Optional[Tensor] = None) -> Tensor:
        """``A_g = M_g + alpha_g O_g``: ``(G, J, J)`` static graphs, or ``(B, T, G, J, J)`` with
        offsets ``(B, T, G, J, J)`` (scaled by ``alpha`` ``(G,)`` when given)."""
        adj = self.static_adjacency()  # (G, J, J)
        if offsets is None:
            return adj
        if alpha is not None:
            offsets = offsets * alpha.view(-1, 1, 1)
        return adj + offsets

    def aggregate(self, x: Tensor, graphs: Tensor) -> list[Tensor]:
        """``Z_g = A_g X W_g`` for every group: ``G x (B, T, J, C_g)``.

        With pairwise weights the short range is one matrix per (target, source) edge, weighted by
        that edge's entry of ``A_0`` (per sample with offsets); the other groups aggregate first and
        project per target joint."""
        projs = list(self.group_proj)
        z: list[Tensor] = []
        if self.weight_sharing == "pairwise":
            pair = self._pair()
            z.append(pair(x, graphs[..., 0, pair.dst, pair.src]))  # coefficients (P,) or (B, T, P)
            graphs, projs = graphs[..., 1:, :, :], projs[1:]
        if projs:
            equation = "gij,btjc->btgic" if graphs.dim() == 3 else "btgij,btjc->btgic"
            agg = torch.einsum(equation, graphs, x)  # (B, T, G', J, C_in)
            z += [proj(agg[:, :, g]) for g, proj in enumerate(projs)]
        return z

    def fuse(self, z: list[Tensor]) -> Tensor:
        """Hierarchical fusion ``Y = Z_0 + ReLU([Z_1 .. Z_{G-1}] F_L) F_O + b``, or flat
        ``Y = [Z_0 .. Z_{G-1}] F + b``: ``(B, T, J, C_out)``."""
        if self.num_groups == 1:
            y = z[0]
        elif self.fusion == "hierarchical":
            assert self.long_fuse is not None and self.out_fuse is not None
            long = torch.relu(self.long_fuse(torch.cat(z[1:], dim=-1)))  # (B, T, J, C_1)
            y = z[0] + self.out_fuse(long)
        else:
            assert self.flat_fuse is not None
            y = self.flat_fuse(torch.cat(z, dim=-1))
        return y if self.bias is None else y + self.bias

    def forward(self, x: Tensor, offsets: Optional[Tensor] = None,
                alpha: Optional[Tensor] = None) -> Tensor:
        r"""The paper's layer: :math:`Z_g = (M_g + \alpha_g O_g) X W_g`, then the fusion of
        :meth:`fuse`. ``x`` ``(B, T, J, C_in)``, ``offsets`` ``(B, T, G, J, J)``, ``alpha``
        ``(G,)`` -> ``(B, T, J, C_out)``. In inference mode the same function runs on folded
        weights (:mod:`skelgnn.layers.folded`)."""
        if x.shape[-2] != self.num_joints or x.shape[-1] != self.in_channels:
            raise ValueError(f"HCSF expects (B, T, {self.num_joints}, {self.in_channels}) input, "
                             f"got {tuple(x.shape)}")
        folded = self.folded_weights()
        if folded is not None:
            return forward_folded(self, x, offsets, alpha, folded)
        z = self.aggregate(x, self.graphs(offsets, alpha))  # G x (B, T, J, C_g)
        if self.gate is not None:
            z = self.gate(z)  # learnable hop grading: each group's channels scaled
        return self.fuse(z)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, K={self.max_hop}, s={self.split}, "
                f"d={self.squeeze}, group_channels={self.group_channels}, fusion={self.fusion!r}, "
                f"weights={self.weight_sharing!r}, static_init={self.static_init!r}")


class DHCSF(nn.Module):
    r"""The D-HCSF layer: :class:`HCSF` aggregation over ``M_k + alpha_k O_k`` with offsets from a
    :class:`DynamicGraph` computed on the layer's own input.

    .. math:: Y = \mathrm{HCSF}\big(X;\ \{M_g + \alpha_g\,O_g(X)\}_g\big)

    ``dynamic="none"`` gives the static-graph ablation (plain HCSF). ``alpha`` is learnable per
    group, initialised to ``alpha_init`` (0.1: the static skeleton dominates early in training).

    The offsets are computed from the layer's input ``X``, or from a ``context`` with more
    frames: the multi-frame Skeletal GNN aggregates the output ``U`` of a temporal convolution and
    computes each output frame's graph from the ``W`` input frames of that convolution's window
    (``padding="valid"`` and the convolution's ``dilation`` / ``stride``), so strided (training)
    and dilated (sequence) execution agree exactly. A frame-wise graph (``W = 1``) always uses
    ``X``.

    Args:
        in_channels, out_channels, parents, max_hop, split, squeeze, fusion, weight_sharing,
            static_init, grading: as :class:`HCSF`.
        dynamic: ``"none"``, ``"framewise"`` (``W = 1``) or ``"temporal"`` (``W = window``).
        window: ``W`` for the temporal-aware graph.
        hidden_channels: ``C_h``; ``None`` means ``max(1, C_in // 4)``.
        alpha_init: initial ``alpha``.
        learn_alpha: make ``alpha`` a parameter (else a fixed buffer).
        padding: the dynamic graph's temporal padding, ``"same"`` or ``"valid"``
            (:class:`DynamicGraph`).

    Shapes:
        input ``(B, T, J, C_in)``, optional context ``(B, T_c, J, C_in)`` whose windows give
        ``T`` frames; output ``(B, T, J, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, parents: Sequence[int],
                 max_hop: int = 3, split: int = 1, squeeze: float = 0.5,
                 fusion: str = "hierarchical", weight_sharing: str = "shared",
                 static_init: str = "softmax", dynamic: str = "temporal", window: int = 3,
                 hidden_channels: Optional[int] = None, alpha_init: float = 0.1,
                 learn_alpha: bool = True, padding: str = "same", grading: str = "fixed") -> None:
        super().__init__()
        if dynamic not in ("none", "framewise", "temporal"):
            raise ValueError(f"dynamic must be 'none', 'framewise' or 'temporal', got {dynamic!r}")
        self.hcsf = HCSF(in_channels, out_channels, parents, max_hop, split, squeeze, fusion,
                         weight_sharing, static_init, grading=grading)
        self.dynamic = dynamic
        if dynamic == "none":
            self.graph = None
            self.register_buffer("alpha", None)
        else:
            hidden = max(1, in_channels // 4) if hidden_channels is None else hidden_channels
            if hidden < 1:
                raise ValueError(f"hidden_channels must be >= 1, got {hidden}")
            w = window if dynamic == "temporal" else 1
            self.graph = DynamicGraph(in_channels, hidden, self.hcsf.num_groups, window=w,
                                      padding=padding)
            init = torch.full((self.hcsf.num_groups,), float(alpha_init))
            if learn_alpha:
                self.alpha = nn.Parameter(init)
            else:
                self.register_buffer("alpha", init)
        self._alpha_init = float(alpha_init)

    def reset_parameters(self) -> None:
        self.hcsf.reset_parameters()
        if self.graph is not None:
            self.graph.reset_parameters()
            with torch.no_grad():
                self.alpha.fill_(self._alpha_init)

    def forward(self, x: Tensor, context: Optional[Tensor] = None,
                dilation: Optional[int] = None, stride: int = 1) -> Tensor:
        offsets = None
        if self.graph is not None:
            if context is None or self.graph.window == 1:
                offsets = self.graph(x)  # (B, T, G, J, J)
            else:
                offsets = self.graph(context, dilation=dilation, stride=stride)
        return self.hcsf(x, offsets, self.alpha)

    def extra_repr(self) -> str:
        return f"dynamic={self.dynamic!r}"
