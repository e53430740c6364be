r"""Learnable hop grading: a soft gate per hop-group channel, and widths read off the gates.

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints, ``G`` hop groups, ``C_g`` channels of
group ``g`` (``C_0 = C_out``, ``C_g = floor(C_out d^g)`` for the long-range groups, see
:func:`skelgnn.layers.dhcsf.squeezed_channels`), ``L`` D-HCSF layers.

The fixed grading of the paper sets every long-range group's width by the squeeze ratio ``d``
(``grading = "fixed"``). The ablation ``grading = "gated"`` lets the network weigh each hop
group: every channel ``c`` of group ``g`` is multiplied by a positive gate before fusion,

.. math::
    \tilde Z_g[..., c] = \gamma_{g,c}\, Z_g[..., c], \qquad
    \gamma_{g,c} = \operatorname{softplus}(s\,\rho_{g,c} + \rho_0), \quad
    \rho_0 = \log(e - 1), \; s = 10

so ``rho = 0`` (the initialisation) gives ``gamma = 1`` and the gated layer starts as the fixed
one. The gates are absorbable into the projection that follows (the fusion is linear), so a gate
is not an absolute importance; it is a relative one (within a layer, which groups the optimiser
wanted more or less of; Adam moves every gate at a rate set by the sign consistency of its
gradient, not its scale).

Width from gates
----------------
After a short run with gates, the *gate mass* of group ``g`` in layer ``l`` is
``m_{l,g} = sum_c gamma_{l,g,c}`` (its channels times their mean gate). The derived width is the
short range's width scaled by the group's mass relative to the short range's, averaged over
layers:

.. math::
    \hat C_g = \max\Big(1,\ \operatorname{round}\Big(C_{out}\,
    \frac{1}{L}\sum_l \frac{m_{l,g}}{m_{l,0}}\Big)\Big)

With untouched gates (``gamma = 1``) ``m_{l,g} / m_{l,0} = C_g / C_out`` and the rule returns the
fixed grading's widths exactly; a group whose gates grew gets wider, one whose gates shrank
narrower. The squeeze ratio the gates imply is the least-squares fit of
``log(hat C_g / C_out) = g log d`` through the origin, ``g = 1..G-1`` (the fixed grading's own
law, one ratio per extra hop), comparable with ``d`` of the config and ``d = exp(-b)`` of the
information-gain fit (:mod:`skelgnn.layers.hops`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

__all__ = ["GRADINGS", "HopGate", "GateReport", "gate_report", "gate_penalty", "derive_widths",
           "squeeze_from_widths"]

GRADINGS = ("fixed", "gated")
_RHO0 = math.log(math.e - 1.0)  # softplus(_RHO0) == 1


class HopGate(nn.Module):
    r"""A positive gate per channel of every hop group,
    ``gamma = softplus(lr_scale * rho + log(e - 1))``, initialised to 1 (``rho = 0``).

    Args:
        widths: ``[C_0, ..., C_{G-1}]``, the groups' channel counts.

    Shapes:
        input: a list of ``G`` tensors ``(..., C_g)``; output the same list, each scaled by its
        group's gates.
    """

    lr_scale = 10.0
    """The gate logit is ``lr_scale * rho``: under Adam (steps of about ``lr`` per parameter
    whatever the gradient's scale) the gates move ``lr_scale`` times faster than the weights, so
    a short run can move them by more than a few percent."""

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = [int(c) for c in widths]
        self.rho = nn.Parameter(torch.zeros(sum(self.widths)))  # (sum_g C_g,)

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.rho)

    def gates(self) -> list[Tensor]:
        """``G`` tensors ``(C_g,)``: the current gates."""
        gamma = nn.functional.softplus(self.lr_scale * self.rho + _RHO0)  # (sum_g C_g,)
        return list(torch.split(gamma, self.widths))

    def forward(self, z: Sequence[Tensor]) -> list[Tensor]:
        if len(z) != len(self.widths):
            raise ValueError(f"HopGate has {len(self.widths)} groups, got {len(z)} tensors")
        return [zg * g for zg, g in zip(z, self.gates())]

    def extra_repr(self) -> str:
        return f"widths={self.widths}"


def gate_penalty(model: nn.Module) -> Tensor | None:
    """The mean of every hop gate of ``model`` (gates are positive, so this is their L1 norm over
    their count), or None when the model has no gates. ``train.gate_l1`` scales it into the
    loss: the pressure is the same per gate whatever the depth and width of the network."""
    gates = [g for mod in model.modules() if isinstance(mod, HopGate) for g in mod.gates()]
    if not gates:
        return None
    return torch.cat(gates).mean()


@dataclass
class GateReport:
    """Gates of a gated model, summarised per hop group, and the widths they imply."""

    layers: list[str]
    """Module name of every gated layer (``L``)."""
    group_hops: list[str]
    """Hops of each group, e.g. ``["0-1", "2", "3"]``."""
    mean_gate: list[list[float]]
    """``(L, G)``: mean gate of each group in each layer."""
    mass_ratio: list[float]
    """``(G,)``: ``mean_l m_{l,g} / m_{l,0}``."""
    fixed_widths: list[int]
    """``(G,)``: the fixed grading's widths (the config's ``d``)."""
    derived_widths: list[int]
    """``(G,)``: :func:`derive_widths`."""
    config_squeeze: float
    """``d`` of the config."""
    derived_squeeze: float | None
    """:func:`squeeze_from_widths` of the unrounded derived widths (None with one group)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def derive_widths(out_channels: int, mass_ratio: Sequence[float]) -> list[int]:
    """``hat C_g = max(1, round(C_out * r_g))`` with ``r_0 = 1`` (module docstring)."""
    return [max(1, int(round(out_channels * float(r)))) for r in mass_ratio]


