"""Checkpoints: plain tensors and values, written atomically, read with ``weights_only=True``.

A checkpoint is a dict::

    {"format": "skelgnn-checkpoint/1", "config": ExperimentConfig.to_dict(),
     "model_config": config_to_dict(model.config), "codec": PoseCodec.to_dict(),
     "model": state_dict, "epoch": completed epochs, "history": [per-epoch dicts],
     "optimizer": optimiser state (optional), "rng": {"torch": uint8 tensor} (optional)}

Writing goes to a temporary file in the same directory, is flushed to disk, then renamed over the
target, so a crash or a full disk never leaves a half-written checkpoint under the real name.

A training run keeps two checkpoints (:func:`save_rotating`): ``last.pt`` after the last completed
epoch and ``prev.pt``, the one before it, which :func:`load_resume_state` falls back to when
``last.pt`` is damaged. :func:`export_weights` writes the slim, weights-only copy that ships.
"""
from __future__ import annotations

import io
import logging
import os
import pickle
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping, Optional

import torch

from skelgnn.data.codec import PoseCodec
from skelgnn.fileio import WriteError, atomic_open
from skelgnn.models import (LifterModel, ModelConfig, build_model, config_from_dict, config_to_dict,
                            count_parameters)

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "load_model", "build_payload",
           "save_rotating", "load_resume_state", "export_weights", "check_model_fits",
           "MAX_PARAMETERS", "MAX_STRUCTURE", "MAX_CHECKPOINT_BYTES", "check_checkpoint_file",
           "check_finite_weights", "check_model_size", "check_weight_tensors", "MAX_FILTER_WIDTH",
           "MAX_WEIGHT_MAGNITUDE", "WEIGHT_DTYPES"]

log = logging.getLogger(__name__)

FORMAT = "skelgnn-checkpoint/1"
_REQUIRED = ("format", "model_config", "codec", "model")

MAX_PARAMETERS = 100_000_000
"""The largest model a checkpoint may ask for (the biggest preset has a few million)."""

MAX_CHECKPOINT_BYTES = 2 << 30
"""The largest checkpoint file read, and the most its zip members may declare in all (2 GiB: a
model at :data:`MAX_PARAMETERS` with its optimiser state is about 1.2 GB)."""

MAX_STRUCTURE = {"blocks": 32, "num_joints": 128, "filter_widths": 8, "max_hop": 32,
                 "channels": 4096, "global_channels": 4096, "hidden": 4096, "layers": 64}
"""Bounds on the config fields that set how many modules are built and how large
(``filter_widths``: how many temporal stages), checked before even an empty model is built, for
checkpoints and training configs alike (:func:`check_model_size`). The largest skeleton in use
has 33 joints and the largest preset 3 blocks of 96 channels; 128 joints build in about 1.5 s."""

MAX_FILTER_WIDTH = 9
"""The widest temporal filter of one stage (the presets use 3)."""

MAX_WEIGHT_MAGNITUDE = 1e5
"""The largest absolute value a stored weight may hold (the shipped checkpoints' largest is
2.3); far larger values come from flipped exponent bits or a crafted file."""

