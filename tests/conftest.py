"""Shared fixtures: where the benchmark data live, and the CI rule for missing data.

Under ``CI=true`` a test whose shared data are missing fails; elsewhere it skips with the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

# No heartbeat or progress line in the tests unless one asks for it (tests/test_progress.py sets
# skelgnn.progress.EVERY): a loaded machine must not put "still working" before an error line.
# Set before skelgnn is imported, and inherited by the commands tests run in subprocesses.
os.environ["SKELGNN_PROGRESS_EVERY"] = "3600"

import pytest  # noqa: E402
import torch  # noqa: E402

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


def mini_samples(mini_dir: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` seeded (2D input ``(n, 1, J, 2)``, 3D target ``(n, J, 3)`` metres) pairs from the
    mini fixture's GT, encoded by the codec (for the tiny overfit tests)."""
    import numpy as np

    from skelgnn.data.codec import PoseCodec
    from skelgnn.data import load_benchmark

    records = load_benchmark(mini_dir, source="gt")
    codec = PoseCodec()
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        rec = records[i % len(records)]
        f = int(rng.integers(rec.num_frames))
        xs.append(codec.encode_2d(rec.keypoints_2d[f:f + 1], rec.image_size))  # (1, J, 2)
        ys.append(codec.encode_3d(rec.poses_3d[f]))  # (J, 3)
    return torch.from_numpy(np.stack(xs)).float(), torch.from_numpy(np.stack(ys)).float()


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error of ``(..., J, 3)`` poses, differentiable (a loss)."""
    return (pred - target).norm(dim=-1).mean()


# A two-bone chain: root (6 channels, Z Y X), a child with Z X Y rotations, an end site.
TINY_BVH_HIERARCHY = """HIERARCHY
ROOT hip
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT knee
  {
    OFFSET 0 -10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT foot
    {
      OFFSET 0 -5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 0 2
      }
    }
  }
}
"""


def tiny_bvh(*frames: str, frame_time: float = 0.0083333) -> str:
    """A BVH file of :data:`TINY_BVH_HIERARCHY` with one MOTION line per frame (12 channels:
    root position, root Z Y X, knee Z X Y, foot Z X Y)."""
    motion = "".join(f"{line}\n" for line in frames)
    return (f"{TINY_BVH_HIERARCHY}MOTION\nFrames: {len(frames)}\nFrame Time: {frame_time}\n"
            f"{motion}")


def interrupt_training_at_epoch(monkeypatch, epoch: int, exc: BaseException | type[BaseException]) -> None:
    """Make ``skelgnn.train.loop`` raise ``exc`` as epoch ``epoch`` (1-based) starts: the moment it
    sets that epoch's batch-norm momentum, so the previous epoch's checkpoint is written."""
    import skelgnn.train.loop as train_mod

    real, calls = train_mod._set_bn_momentum, []

    def interrupt(model, momentum):
        calls.append(momentum)
        if len(calls) == epoch:
            raise exc
        return real(model, momentum)

    monkeypatch.setattr(train_mod, "_set_bn_momentum", interrupt)


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


def tiny_checkpoint(path: Path) -> Path:
    """A small skelgnn-1f checkpoint (16 channels, 1 block, seed 0) written to ``path``."""
    from skelgnn.models.checkpoint import build_payload, save_checkpoint
    from skelgnn.data.codec import PoseCodec
    from skelgnn.train.config import load_config
    from skelgnn.models import build_model

    cfg = load_config(None, ["model.preset=skelgnn-1f", "model.channels=16", "model.blocks=1"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    return save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [], None),
                           path)
