"""Tests of skelgnn.layers.graph: adjacency, hop distances, hop masks and normalisation.

Distances are checked by hand on the H36M17 tree (joint names in the comments):

    0 Hip -- 1 RHip -- 2 RKnee -- 3 RFoot
          -- 4 LHip -- 5 LKnee -- 6 LFoot
          -- 7 Spine -- 8 Thorax -- 9 Neck/Nose -- 10 Head
                              -- 11 LShoulder -- 12 LElbow -- 13 LWrist
                              -- 14 RShoulder -- 15 RElbow -- 16 RWrist
"""
from __future__ import annotations

import pytest
import torch

from skelgnn.layers.graph import (
    adjacency,
    cumulative_mask,
    hop_distances,
    hop_masks,
    normalize_rows,
    normalize_symmetric,
)
from skelgnn.skeleton import H36M17

P17 = H36M17.parents
J = 17
DIAMETER = 8
# docs/PAPER.md section 3: "pairs per k". They count ORDERED pairs (i, j): k0 = 17 is the diagonal
# (each joint with itself once), k1 = 32 = 2 x 16 bones, and the list sums to 17 x 17 = 289.
PAIRS_PER_HOP = [17, 32, 38, 44, 50, 44, 36, 20, 8]


# ---------------------------------------------------------------------------------------------
# Adjacency
# ---------------------------------------------------------------------------------------------

def test_adjacency_symmetric_with_16_edges():
    a = adjacency(P17)
    assert a.shape == (J, J) and a.dtype == torch.float32
    torch.testing.assert_close(a, a.T)
    assert set(a.unique().tolist()) == {0.0, 1.0}
    assert int(a.sum()) == 2 * 16  # 16 undirected bones, each stored twice
    assert int(a.triu().sum()) == 16
    assert torch.all(a.diagonal() == 0)
    # Thorax (8) touches Spine (7), Neck (9), LShoulder (11), RShoulder (14).
    assert a[8].nonzero().flatten().tolist() == [7, 9, 11, 14]
    assert a[3].nonzero().flatten().tolist() == [2]  # RFoot is a leaf


def test_adjacency_self_loops_adds_identity():
    torch.testing.assert_close(adjacency(P17, self_loops=True), adjacency(P17) + torch.eye(J))


@pytest.mark.parametrize("parents, match", [
    ((), "at least one"),
    ((-1, 0, 5), "outside"),
    ((-1, 1), "own parent"),
])
def test_invalid_parents_raise(parents, match):
    with pytest.raises(ValueError, match=match):
        adjacency(parents)
    with pytest.raises(ValueError, match=match):
        hop_distances(parents)


# ---------------------------------------------------------------------------------------------
# Hop distances
# ---------------------------------------------------------------------------------------------

def test_hop_distances_hand_values():
    d = hop_distances(P17)
    assert d.shape == (J, J) and d.dtype == torch.int64
    assert torch.equal(d, d.T)
    assert torch.all(d.diagonal() == 0)
    # RFoot 3 -> 2 RKnee -> 1 RHip -> 0 Hip -> 4 LHip -> 5 LKnee -> 6 LFoot: 6 hops
    assert d[3, 6] == 6
    # Head 10 -> 9 Neck -> 8 Thorax -> 14 RShoulder -> 15 RElbow -> 16 RWrist: 5 hops
    assert d[10, 16] == 5
    # LWrist 13 -> 12 -> 11 -> 8 Thorax -> 14 -> 15 -> 16 RWrist: 6 hops
    assert d[13, 16] == 6
    # RFoot 3 -> 2 -> 1 -> 0 Hip -> 7 Spine -> 8 Thorax -> 9 Neck -> 10 Head: 7 hops
    assert d[3, 10] == 7
    # RFoot 3 -> 2 -> 1 -> 0 -> 7 -> 8 -> 11 LShoulder -> 12 LElbow -> 13 LWrist: 8 hops
    assert d[3, 13] == 8
    # Hip 0 -> 7 Spine -> 8 Thorax: 2 hops
    assert d[0, 8] == 2


def test_hop_distance_one_is_the_adjacency():
    d = hop_distances(P17)
    torch.testing.assert_close((d == 1).float(), adjacency(P17))


def test_diameter_and_its_pairs():
    d = hop_distances(P17)
    assert int(d.max()) == DIAMETER
    # The 8-hop pairs are exactly feet x wrists (4 unordered, 8 ordered pairs).
    far = {tuple(p) for p in (d == DIAMETER).nonzero().tolist()}
    feet, wrists = (3, 6), (13, 16)
    expected = {(f, w) for f in feet for w in wrists} | {(w, f) for f in feet for w in wrists}
    assert far == expected


