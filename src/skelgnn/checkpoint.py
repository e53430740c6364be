"""Checkpoints: plain tensors and values, written atomically, read with ``weights_only=True``.

A checkpoint is a dict::

    {"format": "skelgnn-checkpoint/1", "config": ExperimentConfig.to_dict(),
     "model_config": config_to_dict(model.config), "codec": PoseCodec.to_dict(),
     "model": state_dict, "epoch": completed epochs, "history": [per-epoch dicts],
     "optimizer": optimiser state (optional), "rng": {"torch": uint8 tensor} (optional)}

Writing goes to a temporary file in the same directory, is flushed to disk, then renamed over the
target, so a crash or a full disk never leaves a half-written checkpoint under the real name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from skelgnn.fileio import atomic_open

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint"]

FORMAT = "skelgnn-checkpoint/1"
_REQUIRED = ("format", "model_config", "codec", "model")


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file, fsync, rename).

    Raises:
        OSError: the directory is not writable or the disk is full; an existing file at ``path``
            is left untouched.
    """
    path = Path(path)
    with atomic_open(path) as fh:
        torch.save(payload, fh)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is truncated, corrupt, not a skelgnn checkpoint, or lacks a key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise ValueError(f"{path}: cannot read checkpoint (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a skelgnn checkpoint (expected format {FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {missing}")
    return data
