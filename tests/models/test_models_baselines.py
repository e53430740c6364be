"""Tests of the graph baselines (models/semgcn.py, models/mgcn.py) and the batch-norm helpers
(models/bn.py): shapes, sizes, the modulated graph convolution's algebra, old SemGCN configs,
precise BN statistics, and a tiny overfit whose eval-mode fit must match its train-mode fit.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from conftest import mini_samples, mpjpe
from skelgnn.layers.graph import adjacency
from skelgnn.models import (PRESETS, MGCNConfig, SemGCNConfig, build_model, config_from_dict,
                            config_to_dict, count_parameters)
from skelgnn.models.bn import JointBatchNorm, recompute_bn_stats
from skelgnn.models.mgcn import ModulatedGraphConv
from skelgnn.skeleton import H36M17
from skelgnn.train.batches import bn_input_batches

J = 17
PARENTS = H36M17.parents

pytestmark = pytest.mark.usefixtures("seed_and_one_thread")

GRAPH_MODELS = [("mgcn-1f", {}), ("mgcn-1f", {"norm": "channel", "decouple": False}),
                ("semgcn-1f", {}), ("semgcn-1f", {"norm": "channel"}), ("semgcn-nl-1f", {})]


# ---------------------------------------------------------------------------------------------
# Shapes and sizes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, change", GRAPH_MODELS)
def test_shapes_window_and_sequence(name, change):
    model = build_model(dataclasses.replace(PRESETS[name], **change)).eval()
    x = torch.randn(3, 5, J, 2)
    with torch.no_grad():
        seq = model.forward_sequence(x)  # (3, 5, J, 3)
        win = model(x[:, 2:3])  # (3, J, 3)
    assert seq.shape == (3, 5, J, 3) and win.shape == (3, J, 3)
    torch.testing.assert_close(seq[:, 2], win)


# State-dict names of the graph baselines as checkpoints store them (models/graph_baseline.py):
# the shared scaffolding must keep them, or saved SemGCN / MGCN runs stop loading.
_BN = ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]


def _keys(conv_names):
    conv = lambda pre: [f"{pre}.{n}" for n in conv_names]  # noqa: E731
    act = lambda pre: [f"{pre}.0.{n}" for n in _BN]  # noqa: E731
    return (conv("inp") + act("inp_act") + conv("blocks.0.0") + act("blocks.0.1")
            + conv("blocks.0.2") + act("blocks.0.3") + conv("out"))


@pytest.mark.parametrize("config, conv_names", [
    (SemGCNConfig(channels=8, blocks=1), ["weight", "edge_logits", "bias", "support"]),
    (MGCNConfig(channels=8, blocks=1), ["weight", "modulation", "affinity", "bias", "adj"]),
])
def test_state_dict_keys_are_the_checkpoint_layout(config, conv_names):
    model = build_model(config)
    assert list(model.state_dict()) == _keys(conv_names)
    # a state dict in that layout (another model's weights) loads strictly and gives its outputs
    other = build_model(config)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.load_state_dict(other.state_dict())
    x = torch.randn(2, 1, J, 2)
    torch.testing.assert_close(model.eval()(x), other.eval()(x))


def test_parameter_counts():
    n_mgcn = count_parameters(build_model("mgcn-1f"))
    assert 0.3e6 <= n_mgcn <= 1.2e6, n_mgcn
    # joint norm: 2 J C affine parameters per batch norm instead of 2 C
    chan = count_parameters(build_model(dataclasses.replace(PRESETS["semgcn-1f"],
                                                            norm="channel")))
    joint = count_parameters(build_model("semgcn-1f"))
    c, layers = PRESETS["semgcn-1f"].channels, 1 + 2 * PRESETS["semgcn-1f"].blocks
    assert joint - chan == layers * 2 * (J - 1) * c


def test_mgcn_preset_and_config_round_trip():
    cfg = PRESETS["mgcn-1f"]
    assert isinstance(cfg, MGCNConfig) and cfg.arch == "mgcn" and cfg.norm == "joint"
    assert config_from_dict(config_to_dict(cfg)) == cfg
    with pytest.raises(ValueError, match="norm"):
        MGCNConfig(norm="layer")
    with pytest.raises(ValueError, match="norm"):
        SemGCNConfig(norm="layer")


# ---------------------------------------------------------------------------------------------
# The modulated graph convolution
# ---------------------------------------------------------------------------------------------

def _plain_gcn_adjacency() -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` built by hand from the parent list."""
    a = torch.eye(J)
    for j, p in enumerate(PARENTS):
        if p >= 0:
            a[j, p] = a[p, j] = 1.0
    d = a.sum(1)
    return a / torch.sqrt(d[:, None] * d[None, :])


