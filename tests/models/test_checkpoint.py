"""Tests of skelgnn.models.checkpoint: round trip, ``weights_only`` loading, damaged files, atomic writes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from skelgnn.models.checkpoint import FORMAT, load_checkpoint, load_model, save_checkpoint


class Payload:
    """An arbitrary picklable object: ``weights_only=True`` must refuse to rebuild it."""

    def __init__(self) -> None:
        self.value = 42


def _checkpoint() -> dict:
    return {"format": FORMAT, "config": {"train": {"epochs": 2}, "model": {"arch": "fcn"}},
            "model_config": {"arch": "fcn", "hidden": 8, "blocks": 1},
            "codec": {"mode": "screen", "root": 0},
            "model": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
                      "b": torch.tensor([1.5, -2.0])},
            "epoch": 2, "history": [{"epoch": 1, "train_loss_mm": 12.5}],
            "rng": {"torch": torch.get_rng_state()}}


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_round_trip(tmp_path):
    payload = _checkpoint()
    path = save_checkpoint(payload, tmp_path / "sub" / "ck.pt")  # creates the directory
    assert path == tmp_path / "sub" / "ck.pt" and path.is_file()
    back = load_checkpoint(path)
    assert set(back) == set(payload)
    for key in ("format", "config", "model_config", "codec", "epoch", "history"):
        assert back[key] == payload[key]
    assert set(back["model"]) == {"w", "b"}
    for name, tensor in payload["model"].items():
        assert torch.equal(back["model"][name], tensor)
        assert back["model"][name].dtype == tensor.dtype
    assert torch.equal(back["rng"]["torch"], payload["rng"]["torch"])
    assert _leftovers(path.parent) == []


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(_checkpoint(), path)
    newer = _checkpoint()
    newer["epoch"] = 3
    save_checkpoint(newer, path)
    assert load_checkpoint(path)["epoch"] == 3
    assert _leftovers(tmp_path) == []


def test_arbitrary_pickled_objects_are_refused(tmp_path):
    payload = _checkpoint()
    payload["extra"] = Payload()
    path = tmp_path / "evil.pt"
    torch.save(payload, path)  # a plain pickle, as an untrusted file would be
    assert torch.load(path, weights_only=False)["extra"].value == 42  # the file itself is fine
    with pytest.raises(ValueError) as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value)
    assert "cannot read checkpoint" in str(exc.value)
    assert "weights_only" not in str(exc.value) and "\n" not in str(exc.value)  # not torch's advice


def test_truncated_file(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value) and "truncated or corrupt" in str(exc.value)


def test_garbage_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint at all\n")
    with pytest.raises(ValueError, match="cannot read checkpoint") as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("content", [
    {"model": {"w": torch.zeros(2)}},  # a torch file without the format tag
    {"format": "other-tool/1", "model_config": {}, "codec": {}, "model": {}},
    [torch.zeros(2)],  # not even a dict
])
def test_non_skelgnn_file(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match="not a skelgnn checkpoint") as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value)


def test_missing_required_key(tmp_path):
    payload = _checkpoint()
    del payload["codec"]
    path = save_checkpoint(payload, tmp_path / "ck.pt")
    with pytest.raises(ValueError, match=r"lacks \['codec'\]") as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found") as exc:
        load_checkpoint(tmp_path / "nope.pt")
    assert "nope.pt" in str(exc.value)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path)  # a directory is not a checkpoint


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, error):
    path = tmp_path / "last.pt"
    save_checkpoint(_checkpoint(), path)
    before = path.read_bytes()
    written = []

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial bytes of a new checkpoint")
        written.append(f.name if hasattr(f, "name") else f)
        raise error

    monkeypatch.setattr(torch, "save", failing_save)
    newer = _checkpoint()
    newer["epoch"] = 3
    with pytest.raises(type(error)):
        save_checkpoint(newer, path)
    assert written, "the failing torch.save was not called"
    assert path.read_bytes() == before  # the previous checkpoint is intact ...
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # ... and no temp file left


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    def failing_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(_checkpoint(), tmp_path / "last.pt")
    assert list(tmp_path.iterdir()) == []


def test_written_file_is_complete_before_it_appears(tmp_path, monkeypatch):
    """The real name only ever points at a finished file: the write goes to a temp file that is
    renamed over the target."""
    path = tmp_path / "last.pt"
    seen = []
    real_replace = os.replace

    def spy_replace(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst), os.path.getsize(src)))
        assert not os.path.exists(dst)  # first write: the target does not exist until the rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy_replace)
    save_checkpoint(_checkpoint(), path)
    assert len(seen) == 1
    src, dst, size = seen[0]
    assert dst == "last.pt" and src != "last.pt" and src.endswith(".tmp")
    assert size == path.stat().st_size > 0


def test_half_precision_export_halves_the_file_and_keeps_outputs(tmp_path):
    """export_weights(half=True): float16 weights on disk, float32 model after loading, outputs
    within float16 rounding of the float32 checkpoint's (the shipped weights)."""
    from skelgnn.models.checkpoint import build_payload, export_weights, load_model
    from skelgnn.data.codec import PoseCodec
    from skelgnn.train.config import ExperimentConfig
    from skelgnn.models import build_model

    cfg = ExperimentConfig(preset="skelgnn-1f")
    torch.manual_seed(0)
    model = build_model(cfg.model)
    for p in model.parameters():  # trained-like weights, not the tiny head initialisation
        p.data.normal_(0.0, 0.05)
    full = save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(), 1, [], None), tmp_path / "full.pt")
    half = export_weights(full, tmp_path / "half.pt", half=True)
    stored = load_checkpoint(half)
    assert stored["weights_dtype"] == "float16"
    from skelgnn.models.checkpoint import HALF_MIN_ELEMENTS

    for k, v in stored["model"].items():  # large tensors rounded; small ones and the embedding not
        if v.is_floating_point():
            large = v.numel() > HALF_MIN_ELEMENTS and not k.startswith("embed.")
            assert v.dtype == (torch.float16 if large else torch.float32), k
    assert half.stat().st_size < 0.6 * full.stat().st_size
    m_full, _, _ = load_model(full)
    m_half, _, _ = load_model(half)
    assert all(p.dtype == torch.float32 for p in m_half.parameters())
    x = torch.randn(64, 1, 17, 2) * 0.3
    with torch.no_grad():
        y_full, y_half = m_full(x), m_half(x)
    diff = (y_full - y_half).abs().max().item()
    assert 0.0 < diff < 1e-2 * max(1.0, y_full.abs().max().item())


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "checkpoints").glob("*.pt"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_checkpoint_still_loads_and_lifts(path):
    """Loaders for retired checkpoint keys go only when no file in checkpoints/ needs them: each
    one loads into today's model and lifts a pose to finite 3D."""
    model, _, info = load_model(path)
    x = (torch.rand(2, model.receptive_field, model.num_joints, 2, generator=torch.Generator().manual_seed(0))
         - 0.5) * 0.6
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, model.num_joints, 3) and torch.isfinite(y).all(), info
