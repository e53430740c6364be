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

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from skelgnn.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from skelgnn.codec import PoseCodec
from skelgnn.config import ExperimentConfig, experiment_from_dict
from skelgnn.data import WindowDataset, load_benchmark, read_split, resolve_data_dir
from skelgnn.evaluate import predict_sequences, score
from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.models import LifterModel, build_model, config_to_dict, count_parameters

__all__ = ["train", "TrainingDiverged", "TrainResult", "subjects_for"]

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


def _flip_batch(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the samples selected by ``mask`` (B,) -- inputs (B, R, J, 2), targets (B, J, 3)."""
    if not bool(mask.any()):
        return x, y
    x = torch.where(mask.view(-1, 1, 1, 1), flip_2d(x), x)
    y = torch.where(mask.view(-1, 1, 1), flip_3d(y), y)
    return x, y


def _setup_logging(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("skelgnn").addHandler(handler)
    logging.getLogger("skelgnn").setLevel(logging.INFO)
    return handler


def train(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False,
          progress: bool = True, data_dir: Optional[str | Path] = None) -> TrainResult:
    """Train ``cfg`` into ``run_dir``.

    Args:
        cfg: the experiment.
        run_dir: output directory (created). Without ``resume`` it must not already hold a
            checkpoint, so nothing the user had is overwritten.
        resume: continue from ``run_dir/last.pt``.
        progress: show progress bars.
        data_dir: benchmark directory overriding ``cfg.data.root``.

    Raises:
        TrainingDiverged: NaN / infinite loss (message names epoch and step).
        FileExistsError: ``run_dir`` already holds a run and ``resume`` is off.
    """
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    if last.exists() and not resume:
        raise FileExistsError(f"{run_dir} already holds a run ({last}); pass --resume to continue "
                              "it or choose another --run-dir")
    if resume and not last.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {last}")
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = _setup_logging(run_dir)
    try:
        return _train(cfg, run_dir, last, resume, progress, data_dir)
    finally:
        logging.getLogger("skelgnn").removeHandler(handler)
        handler.close()


def _train(cfg: ExperimentConfig, run_dir: Path, last: Path, resume: bool, progress: bool,
           data_dir: Optional[str | Path]) -> TrainResult:
    t_cfg = cfg.train
    torch.set_num_threads(t_cfg.threads)
    state: Optional[dict[str, Any]] = None
    if resume:
        state = load_checkpoint(last)
        saved = experiment_from_dict(state["config"])
        if saved.to_dict() != cfg.to_dict():
            log.warning("--resume: using the config saved in %s (the given one differs)", last)
            cfg = saved
            t_cfg = cfg.train
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")

    root = resolve_data_dir(data_dir if data_dir is not None else cfg.data.root)
    train_subjects, val_subjects = subjects_for(root / "split.json", cfg.data.split)
    codec = PoseCodec(mode=cfg.data.normalization)
    torch.manual_seed(t_cfg.seed)
    model: LifterModel = build_model(cfg.model)
    r = model.receptive_field
    log.info("model %s: %d parameters, receptive field %d", cfg.preset, count_parameters(model), r)
    train_set = WindowDataset(load_benchmark(root, cfg.data.source, subjects=train_subjects),
                              r, stride=cfg.data.frame_stride, codec=codec)
    val_set = None
    if val_subjects and t_cfg.validate_every > 0:
        val_set = WindowDataset(load_benchmark(root, cfg.data.source, subjects=val_subjects),
                                r, stride=1, codec=codec)
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg.lr, amsgrad=t_cfg.amsgrad,
                           weight_decay=t_cfg.weight_decay)
    start_epoch, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, history = int(state["epoch"]), list(state.get("history", []))
        log.info("resumed from %s after epoch %d", last, start_epoch)

    n_total = len(train_set)
    n_epoch = min(n_total, t_cfg.max_samples) if t_cfg.max_samples else n_total
    steps = math.ceil(n_epoch / t_cfg.batch_size)
    t_run = time.perf_counter() - sum(h.get("seconds", 0.0) for h in history)
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
            idx = order[step * t_cfg.batch_size:(step + 1) * t_cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x, y = train_set.batch(idx)  # (B, R, J, 2), (B, J, 3)
            if flips is not None:
                x, y = _flip_batch(x, y, flips[step * t_cfg.batch_size:
                                              step * t_cfg.batch_size + len(idx)])
            loss = _loss(model(x), y, t_cfg.loss)
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
            if progress and step % 10 == 0:
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss_mm=f"{1000 * loss_sum / seen:.1f}", samples_s=f"{rate:.0f}")
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, "train_loss_mm": 1000 * loss_sum / max(seen, 1),
                               "samples_per_s": seen / max(time.perf_counter() - t0, 1e-9)}
        if val_set is not None and (epoch + 1) % t_cfg.validate_every == 0 \
                or (val_set is not None and epoch + 1 == t_cfg.epochs):
            pred, target = predict_sequences(model, val_set, t_cfg.flip_test)
            v = score(pred, target, val_set)
            row.update({f"val_{k}": v[k] for k in ("p1", "p2", "p1_action", "p2_action",
                                                   "own_hard5_p1", "own_hard10_p1")})
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        save_checkpoint(_payload(cfg, model, codec, epoch + 1, history, opt), last)
        (run_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
        msg = (f"epoch {epoch + 1}/{t_cfg.epochs}: loss {row['train_loss_mm']:.1f} mm, "
               f"lr {lr:.2e}, {row['samples_per_s']:.0f} samples/s, {row['seconds']:.0f} s")
        if "val_p1" in row:
            msg += f", val P1 {row['val_p1']:.1f} mm, P2 {row['val_p2']:.1f} mm"
        log.info(msg)
    minutes = (time.perf_counter() - t_run) / 60.0
    return TrainResult(run_dir, last, t_cfg.epochs, minutes, history)


def _payload(cfg: ExperimentConfig, model: LifterModel, codec: PoseCodec, epoch: int,
             history: list[dict[str, Any]], opt: Optional[torch.optim.Optimizer]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT, "config": cfg.to_dict(), "preset": cfg.preset,
        "model_config": config_to_dict(model.config), "codec": codec.to_dict(),
        "source": cfg.data.source, "model": model.state_dict(), "epoch": epoch,
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
