"""Tests of skelgnn.skeleton: the built-in layouts, the 32 -> 17 reduction, joint removal,
validation, immutability and the flip permutation.

Golden values are the lists of ``docs/PAPER.md`` sections 1 and 9, copied by hand.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from skelgnn.skeleton import H36M17, H36M32, H36M32_KEEP, Skeleton


def reduce_h36m32_to_17() -> Skeleton:
    """The 32 -> 17 reduction: keep :data:`H36M32_KEEP`, then re-parent both shoulders to the
    thorax (their nearest kept ancestor in the 32-joint tree is the spine, which is not how the
    17-joint layout links them)."""
    reduced = H36M32.keep_joints(H36M32_KEEP)
    thorax = reduced.names.index("Thorax")
    return reduced.with_parents({reduced.names.index("LShoulder"): thorax,
                                 reduced.names.index("RShoulder"): thorax})

# docs/PAPER.md section 1
PAPER_PARENTS_17 = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
PAPER_LEFT_17 = (4, 5, 6, 11, 12, 13)
PAPER_RIGHT_17 = (1, 2, 3, 14, 15, 16)
# docs/PAPER.md section 9
PAPER_PARENTS_32 = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20,
                    19, 22, 12, 24, 25, 26, 27, 28, 27, 30)
PAPER_KEEP_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


def _tiny(parents=(-1, 0, 1, 0, 3), left=(3, 4), right=(1, 2)) -> Skeleton:
    """A 5-joint toy: root 0 with a right chain 0-1-2 and a left chain 0-3-4."""
    return Skeleton(tuple(f"j{i}" for i in range(len(parents))), parents, left, right)


# ---------------------------------------------------------------------------------------------
# Built-in layouts
# ---------------------------------------------------------------------------------------------

def test_h36m17_matches_paper():
    assert H36M17.parents == PAPER_PARENTS_17
    assert H36M17.joints_left == PAPER_LEFT_17
    assert H36M17.joints_right == PAPER_RIGHT_17
    assert H36M17.num_joints == 17
    assert H36M17.root == 0
    assert len(H36M17.names) == 17
    # Every left joint's partner has the mirrored name.
    for lj, rj in zip(H36M17.joints_left, H36M17.joints_right):
        assert H36M17.names[lj].startswith("L") and H36M17.names[rj].startswith("R")
        assert H36M17.names[lj][1:] == H36M17.names[rj][1:]


def test_h36m32_matches_paper():
    assert H36M32.parents == PAPER_PARENTS_32
    assert H36M32_KEEP == PAPER_KEEP_32
    assert H36M32.num_joints == 32
    # Left side 6-10 and 16-23, right side 1-5 and 24-31.
    assert set(H36M32.joints_left) == set(range(6, 11)) | set(range(16, 24))
    assert set(H36M32.joints_right) == set(range(1, 6)) | set(range(24, 32))


def test_reduce_h36m32_to_17_gives_h36m17_exactly():
    reduced = reduce_h36m32_to_17()
    assert reduced.parents == H36M17.parents
    assert reduced.joints_left == H36M17.joints_left
    assert reduced.joints_right == H36M17.joints_right
    assert reduced.names == H36M17.names
    assert reduced == H36M17


def test_reduction_needs_the_shoulder_reparenting():
    # Without the re-parenting, the nearest kept ancestor of each shoulder in the 32-joint tree is
    # the spine (32-joint 17 -> 16 (anchor) -> 12 (Spine)), index 7 in the 17-joint order.
    plain = H36M32.keep_joints(H36M32_KEEP)
    assert plain.parents[11] == 7 and plain.parents[14] == 7  # LShoulder, RShoulder -> Spine
    reduced = reduce_h36m32_to_17()
    assert reduced.parents[11] == 8 and reduced.parents[14] == 8  # -> Thorax
    # All other joints already agree.
    others = [j for j in range(17) if j not in (11, 14)]
    assert [plain.parents[j] for j in others] == [H36M17.parents[j] for j in others]


def test_children_and_bones_hand_values():
    children = H36M17.children()
    assert children[0] == [1, 4, 7]  # pelvis: RHip, LHip, Spine
    assert children[8] == [9, 11, 14]  # thorax: neck, both shoulders
    assert children[3] == []  # RFoot is a leaf
    bones = H36M17.bones()
    assert len(bones) == 16
    assert bones[0] == (0, 1) and bones[-1] == (15, 16)


# ---------------------------------------------------------------------------------------------
# keep_joints
# ---------------------------------------------------------------------------------------------

def test_keep_joints_relinks_to_nearest_kept_ancestor():
    # Drop both hips (1, 4) of H36M17: the knees relink to the pelvis.
    sk = H36M17.keep_joints([0, 2, 3, 5, 6])
    assert sk.names == ("Hip", "RKnee", "RFoot", "LKnee", "LFoot")
    assert sk.parents == (-1, 0, 1, 0, 3)
    # Pairs (LKnee, RKnee) and (LFoot, RFoot) survive, re-indexed.
    assert sk.joints_left == (3, 4)
    assert sk.joints_right == (1, 2)


def test_keep_joints_skips_several_dropped_ancestors():
    # Keep only the pelvis and the head: head -> neck -> thorax -> spine -> pelvis, all dropped.
    sk = H36M17.keep_joints([0, 10])
    assert sk.parents == (-1, 0)
    assert sk.joints_left == () and sk.joints_right == ()


def test_keep_joints_follows_the_given_order():
    # new 0 = old 3 (RFoot), new 1 = old 2, new 2 = old 1, new 3 = old 0 (root)
    sk = H36M17.keep_joints([3, 2, 1, 0])
    assert sk.parents == (1, 2, 3, -1)
    assert sk.root == 3


def test_keep_joints_drops_half_pairs():
    sk = H36M17.keep_joints([0, 1, 2, 3, 4])  # right leg + LHip only
    assert sk.joints_left == (4,) and sk.joints_right == (1,)


def test_keep_joints_rejects_duplicates():
    with pytest.raises(ValueError, match="unique"):
        H36M17.keep_joints([0, 1, 1])


def test_keep_joints_that_splits_the_tree_raises():
    # Dropping the pelvis and keeping both hips leaves two roots: not a tree.
    with pytest.raises(ValueError, match="root"):
        H36M17.keep_joints([1, 4])


def test_with_parents_returns_a_new_skeleton():
    sk = _tiny()
    moved = sk.with_parents({4: 0})
    assert moved.parents == (-1, 0, 1, 0, 0)
    assert sk.parents == (-1, 0, 1, 0, 3)  # the original is untouched
    with pytest.raises(ValueError, match="cycle"):
        sk.with_parents({1: 2})  # 1 -> 2 -> 1


# ---------------------------------------------------------------------------------------------
# Validation and immutability
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "parents, left, right, match",
    [
        ((-1, 0, -1, 0, 3), (3, 4), (1, 2), "root"),  # two roots
        ((2, 0, 1, 0, 3), (3, 4), (1, 2), "root"),  # no root (0 -> 2 -> 1 -> 0)
        ((-1, 2, 1, 0, 3), (3, 4), (1, 2), "cycle"),  # 1 <-> 2 cycle beside a valid root
        ((-1, 0, 1, 0, 7), (3, 4), (1, 2), "parent"),  # parent index out of range
        ((-1, 0, 1, 0, 3), (3, 4), (1,), "pair"),  # unequal side lists
        ((-1, 0, 1, 0, 3), (3, 4), (1, 3), "both"),  # joint 3 on both sides
        ((-1, 0, 1, 0, 3), (3, 9), (1, 2), "side joint"),  # side index out of range
        ((-1, 0, 1, 0, 3), (3, -1), (1, 2), "side joint"),  # negative side index
    ],
    ids=["two-roots", "no-root", "cycle", "parent-range", "unpaired", "both-sides",
         "side-range", "side-negative"],
)
def test_invalid_skeletons_raise(parents, left, right, match):
    with pytest.raises(ValueError, match=match):
        _tiny(parents, left, right)


def test_names_must_match_parents():
    with pytest.raises(ValueError, match="names"):
        Skeleton(("a", "b"), (-1, 0, 1), (), ())


def test_skeleton_is_frozen_and_hashable():
    sk = _tiny()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sk.parents = (-1, 0, 0, 0, 0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        H36M17.joints_left = ()  # type: ignore[misc]
    assert hash(H36M17) == hash(reduce_h36m32_to_17())


def test_list_inputs_are_frozen_to_tuples():
    sk = Skeleton(["a", "b", "c"], [-1, 0, 0], [1], [2])
    assert isinstance(sk.parents, tuple) and isinstance(sk.names, tuple)
    assert isinstance(sk.joints_left, tuple) and isinstance(sk.joints_right, tuple)
    assert sk == Skeleton(("a", "b", "c"), (-1, 0, 0), (1,), (2,))


# ---------------------------------------------------------------------------------------------
# Flip permutation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("skeleton", [H36M17, H36M32], ids=["h36m17", "h36m32"])
def test_flip_permutation_is_an_involution_swapping_the_pairs(skeleton):
    perm = skeleton.flip_permutation()
    assert perm.shape == (skeleton.num_joints,)
    assert sorted(perm.tolist()) == list(range(skeleton.num_joints))  # a permutation
    np.testing.assert_array_equal(perm[perm], np.arange(skeleton.num_joints))  # involution
    for lj, rj in zip(skeleton.joints_left, skeleton.joints_right):
        assert perm[lj] == rj and perm[rj] == lj
    sides = set(skeleton.joints_left) | set(skeleton.joints_right)
    for j in range(skeleton.num_joints):
        if j not in sides:
            assert perm[j] == j  # centre joints stay


def test_flip_permutation_h36m17_hand_value():
    expected = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    assert H36M17.flip_permutation().tolist() == expected


@pytest.mark.parametrize("skeleton", [H36M17, H36M32], ids=["h36m17", "h36m32"])
def test_flip_maps_bones_to_bones(skeleton):
    # The layouts are mirror symmetric: the mirror image of every bone is a bone.
    perm = skeleton.flip_permutation()
    bones = set(skeleton.bones())
    assert {(int(perm[p]), int(perm[c])) for p, c in bones} == bones


def test_flipping_a_pose_twice_is_identity():
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(5, 17, 3))
    perm = H36M17.flip_permutation()

    def flip(x):
        return x[:, perm] * np.array([-1.0, 1.0, 1.0])

    np.testing.assert_array_equal(flip(flip(pose)), pose)
