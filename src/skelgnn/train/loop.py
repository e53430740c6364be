"""The training loop shared by every model of the package.

One function, :func:`train`, runs an :class:`~skelgnn.train.config.ExperimentConfig` into a run
directory::

    run_dir/config.json      resolved config
    run_dir/train.log        log file
    run_dir/last.pt          checkpoint after the last completed epoch (atomic write)
    run_dir/history.json     per-epoch loss, learning rate, validation figures, seconds

A new run (no ``resume``) refuses a directory that holds any of these (or ``prev.pt``, the
checkpoint a crash between the rotating renames can leave alone): ``--resume`` continues a run,
and a user's own ``config.json`` is never overwritten.

Determinism: the model is initialised from ``seed``; the sample order and flips of epoch ``e`` come
from ``numpy.random.default_rng((seed, e))`` and dropout from ``torch.manual_seed`` re-seeded from
``(seed, e)`` at every epoch start, so a resumed run reaches the same weights as an uninterrupted
one, and two runs with one seed reach the same weights, bit for bit, on the same machine with
``train.threads=1`` (``tests/test_robust.py::test_same_seed_same_weights_on_cpu``). With more
threads they do not: CPU kernels split their sums across threads differently from run to run
(two 2-epoch runs at 2 threads differed in every tensor), and GPUs add their own
non-deterministic kernels.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from skelgnn.models.checkpoint import build_payload, load_resume_state, save_rotating
from skelgnn.progress import ProgressMode, resolve_mode, track
from skelgnn.data.codec import PoseCodec, root_relative
from skelgnn.train.config import ExperimentConfig, experiment_from_dict
from skelgnn.data import (WindowDataset, load_benchmark, read_skeleton, read_split,
                          resolve_data_dir)
from skelgnn.evaluate.benchmark import score
from skelgnn.fileio import atomic_write_text, open_append_nofollow, open_lock_file, write_error
from skelgnn.layers.grading import gate_penalty
from skelgnn.train.distributed import DistContext, convert_sync_batchnorm, distributed_context
from skelgnn.models import LifterModel, build_model, count_parameters, for_skeleton
from skelgnn.models.predict import predict_sequences
from skelgnn.skeleton import Skeleton
from skelgnn.train.batches import bn_input_batches, epoch_batches

__all__ = ["train", "TrainingDiverged", "TrainResult", "subjects_for", "release_freed_memory"]

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    checkpoint: Path
    epochs: int
    minutes: float
    history: list[dict[str, Any]]


def subjects_for(split_file: Path, split: str) -> tuple[list[str], list[str]]:
    """Training and validation subjects for ``split`` ('val' holds out the val subjects)."""
    s = read_split(split_file)
    train = list(s["train"])
    val = list(s.get("val", []))
    if split == "val":
        if not val:
            raise ValueError(f"{split_file} has no 'val' subjects; use data.split='test'")
        return [x for x in train if x not in val], val
    return train, []


def _set_bn_momentum(model: torch.nn.Module, momentum: float) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum


def _bn_momentum(cfg: ExperimentConfig, epoch: int) -> float:
    t = cfg.train
    if t.epochs == 1:
        return t.bn_momentum_start
    frac = epoch / (t.epochs - 1)
    return t.bn_momentum_start * (t.bn_momentum_end / t.bn_momentum_start) ** frac


def _loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    pred = root_relative(pred)  # as evaluated
    if kind == "l1":
        return (pred - target).abs().mean()
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def _tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("train.tensorboard=true needs TensorBoard: pip install 'skelgnn[tensorboard]'") \
            from None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _setup_logging(run_dir: Path) -> logging.Handler:
    # never through a link: a dangling train.log link would create a file outside the run
    handler = logging.StreamHandler(open_append_nofollow(run_dir / "train.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("skelgnn").addHandler(handler)
    logging.getLogger("skelgnn").setLevel(logging.INFO)
    return handler


def train(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False,
          progress: ProgressMode = True, data_dir: Optional[str | Path] = None,
          epochs: Optional[int] = None) -> TrainResult:
    """Train ``cfg`` into ``run_dir``.

    Under ``torchrun`` (``WORLD_SIZE > 1``) the run is data-parallel
    (``DistributedDataParallel``, gloo on CPU, nccl on CUDA): every rank draws the same epoch
    order and takes its slice of each global batch of ``train.batch_size`` samples; only rank 0
    logs and writes files.

    Args:
        cfg: the experiment.
        run_dir: output directory (created). Without ``resume`` it must not already hold a
            checkpoint (``last.pt`` or ``prev.pt``) nor any other file a run writes
            (:data:`RUN_FILES`), so nothing the user had is overwritten. A second live run on
            the same directory is refused (an OS file lock, released when a process dies, so a
            killed run never blocks ``--resume``).
        resume: continue from ``run_dir/last.pt`` (falling back to ``prev.pt``, the checkpoint
            before it, when ``last.pt`` is damaged) with the config saved there; only the epoch
            count may change (see ``epochs``).
        progress: progress bars, or log lines (:mod:`skelgnn.progress`).
        data_dir: benchmark directory overriding ``cfg.data.root``.
        epochs: with ``resume``, train to this many epochs in total instead of the saved
            ``train.epochs`` (``--set train.epochs=N``). Without it, ``cfg.train.epochs`` is
            honoured when ``cfg`` differs from the saved config in nothing else.

    Raises:
        TrainingDiverged: NaN / infinite loss (message names epoch and step).
        FileExistsError: ``resume`` is off and ``run_dir`` already holds a run or a file a run
            would write.
        ValueError: another live run holds ``run_dir``, a checkpoint cannot be written, or
            ``resume`` finds a weights-only checkpoint or an epoch count below the epochs done.
    """
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    ctx = distributed_context(cfg.train.device)
    try:
        if not resume:
            _refuse_used_run_dir(run_dir)
        if resume and not last.exists() and not (run_dir / "prev.pt").exists():
            cfg = _restart_state(run_dir, epochs)
            resume = False
        ctx.barrier()  # every rank has checked before rank 0 writes anything
        lock = None
        handler = None
        if ctx.is_main:
            try:  # a read-only or full file system: one line naming the directory, no work done
                run_dir.mkdir(parents=True, exist_ok=True)
                lock = _lock_run_dir(run_dir)
                handler = _setup_logging(run_dir)
            except BaseException as exc:
                if lock is not None:
                    lock.close()
                if isinstance(exc, OSError):
                    raise write_error(run_dir, exc) from None
                raise
        try:
            return _train(cfg, run_dir, last, resume, progress if ctx.is_main else "off",
                          data_dir, ctx, epochs)
        finally:
            if handler is not None:
                logging.getLogger("skelgnn").removeHandler(handler)
                handler.close()
            if lock is not None:
                lock.close()  # releases the flock
    finally:
        ctx.close()


RUN_FILES = ("last.pt", "prev.pt", "config.json", "history.json", "train.log", "tensorboard")
"""What a run writes into its directory; a new run (no ``resume``) refuses a directory holding any."""


def _restart_state(run_dir: Path, epochs: Optional[int]) -> ExperimentConfig:
    """``--resume`` on a run stopped before its first checkpoint (``config.json`` but no
    ``last.pt`` / ``prev.pt``): the saved config, to train from epoch 0 again.

    Raises:
        FileNotFoundError: ``run_dir`` holds no run at all (no ``config.json``).
        ValueError: the saved ``config.json`` cannot be read.
    """
    saved_path = run_dir / "config.json"
    if not saved_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {run_dir / 'last.pt'} and no "
                                f"config.json in {run_dir}: no run to resume there")
    try:
        saved = experiment_from_dict(json.loads(saved_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(f"--resume: {saved_path} cannot be read ({exc}); move the run directory "
                         "away and start a new run") from None
    if epochs is not None:
        saved = dataclasses.replace(saved, train=dataclasses.replace(saved.train, epochs=epochs))
    log.warning("--resume: %s holds no checkpoint (the run stopped before its first epoch "
                "ended); starting it again from epoch 0 with its saved config", run_dir)
    return saved


def _refuse_used_run_dir(run_dir: Path) -> None:
    """Raise ``FileExistsError`` when ``run_dir`` holds a checkpoint (``last.pt`` or the
    ``prev.pt`` a crash between the two renames leaves alone) or any other file a run writes
    (e.g. the user's own ``config.json``), so a new run never overwrites them."""
    for name in ("last.pt", "prev.pt"):
        if (run_dir / name).exists():
            raise FileExistsError(f"{run_dir} already holds a run ({run_dir / name}); pass "
                                  "--resume to continue it or choose another --run-dir")
    taken = [name for name in RUN_FILES[2:] if (run_dir / name).exists()]
    if taken:
        restart = (" (a run stopped before its first checkpoint: pass --resume to start it "
                   "again with its saved config)" if "config.json" in taken else "")
        raise FileExistsError(f"{run_dir} already holds {', '.join(taken)}{restart}; a new run "
                              "would overwrite them: choose another --run-dir or move them away")


def _lock_run_dir(run_dir: Path):
    """Hold an exclusive, non-blocking ``flock`` on ``run_dir/.lock`` for the run's lifetime.
    The lock file is created exclusively and never truncated or followed through a link
    (:func:`skelgnn.fileio.open_lock_file`): a ``.lock`` symbolic link is refused."""
    import fcntl

    fh = os.fdopen(open_lock_file(run_dir / ".lock"), "rb", buffering=0)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ValueError(f"another live training run is using {run_dir}; wait for it to finish "
                         "or choose another --run-dir") from None
    return fh


def release_freed_memory() -> bool:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim(0)``); False where there is no
    glibc. The training loop calls it once the per-sequence records are dropped after building
    the dataset: glibc keeps their pages otherwise (on a Human3.6M-sized set ~500 MiB of RSS for
    nothing, ``benchmarks/memory.py``)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