@pytest.mark.parametrize("decouple", [False, True])
def test_zero_affinity_unit_modulation_is_a_plain_gcn_layer(decouple):
    layer = ModulatedGraphConv(5, 7, PARENTS, decouple=decouple, q_init=0.0)
    if decouple:  # the decoupled layer with equal weights is the plain layer
        with torch.no_grad():
            layer.weight[1].copy_(layer.weight[0])
    assert torch.equal(layer.modulation, torch.ones(J, 7))
    x = torch.randn(4, J, 5)
    expected = _plain_gcn_adjacency() @ (x @ layer.weight[0]) + layer.bias
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("decouple", [False, True])
def test_weight_modulation_rescales_one_joints_transform(decouple):
    """``m_k`` rescales joint k's transformed feature ``W x_k``: it changes the outputs of k and
    of its neighbours only, by ``A'_jk (m_k - 1) W x_k``."""
    layer = ModulatedGraphConv(5, 7, PARENTS, decouple=decouple, q_init=0.0)
    x = torch.randn(4, J, 5)
    k = 3
    with torch.no_grad():
        before = layer(x)
        scale = torch.linspace(0.5, 2.0, 7)
        layer.modulation[k] = scale
        after = layer(x)
    changed = (after - before).abs().amax(dim=(0, 2)) > 1e-6  # (J,)
    neighbours = adjacency(PARENTS, self_loops=True)[:, k] > 0
    assert changed.tolist() == neighbours.tolist()
    adj = _plain_gcn_adjacency()
    for j in torch.nonzero(neighbours).flatten().tolist():
        w = layer.weight[0 if j == k or not decouple else 1]
        expected = adj[j, k] * (scale - 1) * (x[:, k] @ w)
        torch.testing.assert_close(after[:, j] - before[:, j], expected, rtol=1e-4, atol=1e-6)


def test_affinity_modulation_adds_symmetric_edges_beyond_the_skeleton():
    layer = ModulatedGraphConv(2, 3, PARENTS, decouple=False, q_init=0.0)
    far = 16  # a wrist, many hops from the root
    assert adjacency(PARENTS)[0, far] == 0
    x = torch.randn(1, J, 2, requires_grad=True)
    layer(x)[0, 0].sum().backward()
    assert x.grad[0, far].abs().max() == 0  # skeleton only: joint 0 does not see joint 16
    with torch.no_grad():
        layer.affinity[0, far] = 0.2
    adj = layer.adjacency()
    torch.testing.assert_close(adj, adj.t())
    assert adj[0, far].item() == pytest.approx(0.1) and adj[far, 0].item() == pytest.approx(0.1)
    x.grad = None
    layer(x)[0, 0].sum().backward()
    assert x.grad[0, far].abs().max() > 0


