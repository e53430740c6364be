"""The training loop shared by every model of the package.

One function, :func:`train`, runs an :class:`~skelgnn.config.ExperimentConfig` into a run
directory::

    run_dir/config.json      resolved config
    run_dir/train.log        log file
    run_dir/last.pt          checkpoint after the last completed epoch (atomic write)
    run_dir/history.json     per-epoch loss, learning rate, validation figures, seconds

Determinism: the model is initialised from ``seed``; the sample order and flips of epoch ``e`` come
from ``numpy.random.default_rng((seed, e))`` and dropout from ``torch.manual_seed`` re-seeded from
``(seed, e)`` at every epoch start, so a resumed run reaches the same weights as an uninterrupted
one (on the same machine and thread count).
"""
from __future__ import annotations

import contextlib
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

from skelgnn.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from skelgnn.codec import PoseCodec
from skelgnn.config import ExperimentConfig, experiment_from_dict
from skelgnn.data import (WindowDataset, load_benchmark, read_skeleton, read_split,
                          resolve_data_dir)
from skelgnn.evaluate import predict_sequences, score
from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.models import (LifterModel, build_model, config_to_dict, count_parameters,
                            for_skeleton)
from skelgnn.nn import GroupBatchNorm
from skelgnn.skeleton import H36M17, Skeleton

__all__ = ["train", "TrainingDiverged", "TrainResult", "subjects_for", "export_weights",
           "convert_sync_batchnorm", "DistributedBatchNorm", "release_freed_memory"]

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
    pred = pred - pred[:, :1]  # root-relative, as evaluated
    if kind == "l1":
        return (pred - target).abs().mean()
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def _flip_batch(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
                skeleton: Skeleton = H36M17) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the samples selected by ``mask`` (B,) -- inputs (B, R, J, 2), targets (B, J, 3)."""
    if not bool(mask.any()):
        return x, y
    x = torch.where(mask.view(-1, 1, 1, 1), flip_2d(x, skeleton), x)
    y = torch.where(mask.view(-1, 1, 1), flip_3d(y, skeleton), y)
    return x, y


class DistributedBatchNorm(GroupBatchNorm):
    """Batch norm whose training statistics are all-reduced over every process (SyncBatchNorm
    that also runs on CPU with gloo, which ``torch.nn.SyncBatchNorm`` does not). The sums go
    through ``torch.distributed.nn.functional.all_reduce`` so gradients flow across processes;
    the result equals one batch norm over the global batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        import torch.distributed as dist

        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        shape = x.shape
        h = x.reshape(-1, shape[-1])  # (N, C)
        n = torch.full((1,), float(h.shape[0]), dtype=h.dtype, device=h.device)
        stats = all_reduce(torch.cat([h.sum(0), (h * h).sum(0), n]))  # (2C + 1,)
        c = shape[-1]
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c:2 * c] / total - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                unbiased = var.detach() * total / (total - 1).clamp_min(1.0)
                self.running_var.mul_(1 - m).add_(m * unbiased)
                self.num_batches_tracked += 1
        y = (h - mean) * torch.rsqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        return y.reshape(shape)


def convert_sync_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Switch every 1D batch norm of ``model`` to :class:`DistributedBatchNorm` in place
    (parameters and buffers, hence ``state_dict`` keys, are unchanged)."""
    for m in model.modules():
        if type(m) in (GroupBatchNorm, torch.nn.BatchNorm1d):
            m.__class__ = DistributedBatchNorm
    return model


@dataclass
class _DistContext:
    rank: int
    world: int
    device: torch.device
    initialized: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def all_sum(self, *values: float) -> tuple[float, ...]:
        """Sum scalars over every process."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return tuple(t.tolist())

    def close(self) -> None:
        if self.initialized:
            import torch.distributed as dist

            dist.destroy_process_group()


