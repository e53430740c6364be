"""Tests for skelgnn.metrics: hand-computed golden values, invariances, numpy/torch agreement."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgnn import metrics
from skelgnn.metrics import auc, group_mean, mpjpe, mpjve, n_mpjpe, p_mpjpe, pck

POSE_FNS = [mpjpe, p_mpjpe, n_mpjpe, pck, auc]


def _rand_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _rand_poses(rng: np.random.Generator, n: int = 4, j: int = 17) -> np.ndarray:
    return rng.normal(scale=300.0, size=(n, j, 3))


# ------------------------------------------------------------------ golden values
def test_mpjpe_shift_345() -> None:
    target = np.array([[[0.0, 0, 0], [1, 2, 3], [-4, 5, 6]]])
    pred = target + np.array([3.0, 4.0, 0.0])
    out = mpjpe(pred, target)
    assert isinstance(out, np.ndarray) and out.shape == (1,) and out.dtype == np.float64
    np.testing.assert_allclose(out, [5.0])


def test_mpjpe_per_sample_hand() -> None:
    target = np.zeros((2, 2, 3))
    pred = np.array([[[1.0, 0, 0], [0, 3, 0]], [[0, 0, 2], [0, 0, 0]]])
    np.testing.assert_allclose(mpjpe(pred, target), [2.0, 1.0])


def test_mpjpe_integer_and_list_inputs() -> None:
    out = mpjpe([[[3, 4, 0]]], [[[0, 0, 0]]])
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [5.0])
    out_t = mpjpe(torch.tensor([[[3, 4, 0]]]), torch.zeros(1, 1, 3, dtype=torch.long))
    assert isinstance(out_t, torch.Tensor) and out_t.is_floating_point()
    torch.testing.assert_close(out_t, torch.tensor([5.0]))


@pytest.mark.parametrize("fn", POSE_FNS)
def test_per_sample_shape_and_kind(fn) -> None:
    rng = np.random.default_rng(0)
    t = _rand_poses(rng, n=5)
    p = t + rng.normal(scale=50.0, size=t.shape)
    out_np = fn(p, t)
    assert isinstance(out_np, np.ndarray) and out_np.shape == (5,)
    out_t = fn(torch.from_numpy(p).float(), torch.from_numpy(t).float())
    assert isinstance(out_t, torch.Tensor) and out_t.shape == (5,)
    assert out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=1e-4, atol=1e-4)


def test_numpy_torch_agree_float64() -> None:
    rng = np.random.default_rng(1)
    t = _rand_poses(rng, n=3)
    p = t + rng.normal(scale=30.0, size=t.shape)
    for fn in POSE_FNS:
        np.testing.assert_allclose(
            fn(torch.from_numpy(p), torch.from_numpy(t)).numpy(), fn(p, t), rtol=1e-10
        )
    ts = rng.normal(size=(2, 5, 4, 3))
    ps = ts + rng.normal(size=ts.shape)
    np.testing.assert_allclose(
        mpjve(torch.from_numpy(ps), torch.from_numpy(ts)).numpy(), mpjve(ps, ts), rtol=1e-12
    )


def test_mpjpe_gradient_flows() -> None:
    rng = np.random.default_rng(2)
    t = torch.from_numpy(_rand_poses(rng, n=2)).float()
    p = (t + 10.0).clone().requires_grad_(True)
    p.data[0, 0] = t[0, 0]  # one joint with zero error: gradient must stay finite
    loss = mpjpe(p, t).mean()
    assert loss.requires_grad
    loss.backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    assert p.grad.abs().sum() > 0


def test_n_mpjpe_and_mpjve_differentiable() -> None:
    t = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    p = (2.0 * t).requires_grad_(True)
    n_mpjpe(p + 0.1, t).sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    ts = torch.randn(2, 3, 4, 3, generator=torch.Generator().manual_seed(1))
    ps = torch.zeros_like(ts, requires_grad=True)
    mpjve(ps, ts).sum().backward()
    assert ps.grad is not None and torch.isfinite(ps.grad).all()


# ------------------------------------------------------------------ P-MPJPE
def test_p_mpjpe_similarity_invariance() -> None:
    rng = np.random.default_rng(3)
    target = _rand_poses(rng, n=6)
    pred = np.empty_like(target)
    for i in range(len(target)):
        r = _rand_rotation(rng)
        s = rng.uniform(0.3, 3.0)
        b = rng.normal(scale=1000.0, size=3)
        pred[i] = s * target[i] @ r + b
    assert (mpjpe(pred, target) > 1.0).all()
    np.testing.assert_allclose(p_mpjpe(pred, target), 0.0, atol=1e-8)
    out_t = p_mpjpe(torch.from_numpy(pred).float(), torch.from_numpy(target).float())
    assert out_t.dtype == torch.float32
    assert (out_t < 1e-2).all()


def test_p_mpjpe_reflection_not_absorbed() -> None:
    rng = np.random.default_rng(4)
    target = _rand_poses(rng, n=3)
    mirrored = target * np.array([-1.0, 1.0, 1.0])  # a reflection, det = -1
    err = p_mpjpe(mirrored, target)
    assert (err > 10.0).all()  # poses have spread ~300; a true mirror cannot be aligned away
    # also with an extra proper rotation on top of the mirror
    r = _rand_rotation(rng)
    assert (p_mpjpe(mirrored @ r, target) > 10.0).all()


def test_p_mpjpe_below_mpjpe_realistic() -> None:
    rng = np.random.default_rng(5)
    target = _rand_poses(rng, n=8)
    r = _rand_rotation(rng)
    pred = 1.1 * target @ r + 50.0 + rng.normal(scale=20.0, size=target.shape)
    assert (p_mpjpe(pred, target) <= mpjpe(pred, target) + 1e-9).all()
    # with a small noise-only prediction too
    pred2 = target + rng.normal(scale=20.0, size=target.shape)
    assert (p_mpjpe(pred2, target) <= mpjpe(pred2, target) + 1e-9).all()


def test_p_mpjpe_degenerate_samples_finite() -> None:
    target = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 2, 0]], [[1.0, 1, 1]] * 3, [[5.0, 5, 5]] * 3])
    pred = np.array([[[7.0, 7, 7]] * 3, [[0.0, 0, 0], [1, 0, 0], [0, 1, 0]], [[2.0, 2, 2]] * 3])
    out = p_mpjpe(pred, target)
    assert np.isfinite(out).all()
    # collapsed prediction -> centroid of target; collapsed target -> error 0 after scale 0
    centroid = target[0].mean(axis=0)
    np.testing.assert_allclose(out[0], np.linalg.norm(target[0] - centroid, axis=-1).mean())
    np.testing.assert_allclose(out[1:], 0.0, atol=1e-12)
    out_t = p_mpjpe(torch.from_numpy(pred).float(), torch.from_numpy(target).float())
    assert torch.isfinite(out_t).all()


def test_p_mpjpe_detached_for_grad_input() -> None:
    t = torch.randn(2, 5, 3)
    p = torch.randn(2, 5, 3, requires_grad=True)
    out = p_mpjpe(p, t)
    assert not out.requires_grad and torch.isfinite(out).all()


# ------------------------------------------------------------------ N-MPJPE
def test_n_mpjpe_scale_only() -> None:
    rng = np.random.default_rng(6)
    target = _rand_poses(rng, n=4)
    pred = target * np.array([0.5, 2.0, 3.0, 0.1])[:, None, None]
    np.testing.assert_allclose(n_mpjpe(pred, target), 0.0, atol=1e-9)
    assert (mpjpe(pred, target) > 1.0).all()
    # translation is not absorbed
    assert (n_mpjpe(target + 1000.0, target) > 1.0).all()


def test_n_mpjpe_hand_value() -> None:
    # pred (1,0,0),(0,1,0); target (2,0,0),(0,0,0): s = 2/2 = 1 -> errors 1 and 1
    pred = np.array([[[1.0, 0, 0], [0, 1, 0]]])
    target = np.array([[[2.0, 0, 0], [0, 0, 0]]])
    np.testing.assert_allclose(n_mpjpe(pred, target), [1.0])


def test_n_mpjpe_zero_prediction_finite() -> None:
    target = np.ones((1, 2, 3))
    np.testing.assert_allclose(n_mpjpe(np.zeros((1, 2, 3)), target), [np.sqrt(3.0)])


# ------------------------------------------------------------------ MPJVE
def test_mpjve_constant_offset_zero() -> None:
    rng = np.random.default_rng(7)
    target = rng.normal(size=(3, 6, 5, 3))
    pred = target + rng.normal(size=(3, 1, 5, 3))  # per-joint offset constant in time
    np.testing.assert_allclose(mpjve(pred, target), 0.0, atol=1e-12)


def test_mpjve_hand_value() -> None:
    # one joint; target static, pred moves (0,0,0)->(3,4,0)->(3,4,0): velocity errors 5 and 0
    target = np.zeros((1, 3, 1, 3))
    pred = np.array([[[[0.0, 0, 0]], [[3.0, 4, 0]], [[3.0, 4, 0]]]])
    np.testing.assert_allclose(mpjve(pred, target), [2.5])


def test_mpjve_needs_two_frames() -> None:
    with pytest.raises(ValueError, match="T >= 2"):
        mpjve(np.zeros((2, 1, 4, 3)), np.zeros((2, 1, 4, 3)))


# ------------------------------------------------------------------ PCK / AUC
def _errors_0_100_200() -> tuple[np.ndarray, np.ndarray]:
    target = np.zeros((1, 3, 3))
    pred = np.array([[[0.0, 0, 0], [100.0, 0, 0], [0, 0, 200.0]]])
    return pred, target


def test_pck_hand_value() -> None:
    pred, target = _errors_0_100_200()
    np.testing.assert_allclose(pck(pred, target), [2.0 / 3.0])
    np.testing.assert_allclose(pck(pred, target, threshold=100.0), [1.0 / 3.0])  # strict <
    np.testing.assert_allclose(pck(pred, target, threshold=100.001), [2.0 / 3.0])
    np.testing.assert_allclose(pck(pred, target, threshold=0.0), [0.0])
    np.testing.assert_allclose(pck(pred, target, threshold=1000.0), [1.0])


def test_auc_hand_value() -> None:
    pred, target = _errors_0_100_200()
    # default thresholds 0,5,...,150: joint at 0 correct for 30 of 31; joint at 100 for
    # thresholds 105..150 (10 of 31); joint at 200 never -> (30 + 10) / (3 * 31)
    np.testing.assert_allclose(auc(pred, target), [40.0 / 93.0])
    three = auc(pred, target, thresholds=[50.0, 150.0, 250.0])
    np.testing.assert_allclose(three, [(1 + 2 + 3) / 9])
    expected = np.mean([pck(pred, target, th) for th in metrics.DEFAULT_AUC_THRESHOLDS], axis=0)
    np.testing.assert_allclose(auc(pred, target), expected)


def test_auc_bad_thresholds() -> None:
    pred, target = _errors_0_100_200()
    with pytest.raises(ValueError, match=r"\(K,\)"):
        auc(pred, target, thresholds=[])
    with pytest.raises(ValueError, match=">= 0"):
        auc(pred, target, thresholds=[-1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        pck(pred, target, threshold=-5.0)


# ------------------------------------------------------------------ group_mean
def test_group_mean_hand_value() -> None:
    mean, per = group_mean(np.array([1.0, 3.0, 10.0]), ["a", "a", "b"])
    assert mean == pytest.approx(6.0)
    assert per == {"a": pytest.approx(2.0), "b": pytest.approx(10.0)}
    assert isinstance(mean, float)


def test_group_mean_sorted_and_torch() -> None:
    mean, per = group_mean(torch.tensor([4.0, 1.0, 2.0, 8.0]), ["walk", "eat", "eat", "sit"])
    assert list(per) == ["eat", "sit", "walk"]
    assert per["eat"] == pytest.approx(1.5)
    assert mean == pytest.approx((1.5 + 8.0 + 4.0) / 3)


def test_group_mean_errors() -> None:
    with pytest.raises(ValueError, match="labels"):
        group_mean(np.array([1.0, 2.0]), ["a"])
    with pytest.raises(ValueError, match="N >= 1"):
        group_mean(np.array([]), [])
    with pytest.raises(ValueError, match=r"\(N,\)"):
        group_mean(np.zeros((2, 2)), ["a", "b"])


# ------------------------------------------------------------------ input checks
@pytest.mark.parametrize("fn", POSE_FNS)
def test_bad_shapes_raise(fn) -> None:
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        fn(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        fn(np.zeros((17, 3)), np.zeros((17, 3)))
    with pytest.raises(ValueError, match="same shape"):
        fn(np.zeros((4, 17, 3)), np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="J >= 1"):
        fn(np.zeros((4, 0, 3)), np.zeros((4, 0, 3)))


def test_mpjve_bad_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"\(N, T, J, 3\)"):
        mpjve(np.zeros((4, 17, 3)), np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match="same shape"):
        mpjve(np.zeros((1, 4, 17, 3)), np.zeros((1, 5, 17, 3)))


def test_mixed_kinds_raise() -> None:
    with pytest.raises(TypeError, match="both"):
        mpjpe(np.zeros((1, 2, 3)), torch.zeros(1, 2, 3))


def test_all_exports_exist() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name)
