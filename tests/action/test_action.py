"""Action recognition downstream (skelgnn.action): clips, classifiers, scores, NTU reader, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from skelgnn.action.clips import ClipSpec, PoseSequence, cut_clips, make_clip_set, window_starts
from skelgnn.action.models import SpatialGraphConv, build_classifier, spatial_partitions
from skelgnn.action.ntu import NTU25, ntu_labels, ntu_sequences, parse_ntu_name, read_ntu_skeleton
from skelgnn.action.pipeline import load_action_model, ntu_clip_sets, save_action_model
from skelgnn.action.training import (TrainConfig, confusion_matrix, evaluate_classifier,
                                     score_predictions, train_classifier)
from skelgnn.skeleton import H36M17
from tests.conftest import load_benchmark_script

# ---------------------------------------------------------------------------------- clips


def test_window_starts_and_short_sequences():
    spec = ClipSpec(seconds=2.0, fps=10.0, stride_seconds=0.5, min_seconds=1.0)  # T=20, stride 5
    assert spec.frames == 20 and spec.stride == 5
    assert window_starts(30, spec) == [0, 5, 10]
    assert window_starts(20, spec) == [0]
    assert window_starts(12, spec) == [0]  # padded
    assert window_starts(9, spec) == []  # under min_seconds


def test_cut_clips_resamples_and_pads():
    poses = np.arange(60 * 13, dtype=np.float32).reshape(60 * 13, 1, 1) * np.ones((1, 2, 3), np.float32)
    spec = ClipSpec(seconds=2.0, fps=10.0, stride_seconds=1.0)
    clips, starts = cut_clips(poses, 60.0, spec)  # 130 frames at 10 fps
    assert clips.shape == (12, 20, 2, 3)
    assert starts.tolist() == list(range(0, 120, 10))
    np.testing.assert_array_equal(clips[1, :, 0, 0], poses[60:180:6, 0, 0])
    short, s = cut_clips(poses[:90], 60.0, spec)  # 15 frames -> one clip padded with the last
    assert short.shape == (1, 20, 2, 3) and s.tolist() == [0]
    np.testing.assert_array_equal(short[0, 14:, 0, 0], np.full(6, poses[84, 0, 0]))
    with pytest.raises(ValueError, match="whole multiple"):
        cut_clips(poses, 25.0, spec)


def test_make_clip_set_labels_and_errors():
    spec = ClipSpec(seconds=2.0, fps=10.0)
    seqs = [PoseSequence("S01", "Walk 01_01", 0, np.zeros((240, 17, 3)), 60.0),
            PoseSequence("S01", "Jump 01_02", 2, np.ones((120, 17, 3)), 60.0)]
    labels = {"Walk 01_01": "Walk", "Jump 01_02": "Jump"}
    cs = make_clip_set(seqs, labels, ["Jump", "Walk"], spec)
    assert len(cs) == 3 + 1
    assert cs.labels.tolist() == [1, 1, 1, 0]
    assert cs.cameras.tolist() == [0, 0, 0, 2]
    assert cs.class_counts() == {"Jump": 1, "Walk": 3}
    assert len(cs.subset(cs.labels == 1)) == 3
    with pytest.raises(ValueError, match="no action label"):
        make_clip_set(seqs, {"Walk 01_01": "Walk"}, ["Walk"], spec)
    with pytest.raises(ValueError, match="not one of the classes"):
        make_clip_set(seqs, labels, ["Walk"], spec)


# -------------------------------------------------------------------------------- models


def test_spatial_partitions_rows_sum_to_one_and_follow_the_tree():
    a = spatial_partitions(H36M17.parents)
    assert a.shape == (3, 17, 17)
    torch.testing.assert_close(a.sum((0, 2)), torch.ones(17))
    assert a[1, 2, 1] > 0 and a[1, 1, 2] == 0  # knee -> hip is centripetal
    assert a[2, 1, 2] > 0  # hip -> knee centrifugal
    assert a[1, 0].sum() == 0  # the root has no parent


def test_spatial_graph_conv_mixes_only_neighbours(seed_and_one_thread):
    conv = SpatialGraphConv(2, 4, H36M17.parents)
    x = torch.zeros(1, 1, 17, 2)
    x[0, 0, 3] = 1.0  # right foot
    y = conv(x) - conv(torch.zeros_like(x))
    changed = (y.abs().sum(-1) > 1e-7)[0, 0].nonzero().flatten().tolist()
    assert changed == [2, 3]  # itself and its parent knee


@pytest.mark.parametrize("encoder", ["dhcsf", "stgcn"])
def test_classifier_shapes_and_input_check(encoder, seed_and_one_thread):
    model = build_classifier(encoder, 5, H36M17.parents, channels=[8, 16], strides=[2, 2])
    logits = model(torch.randn(3, 20, 17, 3))
    assert logits.shape == (3, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.head.parameters())
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(3, 20, 16, 3))
    with pytest.raises(ValueError, match="encoder"):
        build_classifier("lstm", 5, H36M17.parents)


def _toy_clips(n_per_class: int = 24, seed: int = 0):
    """Two classes: still poses vs. the wrists swinging at 2 Hz."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(123).normal(0, 0.2, (1, 17, 3))  # one body for every clip
    t = np.arange(20) / 10.0
    seqs, labels = [], {}
    for i in range(2 * n_per_class):
        cls = i % 2
        x = np.repeat(base + rng.normal(0, 0.03, (1, 17, 3)), 20, 0)
        if cls:
            x[:, [13, 16], 1] += 0.4 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6))[:, None]
        x += rng.normal(0, 0.01, x.shape)
        name = f"{'Wave' if cls else 'Stand'} {i}"
        seqs.append(PoseSequence(f"S{i % 3}", name, 0, x.astype(np.float32), 10.0))
        labels[name] = "Wave" if cls else "Stand"
    return make_clip_set(seqs, labels, ["Stand", "Wave"], ClipSpec(seconds=2.0, fps=10.0))


