"""Tests of skelgnn.models: every preset (forward, backward, no NaN, input checks, window /
sequence agreement, in the manner of timm's ``tests/models/test_models.py``), configs (round trips,
validation, ablation deltas), ``build_model``, ``macs_per_frame`` and a tiny overfit test on the
mini fixture.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import mini_samples, mpjpe
from skelgnn.models import (
    PRESETS,
    FCNConfig,
    SemGCNConfig,
    SkeletalGNNConfig,
    TCNConfig,
    build_model,
    config_from_dict,
    config_to_dict,
    count_parameters,
    macs_per_frame,
)

J = 17
ALL_PRESETS = sorted(PRESETS)
MULTI_FRAME = [n for n in ALL_PRESETS if PRESETS[n].receptive_field > 1]


pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


# ---------------------------------------------------------------------------------------------
# Every preset
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_PRESETS)
def test_preset_forward_backward(name):
    model = build_model(name)
    r = model.receptive_field
    assert r == PRESETS[name].receptive_field and model.num_joints == J
    assert model.config is PRESETS[name]
    model.train()
    x = torch.randn(2, r, J, 2)
    y = model(x)
    assert y.shape == (2, J, 3)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    # Every trainable parameter takes part in the forward pass: no None gradient is expected.
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    bad = [n for n, p in model.named_parameters()
           if p.requires_grad and not torch.isfinite(p.grad).all()]
    assert bad == []


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_preset_rejects_wrong_input(name):
    model = build_model(name)
    r = model.receptive_field
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)") as info:  # what was expected
        model(torch.randn(2, r, 16, 2))
    assert "16" in str(info.value)  # what came
    with pytest.raises(ValueError, match="receptive field"):
        model(torch.randn(2, r + 2, J, 2))
    with pytest.raises(ValueError):
        model(torch.randn(2, r, J, 3))  # 3D input instead of 2D
    with pytest.raises(ValueError):
        model(torch.randn(r, J, 2))  # missing batch axis
    if r > 1:
        with pytest.raises(ValueError, match=f"R = {r}"):
            model.forward_sequence(torch.randn(1, r - 1, J, 2))


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_forward_sequence_equals_stacked_windows(name):
    model = build_model(name)
    r = model.receptive_field
    with torch.no_grad():  # non-trivial batch-norm running statistics
        model.train()
        model(torch.randn(8, r, J, 2))
    model.eval()
    t = 30
    x = torch.randn(1, t + r - 1, J, 2)
    with torch.no_grad():
        seq = model.forward_sequence(x)
        windows = torch.stack([model(x[:, i:i + r]) for i in range(t)], 1)
    assert seq.shape == (1, t, J, 3)
    torch.testing.assert_close(seq, windows, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MULTI_FRAME)
def test_forward_sequence_is_causal_to_its_window(name):
    # Output frame t reads input frames t .. t + R - 1 only.
    model = build_model(name).eval()
    r = model.receptive_field
    x = torch.randn(1, 10 + r - 1, J, 2)
    x2 = x.clone()
    x2[:, r - 1 + 4] += 1.0  # the last frame of window 4, the first of window 9
    with torch.no_grad():
        changed = (model.forward_sequence(x2) - model.forward_sequence(x)).abs().amax((0, 2, 3))
    assert (changed > 0).nonzero().flatten().tolist() == list(range(4, 10))


@pytest.mark.parametrize("cfg", [
    SkeletalGNNConfig(channels=8, blocks=1, static_init="row"),
    SkeletalGNNConfig(channels=8, filter_widths=(3, 3), learn_alpha=False),
    SkeletalGNNConfig(channels=8, filter_widths=(3, 5), blocks=1),  # mixed widths
    SkeletalGNNConfig(channels=8, filter_widths=(5,), blocks=1),  # temporal embedding only
    SkeletalGNNConfig(channels=8, filter_widths=(1, 3), blocks=0),
    SkeletalGNNConfig(channels=8, blocks=1, max_hop=10),  # empty hop groups beyond the diameter
    SkeletalGNNConfig(channels=8, blocks=1, filter_widths=(3, 3), weight_sharing="unshared",
                      fusion="flat"),
    SkeletalGNNConfig(channels=8, blocks=2, filter_widths=(3, 3), embedding="pose",
                      global_channels=8, readout="global"),
    SkeletalGNNConfig(channels=8, blocks=1, filter_widths=(3, 3), weight_sharing="pairwise"),
    TCNConfig(channels=16, filter_widths=(5, 3)),
], ids=["row-init", "fixed-alpha", "widths-3-5", "widths-5", "widths-1-3", "k10",
        "unshared-flat", "pose-mix-global", "pairwise-9f", "tcn-5-3"])
def test_non_preset_configs(cfg):
    model = build_model(cfg)
    r = model.receptive_field
    y = model(torch.randn(3, r, J, 2))
    assert y.shape == (3, J, 3)
    y.square().sum().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    x = torch.randn(1, 12 + r - 1, J, 2)
    with torch.no_grad():
        windows = torch.stack([model(x[:, i:i + r]) for i in range(12)], 1)
        torch.testing.assert_close(model.forward_sequence(x), windows, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------------
# Configs and build_model
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_PRESETS)
def test_config_dict_round_trip(name):
    cfg = PRESETS[name]
    d = config_to_dict(cfg)
    assert d["arch"] == cfg.arch
    again = json.loads(json.dumps(d))  # plain values only (checkpoint / TOML friendly)
    assert config_from_dict(again) == cfg


@pytest.mark.parametrize("name", ["skelgnn-1f", "skelgnn-27f", "skelgnn-1f-shared", "fcn-1f",
                                  "semgcn-1f", "tcn-27f"])
def test_build_model_from_name_config_and_dict_agree(name):
    cfg = PRESETS[name]
    states = []
    for spec in (name, cfg, config_to_dict(cfg), json.loads(json.dumps(config_to_dict(cfg)))):
        torch.manual_seed(1)
        model = build_model(spec)
        assert model.config == cfg
        states.append(model.state_dict())
    ref = states[0]
    for sd in states[1:]:
        assert list(sd) == list(ref)
        for k in ref:
            assert sd[k].shape == ref[k].shape, k
            torch.testing.assert_close(sd[k], ref[k], rtol=0, atol=0)


def test_build_model_unknown_preset_suggests_a_name():
    with pytest.raises(ValueError, match=r"did you mean 'skelgnn-1f'\?"):
        build_model("skelgnn-1")
    with pytest.raises(ValueError, match=r"did you mean 'skelgnn-27f'\?"):
        build_model("skelgnn_27f")
    with pytest.raises(ValueError, match="unknown model preset 'zzz'"):
        build_model("zzz")


def test_build_model_rejects_other_specs():
    with pytest.raises(ValueError, match="cannot build"):
        build_model(object())  # type: ignore[arg-type]


def test_config_from_dict_errors():
    with pytest.raises(ValueError, match="unknown model arch"):
        config_from_dict({"channels": 8})
    with pytest.raises(ValueError, match="unknown model arch 'gpt'"):
        config_from_dict({"arch": "gpt"})
    d = config_to_dict(PRESETS["skelgnn-1f"])
    d["chanels"] = 8
    with pytest.raises(ValueError, match="chanels"):
        config_from_dict(d)


@pytest.mark.parametrize("cls, kwargs, field", [
    (SkeletalGNNConfig, dict(squeeze=0), "squeeze"),
    (SkeletalGNNConfig, dict(squeeze=1.5), "squeeze"),
    (SkeletalGNNConfig, dict(split=4, max_hop=3), "split"),
    (SkeletalGNNConfig, dict(split=-1), "split"),
    (SkeletalGNNConfig, dict(filter_widths=(3, 2)), "filter_widths"),
    (SkeletalGNNConfig, dict(filter_widths=()), "filter_widths"),
    (SkeletalGNNConfig, dict(embedding="dense"), "embedding"),
    (SkeletalGNNConfig, dict(readout="max"), "readout"),
    (SkeletalGNNConfig, dict(global_channels=-1), "global_channels"),
    (SkeletalGNNConfig, dict(dropout=1.0), "dropout"),
    (SkeletalGNNConfig, dict(channels=2), "channels"),
    (SkeletalGNNConfig, dict(blocks=-1), "blocks"),
    (SkeletalGNNConfig, dict(fusion="sum"), "fusion"),
    (SkeletalGNNConfig, dict(weight_sharing="tied"), "weight_sharing"),
    (SkeletalGNNConfig, dict(dynamic="learned"), "dynamic"),
    (SkeletalGNNConfig, dict(parents=(-1, 0, 1)), "parents"),
    (SemGCNConfig, dict(parents=(-1, 0, 1)), "parents"),
    (TCNConfig, dict(filter_widths=(3, 4)), "filter_widths"),
])
def test_config_validation_names_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


@pytest.mark.parametrize("cls, kwargs, field", [
    (FCNConfig, dict(hidden=0), "hidden"),
    (FCNConfig, dict(dropout=1.0), "dropout"),
    (SemGCNConfig, dict(channels=0), "channels"),
    (TCNConfig, dict(channels=0), "channels"),
])
def test_baseline_config_rejects_bad_values(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


@pytest.mark.parametrize("cls, kwargs, field, other", [
    (FCNConfig, dict(hidden=0), "hidden", "blocks"),
    (SemGCNConfig, dict(channels=0), "channels", "blocks"),
    (TCNConfig, dict(channels=0), "channels", "dropout"),
])
def test_baseline_config_errors_name_only_the_offending_field(cls, kwargs, field, other):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    assert field in str(info.value) and other not in str(info.value)


def test_config_validates_static_init():
    with pytest.raises(ValueError, match="static_init"):
        SkeletalGNNConfig(static_init="ones")


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["skelgnn-1f"].channels = 8  # type: ignore[misc]


def _diff(a, b) -> dict:
    da, db = config_to_dict(a), config_to_dict(b)
    return {k: db[k] for k in da if da[k] != db[k]}


@pytest.mark.parametrize("name, base, delta", [
    ("skelgnn-1f-nosqueeze", "skelgnn-1f", {"squeeze": 1.0}),
    ("skelgnn-1f-flat", "skelgnn-1f", {"fusion": "flat"}),
    ("skelgnn-1f-static", "skelgnn-1f", {"dynamic": "none"}),
    ("skelgnn-1f-shared", "skelgnn-1f", {"weight_sharing": "shared"}),
    ("skelgnn-1f-k2", "skelgnn-1f", {"max_hop": 2}),
    ("skelgnn-1f-k5", "skelgnn-1f", {"max_hop": 5}),
    ("skelgnn-1f-s0", "skelgnn-1f", {"split": 0}),
    ("skelgnn-1f-d25", "skelgnn-1f", {"squeeze": 0.25}),
    ("skelgnn-27f-static", "skelgnn-27f", {"dynamic": "none"}),
    ("skelgnn-27f-notemporal", "skelgnn-27f", {"dynamic": "framewise"}),
    ("skelgnn-9f", "skelgnn-27f", {"filter_widths": [3, 3]}),
    ("skelgnn-81f", "skelgnn-27f", {"filter_widths": [3, 3, 3, 3]}),
    ("skelgnn-243f", "skelgnn-27f", {"filter_widths": [3, 3, 3, 3, 3]}),
])
def test_ablation_differs_only_in_the_intended_field(name, base, delta):
    assert _diff(PRESETS[base], PRESETS[name]) == delta


def test_preset_receptive_fields():
    fields = {n: PRESETS[n].receptive_field for n in PRESETS}
    assert fields["skelgnn-1f"] == 1 and fields["skelgnn-9f"] == 9
    assert fields["skelgnn-27f"] == 27 and fields["skelgnn-81f"] == 81
    assert fields["skelgnn-243f"] == 243 and fields["tcn-243f"] == 243
    for n, r in fields.items():  # the name states the receptive field
        assert f"-{r}f" in n


# ---------------------------------------------------------------------------------------------
# Cost counters
# ---------------------------------------------------------------------------------------------

def test_macs_per_frame():
    base = build_model("skelgnn-1f").train()
    macs = macs_per_frame(base)
    assert macs > 0
    assert base.training  # mode restored
    assert macs_per_frame(build_model("skelgnn-1f-nosqueeze")) > macs
    assert macs_per_frame(build_model("skelgnn-1f-static")) < macs  # no dynamic graph to compute
    assert macs_per_frame(build_model("skelgnn-9f"), frames=4) > 0


def test_count_parameters_skips_frozen():
    model = build_model("skelgnn-1f")
    n = count_parameters(model)
    assert n == sum(p.numel() for p in model.parameters())
    model.head.weight.requires_grad_(False)
    assert count_parameters(model) == n - model.head.weight.numel()
    assert count_parameters(build_model("skelgnn-1f-nosqueeze")) > n


# ---------------------------------------------------------------------------------------------
# Tiny overfit
# ---------------------------------------------------------------------------------------------



def test_tiny_overfit_on_mini_fixture(mini_dir):
    x, y = mini_samples(mini_dir, 32)  # (32, 1, J, 2), (32, J, 3) metres
    mean_pose = mpjpe(y.mean(0, keepdim=True).expand_as(y), y).item()
    torch.manual_seed(0)
    # the flagship's layers at a small width and depth (0.15 M parameters, not 3.6 M): the same
    # code paths, several times faster
    model = build_model(dataclasses.replace(PRESETS["skelgnn-1f"], dropout=0.0, channels=32,
                                            blocks=1)).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(200):
        loss = mpjpe(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    final = float(np.mean(losses[-10:]))
    assert final <= losses[0] / 10, (losses[0], final)
    # Not just shrinking the initial output scale: it must fit far better than the mean pose.
    assert final < 0.6 * mean_pose, (final, mean_pose)
    model.eval()  # running statistics of the one batch give the same fit
    with torch.no_grad():
        assert mpjpe(model(x), y).item() < 0.6 * mean_pose


@pytest.mark.parametrize("preset", ["skelgnn-1f", "fcn-1f", "semgcn-1f", "mgcn-1f", "tcn-1f"])
def test_head_init_scales_the_initial_predictions(preset):
    base = PRESETS[preset]
    x = torch.randn(64, base.receptive_field, J, 2)
    outs = {}
    for scale in (1.0, 0.01):
        torch.manual_seed(0)
        model = build_model(dataclasses.replace(base, head_init=scale)).eval()
        with torch.no_grad():
            outs[scale] = model(x)
    # the same network up to its output layer: predictions shrink by the scale exactly
    torch.testing.assert_close(outs[0.01], 0.01 * outs[1.0], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="head_init"):
        dataclasses.replace(base, head_init=0.0)


def test_retired_window_option_still_loads():
    """Configs saved before ``SkeletalGNNConfig.window`` was removed (it was never read) load."""
    data = config_to_dict(PRESETS["skelgnn-27f"])
    data["window"] = 3
    assert config_from_dict(data) == PRESETS["skelgnn-27f"]


def test_pose_embedding_mixes_joints_before_the_first_nonlinearity():
    """With ``embedding="pose"`` moving one joint changes every joint's first features; with the
    per-joint embedding only that joint's."""
    x = torch.zeros(1, 1, 17, 2)
    x2 = x.clone()
    x2[0, 0, 5] += 0.5
    for embedding, changed in (("pose", 17), ("joint", 1)):
        torch.manual_seed(0)
        model = build_model(SkeletalGNNConfig(channels=8, blocks=1, embedding=embedding))
        with torch.no_grad():
            diff = (model.embed_input(x2, False) - model.embed_input(x, False)).abs().sum(-1)
        assert int((diff[0, 0] > 0).sum()) == changed