WEIGHT_DTYPES = (torch.float16, torch.float32, torch.float64)
"""The dtypes a floating-point weight may be stored in (integer buffers stay integers)."""


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file, fsync, rename).

    Raises:
        WriteError: the directory is not writable or the disk is full (one line naming
            ``path``); an existing file at ``path`` is left untouched.
    """
    path = Path(path)
    # serialised in memory, then written: torch's zip writer turns a full disk into a
    # RuntimeError (a traceback); a plain write raises the OSError atomic_open reports in one line
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_open(path) as fh:
        fh.write(buffer.getbuffer())
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is over the size bounds (:func:`check_checkpoint_file`),
            truncated, corrupt, holds objects ``weights_only`` refuses, is not a skelgnn
            checkpoint, or lacks a key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    check_checkpoint_file(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global: say what, not torch's
        # advice to retry with weights_only=False
        found = re.search(r"WeightsUnpickler error: ([^\n]*?)(\. Please|\n|$)", str(exc))
        what = found.group(1) if found else type(exc).__name__
        raise ValueError(f"{path}: cannot read checkpoint: it holds more than tensors and plain "
                         f"values ({what}); refused") from None
    except Exception as exc:  # torch raises many types for damaged files
        raise ValueError(f"{path}: cannot read checkpoint (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a skelgnn checkpoint (expected format {FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {missing}")
    return data


def check_checkpoint_file(path: str | Path) -> None:
    """Refuse, before ``torch.load`` reads it, a checkpoint torch would make allocate more than
    :data:`MAX_CHECKPOINT_BYTES`: a larger file, a zip whose members declare more in all, or a
    compressed member (``torch.save`` stores members uncompressed; a compressed one could
    inflate past its declared size). A file that is not a zip archive is not a checkpoint
    ``torch.save`` writes (zip since torch 1.6) and is refused too.

    Raises:
        ValueError: naming ``path`` and the bound.
    """
    size = os.path.getsize(path)
    if size > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{path}: {size:,} bytes, over the checkpoint bound of "
                         f"{MAX_CHECKPOINT_BYTES:,}; not a checkpoint of this package")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read checkpoint (truncated or corrupt?): not the zip "
                         f"archive torch.save writes ({type(exc).__name__}: {exc})") from None
    declared = sum(i.file_size for i in infos)
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if declared > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{path}: its members declare {declared:,} bytes, over the checkpoint "
                         f"bound of {MAX_CHECKPOINT_BYTES:,}; the file is corrupt or crafted")
    if packed:
        raise ValueError(f"{path}: member {packed[0]} is compressed, which torch.save never "
                         "does; the file is corrupt or crafted")
    try:  # every member's CRC-32: one flipped bit in a weight is a corrupt file, not a model
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: cannot read checkpoint (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None
    if bad is not None:
        raise ValueError(f"{path}: member {bad} fails its CRC-32 check; the checkpoint is "
                         "corrupt (a damaged copy or disk): restore it or retrain")


def check_model_fits(config: ModelConfig, weights: Any, origin: str | Path) -> None:
    """Refuse a checkpoint whose model config would build something absurd, or whose stored
    weights do not have the shapes that config gives, before a real model is allocated: the
    structure is bounded by :data:`MAX_STRUCTURE`, then the model is built on torch's ``meta``
    device (shapes only, no memory), its parameters counted against :data:`MAX_PARAMETERS`
    and the shape of every ``state_dict`` entry compared with the stored one of that name.

    Raises:
        ValueError: naming ``origin`` and what is wrong.
    """
    shell = check_model_size(config, origin)
    if not isinstance(weights, dict):
        raise ValueError(f"{origin}: the stored weights are not a dict of tensors")
    expected = {k: tuple(v.shape) for k, v in shell.state_dict().items()}
    stored = {k: tuple(getattr(v, "shape", ())) for k, v in weights.items()}
    # names alone may differ (models rename legacy keys when loading); load_state_dict checks
    # them once the model, now known to be of a sane size, is built
    wrong = [k for k in expected if k in stored and stored[k] != expected[k]]
    if wrong:
        parts = [f"{k} is {stored[k]}, the config gives {expected[k]}" for k in wrong[:3]]
        raise ValueError(f"{origin}: the stored weights do not match the stored model config "
                         f"({'; '.join(parts)})")
    check_weight_tensors(weights, origin, {k: v.dtype for k, v in shell.state_dict().items()})


def check_model_size(config: ModelConfig, origin: str | Path) -> torch.nn.Module:
    """Refuse a model config that would build something absurd -- a field over
    :data:`MAX_STRUCTURE`, a filter wider than :data:`MAX_FILTER_WIDTH`, more than
    :data:`MAX_PARAMETERS` parameters -- before any memory is allocated: the fields are checked
    first, then the model is built on torch's ``meta`` device (shapes only) and counted.

    Returns:
        the ``meta`` model (its ``state_dict`` gives the expected shapes and dtypes).

    Raises:
        ValueError: naming ``origin`` (a checkpoint or ``--set``) and the field over its bound.
    """
    for field, bound in MAX_STRUCTURE.items():
        value = getattr(config, field, None)
        size = len(value) if isinstance(value, tuple) else value
        if isinstance(size, int) and size > bound:
            raise ValueError(f"{origin}: model config {field}={value!r} exceeds the bound {bound} "
                             "(docs/USAGE.md, 'Data formats and safety')")
    widths = getattr(config, "filter_widths", ())
    if isinstance(widths, tuple) and any(isinstance(w, int) and w > MAX_FILTER_WIDTH
                                         for w in widths):
        raise ValueError(f"{origin}: model config filter_widths={widths!r} has a filter wider "
                         f"than the bound {MAX_FILTER_WIDTH}")
    with torch.device("meta"):
        shell = build_model(config)
    params = count_parameters(shell)
    if params > MAX_PARAMETERS:
        raise ValueError(f"{origin}: the model config asks for {params:,} parameters, over the "
                         f"bound of {MAX_PARAMETERS:,} (docs/USAGE.md, 'Data formats and safety')")
    return shell


def check_weight_tensors(weights: dict[str, Any], origin: str | Path,
                         expected: Optional[Mapping[str, torch.dtype]] = None) -> None:
    """Refuse stored tensors that are not what a saved model holds, before any arithmetic on
    them: a tensor whose shape asks for more elements than its storage holds (a stride-0
    ``expand`` of one number to 1.5e9, which a NaN check would materialise), a weight the model
    keeps in floating point stored in another dtype (int64 weights), or, with ``expected``
    (name -> the model's dtype), an integer buffer stored as a float.

    Raises:
        ValueError: naming ``origin`` and the first such tensor.
    """
    for name, value in weights.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{origin}: weight {name} is a {type(value).__name__}, not a tensor")
        needed = value.numel() * value.element_size()
        if value.numel() > 1 and (any(s == 0 for s, n in zip(value.stride(), value.shape) if n > 1)
                                  or needed > value.untyped_storage().nbytes()):
            raise ValueError(f"{origin}: weight {name} of shape {tuple(value.shape)} is backed by "
                             f"{value.untyped_storage().nbytes():,} stored bytes (a stride-0 or "
                             "overlapping view); the file is corrupt or crafted")
        want = None if expected is None else expected.get(name)
        if want is not None and want.is_floating_point and value.dtype not in WEIGHT_DTYPES:
            raise ValueError(f"{origin}: weight {name} is stored as {value.dtype}; a model's "
                             "weights are float16, float32 or float64")
        if want is not None and not want.is_floating_point and value.is_floating_point():
            raise ValueError(f"{origin}: buffer {name} is stored as {value.dtype}; the model "
                             f"keeps it as {want}")


def check_finite_weights(weights: dict[str, Any], origin: str | Path) -> None:
    """Refuse weights holding NaN or infinity (a diverged run, a corrupt file): every output
    of such a model is NaN, which ``export`` would ship and ``evaluate`` would fail on deep in
    linear algebra.

    Raises:
        ValueError: naming ``origin``, the first tensor with non-finite values and how many.
    """
    for name, value in weights.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise ValueError(f"{origin}: weight {name} holds {bad} non-finite value(s) (NaN "
                                 f"or inf) of {value.numel()}; the checkpoint comes from a "
                                 "diverged run or is corrupt")
            peak = float(value.abs().max()) if value.numel() else 0.0
            if peak > MAX_WEIGHT_MAGNITUDE:
                raise ValueError(f"{origin}: weight {name} holds {peak:.3g}, over the plausible "
                                 f"bound of {MAX_WEIGHT_MAGNITUDE:g} for a trained model; the "
                                 "checkpoint is corrupt (a flipped bit?) or crafted")


def load_model(checkpoint: str | Path) -> tuple[LifterModel, PoseCodec, dict[str, Any]]:
    """Model (eval mode, CPU), codec and a small info dict (``preset``, ``source``, ``arch``,
    ``epoch``, ``config``) from a checkpoint read with ``weights_only=True``.

    Raises:
        FileNotFoundError: no file at ``checkpoint``.
        ValueError: an unreadable checkpoint, a config asking for an absurd model, weights
            that do not fit the stored config (:func:`check_model_fits`, before building), or
            non-finite weights (:func:`check_finite_weights`).
    """
    state = load_checkpoint(checkpoint)
    try:
        config = config_from_dict(state["model_config"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{checkpoint}: bad model config: {exc}") from None
    try:
        check_model_fits(config, state["model"], checkpoint)
        check_finite_weights(state["model"], checkpoint)
        model = build_model(config)
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{checkpoint}: weights do not match the stored model config: {exc}") \
            from None
    model.eval()
    codec = PoseCodec.from_dict(state["codec"])
    info = {"preset": state.get("preset", "?"), "source": state.get("source", "det"),
            "arch": state["model_config"].get("arch", "?"), "epoch": state.get("epoch"),
            "config": state.get("config", {})}
    return model, codec, info


def build_payload(config: Mapping[str, Any], model: LifterModel, codec: PoseCodec, epoch: int,
                  history: list[dict[str, Any]],
                  opt: Optional[torch.optim.Optimizer] = None) -> dict[str, Any]:
    """The checkpoint dict of the module docstring for ``model`` after ``epoch`` epochs (weights
    copied to the CPU); with ``opt``, also the optimiser state and torch's RNG state (resumable).

    ``config`` is the experiment config as plain data (``ExperimentConfig.to_dict()``: ``preset``,
    ``model``, ``data``, ``train``), so that models never import the training stage."""
    out: dict[str, Any] = {
        "format": FORMAT, "config": dict(config), "preset": config["preset"],
        "model_config": config_to_dict(model.config), "codec": codec.to_dict(),
        "source": config["data"]["source"],
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "epoch": epoch,
        "history": history,
    }
    if opt is not None:
        out["optimizer"] = opt.state_dict()
        out["rng"] = {"torch": torch.get_rng_state()}
    return out


def save_rotating(payload: dict[str, Any], last: Path) -> None:
    """Write ``last.pt`` atomically, keeping the checkpoint it replaces as ``prev.pt``.

    Raises:
        WriteError: the write failed (disk full, no permission); ``last.pt`` is untouched.
    """
    new = last.with_name("next.pt")
    try:
        save_checkpoint(payload, new)
        if last.exists():
            os.replace(last, last.with_name("prev.pt"))
        os.replace(new, last)
    except (OSError, WriteError) as exc:
        reason = exc.reason if isinstance(exc, WriteError) else exc.strerror or exc
        raise WriteError(f"cannot write checkpoint {last}: {reason}; the previous "
                         "checkpoint is intact (free space or fix permissions, then --resume)") \
            from None


def load_resume_state(last: Path) -> tuple[dict[str, Any], Path]:
    """``last.pt``, or ``prev.pt`` when ``last.pt`` is missing or damaged; with the path read."""
    prev = last.with_name("prev.pt")
    try:
        return load_checkpoint(last), last
    except (ValueError, FileNotFoundError) as exc:
        if not prev.exists():
            raise
        log.warning("%s; resuming from the previous checkpoint %s", exc, prev)
        return load_checkpoint(prev), prev


def export_weights(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Write a slim copy of a checkpoint (weights, config, codec; no optimiser state).

    Args:
        half: store the large floating-point weights as float16 (about half the size; small
            tensors and the input embedding stay float32, :func:`_store_half`). They are
            cast back to the model's float32 when loaded (``load_state_dict`` copies across
            dtypes), so inference still runs in float32; only the stored values are rounded
            (relative error <= 2^-11). Check the outputs against the float32 checkpoint
            (``benchmarks/half_precision.py``) before shipping.
    """
    state = load_checkpoint(checkpoint)
    slim = {k: v for k, v in state.items() if k not in ("optimizer", "rng")}
    if half:
        slim["model"] = {k: v.half() if _store_half(k, v) else v for k, v in state["model"].items()}
        slim["weights_dtype"] = "float16"
    return save_checkpoint(slim, out)


HALF_MIN_ELEMENTS = 20_000
""":func:`export_weights` keeps tensors of at most this many elements in float32: biases, norms and
small maps cost little space and their rounding moves every output."""


def _store_half(name: str, value: torch.Tensor) -> bool:
    """Whether ``export_weights(half=True)`` rounds this tensor to float16: large floating-point
    tensors except the input embedding (``embed.*``), whose error reaches every later layer. On the
    footage checkpoint this cut the largest output change from 1.27 mm (everything in float16) to
    0.07 mm, for 0.5 MiB."""
    return (torch.is_floating_point(value) and value.numel() > HALF_MIN_ELEMENTS
            and not name.startswith("embed."))