@pytest.mark.parametrize("encoder", [pytest.param("dhcsf", marks=pytest.mark.slow), "stgcn"])
def test_training_learns_a_separable_task(encoder, seed_and_one_thread):
    train, test = _toy_clips(48, seed=0), _toy_clips(12, seed=1)
    model = build_classifier(encoder, 2, H36M17.parents, channels=[8, 16], strides=[2, 2])
    history = train_classifier(model, train, TrainConfig(epochs=15, batch_size=16, lr=5e-3,
                                                         samples_per_epoch=None))
    assert len(history) == 15 and history[-1]["loss"] < history[0]["loss"]
    scores = evaluate_classifier(model, test)
    assert scores.top1 >= 0.9
    assert scores.num_clips == len(test) and set(scores.per_class) == {"Stand", "Wave"}


def test_save_and_load_action_model_round_trip(tmp_path, seed_and_one_thread):
    model = build_classifier("dhcsf", 2, H36M17.parents, channels=[8], strides=[1]).eval()
    spec = ClipSpec(seconds=2.0, fps=10.0)
    path = save_action_model(tmp_path / "a.pt", model, ["A", "B"], spec, note="x")
    loaded, payload = load_action_model(path)
    x = torch.randn(2, 20, 17, 3)
    torch.testing.assert_close(loaded(x), model(x))
    assert payload["classes"] == ["A", "B"] and payload["note"] == "x"
    assert ClipSpec(**payload["clip_spec"]) == spec
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_action_model(tmp_path / "bad.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a skelgnn action model"):
        load_action_model(tmp_path / "other.pt")


# ------------------------------------------------------------------------------- scoring