def _resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("train.device='cuda' but no CUDA device is available; use 'cpu' "
                             "or 'auto'")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _distributed_context(cfg: ExperimentConfig) -> _DistContext:
    """Rank, world size and device; initialises the process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _resolve_device(cfg.train.device, local_rank)
    if world <= 1:
        return _DistContext(0, 1, device, False)
    import torch.distributed as dist

    initialized = False
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        initialized = True
    return _DistContext(rank, world, device, initialized)


def _tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("train.tensorboard=true needs TensorBoard: pip install 'skelgnn[tensorboard]'") \
            from None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _setup_logging(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("skelgnn").addHandler(handler)
    logging.getLogger("skelgnn").setLevel(logging.INFO)
    return handler


def train(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False,
          progress: bool = True, data_dir: Optional[str | Path] = None) -> TrainResult:
    """Train ``cfg`` into ``run_dir``.

    Under ``torchrun`` (``WORLD_SIZE > 1``) the run is data-parallel
    (``DistributedDataParallel``, gloo on CPU, nccl on CUDA): every rank draws the same epoch
    order and takes its slice of each global batch of ``train.batch_size`` samples; only rank 0
    logs and writes files.

    Args:
        cfg: the experiment.
        run_dir: output directory (created). Without ``resume`` it must not already hold a
            checkpoint, so nothing the user had is overwritten. A second live run on the same
            directory is refused (an OS file lock, released when a process dies, so a killed run
            never blocks ``--resume``).
        resume: continue from ``run_dir/last.pt`` (falling back to ``prev.pt``, the checkpoint
            before it, when ``last.pt`` is damaged).
        progress: show progress bars.
        data_dir: benchmark directory overriding ``cfg.data.root``.

    Raises:
        TrainingDiverged: NaN / infinite loss (message names epoch and step).
        FileExistsError: ``run_dir`` already holds a run and ``resume`` is off.
        ValueError: another live run holds ``run_dir``, or a checkpoint cannot be written.
    """
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    ctx = _distributed_context(cfg)
    try:
        if last.exists() and not resume:
            raise FileExistsError(f"{run_dir} already holds a run ({last}); pass --resume to "
                                  "continue it or choose another --run-dir")
        if resume and not last.exists() and not (run_dir / "prev.pt").exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {last}")
        lock = None
        handler = None
        if ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock = _lock_run_dir(run_dir)
            handler = _setup_logging(run_dir)
        try:
            return _train(cfg, run_dir, last, resume, progress and ctx.is_main, data_dir, ctx)
        finally:
            if handler is not None:
                logging.getLogger("skelgnn").removeHandler(handler)
                handler.close()
            if lock is not None:
                lock.close()  # releases the flock
    finally:
        ctx.close()


def _lock_run_dir(run_dir: Path):
    """Hold an exclusive, non-blocking ``flock`` on ``run_dir/.lock`` for the run's lifetime."""
    import fcntl

    fh = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ValueError(f"another live training run is using {run_dir}; wait for it to finish "
                         "or choose another --run-dir") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _load_resume_state(last: Path) -> tuple[dict[str, Any], Path]:
    """``last.pt``, or ``prev.pt`` when ``last.pt`` is missing or damaged."""
    prev = last.with_name("prev.pt")
    try:
        return load_checkpoint(last), last
    except (ValueError, FileNotFoundError) as exc:
        if not prev.exists():
            raise
        log.warning("%s; resuming from the previous checkpoint %s", exc, prev)
        return load_checkpoint(prev), prev


def _save_rotating(payload: dict[str, Any], last: Path) -> None:
    """Write ``last.pt`` atomically, keeping the checkpoint it replaces as ``prev.pt``.

    Raises:
        ValueError: the write failed (disk full, no permission); ``last.pt`` is untouched.
    """
    new = last.with_name("next.pt")
    try:
        save_checkpoint(payload, new)
        if last.exists():
            os.replace(last, last.with_name("prev.pt"))
        os.replace(new, last)
    except OSError as exc:
        raise ValueError(f"cannot write checkpoint {last}: {exc.strerror or exc}; the previous "
                         "checkpoint is intact (free space or fix permissions, then --resume)") \
            from None


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


