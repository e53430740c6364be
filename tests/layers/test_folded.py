"""The inference-time folded D-HCSF path (:mod:`skelgnn.layers.folded`) computes what the
paper's equation in ``HCSF.forward`` computes, and never serves stale weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skelgnn.models import build_model
from skelgnn.layers.dhcsf import HCSF
from skelgnn.layers.folded import folded_weights, forward_folded

ROOT = Path(__file__).resolve().parents[2]


def _perturb(model: torch.nn.Module) -> None:
    """Random static graphs and dynamic weights, so no term of the layer is at its init."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, HCSF):
                mod.edge_weight.normal_()
                if mod.bias is not None:
                    mod.bias.normal_(std=0.1)
            alpha = getattr(mod, "alpha", None)
            if isinstance(alpha, torch.nn.Parameter):
                alpha.normal_()


def _unfolded(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The training-path computation in eval mode (autograd on, so nothing is folded)."""
    with torch.enable_grad():
        return model(x).detach()


@pytest.mark.parametrize("preset", ["skelgnn-1f", "skelgnn-27f", "skelgnn-1f-unshared",
                                    "skelgnn-1f-static"])
def test_folded_path_matches(preset, seed_and_one_thread):
    model = build_model(preset)
    _perturb(model)
    model.eval()
    x = torch.randn(8, model.receptive_field, 17, 2)
    ref = _unfolded(model, x)
    with torch.inference_mode():
        out = model(x)
    layers = [m for m in model.modules() if isinstance(m, HCSF)]
    assert all("_folded" in m.__dict__ for m in layers)  # the folded path ran
    assert torch.allclose(out, ref, rtol=0, atol=1e-6)


def test_fold_is_off_in_training_and_for_shared_or_flat(seed_and_one_thread):
    layer = HCSF(8, 8, (-1, 0, 1, 2), max_hop=3, weight_sharing="pairwise")
    with torch.no_grad():
        assert layer.folded_weights() is None  # training mode
        layer.eval()
        assert layer.folded_weights() is not None
    assert layer.folded_weights() is None  # autograd on
    for kw in ({"weight_sharing": "shared"}, {"fusion": "flat"}, {"max_hop": 1}):
        other = HCSF(8, 8, (-1, 0, 1, 2), **kw).eval()
        with torch.no_grad():
            assert other.folded_weights() is None, kw


def test_fold_follows_weight_changes(seed_and_one_thread):
    model = build_model("skelgnn-1f").eval()
    x = torch.randn(4, 1, 17, 2)
    with torch.inference_mode():
        model(x)
    fresh = build_model("skelgnn-1f")
    _perturb(fresh)
    model.load_state_dict(fresh.state_dict())  # in-place copies into the same tensors
    with torch.inference_mode():
        out = model(x)
    assert torch.allclose(out, _unfolded(model, x), rtol=0, atol=1e-6)
    layer = next(m for m in model.modules() if isinstance(m, HCSF))
    with torch.no_grad():
        layer.long_fuse.weight.mul_(3.0)  # an optimiser-style in-place update
        layer.edge_weight.add_(1.0)
    with torch.inference_mode():
        out = model(x)
    assert torch.allclose(out, _unfolded(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["skelgnn-1f-cmu-det.pt", "skelgnn-27f-cmu-det.pt"])
def test_shipped_checkpoints_fold_to_the_same_poses(name, mini_dir, seed_and_one_thread):
    """Real detections through the shipped (fp16-stored) weights: the folded path gives the same
    poses as the unfolded one within 1e-5 m, and the state-dict keys are untouched."""
    from skelgnn.models.checkpoint import load_checkpoint, load_model

    path = ROOT / "checkpoints" / name
    model, codec, _ = load_model(path)
    assert set(model.state_dict()) == set(load_checkpoint(path)["model"])
    data = np.load(mini_dir / "data_2d_cmu_det.npz", allow_pickle=True)["positions_2d"].item()
    seqs = [np.asarray(a) for subj in data.values() for act in subj.values() for a in act]
    uv = np.concatenate(seqs)[:, :, :2]  # (F, J, 2) pixels
    r = model.receptive_field
    x2d = codec.encode_2d(uv, (1000.0, 1000.0)) if codec.mode == "screen" else codec.encode_2d(uv)
    x = torch.from_numpy(x2d)[None]  # (1, F, J, 2)
    assert x.shape[1] >= 300 + r - 1
    model.eval()
    with torch.enable_grad():
        ref = model.forward_sequence(x).detach()
    with torch.inference_mode():
        out = model.forward_sequence(x)
    diff = (out - ref).abs().max().item()
    assert diff < 1e-5, diff


def test_gated_grading_keeps_the_unfolded_path():
    """The fold has no hop gates in it: a gated layer (learnable hop grading) must not take it."""
    import torch

    from skelgnn.models import PRESETS, build_model

    torch.manual_seed(0)
    model = build_model(PRESETS["skelgnn-1f-gated"]).eval()
    with torch.no_grad():
        for m in model.modules():
            if getattr(m, "gate", None) is not None:
                for p in m.gate.parameters():
                    p.add_(0.5)  # gates away from 1, so skipping them would change the output
    x = torch.randn(4, 1, 17, 2)
    with torch.no_grad():
        eval_out = model(x)
    with torch.enable_grad():
        reference = model(x).detach()  # autograd on: the unfolded path
    torch.testing.assert_close(eval_out, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("sharing", ["pairwise", "unshared"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_folded_helper_equals_the_equation(sharing, dynamic, seed_and_one_thread):
    """The helper on its own: ``forward_folded`` with ``folded_weights`` equals the layer's
    equation (aggregate, then fuse) for static graphs and for per-sample dynamic offsets."""
    parents = (-1, 0, 1, 2, 0, 4, 5)
    layer = HCSF(6, 8, parents, max_hop=3, split=1, weight_sharing=sharing).eval()
    with torch.no_grad():
        layer.edge_weight.normal_()
        layer.bias.normal_(std=0.1)
    x = torch.randn(2, 3, len(parents), 6)
    offsets = torch.randn(2, 3, layer.num_groups, len(parents), len(parents)) if dynamic else None
    alpha = torch.rand(layer.num_groups) if dynamic else None
    with torch.no_grad():
        folded = folded_weights(layer)
        assert folded is not None and folded_weights(layer) is folded  # cached
        out = forward_folded(layer, x, offsets, alpha, folded)
        ref = layer.fuse(layer.aggregate(x, layer.graphs(offsets, alpha)))
    assert out.shape == (2, 3, len(parents), 8)
    assert torch.allclose(out, ref, rtol=0, atol=1e-5)
