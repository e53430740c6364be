"""Lifting models: the Skeletal GNN and the baselines it is compared against.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.

Every model shares one contract:

* ``forward(x)``: ``(B, R, J, 2)`` normalised 2D -> ``(B, J, 3)`` root-relative 3D (metres) of the
  centre frame. ``R = 1`` for single-frame models.
* ``forward_sequence(x)``: ``(B, T + R - 1, J, 2) -> (B, T, J, 3)``: a whole sequence in one pass,
  overlapping windows computed once (dilated instead of strided temporal convolutions, the
  VideoPose3D equivalence). Single-frame models apply themselves frame by frame.
* ``receptive_field``, ``num_joints``, and ``config`` (the frozen dataclass it was built from).

Each architecture is configured by one frozen dataclass; :data:`PRESETS` names the variants used in
the benchmark and :func:`build_model` builds one from a preset name, a config, or a config dict.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from skelgnn.nn import DHCSF, HCSF, DynamicGraph, GroupBatchNorm, JointLinear, temporal_unfold
from skelgnn.skeleton import H36M17

__all__ = [
    "SkeletalGNNConfig",
    "FCNConfig",
    "SemGCNConfig",
    "TCNConfig",
    "ModelConfig",
    "LifterModel",
    "SkeletalGNN",
    "FCN",
    "SemGCN",
    "TCN",
    "PRESETS",
    "build_model",
    "config_to_dict",
    "config_from_dict",
    "count_parameters",
    "macs_per_frame",
]


def _check_widths(widths: tuple[int, ...]) -> None:
    if not widths or any(int(w) < 1 or int(w) % 2 == 0 for w in widths):
        raise ValueError(f"filter_widths must be a non-empty tuple of odd integers, got {widths}")


def _check_positive(cfg: Any, name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{type(cfg).__name__}.{name} must be >= 1, got {value}")


def _check_head_init(cfg: Any) -> None:
    if not 0 < cfg.head_init <= 1:
        raise ValueError(f"{type(cfg).__name__}.head_init must be in (0, 1], got {cfg.head_init}")


def _check_blocks_dropout(cfg: Any) -> None:
    _check_head_init(cfg)
    if getattr(cfg, "blocks", 0) < 0:
        raise ValueError(f"{type(cfg).__name__}.blocks must be >= 0, got {cfg.blocks}")
    if not 0 <= cfg.dropout < 1:
        raise ValueError(f"{type(cfg).__name__}.dropout must be in [0, 1), got {cfg.dropout}")


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
    fusion: str = "hierarchical"
    """'hierarchical' or 'flat' fusion of the hop groups."""
    weight_sharing: str = "pairwise"
    """'pairwise' (one matrix per joint pair of the short range, LCN-style; chosen on val),
    'unshared' per-joint weights, or 'shared' per-hop weights."""
    static_init: str = "softmax"
    """Static graph parametrisation: 'softmax' over each row's support, or 'row' normalisation."""
    dynamic: str = "temporal"
    """'none' (static graph), 'framewise' (W = 1) or 'temporal' (W frames)."""
    window: int = 3
    """W, frames per dynamic-graph embedding where the model has several frames."""
    hidden_ratio: float = 0.25
    """C_h = max(1, round(C * hidden_ratio)), the dynamic-graph embedding width."""
    alpha_init: float = 0.1
    """Initial weight of the dynamic offsets."""
    learn_alpha: bool = True
    """Learn alpha per hop group (else fixed)."""
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
        _check_widths(self.filter_widths)
        if self.channels < 4:
            raise ValueError(f"channels must be >= 4, got {self.channels}")
        if self.blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {self.blocks}")
        if not 0 <= self.split <= self.max_hop:
            raise ValueError(f"need 0 <= split <= max_hop, got split={self.split}, "
                             f"max_hop={self.max_hop}")
        if not 0 < self.squeeze <= 1:
            raise ValueError(f"squeeze must be in (0, 1], got {self.squeeze}")
        if self.fusion not in ("hierarchical", "flat"):
            raise ValueError(f"fusion must be 'hierarchical' or 'flat', got {self.fusion!r}")
        if self.weight_sharing not in ("shared", "unshared", "pairwise"):
            raise ValueError(f"weight_sharing must be 'shared', 'unshared' or 'pairwise', "
                             f"got {self.weight_sharing!r}")
        if self.dynamic not in ("none", "framewise", "temporal"):
            raise ValueError(f"dynamic must be 'none', 'framewise' or 'temporal', "
                             f"got {self.dynamic!r}")
        if self.static_init not in ("softmax", "row"):
            raise ValueError(f"static_init must be 'softmax' or 'row', got {self.static_init!r}")
        if not 0 < self.hidden_ratio <= 4:
            raise ValueError(f"hidden_ratio must be in (0, 4], got {self.hidden_ratio}")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"window must be a positive odd integer, got {self.window}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.embedding not in ("joint", "pose"):
            raise ValueError(f"embedding must be 'joint' or 'pose', got {self.embedding!r}")
        if self.readout not in ("joint", "global"):
            raise ValueError(f"readout must be 'joint' or 'global', got {self.readout!r}")
        if self.global_channels < 0:
            raise ValueError(f"global_channels must be >= 0, got {self.global_channels}")
        _check_head_init(self)
        if len(self.parents) != self.num_joints:
            raise ValueError(f"parents has {len(self.parents)} entries for num_joints="
                             f"{self.num_joints}")

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)


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
        _check_positive(self, "hidden", self.hidden)
        _check_blocks_dropout(self)

    @property
    def receptive_field(self) -> int:
        return 1