def _train(cfg: ExperimentConfig, run_dir: Path, last: Path, resume: bool, progress: bool,
           data_dir: Optional[str | Path], ctx: "_DistContext") -> TrainResult:
    t_cfg = cfg.train
    torch.set_num_threads(t_cfg.threads)
    state: Optional[dict[str, Any]] = None
    if resume:
        state, source = _load_resume_state(last)
        saved = experiment_from_dict(state["config"])
        if saved.to_dict() != cfg.to_dict():
            log.warning("--resume: using the config saved in %s (the given one differs)", source)
            cfg = saved
            t_cfg = cfg.train
    if ctx.is_main:
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")

    root = resolve_data_dir(data_dir if data_dir is not None else cfg.data.root)
    train_subjects, val_subjects = subjects_for(root / "split.json", cfg.data.split)
    codec = PoseCodec(mode=cfg.data.normalization)
    torch.manual_seed(t_cfg.seed)
    skeleton = read_skeleton(root, cfg.data.source)  # any layout: the model follows the data
    model: LifterModel = build_model(for_skeleton(cfg.model, skeleton.parents))
    r = model.receptive_field
    log.info("model %s: %d parameters, receptive field %d", cfg.preset, count_parameters(model), r)
    train_set = WindowDataset(load_benchmark(root, cfg.data.source, subjects=train_subjects),
                              r, stride=cfg.data.frame_stride, codec=codec)
    val_set = None
    if val_subjects and t_cfg.validate_every > 0:
        val_set = WindowDataset(load_benchmark(root, cfg.data.source, subjects=val_subjects),
                                r, stride=1, codec=codec)
    release_freed_memory()
    start_epoch, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
    device = ctx.device
    model.to(device)
    if ctx.world > 1 and t_cfg.sync_bn:
        convert_sync_batchnorm(model)
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg.lr, amsgrad=t_cfg.amsgrad,
                           weight_decay=t_cfg.weight_decay)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        start_epoch, history = int(state["epoch"]), list(state.get("history", []))
        log.info("resumed from %s after epoch %d", source, start_epoch)
    net: torch.nn.Module = model
    if ctx.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if t_cfg.batch_size % ctx.world:
        raise ValueError(f"train.batch_size={t_cfg.batch_size} must be divisible by the "
                         f"{ctx.world} processes")
    local = t_cfg.batch_size // ctx.world
    pin = device.type == "cuda"
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if t_cfg.amp and pin
                else contextlib.nullcontext())

    n_total = len(train_set)
    n_epoch = min(n_total, t_cfg.max_samples) if t_cfg.max_samples else n_total
    steps = math.ceil(n_epoch / t_cfg.batch_size)
    t_run = time.perf_counter() - sum(h.get("seconds", 0.0) for h in history)
    writer = _tensorboard_writer(run_dir) if t_cfg.tensorboard and ctx.is_main else None
    for epoch in range(start_epoch, t_cfg.epochs):
        t0 = time.perf_counter()
        lr = t_cfg.lr * t_cfg.lr_decay ** epoch
        for group in opt.param_groups:
            group["lr"] = lr
        _set_bn_momentum(model, _bn_momentum(cfg, epoch))
        rng = np.random.default_rng((t_cfg.seed, epoch))
        torch.manual_seed(t_cfg.seed * 100003 + epoch)
        order = rng.permutation(n_total)[:n_epoch]
        flips = torch.from_numpy(rng.random(n_epoch) < 0.5) if t_cfg.flip_augment else None
        model.train()
        loss_sum, seen = 0.0, 0
        bar = range(steps)
        if progress:
            from tqdm import tqdm

            bar = tqdm(bar, desc=f"epoch {epoch + 1}/{t_cfg.epochs}", unit="step", leave=False,
                       dynamic_ncols=True)
        for step in bar:
            lo = step * t_cfg.batch_size + ctx.rank * local  # this rank's slice of the batch
            hi = min(lo + local, (step + 1) * t_cfg.batch_size, n_epoch)
            idx = order[lo:hi]
            if hi - step * t_cfg.batch_size < 2 * ctx.world or len(idx) < 2:
                continue  # batch norm needs two samples per process
            x, y = train_set.batch(idx)  # (B, R, J, 2), (B, J, 3)
            if flips is not None:
                x, y = _flip_batch(x, y, flips[lo:hi], skeleton)
            if pin:
                x = x.pin_memory().to(device, non_blocking=True)
                y = y.pin_memory().to(device, non_blocking=True)
            with autocast:
                loss = _loss(net(x).float(), y, t_cfg.loss)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; the last "
                    f"good checkpoint is {last if last.exists() else 'none (first epoch)'}. "
                    "Try a lower train.lr.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t_cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t_cfg.grad_clip)
            opt.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            if progress and step % 10 == 0:  # rank 0's running figures
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss_mm=f"{1000 * loss_sum / seen:.1f}", samples_s=f"{rate:.0f}")
        if epoch + 1 == t_cfg.epochs and t_cfg.precise_bn_batches > 0:  # precise BN
            from skelgnn.models.bn import bn_input_batches, recompute_bn_stats

            recompute_bn_stats(model, bn_input_batches(train_set, order, t_cfg.batch_size,
                                                       t_cfg.precise_bn_batches, flips, device))
        loss_sum, seen = ctx.all_sum(loss_sum, seen)
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr,
                               "train_loss_mm": 1000 * loss_sum / max(seen, 1),
                               "samples_per_s": seen / max(time.perf_counter() - t0, 1e-9)}
        if ctx.is_main and val_set is not None and ((epoch + 1) % t_cfg.validate_every == 0
                                                    or epoch + 1 == t_cfg.epochs):
            pred, target = predict_sequences(model.cpu(), val_set, t_cfg.flip_test,
                                             skeleton=skeleton)
            model.to(device)
            v = score(pred, target, val_set)
            row.update({f"val_{k}": v[k] for k in ("p1", "p2", "p1_action", "p2_action",
                                                   "own_hard5_p1", "own_hard10_p1")})
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    writer.add_scalar(key, value, epoch + 1)
            writer.flush()
        if ctx.is_main:
            _save_rotating(_payload(cfg, model, codec, epoch + 1, history, opt), last)
            (run_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
        ctx.barrier()
        msg = (f"epoch {epoch + 1}/{t_cfg.epochs}: loss {row['train_loss_mm']:.1f} mm, "
               f"lr {lr:.2e}, {row['samples_per_s']:.0f} samples/s, {row['seconds']:.0f} s")
        if "val_p1" in row:
            msg += f", val P1 {row['val_p1']:.1f} mm, P2 {row['val_p2']:.1f} mm"
        log.info(msg)
    minutes = (time.perf_counter() - t_run) / 60.0
    if writer is not None:
        writer.close()
    model.cpu()
    return TrainResult(run_dir, last, t_cfg.epochs, minutes, history)


def _payload(cfg: ExperimentConfig, model: LifterModel, codec: PoseCodec, epoch: int,
             history: list[dict[str, Any]], opt: Optional[torch.optim.Optimizer]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT, "config": cfg.to_dict(), "preset": cfg.preset,
        "model_config": config_to_dict(model.config), "codec": codec.to_dict(),
        "source": cfg.data.source,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "epoch": epoch,
        "history": history,
    }
    if opt is not None:
        out["optimizer"] = opt.state_dict()
        out["rng"] = {"torch": torch.get_rng_state()}
    return out


def export_weights(checkpoint: str | Path, out: str | Path) -> Path:
    """Write a slim copy of a checkpoint (weights, config, codec; no optimiser state)."""
    state = load_checkpoint(checkpoint)
    slim = {k: v for k, v in state.items() if k not in ("optimizer", "rng")}
    return save_checkpoint(slim, out)
