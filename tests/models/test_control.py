"""Tests of the D-HCSF controls (models/control.py): the flagship's embedding in front of a plain
MLP or LCN body. Sizes must match the flagship's, the embedding must be the flagship's, the LCN
must only connect joints within its hops, and the controls must train and round-trip.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from conftest import mini_samples, mpjpe
from skelgnn.models import (PRESETS, ControlConfig, build_model, config_from_dict,
                            config_to_dict, count_parameters, macs_per_frame)
from skelgnn.models.control import LCNLayer
from skelgnn.skeleton import H36M17

J = 17
PARENTS = H36M17.parents

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


@pytest.fixture(scope="module")
def flagship_size() -> tuple[int, float]:
    model = build_model("skelgnn-1f")
    return count_parameters(model), macs_per_frame(model)


@pytest.mark.parametrize("name, measure", [("control-mlp-1f", 0), ("control-lcn-1f", 0),
                                           ("control-mlp-1f-macs", 1), ("control-lcn-1f-macs", 1)])
def test_presets_match_the_flagship(name, measure, flagship_size):
    model = build_model(name)
    size = (count_parameters(model), macs_per_frame(model))
    assert size[measure] == pytest.approx(flagship_size[measure], rel=0.01)


def test_embedding_is_the_flagships():
    control, flagship = build_model("control-mlp-1f"), build_model("skelgnn-1f")
    assert control.embed.linear.weight.shape == flagship.embed.linear.weight.shape  # (J*C, 2J)
    # the same map: copying the flagship's weights gives the same embedding of a pose
    control.embed.linear.load_state_dict(flagship.embed.linear.state_dict())
    x = torch.randn(4, 1, J, 2)
    with torch.no_grad():
        want = flagship.embed_input(x, sequence=False)[:, 0]  # (4, J, C)
        got = control.embed(x[:, 0])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["control-mlp-1f", "control-lcn-1f"])
def test_forward_backward_and_sequence(name):
    model = build_model(dataclasses.replace(PRESETS[name], channels=8, hidden=6))
    x = torch.randn(5, 1, J, 2)
    y = model(x)
    assert y.shape == (5, J, 3)
    y.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in model.parameters())
    model.eval()
    seq = torch.randn(2, 4, J, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_sequence(seq)[:, 1], model(seq[:, 1:2]))


@pytest.mark.parametrize("hops", [0, 1, 2])
def test_lcn_connects_only_joints_within_its_hops(hops):
    from skelgnn.layers.graph import hop_distances

    layer = LCNLayer(PARENTS, hops, 3, 4)
    x = torch.zeros(1, J, 3, requires_grad=True)
    layer(x)[0, 10].sum().backward()  # joint 10 (head top)
    reached = (x.grad[0].abs().sum(-1) > 0).numpy()
    dist = hop_distances(PARENTS)[10].numpy()
    assert (reached == ((dist >= 0) & (dist <= hops))).all()


def test_mlp_mixes_every_joint():
    model = build_model(dataclasses.replace(PRESETS["control-mlp-1f"], channels=8, hidden=6,
                                            blocks=1)).eval()
    # past the embedding, one block's dense layers reach every joint from every joint
    h = torch.zeros(1, J, 8, requires_grad=True)
    model.blocks[0](h)[0, 3].sum().backward()
    assert (h.grad[0].abs().sum(-1) > 0).all()


def test_config_round_trip_and_checks():
    cfg = PRESETS["control-lcn-1f"]
    back = config_from_dict(config_to_dict(cfg))
    assert isinstance(back, ControlConfig) and back == cfg and back.arch == "control"
    with pytest.raises(ValueError, match="body"):
        ControlConfig(body="transformer")
    with pytest.raises(ValueError, match="hops"):
        ControlConfig(hops=-1)


@pytest.mark.parametrize("name", ["control-mlp-1f", "control-lcn-1f"])
def test_tiny_overfit(name, mini_dir):
    x, y = mini_samples(mini_dir, 64)  # (64, 1, J, 2), (64, J, 3)
    model = build_model(dataclasses.replace(PRESETS[name], channels=16, hidden=32, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = float(mpjpe(model(x), y).detach())
    for _ in range(150):
        opt.zero_grad()
        loss = mpjpe(model(x), y)
        loss.backward()
        opt.step()
    assert float(mpjpe(model(x), y).detach()) < 0.5 * start
