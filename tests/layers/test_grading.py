"""Learnable hop grading (skelgnn.layers.grading): gates, their hook in HCSF, widths from gates."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from skelgnn.layers.grading import HopGate, derive_widths, gate_report, squeeze_from_widths
from skelgnn.models import PRESETS, build_model
from skelgnn.models.skelgnn import SkeletalGNNConfig
from skelgnn.layers.dhcsf import HCSF
from skelgnn.skeleton import H36M17

REPO = Path(__file__).resolve().parents[2]


def test_gate_starts_at_one_and_scales_each_channel():
    gate = HopGate([3, 2])
    z = [torch.randn(4, 5, 3), torch.randn(4, 5, 2)]
    out = gate(z)
    assert all(torch.allclose(a, b) for a, b in zip(out, z))
    with torch.no_grad():
        gate.rho[3] = 1.0  # first channel of group 1
    out = gate(z)
    assert torch.allclose(out[0], z[0])
    g = torch.nn.functional.softplus(torch.tensor(gate.lr_scale * 1.0 + math.log(math.e - 1)))
    assert torch.allclose(out[1][..., 0], z[1][..., 0] * g)
    assert torch.allclose(out[1][..., 1], z[1][..., 1])
    with pytest.raises(ValueError, match="2 groups"):
        gate(z[:1])


@pytest.mark.parametrize("sharing", ["shared", "pairwise"])
@pytest.mark.parametrize("fusion", ["hierarchical", "flat"])
def test_gated_hcsf_starts_as_the_fixed_one_and_learns_its_gates(sharing, fusion):
    torch.manual_seed(0)
    fixed = HCSF(8, 8, H36M17.parents, max_hop=3, split=1, squeeze=0.5, fusion=fusion,
                 weight_sharing=sharing)
    gated = HCSF(8, 8, H36M17.parents, max_hop=3, split=1, squeeze=0.5, fusion=fusion,
                 weight_sharing=sharing, grading="gated")
    missing, unexpected = gated.load_state_dict(fixed.state_dict(), strict=False)
    assert missing == ["gate.rho"] and unexpected == []
    x = torch.randn(2, 1, 17, 8)
    assert torch.allclose(gated(x), fixed(x), atol=1e-6)
    gated(x).square().sum().backward()
    assert gated.gate.rho.grad is not None and gated.gate.rho.grad.abs().sum() > 0
    with torch.no_grad():
        gated.gate.rho.fill_(-0.3)  # every gate below 1: the output changes
    assert not torch.allclose(gated(x), fixed(x), atol=1e-4)


def test_fixed_presets_keep_their_state_dict_keys():
    for name, cfg in PRESETS.items():
        if getattr(cfg, "arch", "") != "skelgnn":
            continue
        keys = build_model(cfg).state_dict().keys()
        gated = "gated" in name
        assert any(".gate." in k for k in keys) == gated, name
    keys = build_model("skelgnn-1f-gated").state_dict().keys()
    assert sorted(k for k in keys if ".gate." in k) == [
        f"blocks.{b}.layers.{i}.hcsf.gate.rho" for b in range(3) for i in range(2)]


@pytest.mark.parametrize("path", sorted((REPO / "checkpoints").glob("*.pt")), ids=lambda p: p.name)
def test_shipped_checkpoints_still_load(path):
    from skelgnn.models.checkpoint import load_model

    model, _, _ = load_model(path)  # strict load_state_dict
    assert not any(".gate." in k for k in model.state_dict())


def test_config_rejects_an_unknown_grading():
    with pytest.raises(ValueError, match="grading must be one of"):
        SkeletalGNNConfig(grading="learnt")


def test_widths_from_untouched_gates_are_the_fixed_grading():
    rep = gate_report(build_model("skelgnn-1f-gated"))
    assert rep.fixed_widths == [96, 48, 24]
    assert rep.derived_widths == [96, 48, 24]
    assert rep.derived_squeeze == pytest.approx(0.5)
    assert rep.group_hops == ["0-1", "2", "3"] and len(rep.layers) == 6
    assert rep.mean_gate[0] == pytest.approx([1.0, 1.0, 1.0])


def test_widths_follow_the_gate_mass():
    model = build_model(dataclasses.replace(PRESETS["skelgnn-1f-gated"], squeeze=1.0))
    gates = [m for m in model.modules() if isinstance(m, HopGate)]
    target = 0.25  # every hop-3 gate a quarter, in every layer
    rho = (torch.log(torch.expm1(torch.tensor(target))) - torch.log(torch.expm1(
        torch.tensor(1.0)))) / HopGate.lr_scale
    for g in gates:
        with torch.no_grad():
            g.rho[192:] = rho
    rep = gate_report(model)
    assert rep.fixed_widths == [96, 96, 96]
    assert rep.mass_ratio == pytest.approx([1.0, 1.0, 0.25], abs=1e-5)
    assert rep.derived_widths == [96, 96, 24]


def test_derive_widths_and_squeeze_fit():
    assert derive_widths(96, [1.0, 0.5, 0.26, 0.001]) == [96, 48, 25, 1]
    assert squeeze_from_widths([96, 48, 24, 12]) == pytest.approx(0.5)
    assert squeeze_from_widths([64, 64]) == pytest.approx(1.0)
    assert squeeze_from_widths([96]) is None


def test_gate_report_needs_a_gated_model():
    with pytest.raises(ValueError, match="no hop gates"):
        gate_report(build_model("skelgnn-1f"))


def test_analyze_grading_cli(tmp_path, capsys):
    from skelgnn.models.checkpoint import build_payload, save_checkpoint
    from skelgnn.cli import main
    from skelgnn.data.codec import PoseCodec
    from skelgnn.train.config import ExperimentConfig

    cfg = ExperimentConfig(model=PRESETS["skelgnn-1f-gated"], preset="skelgnn-1f-gated")
    model = build_model(cfg.model)
    for g in (m for m in model.modules() if isinstance(m, HopGate)):
        with torch.no_grad():
            g.rho[96:144] = 0.1  # hop-2 gates up
    ckpt = save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(), 1, [], None), tmp_path / "g.pt")
    out = tmp_path / "grading.json"
    assert main(["analyze", "grading", "--checkpoint", str(ckpt), "--hops",
                 str(REPO / "benchmarks" / "results" / "hops" / "det" / "hops.json"),
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "derived width" in text and "from the information-gain fit 0.79" in text
    rep = json.loads(out.read_text())
    assert rep["derived_widths"][0] == 96 and rep["derived_widths"][1] > 48
    assert rep["derived_widths"][2] == 24


def test_gate_penalty_is_the_mean_gate_and_pulls_gates_down():
    from skelgnn.layers.grading import gate_penalty

    assert gate_penalty(build_model("skelgnn-1f")) is None
    model = build_model(PRESETS["skelgnn-1f-gated"])
    penalty = gate_penalty(model)
    assert penalty is not None and math.isclose(penalty.item(), 1.0, rel_tol=1e-6)
    penalty.backward()
    grads = [m.rho.grad for m in model.modules() if isinstance(m, HopGate)]
    assert grads and all(g is not None and bool((g > 0).all()) for g in grads)


def test_config_rejects_a_negative_gate_l1():
    from skelgnn.train.config import load_config

    with pytest.raises(ValueError, match="gate_l1"):
        load_config(None, ["train.gate_l1=-0.1"])


def test_gate_l1_needs_gates_and_shrinks_them(mini_dir, tmp_path):
    from skelgnn.models.checkpoint import load_model
    from skelgnn.train.config import load_config
    from skelgnn.train.loop import train

    tiny = ["model.channels=16", "model.blocks=1", "data.split=test", "data.frame_stride=1",
            "train.batch_size=64", "train.max_samples=256", "train.threads=1", "train.epochs=2"]
    with pytest.raises(ValueError, match="hop gates"):
        train(load_config(None, [*tiny, "train.gate_l1=0.01"]), tmp_path / "fixed",
              progress=False, data_dir=mini_dir)
    assert not (tmp_path / "fixed" / "last.pt").exists()
    means = {}
    for l1 in (0.0, 1.0):
        cfg = load_config(None, [*tiny, "model.grading=gated", f"train.gate_l1={l1}", "train.lr=1e-2"])
        result = train(cfg, tmp_path / f"l1-{l1}", progress=False, data_dir=mini_dir)
        rep = gate_report(load_model(result.checkpoint)[0])
        means[l1] = sum(sum(row) for row in rep.mean_gate) / sum(len(r) for r in rep.mean_gate)
    assert means[1.0] < means[0.0] - 0.2, means
