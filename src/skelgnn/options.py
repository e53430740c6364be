"""The allowed values of the package's string options, one ``Literal`` alias each.

The config dataclasses annotate their fields with these aliases, check them with
:func:`check_choice`, and the CLI builds its ``choices=`` from :func:`choices`, so a value is
listed in exactly one place.
"""
from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = ["Source", "Split", "Normalization", "Device", "Loss", "Fusion", "WeightSharing",
           "Dynamic", "DetNoise", "BodyShapeKind", "choices", "check_choice"]

Source = Literal["det", "gt"]
"""2D source: the synthetic detector's keypoints or the projected ground truth."""
Split = Literal["val", "test"]
"""'val': train on train minus val, validate on val; 'test': train on every train subject."""
Normalization = Literal["screen", "box"]
"""2D normalisation of :class:`skelgnn.data.codec.PoseCodec`."""
DetNoise = Literal["none", "detector"]
"""Detector-like 2D noise added to the training views a run projects itself (data/detnoise.py)."""
BodyShapeKind = Literal["none", "varied"]
"""Body proportions of the training views a run projects itself (data/bodyshape.py)."""
Device = Literal["auto", "cpu", "cuda"]
"""Training device ('auto': CUDA when available)."""
Loss = Literal["mpjpe", "l1"]
"""Training loss on root-relative 3D."""
Fusion = Literal["hierarchical", "flat"]
"""How a D-HCSF layer fuses its hop groups."""
WeightSharing = Literal["shared", "unshared", "pairwise"]
"""Weight sharing of the short-range graph convolution."""
Dynamic = Literal["none", "framewise", "temporal"]
"""The dynamic graph of a Skeletal GNN."""


def choices(alias: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` alias, in declaration order (argparse ``choices``)."""
    return tuple(get_args(alias))


def _spoken(values: tuple[str, ...]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def check_choice(value: Any, alias: Any, name: str) -> None:
    """Raise ``ValueError("<name> must be 'a', 'b' or 'c', got <value>")`` unless ``value`` is
    one of ``alias``'s values."""
    allowed = choices(alias)
    if value not in allowed:
        raise ValueError(f"{name} must be {_spoken(allowed)}, got {value!r}")