@dataclass
class _Run:
    """What the steps of one training run share."""

    cfg: ExperimentConfig
    ctx: DistContext
    model: LifterModel
    net: torch.nn.Module  # ``model``, or its DistributedDataParallel wrapper
    opt: torch.optim.Optimizer
    codec: PoseCodec
    last: Path
    progress: ProgressMode
    skeleton: Skeleton  # the data's skeleton: flips in training and the flip test
    sample_weights: Optional[np.ndarray] = None  # train.balance_knees: (N,) probabilities


def _resume_state(cfg: ExperimentConfig, last: Path, resume: bool, epochs: Optional[int] = None
                  ) -> tuple[ExperimentConfig, Optional[dict[str, Any]], Optional[Path]]:
    """The config to run (the saved one when resuming, with the epoch count of ``epochs``, or of
    ``cfg`` when only that differs) and the checkpoint resumed from.

    Raises:
        ValueError: the checkpoint holds no optimiser state (a shipped, weights-only one), or
            the epoch count asked for is below the epochs already done.
    """
    if not resume:
        return cfg, None, None
    state, source = load_resume_state(last)
    if "optimizer" not in state:
        raise ValueError(f"--resume: {source} holds weights only (no optimiser state, like a "
                         "shipped or exported checkpoint), so the run cannot be continued; train "
                         "a new run in another --run-dir")
    saved = experiment_from_dict(state["config"])
    if epochs is None:
        only_epochs = dataclasses.replace(saved, train=dataclasses.replace(
            saved.train, epochs=cfg.train.epochs))
        epochs = cfg.train.epochs if only_epochs.to_dict() == cfg.to_dict() else saved.train.epochs
    if epochs != saved.train.epochs:
        done = int(state.get("epoch", 0))
        if epochs < done:
            raise ValueError(f"--resume: train.epochs={epochs} but {source} has already done "
                             f"{done} epochs")
        log.info("--resume: training to train.epochs=%d (the saved run asked for %d)", epochs,
                 saved.train.epochs)
        saved = dataclasses.replace(saved, train=dataclasses.replace(saved.train, epochs=epochs))
    if saved.to_dict() != cfg.to_dict():
        log.warning("--resume: using the config saved in %s (the given one differs)", source)
    return saved, state, source


