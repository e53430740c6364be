"""Any skeleton: hop structure, models, data, BVH End Sites and the 23-joint CMU map."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_bvh
from skelgnn.layers.graph import cumulative_mask, hop_distances, hop_masks
from skelgnn.models import FCNConfig, SkeletalGNNConfig, build_model, for_skeleton
from skelgnn.models.skelgnn import SkeletalGNN
from skelgnn.layers.dhcsf import DHCSF, squeezed_channels
from skelgnn.prepare.bvh import DetectorModel, forward_kinematics, load_joint_map, read_bvh
from skelgnn.skeleton import H36M17, Skeleton, skeleton_from_metadata, skeleton_metadata

CHAIN5 = (-1, 0, 1, 2, 3)
CMU23 = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15, 3, 6, 13, 13, 16, 16)
MAP23 = Path(__file__).resolve().parents[1] / "src" / "skelgnn" / "resources" / "cmu23_joint_map.toml"


def test_hop_masks_of_a_chain():
    dist = hop_distances(CHAIN5)
    expected = torch.tensor([[abs(i - j) for j in range(5)] for i in range(5)])
    assert torch.equal(dist, expected)
    masks = hop_masks(CHAIN5, 5)
    for k in range(6):
        assert torch.equal(masks[k], (expected == k).float())
    assert masks[5].sum() == 0  # beyond the diameter (4)


def test_dhcsf_groups_follow_the_skeleton():
    for parents, k_max, split in ((CHAIN5, 3, 1), (CMU23, 4, 1), (CMU23, 3, 0)):
        layer = DHCSF(16, 16, parents, max_hop=k_max, split=split, squeeze=0.5)
        masks = layer.hcsf.masks  # (G, J, J)
        j = len(parents)
        assert masks.shape == (k_max - split + 1, j, j)
        assert torch.equal(masks[0], cumulative_mask(parents, split))
        dist = hop_distances(parents)
        for g in range(1, masks.shape[0]):
            assert torch.equal(masks[g], (dist == split + g).float())
        assert layer.hcsf.group_channels == squeezed_channels(16, split, k_max, 0.5)


def test_cmu23_hop_distances():
    dist = hop_distances(CMU23)
    assert dist[17, 3] == 1 and dist[19, 20] == 2  # toe-ankle bone, hand tip - thumb tip
    assert dist[17, 18] == 8  # toe to toe through the pelvis
    assert dist[21, 17] == 10 and int(dist.max()) == 10  # right hand tip to right toe


@pytest.mark.parametrize("parents", [CHAIN5, CMU23])
@pytest.mark.parametrize("widths", [(1,), (3, 3)])
def test_skeletal_gnn_forward_on_any_skeleton(parents, widths, seed_and_one_thread):
    j = len(parents)
    cfg = for_skeleton(SkeletalGNNConfig(channels=16, blocks=1, filter_widths=widths,
                                         embedding="pose"), parents)
    assert cfg.num_joints == j and cfg.parents == parents
    model = SkeletalGNN(cfg)
    r = model.receptive_field
    x = torch.randn(4, r, j, 2, requires_grad=True)
    y = model(x)
    assert y.shape == (4, j, 3) and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert model.forward_sequence(torch.randn(1, r + 4, j, 2)).shape == (1, 5, j, 3)


def test_for_skeleton_sets_joints_of_every_architecture():
    assert for_skeleton(SkeletalGNNConfig(), H36M17.parents) == SkeletalGNNConfig()
    fcn = for_skeleton(FCNConfig(), CMU23)
    assert fcn.num_joints == 23
    assert build_model(fcn)(torch.zeros(2, 1, 23, 2)).shape == (2, 23, 3)


def test_skeleton_metadata_round_trip():
    skel = Skeleton(("a", "b", "c", "d"), (-1, 0, 0, 1), (1,), (2,))
    meta = skeleton_metadata(skel, "toy")
    assert skeleton_from_metadata(meta, 4) == skel
    assert skeleton_from_metadata({}, 17) == H36M17  # files without 'parents'
    with pytest.raises(ValueError, match="write 'parents'"):
        skeleton_from_metadata({"num_joints": 23}, 23)


TINY_BVH = tiny_bvh("0 100 300 0 0 0 0 0 0 0 0 0",
                    "0 100 300 90 0 0 0 0 0 0 0 0",
                    "0 100 300 0 0 0 0 0 0 90 0 0",
                    "5 100 300 10 0 0 0 5 0 0 0 0",
                    "0 110 300 0 20 0 0 0 0 0 30 0",
                    "0 100 310 0 0 5 0 0 10 0 0 0")


def test_end_sites_are_read_and_posed(tmp_path):
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH)
    m = read_bvh(path)
    assert m.names == ("hip", "knee", "foot")
    assert m.end_sites == (("foot/End", 2, (0.0, 0.0, 2.0)),)
    pos = forward_kinematics(m, ["foot", "foot/End"])
    np.testing.assert_allclose(pos[0], [[0, 85, 300], [0, 85, 302]], atol=1e-12)
    # frame 1: root +90 deg about z: the end offset (0, 0, 2) is along z and stays put
    np.testing.assert_allclose(pos[1, 1] - pos[1, 0], [0, 0, 2], atol=1e-12)
    # frame 4: the foot's own +30 deg about x, then the root's +20 deg about y (R = Ry Rx)
    a, b = np.radians(20), np.radians(30)
    np.testing.assert_allclose(pos[4, 1] - pos[4, 0],
                               [2 * np.cos(b) * np.sin(a), -2 * np.sin(b), 2 * np.cos(b) * np.cos(a)],
                               atol=1e-12)


def test_cmu23_map_and_detector():
    jm = load_joint_map(MAP23)
    skel = jm.target
    assert skel.parents == CMU23 and skel.num_joints == 23
    assert skel.names[:17] == H36M17.names
    assert jm.joints[skel.names.index("RToe")] == ("rFoot/End",)
    flip = skel.flip_permutation()
    assert flip[skel.names.index("LHandTip")] == skel.names.index("RHandTip")
    det = DetectorModel().for_skeleton(skel)
    assert len(det.sigma) == 23 and det.sigma[:17] == DetectorModel().sigma
    assert det.sigma[skel.names.index("RToe")] == det.sigma[skel.names.index("RFoot")]
    assert det.swap_pairs[0] == ((5, 6, 18), (2, 3, 17))  # knee, ankle, toe
    assert DetectorModel().for_skeleton(H36M17) == DetectorModel()


def _toy_benchmark(root: Path) -> Path:
    """BVH -> a 4-joint benchmark (hip, knee, foot, toe = the foot's End Site), three subjects."""
    from skelgnn.cli import main

    src = root / "bvh"
    for trial in ("01_01", "02_01", "03_01"):
        (src / trial[:2]).mkdir(parents=True)
        (src / trial[:2] / f"{trial}.bvh").write_text(TINY_BVH)
    jmap = root / "toy.toml"
    jmap.write_text('name = "toy"\nscale = 0.01\naxes = ["x", "-z", "y"]\n'
                    'floor_joints = ["Foot"]\n'
                    '[skeleton]\nnames = ["Hip", "Knee", "Foot", "Toe"]\nparents = [-1, 0, 1, 2]\n'
                    '[joints]\nHip = "hip"\nKnee = "knee"\nFoot = "foot"\nToe = "foot/End"\n')
    out = root / "bench"
    assert main(["prepare", "bvh", "--bvh", str(src), "--out", str(out), "--fps", "120",
                 "--joint-map", str(jmap), "--detector-noise", "--no-progress"]) == 0
    (out / "split.json").write_text(json.dumps({"train": ["S01", "S02"], "val": ["S02"],
                                                "test": ["S03"]}))
    return out


def test_prepare_and_train_on_a_four_joint_skeleton(tmp_path, seed_and_one_thread):
    from skelgnn.train.config import load_config
    from skelgnn.data import load_benchmark, read_positions_2d, read_skeleton
    from skelgnn.train.loop import train

    out = _toy_benchmark(tmp_path)
    p2, meta = read_positions_2d(out / "data_2d_cmu_det.npz")
    assert meta["parents"] == [-1, 0, 1, 2] and p2["S01"]["Unknown 01_01"][0].shape == (6, 4, 2)
    skel = read_skeleton(out, "det")
    assert skel.names == ("Hip", "Knee", "Foot", "Toe")
    assert load_benchmark(out, "gt")[0].poses_3d.shape == (6, 4, 3)
    cfg = load_config(None, ["model.channels=8", "model.blocks=1", "train.epochs=1",
                             "train.batch_size=8", "train.threads=1", "train.flip_augment=true"])
    res = train(cfg, tmp_path / "run", progress=False, data_dir=out)
    ckpt = torch.load(Path(res.checkpoint) if hasattr(res, "checkpoint") else tmp_path / "run" / "last.pt",
                      map_location="cpu", weights_only=False)
    assert ckpt["model_config"]["num_joints"] == 4
    assert ckpt["model_config"]["parents"] == [-1, 0, 1, 2]


def test_precise_bn_flips_with_the_data_skeleton(tmp_path, seed_and_one_thread):
    """Precise BN replays flipped training batches: it must flip with the data's skeleton (the
    23-joint benchmark's mgcn-1f row failed here, flipping 23 joints as Human3.6M-17)."""
    from skelgnn.train.config import load_config
    from skelgnn.train.loop import train

    out = _toy_benchmark(tmp_path)
    cfg = load_config(None, ["model.preset=mgcn-1f", "model.channels=8", "train.epochs=1",
                             "train.batch_size=8", "train.threads=1", "train.flip_augment=true",
                             "train.precise_bn_batches=2"])
    res = train(cfg, tmp_path / "run", progress=False, data_dir=out)
    assert res.epochs == 1 and (tmp_path / "run" / "last.pt").is_file()
