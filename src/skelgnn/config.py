"""Experiment configuration: typed, frozen dataclasses are the truth; TOML files and ``--set``
overrides only change their fields.

A config file names a model preset and may override any of its fields::

    [model]
    preset = "skelgnn-1f"
    channels = 128          # any field of the preset's config dataclass

    [data]
    source = "det"
    split = "val"           # "val": train on train - val, validate on val (model selection)
                            # "test": train on every train subject (the reported rows)

    [train]
    epochs = 20
    lr = 1e-3

Unknown keys are rejected with the closest valid name as a suggestion.
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from skelgnn.models import PRESETS, ModelConfig, config_from_dict, config_to_dict

__all__ = ["DataConfig", "TrainConfig", "ExperimentConfig", "load_config", "apply_overrides",
           "experiment_from_dict"]


@dataclass(frozen=True)
class DataConfig:
    """Which data a run trains and validates on."""

    root: Optional[str] = None
    """Benchmark directory (None: ``../shared/data/cmu`` or ``$SKELGNN_DATA``)."""
    source: str = "det"
    """2D source: 'det' (synthetic detector) or 'gt' (projected ground truth)."""
    split: str = "val"
    """'val': train on train minus val and validate on val; 'test': train on all train subjects."""
    frame_stride: int = 2
    """Use every n-th training frame (the benchmark protocol allows 1 or 2)."""
    normalization: str = "screen"
    """2D normalisation of the codec: 'screen' or 'box'."""

    def __post_init__(self) -> None:
        if self.root is not None and not isinstance(self.root, str):
            raise ValueError(f"data.root must be a directory path (a string), got {self.root!r}")
        if self.source not in ("det", "gt"):
            raise ValueError(f"data.source must be 'det' or 'gt', got {self.source!r}")
        if self.split not in ("val", "test"):
            raise ValueError(f"data.split must be 'val' or 'test', got {self.split!r}")
        if self.frame_stride < 1:
            raise ValueError(f"data.frame_stride must be >= 1, got {self.frame_stride}")
        if self.normalization not in ("screen", "box"):
            raise ValueError(f"data.normalization must be 'screen' or 'box', "
                             f"got {self.normalization!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule (defaults: PAPER.md section 6)."""

    epochs: int = 20
    """Passes over the training samples."""
    batch_size: int = 1024
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
    bn_momentum_end: float = 0.001
    """... decayed exponentially to this at the last epoch."""
    loss: str = "mpjpe"
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
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu' or 'cuda'."""
    amp: bool = False
    """bf16 autocast on CUDA (ignored on the CPU)."""
    sync_bn: bool = True
    """Synchronise batch-norm statistics across processes in distributed training."""
    precise_bn_batches: int = 0
    """After the last epoch, re-estimate every batch norm's running statistics over this many
    training batches with the final weights ("precise BN", models/bn.py; 0: off)."""

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"train.batch_size must be >= 2 (batch norm), got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.loss not in ("mpjpe", "l1"):
            raise ValueError(f"train.loss must be 'mpjpe' or 'l1', got {self.loss!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"train.device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.precise_bn_batches < 0:
            raise ValueError(f"train.precise_bn_batches must be >= 0, got "
                             f"{self.precise_bn_batches}")
        if self.threads < 1:
            raise ValueError(f"train.threads must be >= 1, got {self.threads}")
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
    except tomllib.TOMLDecodeError:
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
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{p}: not valid TOML: {exc}") from None
    return experiment_from_dict(apply_overrides(raw, overrides))