def test_confusion_matrix_and_scores():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 2])
    cm = confusion_matrix(y_true, y_pred, 4)
    assert cm.tolist() == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    s = score_predictions(y_true, y_pred, ["a", "b", "c", "d"])
    assert s.top1 == pytest.approx(4 / 6)
    assert s.per_class == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0})  # d has no clips
    assert s.balanced == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    with pytest.raises(ValueError, match="0..3"):
        confusion_matrix(np.array([4]), np.array([0]), 4)


def test_draw_confusion_matrix_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from skelgnn.video.render import draw_confusion_matrix

    path = draw_confusion_matrix([[3, 1, 0], [0, 2, 0], [0, 0, 0]], ["a", "b", "c"],
                                 tmp_path / "cm.png", title="t")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 100
    with pytest.raises(ValueError, match="expected"):
        draw_confusion_matrix([[1, 2]], ["a", "b"], tmp_path / "x.png")


# ----------------------------------------------------------------------------------- NTU


def _ntu_text(frames: list[dict[str, np.ndarray]]) -> str:
    """Write frames (body id -> (25, 3)) in the .skeleton text format."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, xyz in bodies.items():
            lines.append(f"{body_id} 0 1 2 1 2 0 0.01 -0.02 2")
            lines.append("25")
            for j, (x, y, z) in enumerate(xyz):
                lines.append(f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 900.3 500.4 "
                             f"0.1 0.2 0.3 0.9 {2 if j else 1}")
    return "\n".join(lines) + "\n"


def _ntu_pose(offset: float) -> np.ndarray:
    return (np.arange(75, dtype=np.float32).reshape(25, 3) / 100 + offset).astype(np.float32)


def test_read_ntu_skeleton_two_bodies(tmp_path):
    a, b = "72057594037931101", "72057594037931102"
    frames = [{a: _ntu_pose(0.0)}, {a: _ntu_pose(0.1), b: _ntu_pose(5.0)}, {b: _ntu_pose(5.1)},
              {a: _ntu_pose(0.3)}]
    path = tmp_path / "S001C002P003R001A023.skeleton"
    path.write_text(_ntu_text(frames))
    skel = read_ntu_skeleton(path)
    assert skel.body_ids == (a, b) and skel.joints.shape == (2, 4, 25, 3)
    np.testing.assert_allclose(skel.joints[0, 1], _ntu_pose(0.1), atol=1e-6)
    assert np.isnan(skel.joints[0, 2]).all() and np.isnan(skel.joints[1, 0]).all()
    main = skel.main_body()  # body a: 3 of 4 frames; frame 2 filled from frame 1
    np.testing.assert_allclose(main[2], _ntu_pose(0.1), atol=1e-6)
    np.testing.assert_allclose(main[3], _ntu_pose(0.3), atol=1e-6)
    assert parse_ntu_name(path).__dict__ == {"setup": 1, "camera": 2, "performer": 3,
                                             "replication": 1, "action": 23}
    assert NTU25.num_joints == 25 and NTU25.parents[3] == 2  # head -> neck


@pytest.mark.parametrize("mutate, match", [
    (lambda t: "\n".join(t.splitlines()[:-3]), "ends early"),
    (lambda t: t.replace("\n25\n", "\n24\n", 1), "joints, expected 25"),
    (lambda t: t.replace("250.1 200.2", "250.1", 1), "fields"),
    (lambda t: "x\n" + t, "bad frame count"),
])
def test_read_ntu_skeleton_rejects_malformed(tmp_path, mutate, match):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(mutate(_ntu_text([{"1": _ntu_pose(0.0)}, {"1": _ntu_pose(0.2)}])))
    with pytest.raises(ValueError, match=match):
        read_ntu_skeleton(path)


def test_parse_ntu_name_rejects_other_names():
    with pytest.raises(ValueError, match="not an NTU"):
        parse_ntu_name("clip.skeleton")


def test_ntu_sequences_and_cross_subject_clip_sets(tmp_path):
    for performer, action in [(1, 1), (1, 2), (3, 1), (3, 2)]:  # P1 train, P3 test
        frames = [{"7": _ntu_pose(0.01 * f * action)} for f in range(45)]
        (tmp_path / f"S001C001P{performer:03d}R001A{action:03d}.skeleton").write_text(_ntu_text(frames))
    seqs = ntu_sequences(sorted(tmp_path.glob("*.skeleton")))
    assert len(seqs) == 4 and seqs[0].subject == "P001" and seqs[0].fps == 30.0
    np.testing.assert_allclose(seqs[0].poses[:, 0], 0.0)  # root-relative
    labels, classes = ntu_labels(seqs)
    assert classes == ["A001", "A002"]
    sets = ntu_clip_sets(tmp_path, ClipSpec(seconds=1.0, fps=15.0, stride_seconds=0.5))
    assert set(sets["train"].subjects) == {"P001"} and set(sets["test"].subjects) == {"P003"}
    assert sets["train"].poses.shape[1:] == (15, 25, 3)
    assert sorted(sets["train"].labels.tolist()) == [0, 0, 1, 1]  # 23 frames at 15 fps: 2 windows


# ---------------------------------------------------------------- benchmark data (mini)


def test_sources_on_the_mini_fixture(mini_dir, tmp_path):
    from skelgnn.action.sources import gt_camera_sequences, gt_world_sequences, lifted_sequences
    from tests.conftest import REPO

    world = gt_world_sequences(mini_dir, ["S07"])
    cam = gt_camera_sequences(mini_dir, ["S07"])
    assert len(world) == 2 and len(cam) == 8 and {s.camera for s in cam} == {0, 1, 2, 3}
    np.testing.assert_allclose(world[0].poses[:, 0], 0.0)
    ckpt = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"
    lifted = lifted_sequences(mini_dir, ["S07"], ckpt, lift_step=6, cache_dir=tmp_path)
    assert len(lifted) == 8 and lifted[0].fps == 10.0
    assert lifted[0].poses.shape == (-(-cam[0].poses.shape[0] // 6), 17, 3)
    err = np.linalg.norm(lifted[0].poses - cam[0].poses[::6], axis=-1).mean()
    assert err < 0.25  # a trained lifter: within 25 cm of the ground truth on average
    cached = lifted_sequences(mini_dir, ["S07"], ckpt, lift_step=6, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("lifted-*.npz"))) == 1
    np.testing.assert_array_equal(cached[0].poses, lifted[0].poses)


def test_cli_action_train_and_evaluate(mini_dir, tmp_path, capsys, seed_and_one_thread):
    from skelgnn.cli import main

    model = tmp_path / "m.pt"
    assert main(["action", "train", "--data", str(mini_dir), "--model", "stgcn", "--source",
                 "gtcam", "--seconds", "2", "--stride", "0.5", "--epochs", "2",
                 "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert "epoch 2" in out and model.is_file()
    assert main(["action", "evaluate", str(model), "--data", str(mini_dir), "--source", "gtcam",
                 "--json", str(tmp_path / "s.json"), "--figure", str(tmp_path / "cm.png")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["num_clips"] == 2 * 4  # test S08: 2 sequences (< 2 s: one padded clip) x 4 cameras
    assert scores["classes"] == ["Soccer", "Walk"] and (tmp_path / "cm.png").is_file()
    assert main(["action", "train", "--data", str(mini_dir), "--source", "lifted",
                 "--out", str(model)]) == 2  # lifted needs a checkpoint
    assert "--checkpoint" in capsys.readouterr().err


def test_action_benchmark_script_on_mini(mini_dir, tmp_path):
    bench = load_benchmark_script("action")
    assert bench.main(["--data", str(mini_dir), "--models", "stgcn", "--sources", "gt3d",
                       "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "stgcn-gt3d.json").read_text())
    assert result["model"] == "stgcn" and 0.0 <= result["top1"] <= 1.0
    assert (tmp_path / "stgcn-gt3d.png").is_file() and "stgcn" in (tmp_path / "TABLE.md").read_text()
