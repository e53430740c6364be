"""Experiment configuration: typed, frozen dataclasses are the truth; TOML files and ``--set``
overrides only change their fields.

A config file names a model preset and may override any of its fields::

    [model]
    preset = "skelgnn-1f"
    channels = 128          # any field of the preset's config dataclass

    [data]
    split = "test"          # "val" (default): train on train - val, validate on val
                            # "test": train on every train subject (the reported rows)

    [train]
    epochs = 10

The dataclass defaults are the validated benchmark schedule (every row of ``configs/`` uses it;
a config file states only what differs). Unknown keys are rejected with the closest valid name
as a suggestion.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from skelgnn.models import PRESETS, ModelConfig, config_from_dict, config_to_dict
from skelgnn.options import BodyShapeKind, DetNoise, Device, Loss, Normalization, Source, Split, check_choice

__all__ = ["DataConfig", "TrainConfig", "ExperimentConfig", "load_config", "apply_overrides",
           "experiment_from_dict", "max_threads"]


MAX_SEED = 2 ** 63
"""Seeds are bounded so that torch and numpy take them (``train.seed=1e30`` overflowed torch)."""

MAX_CONFIG_BYTES = 1 << 20
"""The largest config file read (a real one is under 2 KB)."""


def max_threads() -> int:
    """The most ``train.threads`` a config may ask for: 4 per CPU (far more only oversubscribes
    the machine; 10 000 hung and 100 000 crashed torch)."""
    return 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class DataConfig:
    """Which data a run trains and validates on."""

    root: Optional[str] = None
    """Benchmark directory (None: ``../shared/data/cmu`` or ``$SKELGNN_DATA``)."""
    source: Source = "det"
    """2D source: 'det' (synthetic detector) or 'gt' (projected ground truth)."""
    split: Split = "val"
    """'val': train on train minus val and validate on val; 'test': train on all train subjects."""
    frame_stride: int = 2
    """Use every n-th training frame (the benchmark protocol allows 1 or 2)."""
    normalization: Normalization = "screen"
    """2D normalisation of the codec: 'screen' or 'box'."""
    virtual_cameras: int = 0
    """Virtual-camera views added per training sequence (0: off; data/cameras.py): phone
    (portrait / landscape), webcam and action cameras at 0.3-2.5 m height, 2-8 m away, elevation
    -10..60 degrees; the 2D is the 3D projected into them, the target in their frame. Drawn once
    per run from ``train.seed`` (a cached set, like the fixed views)."""
    fixed_cameras: bool = True
    """Keep the benchmark's fixed (Human3.6M) views in training; false: virtual views only."""
    det_noise: DetNoise = "none"
    """'detector': detector-like noise (data/detnoise.py: keypoint biases, AR(1) jitter,
    left/right swaps, dropped joints) on the virtual views and, with source 'gt', on the fixed
    views; 'none': projected 2D as it is."""
    body_shape: BodyShapeKind = "none"
    """'varied': each virtual view's 3D re-built with its own body proportions (data/bodyshape.py:
    thigh, shank, torso, hip and shoulder width, ... drawn per view) before it is projected, so
    the lifter does not learn one mocap set's proportions; needs ``virtual_cameras > 0``.
    'none': the mocap skeleton as it is."""
    camera_height_max: float = 2.5
    """Highest virtual camera, metres above the floor (the lowest stays 0.3): 2.5 is a phone held
    up or a webcam on a shelf; 3.5 adds ceiling-mounted and surveillance-like views looking down
    25-40 degrees from 3-4 m (the footage checkpoint; docs/DESIGN.md "Real footage")."""
    knee_opening: float = 15.0
    """With ``body_shape = 'varied'``: both knees of each virtual view opened by U(0, this)
    degrees (data/bodyshape.py, :func:`~skelgnn.data.bodyshape.extend_knees`); 0 to 45."""

    def __post_init__(self) -> None:
        if self.root is not None and not isinstance(self.root, str):
            raise ValueError(f"data.root must be a directory path (a string), got {self.root!r}")
        check_choice(self.source, Source, "data.source")
        check_choice(self.split, Split, "data.split")
        if self.frame_stride < 1:
            raise ValueError(f"data.frame_stride must be >= 1, got {self.frame_stride}")
        check_choice(self.normalization, Normalization, "data.normalization")
        if self.virtual_cameras < 0:
            raise ValueError(f"data.virtual_cameras must be >= 0, got {self.virtual_cameras}")
        if not self.fixed_cameras and self.virtual_cameras == 0:
            raise ValueError("data.fixed_cameras = false needs data.virtual_cameras > 0")
        check_choice(self.det_noise, DetNoise, "data.det_noise")
        check_choice(self.body_shape, BodyShapeKind, "data.body_shape")
        if not 0.5 <= self.camera_height_max <= 10.0:
            raise ValueError(f"data.camera_height_max must be between 0.5 and 10 metres, got "
                             f"{self.camera_height_max}")
        if not 0 <= self.knee_opening <= 45:
            raise ValueError(f"data.knee_opening must be between 0 and 45 degrees, got "
                             f"{self.knee_opening}")
        if self.body_shape != "none" and self.virtual_cameras == 0:
            raise ValueError("data.body_shape = 'varied' needs data.virtual_cameras > 0 (only the "
                             "views a run projects itself are reshaped)")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule. The defaults are the schedule every benchmark row was trained with
    (chosen on val, docs/DESIGN.md): docs/PAPER.md section 6 (Adam with AMSGrad, lr 1e-3 decayed by
    0.95 per epoch, 20 epochs) with batch 256 (85 steps per epoch at batch 1024 were too few for
    the ~100k-sample training set) and batch-norm momentum decayed to 0.01 (0.001 froze the
    running statistics ~2 epochs behind the weights)."""

    epochs: int = 20
    """Passes over the training samples."""
    batch_size: int = 256
    """Samples per step."""
    lr: float = 1e-3
    """Initial Adam learning rate."""
    lr_decay: float = 0.95
    """Learning-rate factor applied after every epoch."""
    amsgrad: bool = True
    """Use AMSGrad."""
    weight_decay: float = 0.0
    """L2 penalty."""
    bn_momentum_start: float = 0.1
    """Batch-norm momentum at epoch 0 ..."""
    bn_momentum_end: float = 0.01
    """... decayed exponentially to this at the last epoch."""
    loss: Loss = "mpjpe"
    """'mpjpe' or 'l1' on root-relative 3D (metres)."""
    flip_augment: bool = True
    """Random horizontal flips of input and target in training."""
    flip_test: bool = True
    """Flip test-time augmentation in validation."""
    seed: int = 1234
    """Seeds model initialisation, sample order, flips and dropout."""
    threads: int = 2
    """``torch.set_num_threads``."""
    max_samples: int = 0
    """Cap on training samples per epoch (0: all); for smoke tests."""
    validate_every: int = 1
    """Validate on the val subject every n epochs (split 'val' only; 0: never)."""
    grad_clip: float = 0.0
    """Clip the gradient norm (0: off)."""
    tensorboard: bool = False
    """Write TensorBoard scalars (needs the 'tensorboard' extra)."""
    device: Device = "auto"
    """'auto' (CUDA when available), 'cpu' or 'cuda'."""
    amp: bool = False
    """bf16 autocast on CUDA (ignored on the CPU)."""
    sync_bn: bool = True
    """Synchronise batch-norm statistics across processes in distributed training."""
    precise_bn_batches: int = 0
    """After the last epoch, re-estimate every batch norm's running statistics over this many
    training batches with the final weights ("precise BN", models/bn.py; 0: off)."""
    gate_l1: float = 0.0
    """Sparsity pressure on the hop gates of a ``model.grading = "gated"`` network (network
    slimming's L1 on scales): adds ``gate_l1`` x the mean gate to the loss (metres), so gates a
    group does not need shrink and the widths read off them (``skelgnn analyze grading``) can
    differ from the starting ones. 0: off."""
    balance_knees: float = 0.0
    """Draw each epoch's samples with weights ``frequency ** -balance_knees`` of the sample's knee
    angle (the mean of both knees of its 3D target, 5 degree bins; with replacement), so the rare
    straight-legged poses of the mocap are seen more often: 0 (the default) keeps the uniform
    order, 1 flattens the knee-angle distribution. Needs a skeleton with both knees."""
    init_weights: str = ""
    """Start from the weights of this checkpoint (same model config; fine-tuning, e.g. the
    footage checkpoints from the benchmark ones) instead of a random initialisation ("": off).
    A resumed run keeps its own weights."""

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"train.batch_size must be >= 2 (batch norm), got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"train.lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"train.weight_decay must be a finite number >= 0, "
                             f"got {self.weight_decay}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise ValueError(f"train.grad_clip must be a finite number >= 0 (0: off), "
                             f"got {self.grad_clip}")
        if not (math.isfinite(self.balance_knees) and 0 <= self.balance_knees <= 1):
            raise ValueError(f"train.balance_knees must be between 0 (off) and 1, "
                             f"got {self.balance_knees}")
        if not (math.isfinite(self.gate_l1) and self.gate_l1 >= 0):
            raise ValueError(f"train.gate_l1 must be a finite number >= 0 (0: off), "
                             f"got {self.gate_l1}")
        if not 0 <= self.seed < MAX_SEED:
            raise ValueError(f"train.seed must be an integer in [0, 2**63), got {self.seed}")
        if self.max_samples < 0 or self.max_samples == 1:
            raise ValueError(f"train.max_samples must be 0 (all) or >= 2 (batch norm needs two "
                             f"samples per step), got {self.max_samples}")
        if self.validate_every < 0:
            raise ValueError(f"train.validate_every must be >= 0 (0: never), "
                             f"got {self.validate_every}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        check_choice(self.loss, Loss, "train.loss")
        check_choice(self.device, Device, "train.device")
        if not 1 <= self.threads <= max_threads():
            raise ValueError(f"train.threads must be between 1 and {max_threads()} (4 x the "
                             f"{os.cpu_count() or 1} CPUs of this machine), got {self.threads}")
        if self.precise_bn_batches < 0:
            raise ValueError(f"train.precise_bn_batches must be >= 0, got "
                             f"{self.precise_bn_batches}")
        for name in ("bn_momentum_start", "bn_momentum_end"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"train.{name} must be in (0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class ExperimentConfig:
    """Model, data and schedule of one run."""

    model: ModelConfig = dataclasses.field(default_factory=lambda: PRESETS["skelgnn-1f"])
    """The model's config dataclass."""
    preset: str = "skelgnn-1f"
    """Name of the preset the model config started from (for reports)."""
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (stored in checkpoints and ``config.json``)."""
        return {"preset": self.preset, "model": config_to_dict(self.model),
                "data": dataclasses.asdict(self.data), "train": dataclasses.asdict(self.train)}


def _suggest(key: str, valid: Sequence[str]) -> str:
    hint = difflib.get_close_matches(key, list(valid), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def _check_keys(section: str, values: Mapping[str, Any], valid: Sequence[str]) -> None:
    for key in values:
        if key not in valid:
            raise ValueError(f"unknown config key '{section}.{key}'{_suggest(key, valid)}; "
                             f"valid keys: {sorted(valid)}")


def _init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _coerce(cls: type, values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Convert lists to tuples and check scalar types against the dataclass defaults."""
    out: dict[str, Any] = {}
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    for k, v in values.items():
        f = defaults[k]
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(default, bool) and not isinstance(v, bool):
            raise ValueError(f"{section}.{k} must be true or false, got {v!r}")
        if isinstance(v, bool) and not isinstance(default, bool) and default is not None:
            # bool is a subclass of int: without this, train.epochs=true would pass as 1
            raise ValueError(f"{section}.{k} must be of type {type(default).__name__}, got {v!r}")
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(v, float) \
                and v.is_integer():
            v = int(v)
        if default is not None and type(default) in (int, float, str, tuple) \
                and not isinstance(v, type(default)):
            raise ValueError(f"{section}.{k} must be of type {type(default).__name__}, got {v!r}")
        out[k] = v
    return out


def experiment_from_dict(raw: Mapping[str, Any]) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig` from nested plain values (a parsed TOML file or the
    output of :meth:`ExperimentConfig.to_dict`)."""
    raw = dict(raw)
    _check_keys("<top>", raw, ["model", "data", "train", "preset"])
    for section in ("model", "data", "train"):
        if section in raw and not isinstance(raw[section], Mapping):
            raise ValueError(f"{section!r} must be a table of settings (a [{section}] section), "
                             f"found {raw[section]!r}")
    model_raw = dict(raw.get("model", {}))
    preset = model_raw.pop("preset", raw.get("preset", "skelgnn-1f"))
    if "arch" in model_raw:  # a full model dict (from a checkpoint)
        model = config_from_dict(model_raw)
    else:
        if preset not in PRESETS:
            raise ValueError(f"unknown model preset {preset!r}{_suggest(preset, list(PRESETS))}; "
                             f"known: {sorted(PRESETS)}")
        base = PRESETS[preset]
        _check_keys("model", model_raw, _init_fields(type(base)))
        model = dataclasses.replace(base, **_coerce(type(base), model_raw, "model"))
    data_raw = dict(raw.get("data", {}))
    _check_keys("data", data_raw, _init_fields(DataConfig))
    train_raw = dict(raw.get("train", {}))
    _check_keys("train", train_raw, _init_fields(TrainConfig))
    return ExperimentConfig(model=model, preset=str(preset),
                            data=DataConfig(**_coerce(DataConfig, data_raw, "data")),
                            train=TrainConfig(**_coerce(TrainConfig, train_raw, "train")))


def _parse_value(text: str) -> Any:
    """A ``--set`` value as TOML would read it (numbers, booleans, lists, strings)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text  # bare string


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides to nested plain values."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--set expects section.key=value (e.g. train.lr=5e-4), got {item!r}")
        dotted, value = item.split("=", 1)
        section, key = dotted.strip().split(".", 1)
        if section not in ("model", "data", "train"):
            raise ValueError(f"--set {item!r}: unknown section {section!r}"
                             f"{_suggest(section, ['model', 'data', 'train'])}; "
                             "use model., data. or train.")
        out.setdefault(section, {})[key.strip()] = _parse_value(value.strip())
    return out


def load_config(path: Optional[str | Path], overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a TOML config (or start from the defaults when ``path`` is None) and apply
    ``--set`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"{p}: {p.stat().st_size:,} bytes, over the {MAX_CONFIG_BYTES:,} a "
                             "config file may have; not a config")
        try:
            raw = tomllib.loads(p.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{p}: not valid TOML: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{p}: not valid TOML: {exc}") from None
        except RecursionError:
            raise ValueError(f"{p}: not valid TOML: nested too deeply") from None
    cfg = experiment_from_dict(apply_overrides(raw, overrides))
    from skelgnn.models.checkpoint import check_model_size

    check_model_size(cfg.model, path if path is not None and not overrides else
                     "the config" + (f" {path}" if path is not None else "") +
                     (" with --set" if overrides else ""))
    return cfg