def test_pairs_per_exact_hop_match_paper_ordered_convention():
    d = hop_distances(P17)
    counts = [int((d == k).sum()) for k in range(DIAMETER + 1)]
    assert counts == PAIRS_PER_HOP
    assert sum(PAIRS_PER_HOP) == J * J
    # The unordered convention would give k0 = 17 and halves elsewhere: not the paper's numbers.
    unordered = [int((d.triu(diagonal=1) == k).sum()) for k in range(1, DIAMETER + 1)]
    assert unordered == [c // 2 for c in PAIRS_PER_HOP[1:]]


def test_hop_distances_of_a_forest_mark_unreachable_pairs():
    # Two components {0, 1} and {2, 3}.
    d = hop_distances((-1, 0, -1, 2))
    expected = torch.tensor([[0, 1, -1, -1], [1, 0, -1, -1], [-1, -1, 0, 1], [-1, -1, 1, 0]])
    assert torch.equal(d, expected)
    # Unreachable pairs are in no mask.
    assert hop_masks((-1, 0, -1, 2), 3).sum() == 4 + 4
    assert cumulative_mask((-1, 0, -1, 2), 3).sum() == 8


# ---------------------------------------------------------------------------------------------
# Hop masks
# ---------------------------------------------------------------------------------------------

def test_exact_masks_partition_the_grid():
    m = hop_masks(P17, DIAMETER)  # (9, J, J)
    assert m.shape == (DIAMETER + 1, J, J) and m.dtype == torch.float32
    assert set(m.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(m.sum(0), torch.ones(J, J))  # covers every pair ...
    for a in range(DIAMETER + 1):  # ... exactly once
        for b in range(a + 1, DIAMETER + 1):
            assert not torch.any((m[a] > 0) & (m[b] > 0)), (a, b)
    assert [int(mk.sum()) for mk in m] == PAIRS_PER_HOP
    torch.testing.assert_close(m[0], torch.eye(J))
    torch.testing.assert_close(m[1], adjacency(P17))
    for mk in m:
        torch.testing.assert_close(mk, mk.T)


def test_masks_beyond_the_diameter_are_zero():
    m = hop_masks(P17, 10)
    assert m.shape == (11, J, J)
    assert m[DIAMETER + 1:].sum() == 0
    torch.testing.assert_close(m[: DIAMETER + 1], hop_masks(P17, DIAMETER))


@pytest.mark.parametrize("s", range(DIAMETER + 2))
def test_cumulative_mask_is_sum_of_exact_masks(s):
    exact = hop_masks(P17, s)
    torch.testing.assert_close(cumulative_mask(P17, s), exact[: s + 1].sum(0))


def test_cumulative_mask_hand_values():
    torch.testing.assert_close(cumulative_mask(P17, 0), torch.eye(J))
    torch.testing.assert_close(cumulative_mask(P17, 1), adjacency(P17, self_loops=True))
    torch.testing.assert_close(cumulative_mask(P17, DIAMETER), torch.ones(J, J))


def test_negative_max_hop_raises():
    with pytest.raises(ValueError, match="max_hop"):
        hop_masks(P17, -1)
    with pytest.raises(ValueError, match="max_hop"):
        cumulative_mask(P17, -1)


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

def test_normalize_symmetric_hand_example():
    # Path 0 - 1 - 2 with self loops: degrees 2, 3, 2.
    a = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    r6 = 1.0 / 6.0 ** 0.5
    expected = torch.tensor([[1 / 2, r6, 0.0], [r6, 1 / 3, r6], [0.0, r6, 1 / 2]])
    torch.testing.assert_close(normalize_symmetric(a), expected)


def test_normalize_rows_hand_example():
    a = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    expected = torch.tensor([[1 / 2, 1 / 2, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 1 / 2, 1 / 2]])
    torch.testing.assert_close(normalize_rows(a), expected)
    b = torch.tensor([[2.0, 6.0], [0.5, 0.5]])  # weighted rows
    torch.testing.assert_close(normalize_rows(b), torch.tensor([[0.25, 0.75], [0.5, 0.5]]))


@pytest.mark.parametrize("norm", [normalize_symmetric, normalize_rows])
def test_zero_rows_stay_zero_without_nan(norm):
    a = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    out = norm(a)
    assert torch.isfinite(out).all()
    assert torch.all(out[2] == 0)
    assert torch.all(out[:, 2] == 0)
    out.sum().backward()
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize("norm", [normalize_symmetric, normalize_rows])
def test_normalisation_is_batched_over_leading_axes(norm):
    masks = hop_masks(P17, 10)  # (11, J, J), groups 9 and 10 all zero
    out = norm(masks)
    assert out.shape == masks.shape
    assert torch.isfinite(out).all()
    for k in range(masks.shape[0]):
        torch.testing.assert_close(out[k], norm(masks[k]))
    assert out[9:].abs().sum() == 0


def test_normalize_rows_rows_sum_to_one_on_nonempty_rows():
    out = normalize_rows(hop_masks(P17, DIAMETER))
    sums = out.sum(-1)  # (9, J)
    nonempty = hop_masks(P17, DIAMETER).sum(-1) > 0
    torch.testing.assert_close(sums[nonempty], torch.ones(int(nonempty.sum())))
    assert torch.all(sums[~nonempty] == 0)
