"""Shared fixtures: where the benchmark data live, and the CI rule for missing data.

Under ``CI=true`` a test whose shared data are missing fails; elsewhere it skips with the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_CMU = Path(os.environ.get("SKELGNN_DATA", REPO.parent / "shared" / "data" / "cmu"))


def save_object_npz(path: Path, **objects) -> None:
    """Write objects the way VideoPose3D's npz files hold them: each pickled inside a 0-d object
    array of a compressed npz."""
    import numpy as np

    arrays = {}
    for key, obj in objects.items():
        arr = np.empty((), dtype=object)
        arr[()] = obj
        arrays[key] = arr
    np.savez_compressed(path, **arrays)


def load_benchmark_script(name: str):
    """Import ``benchmarks/<name>.py`` (scripts, not a package) as a module."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_path(path: Path, what: str) -> Path:
    """Return ``path`` if it exists; otherwise fail under CI, skip elsewhere."""
    if path.exists():
        return path
    msg = f"{what} not found at {path} (set SKELGNN_DATA to the benchmark directory)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    """The full CMU benchmark directory."""
    return require_path(SHARED_CMU / "data_3d_cmu.npz", "CMU benchmark").parent


@pytest.fixture(scope="session")
def mini_dir() -> Path:
    """The small CI fixture (3 subjects x 2 sequences, <= 100 frames)."""
    return require_path(SHARED_CMU / "mini" / "data_3d_cmu.npz", "CMU mini fixture").parent


@pytest.fixture
def seed_and_one_thread():
    """Seed, and run on one intra-op thread: model tests use tiny tensors, and on a shared 2-core
    machine a second OpenMP thread waiting for a busy core made some tests 100x slower. The
    previous thread count is restored afterwards."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