def _build_data(cfg: ExperimentConfig, data_dir: Optional[str | Path], receptive_field: int,
                codec: PoseCodec) -> tuple[WindowDataset, Optional[WindowDataset]]:
    """Training windows (every ``frame_stride``-th frame) and, on split 'val' with validation on,
    the stride-1 validation windows."""
    root = resolve_data_dir(data_dir if data_dir is not None else cfg.data.root)
    train_subjects, val_subjects = subjects_for(root / "split.json", cfg.data.split)
    d = cfg.data
    if d.virtual_cameras or d.det_noise != "none" or not d.fixed_cameras:  # training for footage
        from skelgnn.data.virtual import training_records

        records = training_records(root, d.source, train_subjects, d.virtual_cameras,
                                   d.det_noise, d.fixed_cameras, seed=cfg.train.seed,
                                   body_shape=d.body_shape, knee_opening=d.knee_opening,
                                   camera_height_max=d.camera_height_max)
    else:
        records = load_benchmark(root, d.source, subjects=train_subjects)
    train_set = WindowDataset(records, receptive_field, stride=d.frame_stride, codec=codec)
    val_set = None
    if val_subjects and cfg.train.validate_every > 0:
        val_set = WindowDataset(load_benchmark(root, cfg.data.source, subjects=val_subjects),
                                receptive_field, stride=1, codec=codec)
    release_freed_memory()
    return train_set, val_set


