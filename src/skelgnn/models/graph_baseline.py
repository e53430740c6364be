r"""What the single-frame graph baselines (:mod:`~skelgnn.models.semgcn`,
:mod:`~skelgnn.models.mgcn`) share: their configs' checks and the residual network of graph
convolutions; each baseline brings only its graph convolution.

Shape legend: ``N`` samples (batch times frames), ``J`` joints, ``C`` channels.

The network, with ``G`` a graph convolution and ``a`` batch norm, ReLU and dropout
(:func:`~skelgnn.models.bn.norm_activation`):

.. math::
    h_0 = a(G_{2 \to C}(x)), \qquad
    h_{i+1} = h_i + a(G_{C \to C}(a(G_{C \to C}(h_i)))), \qquad
    y = G_{C \to 3}(h_{\text{blocks}})

State-dict keys: ``inp.*``, ``inp_act.*``, ``blocks.<i>.<0..3>.*`` (conv, act, conv, act) and
``out.*``; checkpoints of both baselines are stored under these names.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import Tensor, nn

from skelgnn.models.base import SingleFrameModel, check_blocks_dropout, check_positive
from skelgnn.models.bn import NORMS, norm_activation

__all__ = ["check_graph_config", "GraphConfigChecks", "ResidualGraphNet"]


def check_graph_config(cfg: Any) -> None:
    """The checks every graph-baseline config makes in ``__post_init__`` (after ``parents`` is
    a tuple of ints): channels, blocks, dropout, head_init, norm, and one parent per joint."""
    check_positive(cfg, "channels", cfg.channels)
    check_blocks_dropout(cfg)
    if cfg.norm not in NORMS:
        raise ValueError(f"{type(cfg).__name__}.norm must be one of {NORMS}, got {cfg.norm!r}")
    if len(cfg.parents) != cfg.num_joints:
        raise ValueError(f"parents has {len(cfg.parents)} entries for num_joints="
                         f"{cfg.num_joints}")


class GraphConfigChecks:
    """What the single-frame graph-baseline configs share (a mixin of their frozen dataclasses):
    ``parents`` stored as a tuple of ints, :func:`check_graph_config` on construction, and a
    receptive field of one frame."""

    parents: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        check_graph_config(self)

    @property
    def receptive_field(self) -> int:
        return 1


class ResidualGraphNet(SingleFrameModel):
    """Input graph conv 2 -> C, ``config.blocks`` residual blocks of two graph convolutions (each
    followed by batch norm, ReLU, dropout), output graph conv C -> 3 (module docstring).

    ``conv(c_in, c_out)`` builds one graph convolution ``(N, J, C_in) -> (N, J, C_out)``. The
    layers are built in forward order (the initial weights for a seed depend on it).

    Shapes: as :class:`~skelgnn.models.base.LifterModel`; :meth:`lift_frames` ``(N, J, 2) ->
    (N, J, 3)``.
    """

    def __init__(self, config: Any, conv: Callable[[int, int], nn.Module]) -> None:
        super().__init__()
        self.config = config
        c = config.channels

        def act() -> nn.Module:
            return norm_activation(config.norm, config.num_joints, c, config.dropout)

        self.inp = conv(2, c)
        self.inp_act = act()
        self.blocks = nn.ModuleList(nn.Sequential(conv(c, c), act(), conv(c, c), act())
                                    for _ in range(config.blocks))
        self.out = conv(c, 3)

    def lift_frames(self, x: Tensor) -> Tensor:
        h = self.inp_act(self.inp(x))  # (N, J, C)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)