def squeeze_from_widths(widths: Sequence[float]) -> float | None:
    """``d`` of ``widths[g] ~ widths[0] d^g`` (least squares of the log through the origin over
    ``g >= 1``); ``None`` with fewer than two groups."""
    if len(widths) < 2:
        return None
    g = torch.arange(1, len(widths), dtype=torch.float64)
    logs = torch.log(torch.tensor([w / widths[0] for w in widths[1:]], dtype=torch.float64))
    return float(torch.exp((g * logs).sum() / (g * g).sum()))


def gate_report(model: nn.Module) -> GateReport:
    """Collect every :class:`HopGate` of ``model`` (a Skeletal GNN built with
    ``grading="gated"``) and derive widths from them; raises ``ValueError`` if it has none."""
    names, means, ratios = [], [], []
    widths: list[int] | None = None
    for name, mod in model.named_modules():
        if not isinstance(mod, HopGate):
            continue
        gates = [g.detach().double() for g in mod.gates()]
        mass = [float(g.sum()) for g in gates]
        names.append(name)
        means.append([float(g.mean()) for g in gates])
        ratios.append([m / mass[0] for m in mass])
        if widths is None:
            widths = mod.widths
        elif widths != mod.widths:
            raise ValueError(f"gated layers disagree on group widths: {widths} vs {mod.widths}")
    if widths is None:
        raise ValueError("the model has no hop gates (build it with grading='gated')")
    mass_ratio = [sum(r[g] for r in ratios) / len(ratios) for g in range(len(widths))]
    derived = derive_widths(widths[0], mass_ratio)
    cfg = getattr(model, "config", None)
    split = int(getattr(cfg, "split", 1))
    hops = [f"0-{split}" if split else "0"] + [str(split + g) for g in range(1, len(widths))]
    return GateReport(layers=names, group_hops=hops, mean_gate=means, mass_ratio=mass_ratio,
                      fixed_widths=list(widths), derived_widths=derived,
                      config_squeeze=float(getattr(cfg, "squeeze", float("nan"))),
                      derived_squeeze=squeeze_from_widths([widths[0] * r for r in mass_ratio]))
