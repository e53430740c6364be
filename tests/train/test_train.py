"""Tests of skelgnn.train.loop on the mini fixture: outputs, resume equivalence, divergence, refusal to
overwrite, and the flip augmentation helper.

Every run is tiny (16 channels, one block, 256 samples per epoch) and single-threaded.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import skelgnn.train.loop as train_mod
from conftest import interrupt_training_at_epoch
from skelgnn.models.checkpoint import load_checkpoint
from skelgnn.train.config import load_config
from skelgnn.geometry import flip_2d, flip_3d
from skelgnn.models.checkpoint import load_model
from skelgnn.train.batches import flip_batch
from skelgnn.train.loop import TrainingDiverged, subjects_for, train
from skelgnn.skeleton import H36M17

TINY = ["model.channels=16", "model.blocks=1", "data.split=test", "data.frame_stride=1",
        "train.batch_size=64", "train.max_samples=256", "train.threads=1"]


def tiny_config(epochs: int, *extra: str):
    return load_config(None, TINY + [f"train.epochs={epochs}", *extra])


class Interrupted(Exception):
    """Stands in for a crash or Ctrl-C in the middle of a run."""


def _state(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "last.pt")["model"]


def test_two_epochs_write_the_run_files(mini_dir, tmp_path):
    cfg = tiny_config(2)
    run = tmp_path / "run"
    result = train(cfg, run, progress=False, data_dir=mini_dir)
    for name in ("config.json", "history.json", "train.log", "last.pt"):
        assert (run / name).is_file(), name
    assert result.checkpoint == run / "last.pt" and result.epochs == 2
    assert json.loads((run / "config.json").read_text()) == cfg.to_dict()

    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history == result.history
    assert all(math.isfinite(h["train_loss_mm"]) and h["train_loss_mm"] > 0 for h in history)
    assert history[0]["lr"] == pytest.approx(1e-3) and history[1]["lr"] == pytest.approx(0.95e-3)
    assert not any(k.startswith("val_") for k in history[0])  # split 'test': no validation

    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 2 and state["config"] == cfg.to_dict()
    assert state["history"] == history and "optimizer" in state
    assert state["model_config"]["channels"] == 16
    log = (run / "train.log").read_text()
    assert "epoch 1/2" in log and "epoch 2/2" in log
    model, _, info = load_model(run / "last.pt")
    assert info["epoch"] == 2 and info["source"] == "det"


@pytest.fixture
def mini_with_val(mini_dir, tmp_path):
    """The mini fixture with S10 held out as the validation subject."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("data_3d_cmu.npz", "data_2d_cmu_det.npz", "data_2d_cmu_gt.npz", "cameras.json"):
        (data / name).symlink_to(mini_dir / name)
    (data / "split.json").write_text(json.dumps({"train": ["S07", "S10"], "val": ["S10"],
                                                 "test": ["S08"]}))
    return data


def test_validation_rows(mini_with_val, tmp_path):
    assert subjects_for(mini_with_val / "split.json", "val") == (["S07"], ["S10"])
    cfg = tiny_config(3, "data.split=val", "train.validate_every=2")
    run = tmp_path / "run"
    history = train(cfg, run, progress=False, data_dir=mini_with_val).history
    # every 2nd epoch, and always the last one
    assert ["val_p1" in h for h in history] == [False, True, True]
    for key in ("val_p1", "val_p2", "val_p1_action", "val_p2_action", "val_own_hard5_p1",
                "val_own_hard10_p1"):
        assert math.isfinite(history[2][key]), key
    # the last row is the final weights scored on the val subject, with flip TTA
    from skelgnn.evaluate.benchmark import evaluate_checkpoint

    final = evaluate_checkpoint(run / "last.pt", mini_with_val, subjects=["S10"], progress=False)
    assert history[2]["val_p1"] == pytest.approx(final["p1"], rel=1e-9)
    assert history[2]["val_p2"] == pytest.approx(final["p2"], rel=1e-9)


def test_resume_uses_the_saved_config(mini_dir, tmp_path):
    run = tmp_path / "run"
    first = tiny_config(1)
    train(first, run, progress=False, data_dir=mini_dir)
    before = load_checkpoint(run / "last.pt")["model"]
    result = train(tiny_config(1, "train.lr=5e-4"), run, resume=True, progress=False,
                   data_dir=mini_dir)
    # a finished run is not mixed with another schedule (only train.epochs may change)
    assert result.epochs == 1 and len(result.history) == 1
    assert json.loads((run / "config.json").read_text()) == first.to_dict()
    assert "using the config saved" in (run / "train.log").read_text()
    after = load_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_split_val_needs_a_val_subject(mini_dir, tmp_path):
    with pytest.raises(ValueError, match="no 'val' subjects"):
        subjects_for(mini_dir / "split.json", "val")
    assert subjects_for(mini_dir / "split.json", "test") == (["S07", "S10"], [])


def test_resume_reaches_the_same_weights(mini_dir, tmp_path, monkeypatch):
    cfg = tiny_config(3)
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    train(cfg, run_a, progress=False, data_dir=mini_dir)

    # Run B: interrupted at the start of epoch 3, after epoch 2's checkpoint was written.
    interrupt_training_at_epoch(monkeypatch, 3, Interrupted)
    with pytest.raises(Interrupted):
        train(cfg, run_b, progress=False, data_dir=mini_dir)
    monkeypatch.undo()
    assert load_checkpoint(run_b / "last.pt")["epoch"] == 2
    with pytest.raises(FileExistsError):  # an interrupted run is continued only with resume
        train(cfg, run_b, progress=False, data_dir=mini_dir)

    result = train(cfg, run_b, resume=True, progress=False, data_dir=mini_dir)
    assert result.epochs == 3 and [h["epoch"] for h in result.history] == [1, 2, 3]

    a, b = load_checkpoint(run_a / "last.pt"), load_checkpoint(run_b / "last.pt")
    assert a["epoch"] == b["epoch"] == 3
    assert list(a["model"]) == list(b["model"])
    # Same machine, same single thread, same per-epoch seeds, optimiser state restored: the
    # arithmetic is the same sequence of operations, so the weights are bitwise equal.
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert [h["train_loss_mm"] for h in a["history"]] == [h["train_loss_mm"] for h in b["history"]]
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key


