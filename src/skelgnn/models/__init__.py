"""Lifting models: the Skeletal GNN and the baselines it is compared against.

Shape legend: ``B`` batch, ``R`` receptive field (input frames per output frame), ``T`` output
frames, ``J`` joints, ``C`` channels.

One module per architecture, each with its frozen config dataclass:

* :mod:`skelgnn.models.base` -- the contract every model shares (:class:`LifterModel`: ``forward``
  on ``(B, R, J, 2)`` windows, ``forward_sequence`` on whole clips, ``receptive_field``,
  ``num_joints``, ``config``) and shared building blocks;
* :mod:`skelgnn.models.skelgnn` -- the Skeletal GNN of D-HCSF layers;
* :mod:`skelgnn.models.fcn`, :mod:`~skelgnn.models.semgcn`, :mod:`~skelgnn.models.mgcn`,
  :mod:`~skelgnn.models.tcn` -- the baselines (Martinez et al., SemGCN, Modulated GCN,
  VideoPose3D);
* :mod:`skelgnn.models.control` -- controls that isolate the D-HCSF layer (the flagship's
  whole-pose embedding in front of a plain MLP or LCN body of the same size);
* :mod:`skelgnn.models.graph_baseline` -- the residual graph network and config checks SemGCN
  and Modulated GCN share (each brings its own graph convolution);
* :mod:`skelgnn.models.bn` -- per-(joint, channel) batch norm and precise BN statistics;
* :mod:`skelgnn.models.registry` -- :data:`PRESETS` (the named variants of the benchmark),
  :func:`build_model` from a preset name, a config or a config dict, and config <-> dict.
"""
from skelgnn.models.base import LifterModel
from skelgnn.models.control import ControlConfig, PoseControl
from skelgnn.models.fcn import FCN, FCNConfig
from skelgnn.models.mgcn import MGCN, MGCNConfig
from skelgnn.models.registry import (PRESETS, ModelConfig, build_model, config_from_dict,
                                     config_to_dict, count_parameters, for_skeleton,
                                     macs_per_frame)
from skelgnn.models.semgcn import SemGCN, SemGCNConfig
from skelgnn.models.skelgnn import SkeletalGNN, SkeletalGNNConfig
from skelgnn.models.tcn import TCN, TCNConfig

__all__ = [
    "SkeletalGNNConfig",
    "FCNConfig",
    "SemGCNConfig",
    "MGCNConfig",
    "TCNConfig",
    "ControlConfig",
    "ModelConfig",
    "LifterModel",
    "SkeletalGNN",
    "FCN",
    "SemGCN",
    "MGCN",
    "TCN",
    "PoseControl",
    "PRESETS",
    "build_model",
    "config_to_dict",
    "config_from_dict",
    "count_parameters",
    "macs_per_frame",
    "for_skeleton",
]
