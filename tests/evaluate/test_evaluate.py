"""Tests of skelgnn.evaluate.benchmark: the protocol figures of :func:`score` on hand-built predictions, and
sequence-mode prediction (root centring, flip TTA, chunking)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from skelgnn.data import Sequence2D3D, WindowDataset
from skelgnn.evaluate.benchmark import format_report, score
from skelgnn.models.predict import predict_sequence, predict_sequences
from skelgnn.geometry import Camera, flip_2d, flip_3d
from skelgnn.models import PRESETS, build_model
from skelgnn.skeleton import H36M17

CAMERA = Camera(id="c0", res_w=1000, res_h=1000, fx=1000.0, fy=1000.0, cx=500.0, cy=500.0,
                k=(0.0, 0.0, 0.0), p=(0.0, 0.0), orientation=(1.0, 0.0, 0.0, 0.0),
                translation=(0.0, 0.0, 0.0))


def _record(action: str, frames: int, seed: int, subject: str = "S01") -> Sequence2D3D:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.3, size=(frames, 17, 3)).astype(np.float32)
    poses -= poses[:, :1]  # root-relative metres
    uv = rng.uniform(100, 900, size=(frames, 17, 2)).astype(np.float32)
    return Sequence2D3D(subject=subject, action=action, camera=0, keypoints_2d=uv, poses_3d=poses,
                        trajectory=np.zeros((frames, 3), np.float32), image_size=(1000, 1000),
                        calibration=CAMERA)


@pytest.fixture
def two_actions() -> WindowDataset:
    """30 'Walk' samples then 10 'Run' samples (categories of different sizes)."""
    return WindowDataset([_record("Walk 01_01", 30, 0), _record("Run 02_01", 10, 1)], 1)


def _targets(ds: WindowDataset) -> np.ndarray:
    return ds.batch(np.arange(len(ds)))[1].numpy()  # (N, J, 3) metres


def _shift_x(target: np.ndarray, errors_mm: np.ndarray) -> np.ndarray:
    """Move every joint of sample i by errors_mm[i] along x: MPJPE i = errors_mm[i], P-MPJPE 0."""
    shift = np.zeros_like(target)
    shift[..., 0] = (np.asarray(errors_mm, np.float32) / 1000.0)[:, None]
    return target + shift


# --------------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------------

def test_perfect_predictions_score_zero(two_actions):
    target = _targets(two_actions)
    out = score(target.copy(), target, two_actions)
    assert out["samples"] == 40
    for key in ("p1", "p1_action", "own_hard5_p1", "own_hard10_p1"):
        assert out[key] == 0.0, key
    for key in ("p2", "p2_action"):
        assert out[key] == pytest.approx(0.0, abs=1e-6), key
    assert set(out["per_action"]) == {"Walk", "Run"}
    assert out["per_action"]["Walk"]["p1"] == 0.0 and out["per_action"]["Run"]["p1"] == 0.0


def test_constant_offset_on_non_root_joints(two_actions):
    target = _targets(two_actions)
    pred = target.copy()
    pred[:, 1:, 0] += 0.010  # 10 mm on the 16 non-root joints, root untouched
    out = score(pred, target, two_actions)
    # per joint: the root exact, every other joint 10 mm
    assert len(out["per_joint_p1"]) == 17 and out["per_joint_p1"][0] == 0.0
    assert out["per_joint_p1"][1:] == pytest.approx([10.0] * 16, abs=1e-4)
    # every sample: (0 + 16 * 10) / 17 mm; score must not root-centre the predictions
    expected = 160.0 / 17.0
    for key in ("p1", "p1_action", "own_hard5_p1", "own_hard10_p1"):
        assert out[key] == pytest.approx(expected, abs=1e-4), key
    assert out["per_action"]["Walk"]["p1"] == pytest.approx(expected, abs=1e-4)
    # P2 bound by hand: translating by the mean offset (160/17 mm) alone leaves squared errors
    # (160/17)^2 at the root and (10/17)^2 at 16 joints, 27200/289 mm^2 in all; Procrustes
    # minimises that sum, and mean distance <= sqrt(mean squared distance) = sqrt(27200/289/17).
    bound = np.sqrt(27200.0 / 289.0 / 17.0)  # 2.353 mm
    assert 0.0 < out["p2"] <= bound + 1e-4


def test_translation_is_removed_by_p2(two_actions):
    target = _targets(two_actions)
    out = score(_shift_x(target, np.full(40, 10.0)), target, two_actions)
    # the root moves too: score compares as given (no root centring), so P1 is the full 10 mm
    assert out["p1"] == pytest.approx(10.0, abs=1e-3)
    assert out["p2"] == pytest.approx(0.0, abs=1e-3)


def test_action_wise_mean_and_own_hardest(two_actions):
    target = _targets(two_actions)
    walk = np.arange(1.0, 31.0)  # 1 .. 30 mm, mean 15.5
    run = np.array([150.0, 190.0, 100.0, 180.0, 110.0, 120.0, 170.0, 130.0, 140.0, 160.0])  # 145
    out = score(_shift_x(target, np.concatenate([walk, run])), target, two_actions)
    assert out["samples"] == 40
    assert out["p1"] == pytest.approx((465.0 + 1450.0) / 40.0, abs=1e-3)  # 47.875, per sample
    assert out["p1_action"] == pytest.approx((15.5 + 145.0) / 2.0, abs=1e-3)  # 80.25, per action
    assert out["per_action"]["Walk"]["p1"] == pytest.approx(15.5, abs=1e-3)
    assert out["per_action"]["Run"]["p1"] == pytest.approx(145.0, abs=1e-3)
    assert out["per_action"]["Walk"]["samples"] == 30 and out["per_action"]["Run"]["samples"] == 10
    # 5% of 40 = 2 samples (190, 180); 10% of 40 = 4 samples (190, 180, 170, 160)
    assert out["own_hard5_p1"] == pytest.approx(185.0, abs=1e-3)
    assert out["own_hard10_p1"] == pytest.approx(175.0, abs=1e-3)
    assert out["p2"] == pytest.approx(0.0, abs=1e-3)  # pure translations
    assert "hard5_p1" not in out


def test_own_hardest_rounds_up_and_keeps_one_sample():
    ds = WindowDataset([_record("Walk 01_01", 30, 0)], 1)
    target = _targets(ds)
    errors = np.arange(30.0, 0.0, -1.0)  # 30 .. 1 mm
    out = score(_shift_x(target, errors), target, ds)
    # 5% of 30 = 1.5 -> 2 samples (30, 29); 10% of 30 = 3 samples (30, 29, 28)
    assert out["own_hard5_p1"] == pytest.approx(29.5, abs=1e-3)
    assert out["own_hard10_p1"] == pytest.approx(29.0, abs=1e-3)
    small = WindowDataset([_record("Walk 01_01", 3, 0)], 1)
    t = _targets(small)
    out = score(_shift_x(t, np.array([1.0, 7.0, 4.0])), t, small)
    assert out["own_hard5_p1"] == pytest.approx(7.0, abs=1e-3)  # at least one sample
    assert out["own_hard10_p1"] == pytest.approx(7.0, abs=1e-3)


def test_fixed_hard_subsets_use_find_samples(two_actions):
    target = _targets(two_actions)
    walk = np.arange(1.0, 31.0)
    run = np.array([150.0, 190.0, 100.0, 180.0, 110.0, 120.0, 170.0, 130.0, 140.0, 160.0])
    pred = _shift_x(target, np.concatenate([walk, run]))
    hard = {"hard5": [("S01", "Run 02_01", 0, 1), ("S01", "Walk 01_01", 0, 0)],  # 190, 1
            "hard10": [("S01", "Walk 01_01", 0, 29), ("S01", "Run 02_01", 0, 9),  # 30, 160
                       ("S01", "Run 02_01", 0, 2)]}  # 100
    out = score(pred, target, two_actions, hard)
    assert out["hard5_p1"] == pytest.approx(95.5, abs=1e-3)
    assert out["hard10_p1"] == pytest.approx(290.0 / 3.0, abs=1e-3)
    report = format_report(out)
    assert "fixed hard 5% P1" in report and "95.50" in report
    with pytest.raises(ValueError, match="not in this dataset"):
        score(pred, target, two_actions, {"hard5": [("S01", "Run 02_01", 0, 10)]})  # frame 10
    with pytest.raises(ValueError, match="not in this dataset"):
        score(pred, target, two_actions, {"hard5": [("S09", "Run 02_01", 0, 1)]})


def test_format_report_shows_the_figures(two_actions):
    target = _targets(two_actions)
    out = score(_shift_x(target, np.full(40, 12.3)), target, two_actions)
    out.update(model="tiny", source="det", tta=False)
    report = format_report(out)
    assert "model tiny  source det  flip TTA off  samples 40" in report
    per_sample = next(line for line in report.splitlines() if line.startswith("per-sample mean"))
    assert per_sample.split()[2] == f"{out['p1']:.2f}" == "12.30"
    assert any(line.startswith("Run ") and line.split()[-1] == "10" for line in report.splitlines())
    assert "fixed hard" not in report and "own hardest 5% P1" in report


# --------------------------------------------------------------------------------------------
# predict_sequence / predict_sequences
# --------------------------------------------------------------------------------------------

def _tiny(preset: str):
    cfg = PRESETS[preset]
    cfg = dataclasses.replace(cfg, channels=16, **({"blocks": 1} if hasattr(cfg, "blocks") and
                                                    cfg.arch == "skelgnn" else {}))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so eval mode matters
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model


def _windows(inputs: torch.Tensor, r: int) -> torch.Tensor:
    f = inputs.shape[0] - r + 1
    return torch.stack([inputs[i:i + r] for i in range(f)])  # (F, R, J, 2)


@pytest.mark.parametrize("preset", ["skelgnn-1f", "skelgnn-9f", "tcn-9f"])
def test_predict_sequence_root_centred_and_flip_tta(preset):
    model = _tiny(preset)
    r = model.receptive_field
    torch.manual_seed(1)
    inputs = torch.randn(20 + r - 1, 17, 2) * 0.3  # (F + R - 1, J, 2)
    with torch.no_grad():
        windows = _windows(inputs, r)
        plain = model(windows)  # (F, J, 3), window mode: an independent path
        mirrored = flip_3d(model(flip_2d(windows, H36M17)), H36M17)
    y = predict_sequence(model, inputs, flip_test=True, skeleton=H36M17)
    assert y.shape == (20, 17, 3)
    assert torch.all(y[:, 0] == 0)  # root exactly zero
    manual = 0.5 * (plain + mirrored)
    torch.testing.assert_close(y, manual - manual[:, :1], atol=1e-5, rtol=1e-5)
    y_plain = predict_sequence(model, inputs, flip_test=False, skeleton=H36M17)
    assert torch.all(y_plain[:, 0] == 0)
    torch.testing.assert_close(y_plain, plain - plain[:, :1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y, y_plain, atol=1e-3)  # TTA did something


@pytest.mark.parametrize("preset", ["skelgnn-9f", "tcn-9f"])
def test_predict_sequence_chunking(preset):
    model = _tiny(preset)
    r = model.receptive_field
    torch.manual_seed(2)
    inputs = torch.randn(20 + r - 1, 17, 2) * 0.3
    whole = predict_sequence(model, inputs, flip_test=True, skeleton=H36M17)
    for chunk in (7, 1, 19, 20):
        parts = predict_sequence(model, inputs, flip_test=True, chunk=chunk, skeleton=H36M17)
        assert parts.shape == whole.shape
        # chunks see the same windows; only the matmul blocking over the frame axis can differ
        torch.testing.assert_close(parts, whole, atol=1e-6, rtol=0)


def test_predict_sequences_order_and_checks(two_actions):
    model = _tiny("skelgnn-9f")
    ds = WindowDataset([_record("Walk 01_01", 30, 0), _record("Run 02_01", 10, 1)], 9)
    model.train()
    pred, target = predict_sequences(model, ds, flip_test=False, skeleton=H36M17)
    assert model.training  # restored
    assert pred.shape == target.shape == (40, 17, 3)
    np.testing.assert_array_equal(target, _targets(ds))
    _, inputs, _ = next(iter(ds.sequences()))
    model.eval()
    np.testing.assert_array_equal(pred[:30], predict_sequence(model, inputs, False, skeleton=H36M17).numpy())
    with pytest.raises(ValueError, match="receptive field"):
        predict_sequences(model, two_actions, skeleton=H36M17)
    strided = WindowDataset([_record("Walk 01_01", 30, 0)], 9, stride=2)
    with pytest.raises(ValueError, match="stride 1"):
        predict_sequences(model, strided, skeleton=H36M17)