def _init_from(model: LifterModel, checkpoint: str) -> None:
    """Load ``checkpoint``'s weights (any float precision) into ``model`` (``train.init_weights``).

    Raises:
        ValueError: the checkpoint holds another model than the config asks for.
    """
    from skelgnn.models.checkpoint import check_finite_weights, load_checkpoint

    weights = load_checkpoint(checkpoint)["model"]
    check_finite_weights(weights, checkpoint)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"train.init_weights: {checkpoint} holds another model than the config "
                         f"asks for ({first})") from None
    log.info("initialised the model from %s", checkpoint)


def _wrap_model(cfg: ExperimentConfig, model: LifterModel, ctx: DistContext,
                state: Optional[dict[str, Any]]
                ) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """Move ``model`` to the rank's device, restore resumed weights, build the optimiser and,
    under ``torchrun``, the synchronised batch norm and DistributedDataParallel wrapper."""
    t_cfg = cfg.train
    if state is not None:
        model.load_state_dict(state["model"])
    elif t_cfg.init_weights:
        _init_from(model, t_cfg.init_weights)
    device = ctx.device
    model.to(device)
    if ctx.world > 1 and t_cfg.sync_bn:
        convert_sync_batchnorm(model)
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg.lr, amsgrad=t_cfg.amsgrad,
                           weight_decay=t_cfg.weight_decay)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
    net: torch.nn.Module = model
    if ctx.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if t_cfg.batch_size % ctx.world:
        raise ValueError(f"train.batch_size={t_cfg.batch_size} must be divisible by the "
                         f"{ctx.world} processes")
    return net, opt


