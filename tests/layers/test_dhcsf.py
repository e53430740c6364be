"""Layer contract tests for skelgnn.layers.dhcsf (in the manner of PyTorch Geometric's conv tests):
repr, shapes for one and several frames, buffers in ``state_dict`` that follow ``.to()``,
hand-checked channel budgets and static graphs, no NaN on empty hop groups, temporal locality of
the dynamic graph, and equivalences (DHCSF without a dynamic graph is HCSF; ``temporal_unfold``
plus a linear map is ``conv1d``).

HCSF is deliberately *not* permutation equivariant (its static graph has learnable per-edge
weights tied to the joint order), so no equivariance test here.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from skelgnn.layers.graph import cumulative_mask, hop_distances, hop_masks, normalize_rows
from skelgnn.layers.dhcsf import (
    DHCSF,
    HCSF,
    DynamicGraph,
    GroupBatchNorm,
    JointLinear,
    PairLinear,
    squeezed_channels,
    temporal_unfold,
)
from skelgnn.skeleton import H36M17

P17 = H36M17.parents
J = 17


pytestmark = pytest.mark.usefixtures("seed_and_one_thread")


# ---------------------------------------------------------------------------------------------
# squeezed_channels
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    ((128, 1, 3, 0.5), [128, 64, 32]),
    ((128, 1, 3, 1.0), [128, 128, 128]),  # d = 1: no squeezing
    ((96, 1, 5, 1.0), [96] * 5),
    ((8, 1, 6, 0.5), [8, 4, 2, 1, 1, 1]),  # 8 * 0.5^4 = 0.5 -> floor 0 -> max(1, 0) = 1
    ((7, 1, 3, 0.5), [7, 3, 1]),  # floor(3.5) = 3, floor(1.75) = 1
    ((96, 1, 3, 0.25), [96, 24, 6]),
    ((96, 0, 2, 0.5), [96, 48, 24]),  # s = 0: hops 1 and 2 are long range
    ((100, 1, 3, 0.3), [100, 30, 9]),  # 100 * 0.3 ** 2 = 9.000000000000002 -> 9
    ((10, 0, 2, 0.3), [10, 3, 1]),  # 10 * 0.09 = 0.9 -> floor 0 -> 1
    ((64, 3, 3, 0.5), [64]),  # K = s: one group only
])
def test_squeezed_channels(args, expected):
    assert squeezed_channels(*args) == expected


# ---------------------------------------------------------------------------------------------
# temporal_unfold
# ---------------------------------------------------------------------------------------------

def _unfold_reference(x, kernel, dilation=1, stride=1, padding=0):
    """Loop version: output frame t, window slot f reads padded frame t*stride + f*dilation."""
    b, t, j, c = x.shape
    xp = torch.cat([x.new_zeros(b, padding, j, c), x, x.new_zeros(b, padding, j, c)], 1)
    t_out = (t + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    out = x.new_zeros(b, t_out, j, kernel * c)
    for to in range(t_out):
        for f in range(kernel):
            out[:, to, :, f * c:(f + 1) * c] = xp[:, to * stride + f * dilation]
    return out


@pytest.mark.parametrize("t, kernel, dilation, stride, padding", [
    (12, 3, 1, 3, 0),  # fast path (stride == kernel, T % kernel == 0)
    (7, 3, 1, 3, 1),  # fast path after zero padding (7 + 2 = 9 frames)
    (13, 3, 1, 3, 0),  # same geometry, T not a multiple: general path
    (10, 3, 1, 1, 0),
    (10, 3, 2, 1, 2),  # dilated 'same'
    (11, 5, 2, 2, 1),
    (8, 2, 1, 2, 0),  # even kernel, fast path
    (6, 1, 1, 2, 0),  # kernel 1 with a stride
])
def test_temporal_unfold_matches_loop_reference(t, kernel, dilation, stride, padding):
    x = torch.randn(2, t, 3, 4)
    out = temporal_unfold(x, kernel, dilation, stride, padding)
    torch.testing.assert_close(out, _unfold_reference(x, kernel, dilation, stride, padding),
                               rtol=0, atol=0)


def test_temporal_unfold_fast_path_equals_general_path():
    # T = 12 takes the reshape fast path; T = 13 (one extra frame) takes the slicing path and
    # must agree on the 4 windows they share.
    x = torch.randn(2, 13, J, 5)
    fast = temporal_unfold(x[:, :12], 3, stride=3)
    general = temporal_unfold(x, 3, stride=3)
    assert fast.shape == (2, 4, J, 15) and general.shape == (2, 4, J, 15)
    torch.testing.assert_close(fast, general, rtol=0, atol=0)


def test_temporal_unfold_kernel_one_is_identity():
    x = torch.randn(2, 5, J, 3)
    assert temporal_unfold(x, 1) is x


def test_temporal_unfold_too_short_raises():
    with pytest.raises(ValueError, match="does not fit"):
        temporal_unfold(torch.randn(1, 4, J, 2), 3, dilation=2)  # span 5 > 4 frames


@pytest.mark.parametrize("t, kernel, dilation, stride, padding", [
    (9, 3, 1, 3, 0),  # fast path
    (10, 3, 1, 1, 0),
    (20, 3, 3, 1, 0),
    (10, 3, 2, 1, 2),
    (17, 5, 2, 3, 1),
])
def test_linear_on_temporal_unfold_equals_conv1d(t, kernel, dilation, stride, padding):
    b, c_in, c_out = 2, 4, 6
    x = torch.randn(b, t, J, c_in, dtype=torch.float64)
    lin = nn.Linear(kernel * c_in, c_out).double()
    y = lin(temporal_unfold(x, kernel, dilation, stride, padding))  # (B, T', J, C_out)

    # Conv1d over frames, one sequence per (sample, joint). Frame f of the window reads input
    # channels f*C_in .. (f+1)*C_in of the linear weight.
    w = lin.weight.view(c_out, kernel, c_in).permute(0, 2, 1)  # (C_out, C_in, kernel)
    xc = x.permute(0, 2, 3, 1).reshape(b * J, c_in, t)  # (B*J, C_in, T)
    yc = nn.functional.conv1d(xc, w, lin.bias, stride=stride, padding=padding, dilation=dilation)
    yc = yc.reshape(b, J, c_out, -1).permute(0, 3, 1, 2)  # (B, T', J, C_out)
    assert y.shape == yc.shape
    torch.testing.assert_close(y, yc)


# ---------------------------------------------------------------------------------------------
# GroupBatchNorm and JointLinear
# ---------------------------------------------------------------------------------------------

def test_group_batch_norm_shares_statistics_over_leading_axes():
    bn = GroupBatchNorm(6)
    x = torch.randn(4, 3, J, 6) * 5 + 2
    y = bn(x)
    assert y.shape == x.shape
    flat = y.reshape(-1, 6)
    torch.testing.assert_close(flat.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.var(0, unbiased=False), torch.ones(6), atol=1e-3, rtol=0)


def test_joint_linear_parameter_shapes():
    shared = JointLinear(J, 5, 7, shared=True)
    assert shared.weight.shape == (5, 7) and shared.bias.shape == (7,)
    unshared = JointLinear(J, 5, 7, shared=False)
    assert unshared.weight.shape == (J, 5, 7) and unshared.bias.shape == (J, 7)
    assert JointLinear(J, 5, 7, bias=False).bias is None
    assert sum(p.numel() for p in unshared.parameters()) == J * sum(
        p.numel() for p in shared.parameters())


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_joint_linear_forward_matches_per_joint_reference(lead):
    x = torch.randn(*lead, J, 5)
    unshared = JointLinear(J, 5, 7)
    y = unshared(x)
    assert y.shape == (*lead, J, 7)
    ref = torch.stack([x[..., j, :] @ unshared.weight[j] + unshared.bias[j] for j in range(J)], -2)
    torch.testing.assert_close(y, ref)
    shared = JointLinear(J, 5, 7, shared=True)
    torch.testing.assert_close(shared(x), x @ shared.weight + shared.bias)


def test_joint_linear_repr():
    r = repr(JointLinear(J, 5, 7, shared=True))
    assert "5, 7" in r and "joints=17" in r and "shared=True" in r and "bias=True" in r


# ---------------------------------------------------------------------------------------------
# HCSF
# ---------------------------------------------------------------------------------------------

def test_hcsf_repr_names_hyper_parameters():
    r = repr(HCSF(16, 32, P17, max_hop=3, split=1, squeeze=0.5))
    for key in ("16, 32", "K=3", "s=1", "d=0.5", "group_channels=[32, 16, 8]",
                "fusion='hierarchical'", "weights='shared'", "static_init='softmax'"):
        assert key in r, key


@pytest.mark.parametrize("t", [1, 5])
@pytest.mark.parametrize("fusion", ["hierarchical", "flat"])
@pytest.mark.parametrize("sharing", ["shared", "unshared", "pairwise"])
def test_hcsf_shapes(t, fusion, sharing):
    layer = HCSF(8, 12, P17, max_hop=3, split=1, squeeze=0.5, fusion=fusion,
                 weight_sharing=sharing)
    assert layer.num_groups == 3 and layer.group_channels == [12, 6, 3]
    x = torch.randn(2, t, J, 8)
    assert layer(x).shape == (2, t, J, 12)
    offsets = torch.randn(2, t, layer.num_groups, J, J)
    assert layer(x, offsets, torch.full((3,), 0.1)).shape == (2, t, J, 12)


def test_hcsf_group_widths_and_fusion_modules():
    hier = HCSF(8, 32, P17, max_hop=4, split=1, squeeze=0.5)
    assert hier.group_channels == [32, 16, 8, 4]
    assert [p.out_channels for p in hier.group_proj] == [32, 16, 8, 4]
    assert hier.long_fuse.in_features == 16 + 8 + 4 and hier.long_fuse.out_features == 16
    assert hier.out_fuse.in_features == 16 and hier.out_fuse.out_features == 32
    assert hier.flat_fuse is None
    flat = HCSF(8, 32, P17, max_hop=4, split=1, squeeze=0.5, fusion="flat")
    assert flat.long_fuse is None and flat.out_fuse is None
    assert flat.flat_fuse.in_features == 32 + 16 + 8 + 4 and flat.flat_fuse.out_features == 32
    single = HCSF(8, 32, P17, max_hop=1, split=1)
    assert single.num_groups == 1 and single.long_fuse is None and single.flat_fuse is None
    assert single(torch.randn(2, 1, J, 8)).shape == (2, 1, J, 32)
    unshared = HCSF(8, 32, P17, weight_sharing="unshared")
    assert unshared.group_proj[0].weight.shape == (J, 8, 32)


def test_hcsf_squeezing_saves_parameters():
    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(HCSF(64, 64, P17, max_hop=3, squeeze=0.5)) < count(
        HCSF(64, 64, P17, max_hop=3, squeeze=1.0))


def test_hcsf_masks_are_registered_buffers():
    layer = HCSF(4, 8, P17, max_hop=3, split=1)
    assert "masks" in dict(layer.named_buffers())
    assert "masks" in layer.state_dict()
    assert "masks" not in dict(layer.named_parameters())
    expected = torch.stack([cumulative_mask(P17, 1), hop_masks(P17, 3)[2], hop_masks(P17, 3)[3]])
    torch.testing.assert_close(layer.masks, expected)

    layer = layer.to(torch.float64)
    assert layer.masks.dtype == torch.float64
    assert layer.edge_weight.dtype == torch.float64
    y = layer(torch.randn(2, 3, J, 4, dtype=torch.float64))
    assert y.dtype == torch.float64


def test_hcsf_state_dict_round_trip():
    a = HCSF(4, 8, P17, max_hop=3, split=1)
    with torch.no_grad():
        a.edge_weight.normal_()
    b = HCSF(4, 8, P17, max_hop=3, split=1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 2, J, 4)
    torch.testing.assert_close(a(x), b(x))


def test_hcsf_static_adjacency_init_hand_values():
    # s = 1, K = 3; rows of the thorax (8), whose neighbours are
    # group 0 (<= 1 hop):  7, 8, 9, 11, 14           -> 1/5 each
    # group 1 (2 hops):    0 (via 7), 10, 12, 15      -> 1/4 each
    # group 2 (3 hops):    1, 4 (via 0), 13, 16       -> 1/4 each
    for init in ("softmax", "row"):
        adj = HCSF(4, 8, P17, max_hop=3, split=1, static_init=init).static_adjacency()
        assert adj.shape == (3, J, J)
        expect = torch.zeros(3, J)
        expect[0, [7, 8, 9, 11, 14]] = 1 / 5
        expect[1, [0, 10, 12, 15]] = 1 / 4
        expect[2, [1, 4, 13, 16]] = 1 / 4
        torch.testing.assert_close(adj[:, 8], expect)
        # Both parametrisations start at the row-normalised topology.
        masks = torch.stack([cumulative_mask(P17, 1), hop_masks(P17, 3)[2], hop_masks(P17, 3)[3]])
        torch.testing.assert_close(adj, normalize_rows(masks))


@pytest.mark.parametrize("init", ["softmax", "row"])
@pytest.mark.parametrize("max_hop", [3, 10])
def test_hcsf_static_adjacency_zero_off_support_rows_sum_to_one(init, max_hop):
    layer = HCSF(4, 8, P17, max_hop=max_hop, split=1, static_init=init)
    with torch.no_grad():
        layer.edge_weight.normal_(0.0, 2.0)  # arbitrary learned weights, negative ones included
    adj = layer.static_adjacency()
    support = layer.masks > 0
    assert torch.isfinite(adj).all()
    assert torch.all(adj[~support] == 0)
    assert torch.all(adj[support] >= 0)
    sums = adj.sum(-1)
    nonempty = support.any(-1)
    torch.testing.assert_close(sums[nonempty], torch.ones(int(nonempty.sum())))
    assert torch.all(sums[~nonempty] == 0)


@pytest.mark.parametrize("init", ["softmax", "row"])
def test_hcsf_hops_beyond_diameter_give_zero_rows_and_no_nan(init):
    # K = 10 > diameter 8: groups for hops 9 and 10 (the last two) have no support at all, and
    # only feet and wrists have 8-hop neighbours.
    layer = HCSF(6, 16, P17, max_hop=10, split=1, squeeze=0.5, static_init=init)
    assert layer.num_groups == 10
    assert layer.masks[-2:].sum() == 0
    adj = layer.static_adjacency()
    assert torch.all(adj[-2:] == 0)
    rows_8hop = adj[7].sum(-1)  # group 7 = hop 8
    assert rows_8hop.nonzero().flatten().tolist() == [3, 6, 13, 16]

    x = torch.randn(2, 3, J, 6, requires_grad=True)
    for offsets in (None, torch.randn(2, 3, layer.num_groups, J, J)):
        x.grad = None
        layer.zero_grad()
        y = layer(x, offsets, None if offsets is None else torch.full((10,), 0.1))
        assert torch.isfinite(y).all()
        y.square().sum().backward()
        assert torch.isfinite(x.grad).all()
        for name, p in layer.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_hcsf_static_weights_only_learn_on_the_support():
    layer = HCSF(4, 8, P17, max_hop=3, split=1)
    layer(torch.randn(2, 1, J, 4)).square().sum().backward()
    assert torch.all(layer.edge_weight.grad[layer.masks == 0] == 0)


def test_hcsf_zero_offsets_equal_static_graph():
    layer = HCSF(4, 8, P17, max_hop=3, split=1)
    x = torch.randn(2, 3, J, 4)
    zero = torch.zeros(2, 3, layer.num_groups, J, J)
    torch.testing.assert_close(layer(x, zero), layer(x))
    # alpha scales the offsets per group.
    off = torch.randn(2, 3, layer.num_groups, J, J)
    alpha = torch.tensor([0.5, 2.0, -1.0])
    torch.testing.assert_close(layer(x, off, alpha), layer(x, off * alpha.view(1, 1, 3, 1, 1)))


def test_hcsf_wrong_input_raises():
    layer = HCSF(4, 8, P17)
    with pytest.raises(ValueError, match="17, 4"):
        layer(torch.randn(2, 1, 16, 4))
    with pytest.raises(ValueError, match="17, 4"):
        layer(torch.randn(2, 1, J, 5))


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_hop=2, split=3), "split"),
    (dict(split=-1), "split"),
    (dict(squeeze=0.0), "squeeze"),
    (dict(squeeze=1.5), "squeeze"),
    (dict(fusion="sum"), "fusion"),
    (dict(weight_sharing="tied"), "weight_sharing"),
    (dict(static_init="ones"), "static_init"),
])
def test_hcsf_invalid_hyper_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HCSF(4, 8, P17, **kwargs)


def test_hcsf_reset_parameters_restores_topology():
    layer = HCSF(4, 8, P17, max_hop=3)
    before = layer.static_adjacency().detach().clone()
    with torch.no_grad():
        layer.edge_weight.normal_()
        layer.bias.fill_(3.0)
    layer.reset_parameters()
    torch.testing.assert_close(layer.static_adjacency(), before)
    assert torch.all(layer.bias == 0)


# ---------------------------------------------------------------------------------------------
# DynamicGraph
# ---------------------------------------------------------------------------------------------

def test_dynamic_graph_repr():
    r = repr(DynamicGraph(16, 4, 3, window=3, dilation=2))
    for key in ("16", "hidden=4", "groups=3", "window=3", "dilation=2", "padding='same'"):
        assert key in r, key


@pytest.mark.parametrize("t, window", [(1, 1), (6, 1), (6, 3), (9, 5)])
def test_dynamic_graph_same_padding_shape_and_range(t, window):
    graph = DynamicGraph(8, 4, 3, window=window)
    x = torch.randn(2, t, J, 8)
    o = graph(x)
    assert o.shape == (2, t, 3, J, J)
    assert torch.all(o.abs() < 1)
    assert o.abs().max() > 0  # dense, not masked


def test_dynamic_graph_valid_padding_with_stride_and_dilation():
    graph = DynamicGraph(8, 4, 2, window=3, padding="valid")
    x = torch.randn(2, 12, J, 8)
    assert graph(x).shape == (2, 10, 2, J, J)
    assert graph(x, stride=3).shape == (2, 4, 2, J, J)
    assert graph(x, dilation=3).shape == (2, 6, 2, J, J)
    # Strided windows are a subset of the dense ones.
    torch.testing.assert_close(graph(x, stride=3), graph(x)[:, ::3])


def test_dynamic_graph_is_temporally_local():
    graph = DynamicGraph(8, 4, 2, window=3)
    x = torch.randn(1, 10, J, 8)
    x2 = x.clone()
    x2[:, 5] += torch.randn(J, 8)
    changed = (graph(x2) - graph(x)).abs().amax(dim=(0, 2, 3, 4))  # (T,)
    assert torch.all(changed[[0, 1, 2, 3, 7, 8, 9]] == 0)
    assert torch.all(changed[[4, 5, 6]] > 0)


def test_dynamic_graph_dilated_window_is_temporally_local():
    graph = DynamicGraph(8, 4, 2, window=3, dilation=2)  # frame t reads t-2, t, t+2
    x = torch.randn(1, 10, J, 8)
    x2 = x.clone()
    x2[:, 5] += 1.0
    changed = (graph(x2) - graph(x)).abs().amax(dim=(0, 2, 3, 4))
    assert (changed > 0).nonzero().flatten().tolist() == [3, 5, 7]


def test_dynamic_graph_framewise_only_sees_its_frame():
    graph = DynamicGraph(8, 4, 2, window=1)
    x = torch.randn(1, 6, J, 8)
    x2 = x.clone()
    x2[:, 2] += 1.0
    changed = (graph(x2) - graph(x)).abs().amax(dim=(0, 2, 3, 4))
    assert (changed > 0).nonzero().flatten().tolist() == [2]


@pytest.mark.parametrize("kwargs, match", [
    (dict(window=0), "window"),
    (dict(window=2), "odd"),
    (dict(padding="causal"), "padding"),
])
def test_dynamic_graph_invalid_hyper_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DynamicGraph(8, 4, 2, **kwargs)


# ---------------------------------------------------------------------------------------------
# DHCSF
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dynamic", ["none", "framewise", "temporal"])
@pytest.mark.parametrize("t", [1, 4])
def test_dhcsf_shapes(dynamic, t):
    layer = DHCSF(8, 12, P17, dynamic=dynamic, window=3)
    x = torch.randn(2, t, J, 8, requires_grad=True)
    y = layer(x)
    assert y.shape == (2, t, J, 12)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_dhcsf_repr():
    r = repr(DHCSF(8, 12, P17, dynamic="temporal", window=3))
    assert "dynamic='temporal'" in r
    assert "K=3" in r and "DynamicGraph" in r and "window=3" in r


def test_dhcsf_without_dynamic_graph_equals_hcsf():
    kw = dict(max_hop=4, split=1, squeeze=0.5, fusion="hierarchical")
    layer = DHCSF(8, 12, P17, dynamic="none", **kw)
    assert layer.graph is None and layer.alpha is None
    assert set(layer.state_dict()) == {f"hcsf.{k}" for k in HCSF(8, 12, P17, **kw).state_dict()}
    plain = HCSF(8, 12, P17, **kw)
    plain.load_state_dict(layer.hcsf.state_dict())
    with torch.no_grad():  # make the static graph non-trivial first
        layer.hcsf.edge_weight.normal_()
        plain.edge_weight.copy_(layer.hcsf.edge_weight)
    x = torch.randn(2, 3, J, 8)
    torch.testing.assert_close(layer(x), plain(x), rtol=0, atol=0)


def test_dhcsf_with_zero_alpha_equals_its_static_part():
    layer = DHCSF(8, 12, P17, dynamic="temporal", window=3, alpha_init=0.0)
    x = torch.randn(2, 5, J, 8)
    torch.testing.assert_close(layer(x), layer.hcsf(x))
    with torch.no_grad():
        layer.alpha.fill_(0.5)
    assert not torch.allclose(layer(x), layer.hcsf(x))


def test_dhcsf_alpha_parameter_or_buffer():
    learn = DHCSF(8, 12, P17, dynamic="temporal", alpha_init=0.1)
    assert "alpha" in dict(learn.named_parameters())
    torch.testing.assert_close(learn.alpha.detach(), torch.full((3,), 0.1))
    assert learn.graph.window == 3 and learn.graph.hidden_channels == 2  # C_in // 4
    fixed = DHCSF(8, 12, P17, dynamic="framewise", learn_alpha=False, hidden_channels=5)
    assert "alpha" not in dict(fixed.named_parameters())
    assert "alpha" in fixed.state_dict()
    assert fixed.graph.window == 1 and fixed.graph.hidden_channels == 5
    fixed = fixed.to(torch.float64)
    assert fixed.alpha.dtype == torch.float64 and fixed.hcsf.masks.dtype == torch.float64
    assert fixed(torch.randn(1, 2, J, 8, dtype=torch.float64)).dtype == torch.float64


def test_dhcsf_reset_parameters_restores_alpha():
    layer = DHCSF(8, 12, P17, dynamic="temporal", alpha_init=0.2)
    with torch.no_grad():
        layer.alpha.fill_(5.0)
    layer.reset_parameters()
    torch.testing.assert_close(layer.alpha.detach(), torch.full((3,), 0.2))


def test_dhcsf_invalid_dynamic_raises():
    with pytest.raises(ValueError, match="dynamic"):
        DHCSF(8, 12, P17, dynamic="learned")


def test_dhcsf_hops_beyond_diameter_no_nan():
    layer = DHCSF(8, 8, P17, max_hop=10, split=1, dynamic="temporal", window=3)
    x = torch.randn(2, 4, J, 8, requires_grad=True)
    y = layer(x)
    assert torch.isfinite(y).all()
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_hop_distance_sanity_for_layer_masks():
    # The masks of a layer use exactly the hop structure of graph.hop_distances.
    layer = HCSF(4, 8, P17, max_hop=5, split=2)
    d = hop_distances(P17)
    torch.testing.assert_close(layer.masks[0], (d <= 2).float())
    for g, k in enumerate(range(3, 6), start=1):
        torch.testing.assert_close(layer.masks[g], (d == k).float())


# ---------------------------------------------------------------------------------------------
# PairLinear and pairwise HCSF
# ---------------------------------------------------------------------------------------------

def test_pair_linear_matches_a_loop_over_pairs():
    mask = cumulative_mask(P17, 1)
    layer = PairLinear(mask, 5, 7)
    assert layer.num_pairs == int((mask > 0).sum()) == 17 + 32
    assert layer.weight.shape == (49, 5, 7)
    assert "dst" in layer.state_dict() and "src" in layer.state_dict()
    assert "scatter" not in layer.state_dict()  # derived from dst; checkpoints stay as they were
    torch.testing.assert_close(layer.scatter.sum(0), torch.ones(layer.num_pairs))
    x = torch.randn(2, 3, J, 5)
    coef = torch.randn(2, 3, layer.num_pairs)
    ref = torch.zeros(2, 3, J, 7)
    for p, (i, j) in enumerate(zip(layer.dst.tolist(), layer.src.tolist())):
        assert mask[i, j] > 0
        ref[:, :, i] += coef[:, :, p, None] * (x[:, :, j] @ layer.weight[p])
    torch.testing.assert_close(layer(x, coef), ref)
    # one coefficient per pair, shared by the batch
    c1 = torch.randn(layer.num_pairs)
    torch.testing.assert_close(layer(x, c1), layer(x, c1.expand(2, 3, -1)))


def test_pair_linear_distinguishes_neighbours():
    """The point of per-pair weights: swapping two neighbours of a joint changes its output
    even when their aggregation coefficients are equal (a per-target layer cannot see it)."""
    mask = cumulative_mask(P17, 1)
    pair = PairLinear(mask, 4, 4)
    joint = JointLinear(J, 4, 4)
    x = torch.randn(1, 1, J, 4)
    swapped = x.clone()
    swapped[..., [1, 4], :] = x[..., [4, 1], :]  # two children of the pelvis
    coef = torch.ones(pair.num_pairs)
    assert not torch.allclose(pair(x, coef)[..., 0, :], pair(swapped, coef)[..., 0, :])
    avg = normalize_rows(mask)
    y = joint(torch.einsum("ij,btjc->btic", avg, x))[..., 0, :]
    y_sw = joint(torch.einsum("ij,btjc->btic", avg, swapped))[..., 0, :]
    torch.testing.assert_close(y, y_sw)


def test_pairwise_hcsf_equals_reference_with_offsets():
    layer = HCSF(6, 12, P17, max_hop=3, split=1, weight_sharing="pairwise")
    assert isinstance(layer.group_proj[0], PairLinear)
    assert all(isinstance(p, JointLinear) and not p.shared for p in layer.group_proj[1:])
    with torch.no_grad():
        layer.edge_weight.normal_()
    x = torch.randn(2, 2, J, 6)
    off = torch.randn(2, 2, layer.num_groups, J, J)
    alpha = torch.tensor([0.3, 0.2, 0.1])
    y = layer(x, off, alpha)
    adj = layer.static_adjacency()
    o = off * alpha.view(-1, 1, 1)
    pair = layer.group_proj[0]
    coef = adj[0, pair.dst, pair.src] + o[:, :, 0, pair.dst, pair.src]
    z = [pair(x, coef)]
    agg = torch.einsum("btgij,btjc->btgic", adj[1:] + o[:, :, 1:], x)
    z += [layer.group_proj[g](agg[:, :, g - 1]) for g in range(1, layer.num_groups)]
    ref = z[0] + layer.out_fuse(torch.relu(layer.long_fuse(torch.cat(z[1:], -1)))) + layer.bias
    torch.testing.assert_close(y, ref)
    # without offsets the static coefficients alone
    y0 = layer(x)
    z0 = [pair(x, adj[0, pair.dst, pair.src])]
    agg0 = torch.einsum("gij,btjc->btgic", adj[1:], x)
    z0 += [layer.group_proj[g](agg0[:, :, g - 1]) for g in range(1, layer.num_groups)]
    ref0 = z0[0] + layer.out_fuse(torch.relu(layer.long_fuse(torch.cat(z0[1:], -1)))) + layer.bias
    torch.testing.assert_close(y0, ref0)