@dataclass(frozen=True)
class SemGCNConfig:
    """SemGCN-style graph convolution (Zhao et al. 2019) without the non-local blocks."""

    channels: int = 128
    """Feature width."""
    blocks: int = 4
    """Residual blocks of two graph convolutions."""
    dropout: float = 0.0
    """Dropout after every layer (SemGCN uses none)."""
    head_init: float = 0.01
    """Scale of the output layer's initial weights and bias (1 = the layer's default init, which
    starts predictions about 2 m from the targets; 0.01 starts them near the root). Chosen on
    val for every architecture (docs/DESIGN.md)."""
    num_joints: int = 17
    """J."""
    parents: tuple[int, ...] = H36M17.parents
    """Skeleton giving the 1-hop adjacency."""
    arch: str = field(default="semgcn", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        _check_positive(self, "channels", self.channels)
        _check_blocks_dropout(self)
        if len(self.parents) != self.num_joints:
            raise ValueError(f"parents has {len(self.parents)} entries for num_joints="
                             f"{self.num_joints}")

    @property
    def receptive_field(self) -> int:
        return 1


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
        _check_widths(self.filter_widths)
        _check_positive(self, "channels", self.channels)
        _check_blocks_dropout(self)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)


ModelConfig = Union[SkeletalGNNConfig, FCNConfig, SemGCNConfig, TCNConfig]
_CONFIG_TYPES: dict[str, type] = {"skelgnn": SkeletalGNNConfig, "fcn": FCNConfig,
                                  "semgcn": SemGCNConfig, "tcn": TCNConfig}


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """Plain-value dict (lists, numbers, strings) including ``arch``; inverse of
    :func:`config_from_dict`."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Build a config from :func:`config_to_dict` output; unknown keys raise ``ValueError``."""
    data = dict(data)
    arch = data.pop("arch", None)
    if arch not in _CONFIG_TYPES:
        raise ValueError(f"unknown model arch {arch!r}; expected one of {sorted(_CONFIG_TYPES)}")
    cls = _CONFIG_TYPES[arch]
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {arch} model option(s) {unknown}; valid: {sorted(names)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


class LifterModel(nn.Module):
    """Base class: input checks and the window / sequence contract."""

    config: ModelConfig

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


class _SingleFrame(LifterModel):
    """Single-frame models lift every frame independently."""

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:
        b, t = x.shape[:2]
        y = self.lift_frames(x.reshape(b * t, self.num_joints, 2))  # (B*T, J, 3)
        return y.reshape(b, t, self.num_joints, 3)

    def lift_frames(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _scale_init(module: nn.Module, scale: float) -> None:
    """Multiply ``module``'s freshly initialised parameters by ``scale`` (output layers)."""
    if scale != 1.0:
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(scale)


def _act(channels: int, dropout: float) -> nn.Sequential:
    """BatchNorm over channels, ReLU, dropout."""
    return nn.Sequential(GroupBatchNorm(channels), nn.ReLU(inplace=True), nn.Dropout(dropout))


class TemporalConv(nn.Module):
    """A temporal convolution (kernel over frames, 1 over joints) as one linear map on a
    :func:`~skelgnn.nn.temporal_unfold` window; the same weights serve strided (window) and
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


def _centre(x: Tensor, kernel: int, dilation: int, sequence: bool) -> Tensor:
    """Frames of ``x`` at the centres of a temporal convolution's windows (for residuals)."""
    if kernel == 1:
        return x
    if sequence:
        pad = dilation * (kernel - 1) // 2
        return x[:, pad: x.shape[1] - pad]
    return x[:, kernel // 2:: kernel]


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
        self.act = _act(width, dropout)
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
        self.acts = nn.ModuleList(_act(c, cfg.dropout) for _ in range(2))
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
                alpha_init=cfg.alpha_init, learn_alpha=cfg.learn_alpha)


class TemporalGraphLevel(nn.Module):
    """One temporal level of the multi-frame Skeletal GNN.

    A temporal convolution (kernel ``f``, dilation = product of the earlier widths) mixes frames
    per joint; a D-HCSF aggregation then mixes joints at every remaining frame. With
    ``dynamic="temporal"`` the offsets are computed by a :class:`DynamicGraph` whose window is the
    level's own ``f`` input frames (same geometry as the temporal convolution, so strided and
    dilated execution agree); ``"framewise"`` computes them from each output frame alone.
    A residual adds the centre frames of the level's input.
    """

    def __init__(self, cfg: SkeletalGNNConfig, kernel: int) -> None:
        super().__init__()
        c = cfg.channels
        kw = _layer_kwargs(cfg)
        self.kernel = kernel
        self.dynamic = cfg.dynamic
        self.tconv = TemporalConv(c, c, kernel)
        self.tact = _act(c, cfg.dropout)
        self.hcsf = HCSF(c, c, cfg.parents, kw["max_hop"], kw["split"], kw["squeeze"],
                         kw["fusion"], kw["weight_sharing"], kw["static_init"])
        g = self.hcsf.num_groups
        if cfg.dynamic == "none":
            self.graph = None
            self.register_buffer("alpha", None)
        else:
            window = kernel if cfg.dynamic == "temporal" else 1
            self.graph = DynamicGraph(c, kw["hidden_channels"], g, window=window, padding="valid")
            self.alpha = nn.Parameter(torch.full((g,), float(cfg.alpha_init)),
                                      requires_grad=cfg.learn_alpha)
        self.gact = _act(c, cfg.dropout)

    def forward(self, x: Tensor, dilation: int, sequence: bool) -> Tensor:
        u = self.tact(self.tconv(x, dilation, sequence))  # (B, T', J, C)
        offsets = None
        if self.graph is not None:
            if self.graph.window == 1:
                offsets = self.graph(u)
            elif sequence:
                offsets = self.graph(x, dilation=dilation)
            else:
                offsets = self.graph(x, dilation=1, stride=self.kernel)
        y = self.gact(self.hcsf(u, offsets, self.alpha))  # (B, T', J, C)
        return _centre(x, self.kernel, dilation, sequence) + y


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
        self.embed_act = _act(c, config.dropout)
        self.levels = nn.ModuleList(TemporalGraphLevel(config, f)
                                    for f in config.filter_widths[1:])
        block_dynamic = "none" if config.dynamic == "none" else "framewise"
        self.blocks = nn.ModuleList(GraphBlock(config, block_dynamic)
                                    for _ in range(config.blocks))
        self.head = JointLinear(j, 2 * c if config.readout == "global" else c, 3)
        _scale_init(self.head, config.head_init)

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


class FCN(_SingleFrame):
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
        _scale_init(self.out, config.head_init)

    def lift_frames(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        h = self.inp(x.reshape(n, -1))  # (N, H)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h).reshape(n, self.num_joints, 3)


class SemGraphConv(nn.Module):
    r"""Semantic graph convolution (Zhao et al., CVPR 2019), our implementation.

    .. math:: Y = (\hat A \odot I)\,X W_0 + (\hat A \odot (1 - I))\,X W_1 + b,
        \qquad \hat A = \mathrm{softmax}_{\text{row support}}(E \odot (A + I))

    with learnable edge weights ``E`` on the 1-hop support (self loops included).

    Shapes:
        input ``(N, J, C_in)``, output ``(N, J, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, parents: tuple[int, ...]) -> None:
        super().__init__()
        from skelgnn.graph import adjacency

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


class SemGCN(_SingleFrame):
    """SemGCN-style lifter: input graph conv 2 -> C, ``blocks`` residual blocks of two graph
    convolutions (batch norm, ReLU), output graph conv C -> 3. No non-local layers.

    Shapes: as :class:`LifterModel`.
    """

    def __init__(self, config: SemGCNConfig) -> None:
        super().__init__()
        self.config = config
        c, p = config.channels, config.parents
        self.inp = SemGraphConv(2, c, p)
        self.inp_act = _act(c, config.dropout)
        self.blocks = nn.ModuleList(nn.ModuleList([SemGraphConv(c, c, p), _act(c, config.dropout),
                                                   SemGraphConv(c, c, p), _act(c, config.dropout)])
                                    for _ in range(config.blocks))
        self.out = SemGraphConv(c, 3, p)
        _scale_init(self.out, config.head_init)

    def lift_frames(self, x: Tensor) -> Tensor:
        h = self.inp_act(self.inp(x))  # (N, J, C)
        for g1, a1, g2, a2 in self.blocks:
            h = h + a2(g2(a1(g1(h))))
        return self.out(h)


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
        self.expand_act = _act(c, config.dropout)
        self.convs = nn.ModuleList(TemporalConv(c, c, f, bias=False) for f in fw[1:])
        self.conv_acts = nn.ModuleList(_act(c, config.dropout) for _ in fw[1:])
        self.pointwise = nn.ModuleList(nn.Linear(c, c, bias=False) for _ in fw[1:])
        self.point_acts = nn.ModuleList(_act(c, config.dropout) for _ in fw[1:])
        self.shrink = nn.Linear(c, 3 * j)
        _scale_init(self.shrink, config.head_init)

    def _forward(self, x: Tensor, sequence: bool) -> Tensor:
        b, t, j, _ = x.shape
        fw = self.config.filter_widths
        h = x.reshape(b, t, 1, 2 * j)  # joints flattened into channels: (B, T, 1, 2J)
        h = self.expand_act(self.expand(h, 1, sequence))  # (B, T', 1, C)
        dilation = fw[0]
        for i, f in enumerate(fw[1:]):
            res = _centre(h, f, dilation, sequence)
            h = self.conv_acts[i](self.convs[i](h, dilation, sequence))
            h = res + self.point_acts[i](self.pointwise[i](h))
            dilation *= f
        y = self.shrink(h)  # (B, T, 1, 3J)
        return y.reshape(b, y.shape[1], j, 3)


_MODEL_TYPES: dict[str, type] = {"skelgnn": SkeletalGNN, "fcn": FCN, "semgcn": SemGCN,
                                 "tcn": TCN}

_SKEL_1F = SkeletalGNNConfig()
# C = 64 for the multi-frame models: the shipped 1f (3.6 M parameters) and 27f checkpoints must
# fit 20 MiB together, and it trains in about half the time; C 64 was within 1 mm of C 96 on val (1f)
_SKEL_27F = SkeletalGNNConfig(filter_widths=(3, 3, 3), blocks=1, channels=64)

PRESETS: dict[str, ModelConfig] = {
    # The method
    "skelgnn-1f": _SKEL_1F,
    "skelgnn-9f": dataclasses.replace(_SKEL_27F, filter_widths=(3, 3)),
    "skelgnn-27f": _SKEL_27F,
    "skelgnn-81f": dataclasses.replace(_SKEL_27F, filter_widths=(3, 3, 3, 3)),
    "skelgnn-243f": dataclasses.replace(_SKEL_27F, filter_widths=(3, 3, 3, 3, 3)),
    # Ablations (single frame unless named otherwise)
    "skelgnn-1f-nosqueeze": dataclasses.replace(_SKEL_1F, squeeze=1.0),
    "skelgnn-1f-flat": dataclasses.replace(_SKEL_1F, fusion="flat"),
    "skelgnn-1f-static": dataclasses.replace(_SKEL_1F, dynamic="none"),
    "skelgnn-1f-shared": dataclasses.replace(_SKEL_1F, weight_sharing="shared"),
    "skelgnn-1f-unshared": dataclasses.replace(_SKEL_1F, weight_sharing="unshared"),
    "skelgnn-1f-c64": dataclasses.replace(_SKEL_1F, channels=64),
    "skelgnn-1f-k2": dataclasses.replace(_SKEL_1F, max_hop=2),
    "skelgnn-1f-k5": dataclasses.replace(_SKEL_1F, max_hop=5),
    "skelgnn-1f-s0": dataclasses.replace(_SKEL_1F, split=0),
    "skelgnn-1f-d25": dataclasses.replace(_SKEL_1F, squeeze=0.25),
    "skelgnn-27f-static": dataclasses.replace(_SKEL_27F, dynamic="none"),
    "skelgnn-27f-notemporal": dataclasses.replace(_SKEL_27F, dynamic="framewise"),
    # Baselines
    "fcn-1f": FCNConfig(),
    "semgcn-1f": SemGCNConfig(),
    "tcn-1f": TCNConfig(filter_widths=(1, 1, 1)),
    "tcn-9f": TCNConfig(filter_widths=(3, 3)),
    "tcn-27f": TCNConfig(filter_widths=(3, 3, 3)),
    "tcn-81f": TCNConfig(filter_widths=(3, 3, 3, 3)),
    "tcn-243f": TCNConfig(filter_widths=(3, 3, 3, 3, 3)),
}


def build_model(spec: Union[str, ModelConfig, dict[str, Any]]) -> LifterModel:
    """Build a model from a preset name, a config dataclass, or a :func:`config_to_dict` dict."""
    if isinstance(spec, str):
        if spec not in PRESETS:
            import difflib

            hint = difflib.get_close_matches(spec, PRESETS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(f"unknown model preset {spec!r}{extra}; known: {sorted(PRESETS)}")
        spec = PRESETS[spec]
    elif isinstance(spec, dict):
        spec = config_from_dict(spec)
    if not dataclasses.is_dataclass(spec) or getattr(spec, "arch", None) not in _MODEL_TYPES:
        raise ValueError(f"cannot build a model from {spec!r}")
    return _MODEL_TYPES[spec.arch](spec)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def macs_per_frame(model: LifterModel, frames: int = 1) -> float:
    """Multiply-accumulates per output frame, counted by ``torch.utils.flop_counter`` on one
    eval-mode forward pass (window mode for ``frames == 1``, else sequence mode with ``frames``
    output frames: the cost of lifting a long clip)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    r, j = model.receptive_field, model.num_joints
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            if frames == 1:
                model(torch.zeros(1, r, j, 2))
            else:
                model.forward_sequence(torch.zeros(1, frames + r - 1, j, 2))
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2.0 / frames