def test_default_affinity_starts_near_the_skeleton():
    layer = ModulatedGraphConv(2, 3, PARENTS)
    torch.testing.assert_close(layer.adjacency(), _plain_gcn_adjacency(), rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Old SemGCN configs
# ---------------------------------------------------------------------------------------------

def test_old_semgcn_config_loads_with_channel_norm():
    """Configs saved before ``SemGCNConfig.norm`` existed load as 'channel' (what they trained
    with), and their state dicts load strictly into the rebuilt model."""
    old = config_to_dict(PRESETS["semgcn-1f"])
    del old["norm"]
    cfg = config_from_dict(old)
    assert cfg.norm == "channel"
    model = build_model(old)
    assert not any(isinstance(m, JointBatchNorm) for m in model.modules())
    # the layout of a model saved then: batch norms over C channels at inp_act.0
    assert model.state_dict()["inp_act.0.running_mean"].shape == (PRESETS["semgcn-1f"].channels,)
    state = build_model(dataclasses.replace(PRESETS["semgcn-1f"], norm="channel")).state_dict()
    model.load_state_dict(state, strict=True)
    # new configs keep their value
    assert config_from_dict(config_to_dict(PRESETS["semgcn-1f"])).norm == "joint"


def test_the_shipped_semgcn_rows_config_loads_as_trained():
    """The model config stored with the semgcn-1f benchmark rows before ``norm`` existed
    (benchmarks/results/semgcn-1f-det.json at that time), through the experiment loader."""
    from skelgnn.train.config import experiment_from_dict

    model = {"channels": 128, "blocks": 4, "dropout": 0.0, "head_init": 0.01, "num_joints": 17,
             "parents": list(PARENTS), "arch": "semgcn"}
    cfg = experiment_from_dict({"preset": "semgcn-1f", "model": model})
    assert cfg.model.norm == "channel" and cfg.model.channels == 128


# ---------------------------------------------------------------------------------------------
# Batch norm helpers
# ---------------------------------------------------------------------------------------------

def test_joint_batch_norm_normalises_every_joint_channel():
    bn = JointBatchNorm(J, 4).train()
    x = torch.randn(256, J, 4) * torch.arange(1, J + 1).view(1, J, 1) + 3.0
    y = bn(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(J, 4), rtol=0, atol=1e-5)
    torch.testing.assert_close(y.var(0, unbiased=False), torch.ones(J, 4), rtol=0, atol=1e-3)


def test_recompute_bn_stats_sets_the_batch_statistics():
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)
    model = nn.Sequential(lin, nn.Dropout(0.5), nn.BatchNorm1d(4, momentum=0.01))
    bn = model[2]
    batches = [torch.randn(64, 3) * 2 + 1 for _ in range(3)]
    model.train()  # stale statistics, as after a low-momentum schedule
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()
    n = recompute_bn_stats(model, batches)
    assert n == 3
    with torch.no_grad():
        feats = [lin(x) for x in batches]  # dropout is off while re-estimating
    expected_mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    expected_var = torch.stack([f.var(0, unbiased=True) for f in feats]).mean(0)
    torch.testing.assert_close(bn.running_mean, expected_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, expected_var, rtol=1e-5, atol=1e-6)
    # momentum and modes restored
    assert bn.momentum == 0.01 and not model.training and not bn.training
    # no batches: statistics untouched
    before = bn.running_mean.clone()
    assert recompute_bn_stats(model, []) == 0
    assert torch.equal(bn.running_mean, before)


def test_recompute_bn_stats_makes_eval_match_train_on_that_batch():
    model = build_model(SemGCNConfig(channels=32, blocks=2))  # small: the check is per layer
    x = torch.randn(512, 1, J, 2) * 0.3
    model.train()
    with torch.no_grad():
        model(x[:8])  # running statistics of a different, tiny batch
        train_out = model(x)  # batch statistics of x
    model.eval()
    with torch.no_grad():
        stale = model(x)
    recompute_bn_stats(model, [x])
    assert not model.training
    with torch.no_grad():
        fresh = model(x)
    err_fresh = (fresh - train_out).abs().max().item()
    err_stale = (stale - train_out).abs().max().item()
    # (the running variance is the unbiased one: not exactly the batch's)
    assert err_fresh < 1e-2 * train_out.abs().max().item(), err_fresh
    assert err_fresh < err_stale / 20, (err_fresh, err_stale)


class _Windows:
    """A stand-in for WindowDataset: sample ``i`` is a pose filled with ``i``."""

    def batch(self, idx):
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.float32)
        x = idx.view(-1, 1, 1, 1).expand(-1, 1, J, 2).clone()
        x[..., 0] += 0.5  # x != 0, so a flip changes the sign of the first coordinate
        return x, torch.zeros(len(idx), J, 3)


def test_bn_input_batches_follows_the_order_and_the_flips():
    order = np.array([5, 2, 7, 1, 0, 3, 4])
    flips = torch.tensor([True, False, False, False, True, False, False])
    got = list(bn_input_batches(_Windows(), order, batch_size=3, count=5, flips=flips,
                                skeleton=H36M17))
    assert [b.shape[0] for b in got] == [3, 3]  # the last batch has one sample: skipped
    from skelgnn.geometry import flip_2d

    plain = _Windows().batch(order[:3])[0]
    torch.testing.assert_close(got[0][0], flip_2d(plain[:1], H36M17)[0])
    torch.testing.assert_close(got[0][1:], plain[1:])
    assert len(list(bn_input_batches(_Windows(), order, batch_size=3, count=1,
                                     skeleton=H36M17))) == 1


