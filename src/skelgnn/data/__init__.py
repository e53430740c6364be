"""Benchmark data: readers, the benchmark directory, the windowed dataset, and its check.

* :mod:`skelgnn.data.npz` -- safe npz reading (a restricted unpickler, never ``allow_pickle``);
* :mod:`skelgnn.data.readers` -- the 3D, 2D and camera file readers (numpy only);
* :mod:`skelgnn.data.benchmark` -- the benchmark directory, split, action table and
  :func:`load_benchmark`;
* :mod:`skelgnn.data.windows` -- :class:`WindowDataset`, the one module here that needs torch;
* :mod:`skelgnn.data.check` -- ``skelgnn data check``: :func:`check_benchmark` and its report.

Importing this package does not import torch: :class:`WindowDataset` and :class:`SampleLabels`
load on first use, so ``prepare/`` can import the readers at module level.
"""
from __future__ import annotations

from typing import Any

from skelgnn.data.benchmark import (
    ActionInfo,
    Sequence2D3D,
    action_category,
    available_sources,
    load_benchmark,
    positions_2d_path,
    positions_3d_path,
    read_actions,
    read_skeleton,
    read_split,
    resolve_data_dir,
)
from skelgnn.data.check import (
    BenchmarkReport,
    CategorySummary,
    SourceSummary,
    SubjectSummary,
    check_benchmark,
    format_benchmark_report,
)
from skelgnn.data.npz import DATA_ENV, DEFAULT_DATA_DIR, load_npz_object, npz_keys
from skelgnn.data.readers import h36m_cameras, read_cameras, read_positions_2d, read_positions_3d

__all__ = [
    "DATA_ENV",
    "DEFAULT_DATA_DIR",
    "load_npz_object",
    "npz_keys",
    "read_positions_3d",
    "read_positions_2d",
    "read_cameras",
    "h36m_cameras",
    "read_split",
    "ActionInfo",
    "read_actions",
    "resolve_data_dir",
    "positions_3d_path",
    "positions_2d_path",
    "available_sources",
    "Sequence2D3D",
    "load_benchmark",
    "action_category",
    "SampleLabels",
    "WindowDataset",
    "SubjectSummary",
    "CategorySummary",
    "SourceSummary",
    "BenchmarkReport",
    "check_benchmark",
    "format_benchmark_report",
    "read_skeleton",
]

_TORCH_NAMES = ("SampleLabels", "WindowDataset")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from skelgnn.data import windows

        return getattr(windows, name)
    raise AttributeError(f"module 'skelgnn.data' has no attribute {name!r}")