def _train_epoch(run: _Run, train_set: WindowDataset, epoch: int, lr: float) -> tuple[float, int]:
    """One epoch of optimiser steps; the summed loss (metres x samples) and the samples seen,
    both summed over every rank.

    Epoch ``e`` draws its sample order and flips from ``default_rng((seed, e))`` and re-seeds
    torch (dropout) from ``(seed, e)``; each rank takes its slice of every global batch.
    """
    t_cfg, ctx, device = run.cfg.train, run.ctx, run.ctx.device
    for group in run.opt.param_groups:
        group["lr"] = lr
    _set_bn_momentum(run.model, _bn_momentum(run.cfg, epoch))
    n_total = len(train_set)
    n_epoch = min(n_total, t_cfg.max_samples) if t_cfg.max_samples else n_total
    steps = math.ceil(n_epoch / t_cfg.batch_size)
    pin = device.type == "cuda"
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if t_cfg.amp and pin
                else contextlib.nullcontext())
    rng = np.random.default_rng((t_cfg.seed, epoch))
    torch.manual_seed(t_cfg.seed * 100003 + epoch)
    if run.sample_weights is not None:  # train.balance_knees: weighted, with replacement
        order = rng.choice(n_total, size=n_epoch, replace=True, p=run.sample_weights)
    else:
        order = rng.permutation(n_total)[:n_epoch]
    flips = torch.from_numpy(rng.random(n_epoch) < 0.5) if t_cfg.flip_augment else None
    run.model.train()
    loss_sum, seen = 0.0, 0
    t0 = time.perf_counter()
    # (step, idx, x (B, R, J, 2), y (B, J, 3)): this rank's slice, mirrored where flips says
    batches: Any = epoch_batches(train_set, order, t_cfg.batch_size, skeleton=run.skeleton,
                                 flips=flips, rank=ctx.rank, world=ctx.world)
    mode = resolve_mode(run.progress)  # a tqdm bar, or log lines (skelgnn.progress)
    if mode == "bar":
        from tqdm import tqdm

        batches = tqdm(batches, total=steps, desc=f"epoch {epoch + 1}/{t_cfg.epochs}", unit="step",
                       leave=False, dynamic_ncols=True)
    elif mode == "log":
        batches = track(batches, f"epoch {epoch + 1}/{t_cfg.epochs}", steps, "step", "log")
    for step, idx, x, y in batches:
        if pin:
            x = x.pin_memory().to(device, non_blocking=True)
            y = y.pin_memory().to(device, non_blocking=True)
        with autocast:
            loss = _loss(run.net(x).float(), y, t_cfg.loss)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; the last "
                f"good checkpoint is {run.last if run.last.exists() else 'none (first epoch)'}. "
                "Try a lower train.lr.")
        run.opt.zero_grad(set_to_none=True)
        if t_cfg.gate_l1 > 0:
            penalty = gate_penalty(run.model)
            assert penalty is not None  # checked before the first epoch
            (loss + t_cfg.gate_l1 * penalty).backward()
        else:
            loss.backward()
        if t_cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), t_cfg.grad_clip)
        run.opt.step()
        loss_sum += loss.item() * len(idx)
        seen += len(idx)
        if mode == "bar" and step % 10 == 0:  # rank 0's running figures
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            batches.set_postfix(loss_mm=f"{1000 * loss_sum / seen:.1f}", samples_s=f"{rate:.0f}")
    if epoch + 1 == t_cfg.epochs and t_cfg.precise_bn_batches > 0:  # precise BN
        from skelgnn.models.bn import recompute_bn_stats

        recompute_bn_stats(run.model, bn_input_batches(
            train_set, order, t_cfg.batch_size, t_cfg.precise_bn_batches, skeleton=run.skeleton,
            flips=flips, device=device))
    total_loss, total_seen = ctx.all_sum(loss_sum, seen)
    return total_loss, int(total_seen)


def _validate(run: _Run, val_set: WindowDataset) -> dict[str, float]:
    """Validation figures (``val_p1``, ``val_p2``, ...) of the model on the CPU, in mm."""
    pred, target = predict_sequences(run.model.cpu(), val_set, run.cfg.train.flip_test,
                                     skeleton=run.skeleton)
    run.model.to(run.ctx.device)
    v = score(pred, target, val_set)
    return {f"val_{k}": v[k] for k in ("p1", "p2", "p1_action", "p2_action",
                                        "own_hard5_p1", "own_hard10_p1")}