def test_resume_without_a_checkpoint(mini_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config(1), tmp_path / "empty", resume=True, progress=False, data_dir=mini_dir)


def test_nan_loss_raises_and_keeps_the_last_good_checkpoint(mini_dir, tmp_path, monkeypatch):
    real_loss, real_bn = train_mod._loss, train_mod._set_bn_momentum
    epoch = {"n": 0, "step": 0}
    snapshot = {}

    def track_epochs(model, momentum):
        epoch["n"] += 1
        epoch["step"] = 0
        if epoch["n"] == 2:  # the in-memory weights after epoch 1
            snapshot.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real_bn(model, momentum)

    def nan_in_epoch_2_step_3(pred, target, kind):
        epoch["step"] += 1
        loss = real_loss(pred, target, kind)
        if epoch["n"] == 2 and epoch["step"] == 3:
            return loss * float("nan")
        return loss

    monkeypatch.setattr(train_mod, "_set_bn_momentum", track_epochs)
    monkeypatch.setattr(train_mod, "_loss", nan_in_epoch_2_step_3)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as exc:
        train(tiny_config(3), run, progress=False, data_dir=mini_dir)
    message = str(exc.value)
    assert "epoch 2, step 3" in message and "nan" in message
    assert str(run / "last.pt") in message  # names the last good checkpoint

    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert set(state["model"]) == set(snapshot)
    for name, tensor in snapshot.items():
        assert torch.equal(state["model"][name], tensor), name
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [1]
    load_model(run / "last.pt")  # still a usable checkpoint


def test_nan_in_the_first_epoch_says_there_is_no_checkpoint(mini_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(train_mod, "_loss", lambda pred, target, kind: (pred * float("inf")).sum())
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1; .*none \(first epoch\)"):
        train(tiny_config(2), run, progress=False, data_dir=mini_dir)
    assert not (run / "last.pt").exists()


def test_refuses_to_overwrite_a_run(mini_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    last = run / "last.pt"
    last.write_bytes(b"the user's previous checkpoint")
    with pytest.raises(FileExistsError, match="already holds a run") as exc:
        train(tiny_config(1), run, progress=False, data_dir=mini_dir)
    assert "--resume" in str(exc.value)
    assert last.read_bytes() == b"the user's previous checkpoint"
    assert sorted(p.name for p in run.iterdir()) == ["last.pt"]  # nothing else written either


def test_flip_batch_flips_exactly_the_masked_samples():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 17, 2)  # (B, R, J, 2)
    y = torch.randn(5, 17, 3)  # (B, J, 3)
    mask = torch.tensor([True, False, True, False, False])
    fx, fy = flip_batch(x, y, mask, H36M17)
    for i in range(5):
        if mask[i]:
            assert torch.equal(fx[i], flip_2d(x[i], H36M17)) and torch.equal(fy[i], flip_3d(y[i], H36M17))
            # by hand: pelvis (0) stays, right hip (1) <-> left hip (4), x negated
            assert torch.equal(fx[i, :, 0], x[i, :, 0] * torch.tensor([-1.0, 1.0]))
            assert torch.equal(fx[i, :, 1], x[i, :, 4] * torch.tensor([-1.0, 1.0]))
            assert torch.equal(fy[i, 16], y[i, 13] * torch.tensor([-1.0, 1.0, 1.0]))
        else:
            assert torch.equal(fx[i], x[i]) and torch.equal(fy[i], y[i])
    nx, ny = flip_batch(x, y, torch.zeros(5, dtype=torch.bool), H36M17)
    assert torch.equal(nx, x) and torch.equal(ny, y)
    ax, ay = flip_batch(x, y, torch.ones(5, dtype=torch.bool), H36M17)
    assert torch.equal(ax, flip_2d(x, H36M17)) and torch.equal(ay, flip_3d(y, H36M17))


def test_init_weights_starts_from_a_checkpoint_and_refuses_another_model(tmp_path):
    """``train.init_weights`` (fine-tuning): a fresh model takes the checkpoint's weights exactly,
    half-precision ones included; a checkpoint of another model is one clear error."""
    from skelgnn.models.checkpoint import FORMAT, save_checkpoint
    from skelgnn.data.codec import PoseCodec
    from skelgnn.models import PRESETS, build_model, config_to_dict

    src = build_model(PRESETS["fcn-1f"])
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.25)
    half = {k: v.half() if v.is_floating_point() else v for k, v in src.state_dict().items()}
    path = save_checkpoint({"format": FORMAT, "model": half, "model_config": config_to_dict(src.config),
                            "codec": PoseCodec().to_dict()}, tmp_path / "src.pt")
    fresh = build_model(PRESETS["fcn-1f"])
    train_mod._init_from(fresh, str(path))
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, half[k].to(v.dtype)), k
    other = build_model(PRESETS["semgcn-1f"])
    with pytest.raises(ValueError, match="another model"):
        train_mod._init_from(other, str(path))
