"""Skeleton graphs: adjacency, hop distances, exact-k and cumulative hop masks, normalisation.

Pure functions of a parent list; every function returns a new ``torch.Tensor`` (float32 unless
stated). Shape letters: ``J`` joints, ``K`` hops.
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = [
    "adjacency",
    "hop_distances",
    "hop_masks",
    "cumulative_mask",
    "normalize_symmetric",
    "normalize_rows",
]


def _check_parents(parents: Sequence[int]) -> list[int]:
    parents = [int(p) for p in parents]
    n = len(parents)
    if n == 0:
        raise ValueError("parents must name at least one joint")
    for j, p in enumerate(parents):
        if p != -1 and not 0 <= p < n:
            raise ValueError(f"parents[{j}] = {p} is outside -1..{n - 1}")
        if p == j:
            raise ValueError(f"parents[{j}] = {j}: a joint cannot be its own parent")
    return parents


def adjacency(parents: Sequence[int], self_loops: bool = False) -> torch.Tensor:
    """Symmetric 0/1 bone adjacency ``(J, J)``; with ``self_loops`` the identity is added."""
    parents = _check_parents(parents)
    n = len(parents)
    a = torch.zeros(n, n, device="cpu")  # explicit: the graph stays real under a meta device
    for j, p in enumerate(parents):
        if p >= 0:
            a[j, p] = a[p, j] = 1.0
    if self_loops:
        a += torch.eye(n, device="cpu")
    return a


def hop_distances(parents: Sequence[int]) -> torch.Tensor:
    """Shortest-path hop count between every pair of joints, ``(J, J)`` int64.

    Pairs in different connected components (a forest) get ``-1``.
    """
    parents = _check_parents(parents)
    n = len(parents)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for j, p in enumerate(parents):
        if p >= 0:
            nbrs[j].append(p)
            nbrs[p].append(j)
    # breadth-first search from every joint on plain lists (O(J^2), one tensor at the end:
    # element-wise tensor indexing made a 128-joint model take a minute to build)
    rows = [[-1] * n for _ in range(n)]
    for src in range(n):
        row = rows[src]
        row[src] = 0
        frontier = [src]
        while frontier:
            nxt = []
            for u in frontier:
                for v in nbrs[u]:
                    if row[v] < 0:
                        row[v] = row[u] + 1
                        nxt.append(v)
            frontier = nxt
    return torch.tensor(rows, dtype=torch.long, device="cpu").reshape(n, n)


def hop_masks(parents: Sequence[int], max_hop: int) -> torch.Tensor:
    """Exact-k hop masks ``M_k[i, j] = 1`` iff ``d(i, j) == k``, for ``k = 0..max_hop``.

    Returns ``(max_hop + 1, J, J)``. Masks for ``k`` beyond the tree's diameter are all zero.
    """
    if max_hop < 0:
        raise ValueError(f"max_hop must be >= 0, got {max_hop}")
    dist = hop_distances(parents)
    ks = torch.arange(max_hop + 1, device="cpu").view(-1, 1, 1)
    return (dist.unsqueeze(0) == ks).float()  # (K+1, J, J)


def cumulative_mask(parents: Sequence[int], max_hop: int) -> torch.Tensor:
    """``(J, J)`` mask of every pair within ``max_hop`` hops (self included)."""
    if max_hop < 0:
        raise ValueError(f"max_hop must be >= 0, got {max_hop}")
    dist = hop_distances(parents)
    return ((dist >= 0) & (dist <= max_hop)).float()


def normalize_symmetric(a: torch.Tensor) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` with ``D`` the row sums; rows summing to zero stay zero (no NaN)."""
    deg = a.sum(-1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-12).rsqrt(), torch.zeros_like(deg))
    return inv.unsqueeze(-1) * a * inv.unsqueeze(-2)


def normalize_rows(a: torch.Tensor) -> torch.Tensor:
    """``D^-1 A``: every non-empty row sums to one; empty rows stay zero (no NaN)."""
    deg = a.sum(-1, keepdim=True)
    return torch.where(deg > 0, a / deg.clamp_min(1e-12), torch.zeros_like(a))