def _epoch_message(row: dict[str, Any], epochs: int) -> str:
    msg = (f"epoch {row['epoch']}/{epochs}: loss {row['train_loss_mm']:.1f} mm, "
           f"lr {row['lr']:.2e}, {row['samples_per_s']:.0f} samples/s, {row['seconds']:.0f} s")
    if "val_p1" in row:
        msg += f", val P1 {row['val_p1']:.1f} mm, P2 {row['val_p2']:.1f} mm"
    return msg


def _train(cfg: ExperimentConfig, run_dir: Path, last: Path, resume: bool, progress: ProgressMode,
           data_dir: Optional[str | Path], ctx: DistContext, epochs: Optional[int] = None
           ) -> TrainResult:
    torch.set_num_threads(cfg.train.threads)
    cfg, state, source = _resume_state(cfg, last, resume, epochs)
    t_cfg = cfg.train
    if ctx.is_main:
        atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    codec = PoseCodec(mode=cfg.data.normalization)
    torch.manual_seed(t_cfg.seed)
    root = resolve_data_dir(data_dir if data_dir is not None else cfg.data.root)
    skeleton = read_skeleton(root, cfg.data.source)  # any layout: the model follows the data
    model: LifterModel = build_model(for_skeleton(cfg.model, skeleton.parents))
    r = model.receptive_field
    log.info("model %s: %d parameters, receptive field %d", cfg.preset, count_parameters(model), r)
    if t_cfg.gate_l1 > 0 and gate_penalty(model) is None:
        raise ValueError("train.gate_l1 needs a model with hop gates (model.grading = "
                         f"\"gated\"); model {cfg.preset!r} has none")
    train_set, val_set = _build_data(cfg, data_dir, r, codec)
    net, opt = _wrap_model(cfg, model, ctx, state)
    start_epoch, history = 0, []
    if state is not None:
        start_epoch, history = int(state["epoch"]), list(state.get("history", []))
        log.info("resumed from %s after epoch %d", source, start_epoch)
    weights = None
    if t_cfg.balance_knees > 0:
        from skelgnn.train.batches import knee_balance_weights

        weights = knee_balance_weights(train_set.targets, skeleton, t_cfg.balance_knees)
    run = _Run(cfg, ctx, model, net, opt, codec, last, progress, skeleton, weights)
    t_run = time.perf_counter() - sum(h.get("seconds", 0.0) for h in history)
    writer = _tensorboard_writer(run_dir) if t_cfg.tensorboard and ctx.is_main else None
    for epoch in range(start_epoch, t_cfg.epochs):
        t0 = time.perf_counter()
        lr = t_cfg.lr * t_cfg.lr_decay ** epoch
        loss_sum, seen = _train_epoch(run, train_set, epoch, lr)
        if seen == 0:  # every batch was under two samples: no loss to report, nothing learnt
            raise ValueError(f"epoch {epoch + 1}: no training step ran (train.max_samples "
                             f"{t_cfg.max_samples}, {len(train_set)} samples, batches of "
                             f"{t_cfg.batch_size}; batch norm needs two samples per step)")
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr,
                               "train_loss_mm": 1000 * loss_sum / max(seen, 1),
                               "samples_per_s": seen / max(time.perf_counter() - t0, 1e-9)}
        if ctx.is_main and val_set is not None and ((epoch + 1) % t_cfg.validate_every == 0
                                                    or epoch + 1 == t_cfg.epochs):
            row.update(_validate(run, val_set))
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    writer.add_scalar(key, value, epoch + 1)
            writer.flush()
        if ctx.is_main:
            save_rotating(build_payload(cfg.to_dict(), model, codec, epoch + 1, history, opt), last)
            atomic_write_text(run_dir / "history.json", json.dumps(history, indent=2) + "\n")
        ctx.barrier()
        log.info(_epoch_message(row, t_cfg.epochs))
    minutes = (time.perf_counter() - t_run) / 60.0
    if writer is not None:
        writer.close()
    model.cpu()
    return TrainResult(run_dir, last, t_cfg.epochs, minutes, history)
