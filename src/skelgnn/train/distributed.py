"""Data-parallel training helpers: the process context under ``torchrun`` and a batch norm whose
statistics span every process.

Under ``torchrun`` (``WORLD_SIZE > 1``) every process is one rank; :func:`distributed_context`
initialises the process group (gloo on the CPU, nccl on CUDA) and picks the rank's device.
:class:`DistributedBatchNorm` all-reduces ``(sum x, sum x^2, n)`` over the ranks, so with a global
batch of ``N = sum_r n_r`` samples

    mean = sum x / N,   var = sum x^2 / N - mean^2,

exactly the statistics of one batch norm over the global batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from skelgnn.layers.dhcsf import GroupBatchNorm

__all__ = ["DistributedBatchNorm", "convert_sync_batchnorm", "DistContext", "resolve_device",
           "distributed_context"]


class DistributedBatchNorm(GroupBatchNorm):
    """Batch norm whose training statistics are all-reduced over every process (SyncBatchNorm
    that also runs on CPU with gloo, which ``torch.nn.SyncBatchNorm`` does not). The sums go
    through ``torch.distributed.nn.functional.all_reduce`` so gradients flow across processes;
    the result equals one batch norm over the global batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
            # tracked statistics are buffers, never None here
            assert self.running_mean is not None and self.running_var is not None
            assert self.num_batches_tracked is not None
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                unbiased = var.detach() * total / (total - 1).clamp_min(1.0)
                self.running_var.mul_(1 - m).add_(m * unbiased)
                self.num_batches_tracked.add_(1)
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
class DistContext:
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


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("train.device='cuda' but no CUDA device is available; use 'cpu' "
                             "or 'auto'")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def distributed_context(device_name: str) -> DistContext:
    """Rank, world size and device; initialises the process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world <= 1:
        return DistContext(0, 1, device, False)
    import torch.distributed as dist

    initialized = False
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        initialized = True
    return DistContext(rank, world, device, initialized)
