"""Data-parallel training (torchrun, gloo on CPU) matches a single process with the same global
batch, and the run directory is protected against concurrent runs and damaged checkpoints."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skelgnn.models.checkpoint import load_checkpoint, save_rotating
from skelgnn.train.config import load_config
from skelgnn.train.loop import _lock_run_dir, train

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = ["train.epochs=2", "train.threads=1", "model.channels=16", "model.blocks=1",
             "model.dropout=0.0", "train.batch_size=64", "train.max_samples=256"]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def test_two_process_gloo_matches_single_process(tmp_path, mini_dir):
    """Same global batch (64 = 2 x 32), same sample order and flips, dropout 0, synchronised
    batch norm: the losses and weights agree up to float32 summation order. Tolerance: after 8
    Adam steps the weights differ by ~1e-6 (reduction order in all-reduce vs one batch); 1e-4 is
    far below any real divergence (a wrong sample split or unsynchronised batch norm moves
    weights by > 1e-2)."""
    args = ["train", "--config", str(REPO / "configs" / "mini.toml"), "--data", str(mini_dir),
            "--no-progress", "--device", "cpu"] + [f"--set={o}" for o in OVERRIDES]
    single = tmp_path / "single"
    ddp = tmp_path / "ddp"
    subprocess.run([sys.executable, "-m", "skelgnn", *args, "--run-dir", str(single)],
                   check=True, env=_env(), cwd=REPO, capture_output=True)
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "skelgnn", *args, "--run-dir", str(ddp)],
                         env=_env(), cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = load_checkpoint(single / "last.pt"), load_checkpoint(ddp / "last.pt")
    la = [h["train_loss_mm"] for h in a["history"]]
    lb = [h["train_loss_mm"] for h in b["history"]]
    assert la == pytest.approx(lb, rel=1e-4)
    for key, wa in a["model"].items():
        wb = b["model"][key]
        if key.endswith((".bias", ".running_mean")):
            # biases right before a batch norm have a zero gradient in exact arithmetic; Adam
            # turns the float noise there into lr-sized steps, so they (and the running means
            # they shift) differ between runs without changing the output (checked below)
            continue
        if wa.is_floating_point():
            assert torch.allclose(wa, wb, atol=1e-4, rtol=0), key
        else:
            assert torch.equal(wa, wb), key
    # the two trained models compute the same function (with batch statistics, where the
    # pre-norm biases cancel exactly)
    from skelgnn.models.checkpoint import load_model

    ma, _, _ = load_model(single / "last.pt")
    mb, _, _ = load_model(ddp / "last.pt")
    x = torch.randn(64, 1, 17, 2) * 0.3
    with torch.no_grad():
        diff = (ma.train()(x) - mb.train()(x)).abs().max().item()
    assert diff < 1e-3, diff
    # the distributed run really moved the weights (not a copy of the initial state)
    moved = max((w - load_checkpoint(ddp / "prev.pt")["model"][k]).abs().max().item()
                for k, w in b["model"].items() if w.is_floating_point())
    assert moved > 1e-3


def test_second_live_run_is_refused(tmp_path):
    held = _lock_run_dir(tmp_path)
    try:
        with pytest.raises(ValueError, match="another live training run"):
            _lock_run_dir(tmp_path)
    finally:
        held.close()
    _lock_run_dir(tmp_path).close()  # released with its holder: no stale lock


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    code = ("import sys, os; from pathlib import Path; from skelgnn.train.loop import _lock_run_dir; "
            f"_lock_run_dir(Path({str(tmp_path)!r})); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code], env=_env())
    assert proc.returncode == -9
    _lock_run_dir(tmp_path).close()


def test_resume_falls_back_to_previous_checkpoint(tmp_path, mini_dir, caplog):
    cfg2 = load_config(REPO / "configs" / "mini.toml", OVERRIDES)
    train(cfg2, tmp_path / "full", progress=False, data_dir=mini_dir)
    run = tmp_path / "run"
    train(cfg2, run, progress=False, data_dir=mini_dir)  # epochs 1, 2: prev.pt = epoch 1
    assert load_checkpoint(run / "prev.pt")["epoch"] == 1
    data = (run / "last.pt").read_bytes()
    (run / "last.pt").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="last.pt"):
        load_checkpoint(run / "last.pt")
    # resume continues from epoch 1 and redoes epoch 2, identical to the uninterrupted run
    res = train(cfg2, run, resume=True, progress=False, data_dir=mini_dir)
    assert "resuming from the previous checkpoint" in caplog.text
    state = load_checkpoint(res.checkpoint)
    assert state["epoch"] == 2
    ref = load_checkpoint(tmp_path / "full" / "last.pt")
    for k, v in state["model"].items():
        assert torch.equal(v, ref["model"][k]), k


def test_unwritable_checkpoint_keeps_previous(tmp_path, monkeypatch):
    last = tmp_path / "last.pt"
    save_rotating({"format": "skelgnn-checkpoint/1", "model_config": {}, "codec": {},
                   "model": {"w": torch.ones(2)}}, last)
    before = last.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("skelgnn.models.checkpoint.save_checkpoint", full_disk)
    with pytest.raises(ValueError, match="No space left on device.*previous checkpoint is intact"):
        save_rotating({"format": "x"}, last)
    assert last.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_run_dir_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="cannot write checkpoint"):
            save_rotating({"format": "x"}, ro / "last.pt")
    finally:
        ro.chmod(0o700)


def test_kill_9_mid_epoch_then_resume_matches(tmp_path, mini_dir):
    """A training process killed with SIGKILL in its 2nd epoch resumes from the epoch-1
    checkpoint and ends with the weights of an uninterrupted run."""
    cfg = ["--config", str(REPO / "configs" / "mini.toml"), "--data", str(mini_dir),
           "--no-progress", "--device", "cpu"] + [f"--set={o}" for o in OVERRIDES] + \
          ["--set=train.epochs=3"]
    ref, run = tmp_path / "ref", tmp_path / "run"
    subprocess.run([sys.executable, "-m", "skelgnn", "train", *cfg, "--run-dir", str(ref)],
                   check=True, env=_env(), cwd=REPO, capture_output=True)
    # a child that kills itself with SIGKILL at the start of its 2nd epoch's 2nd step
    code = (
        "import os, sys, skelgnn.train.batches as t\n"
        "orig = t.flip_batch\n"
        "calls = [0]\n"
        "def boom(*a):\n"
        "    calls[0] += 1\n"
        "    if calls[0] == 6: os.kill(os.getpid(), 9)\n"
        "    return orig(*a)\n"
        "t.flip_batch = boom\n"
        "from skelgnn.cli import main\n"
        f"sys.exit(main(['train', *{cfg!r}, '--run-dir', {str(run)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), cwd=REPO,
                          capture_output=True)
    assert proc.returncode == -9
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    subprocess.run([sys.executable, "-m", "skelgnn", "train", *cfg, "--run-dir", str(run),
                    "--resume"], check=True, env=_env(), cwd=REPO, capture_output=True)
    a, b = load_checkpoint(ref / "last.pt"), load_checkpoint(run / "last.pt")
    assert b["epoch"] == 3
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