def test_precise_bn_in_training_changes_only_the_statistics(mini_dir, tmp_path):
    from skelgnn.models.checkpoint import load_checkpoint
    from skelgnn.train.config import load_config
    from skelgnn.train.loop import train

    base = ["model.preset=semgcn-1f", "model.channels=16", "model.blocks=1", "data.split=test",
            "data.frame_stride=1", "train.batch_size=64", "train.max_samples=256",
            "train.threads=1", "train.epochs=1"]
    states = {}
    for n in (0, 2):
        cfg = load_config(None, base + [f"train.precise_bn_batches={n}"])
        train(cfg, tmp_path / f"pbn{n}", progress=False, data_dir=mini_dir)
        states[n] = load_checkpoint(tmp_path / f"pbn{n}" / "last.pt")["model"]
    stats = [k for k in states[0] if k.endswith(("running_mean", "running_var"))]
    assert stats
    for k, v in states[0].items():
        if k in stats:
            continue
        if k.endswith("num_batches_tracked"):
            assert states[2][k].item() == 2, k  # the cumulative average over 2 batches
        else:
            assert torch.equal(v, states[2][k]), k  # the weights are untouched
    assert any(not torch.allclose(states[0][k], states[2][k]) for k in stats)
    with pytest.raises(ValueError, match="precise_bn_batches"):
        load_config(None, ["train.precise_bn_batches=-1"])


# ---------------------------------------------------------------------------------------------
# Tiny overfit: low loss, and eval mode as good as train mode
# ---------------------------------------------------------------------------------------------



# width: the smallest that fits with a wide margin (MGCN at 32 ends near 0.16 of the mean-pose
# error, SemGCN at 32 misses the bar, at 64 ends near 0.24)
@pytest.mark.parametrize("name, width", [("mgcn-1f", 32), ("semgcn-1f", 64)])
def test_tiny_overfit_and_eval_matches_train(mini_dir, name, width):
    """Fit 64 poses with an annealed learning rate (as a real schedule ends): low loss, and the
    eval-mode network (running statistics) fits them as well as the train-mode one (batch
    statistics)."""
    x, y = mini_samples(mini_dir, 64)  # (64, 1, J, 2), (64, J, 3) metres
    mean_pose = float(mpjpe(y.mean(0, keepdim=True).expand_as(y), y))
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(PRESETS[name], channels=width, blocks=2))
    assert model.config.norm == "joint"
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1 - i / 130))
    model.train()
    for _ in range(150):  # lr 2e-3 falling linearly to 0 at step 130
        loss = (model(x) - y).norm(dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

    with torch.no_grad():
        train_loss = float(mpjpe(model(x), y))
        model.eval()
        eval_loss = float(mpjpe(model(x), y))
    assert train_loss < 0.4 * mean_pose, (train_loss, mean_pose)
    assert abs(eval_loss - train_loss) < 0.1 * train_loss + 2e-3, (eval_loss, train_loss)


def test_non_local_block_starts_as_identity_and_reaches_every_joint():
    from skelgnn.models.semgcn import JointNonLocal

    torch.manual_seed(0)
    block = JointNonLocal(8)
    x = torch.randn(5, 17, 8)
    for mode in (block.train, block.eval):
        mode()
        torch.testing.assert_close(block(x), x)  # the batch norm's scale starts at 0
    with torch.no_grad():
        block.bn.weight.fill_(1.0)
    block.eval()
    moved = x.clone()
    moved[:, 0] += 1.0  # change the root only
    delta = (block(moved) - block(x))[:, 16]  # a wrist, three hops and more from the root
    assert delta.abs().max() > 1e-3  # one block reaches it: attention spans every joint
    model = build_model("semgcn-nl-1f")
    assert model.non_local is not None and len(model.non_local) == PRESETS["semgcn-nl-1f"].blocks + 1
    assert build_model("semgcn-1f").non_local is None
