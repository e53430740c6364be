"""Tests of the hard subsets no model chose (evaluate/hard_free.py) and of per-sample errors and
their paired comparison (evaluate/samples.py), alone and through ``evaluate_checkpoint`` and
``skelgnn evaluate`` on the mini fixture."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import tiny_checkpoint
from skelgnn.data import load_benchmark
from skelgnn.evaluate.benchmark import evaluate_checkpoint
from skelgnn.evaluate.hard_free import (HardFreeSpec, hard_free_measures, nearest_pose_distance,
                                        top_fraction)
from skelgnn.evaluate.samples import (PerSample, load_per_sample, paired_difference,
                                      save_per_sample)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELGNN_CACHE", str(tmp_path / "cache"))


def test_nearest_pose_distance_brute_force():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(50, 4, 3))
    queries = np.concatenate([bank[:3], rng.normal(size=(7, 4, 3))])
    got = nearest_pose_distance(queries, bank, chunk=4)
    flat_q, flat_b = queries.reshape(10, -1), bank.reshape(50, -1)
    nn = ((flat_q[:, None] - flat_b[None]) ** 2).sum(-1).argmin(1)
    want = np.linalg.norm(queries - bank[nn], axis=-1).mean(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.allclose(got[:3], 0.0, atol=1e-6)  # a pose in the bank is not rare


def test_top_fraction_is_deterministic_and_sized():
    values = np.array([1.0, 5.0, 5.0, 2.0, 9.0, 0.0, 5.0, 3.0, 4.0, 8.0])
    assert top_fraction(values, 0.1).tolist() == [4]
    assert top_fraction(values, 0.3).tolist() == [1, 4, 9]  # tie at 5: lowest index first
    assert len(top_fraction(values, 0.05)) == 1  # ceil, at least one
    with pytest.raises(ValueError, match="fraction"):
        top_fraction(values, 0.0)


def test_measures_on_mini_are_model_free_and_cached(mini_dir, tmp_path):
    spec = HardFreeSpec(bank=500, seed=3)
    first = hard_free_measures(mini_dir, spec=spec)
    records = load_benchmark(mini_dir, "gt", subjects=["S08"])
    assert len(first.keys) == sum(r.num_frames for r in records) == len(first.rarity_mm)
    assert first.noise_2d_px is not None and (first.noise_2d_px > 0).all()
    assert (first.rarity_mm > 0).all()
    # rarity is what it says: the distance to the nearest of the seeded training bank
    bank = np.concatenate([r.poses_3d for r in load_benchmark(mini_dir, "gt",
                                                              subjects=["S07", "S10"])])
    bank = bank[np.sort(np.random.default_rng(3).choice(len(bank), 500, replace=False))]
    want = nearest_pose_distance(np.concatenate([r.poses_3d for r in records]), bank) * 1000
    np.testing.assert_allclose(first.rarity_mm, want, rtol=1e-6)
    assert list((tmp_path / "cache" / "hard_free").glob("*.npz"))
    again = hard_free_measures(mini_dir, spec=spec)  # from the cache: the same subset
    assert again.subset("rarity_mm", 0.1) == first.subset("rarity_mm", 0.1)
    other = hard_free_measures(mini_dir, spec=HardFreeSpec(bank=200, seed=3))
    assert len(list((tmp_path / "cache" / "hard_free").glob("*.npz"))) == 2
    assert not np.array_equal(other.rarity_mm, first.rarity_mm)


def test_evaluate_reports_model_free_subsets_and_saves_per_sample(mini_dir, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "ps" / "tiny.npz"
    result = evaluate_checkpoint(ckpt, mini_dir, "det", progress=False, model_free=True,
                                 per_sample=out)
    for name, fraction in (("rare5", 0.05), ("rare10", 0.10), ("noisy10", 0.10)):
        assert f"{name}_p1" in result
        assert result["model_free"]["subsets"][name]["samples"] == int(
            np.ceil(fraction * result["samples"]))
    errors, meta = load_per_sample(out)
    assert len(errors) == result["samples"] and meta["source"] == "det"
    np.testing.assert_allclose(errors.p1.mean(), result["p1"], rtol=1e-5)
    np.testing.assert_allclose(errors.p2.mean(), result["p2"], rtol=1e-5)
    # the subset scores are means of the per-sample errors over the rarest samples
    rarity = hard_free_measures(mini_dir).rarity_mm
    idx = top_fraction(rarity, 0.10)
    np.testing.assert_allclose(errors.p1[idx].mean(), result["rare10_p1"], rtol=1e-5)


def _errors(p1, seqs=None):
    n = len(p1)
    seqs = seqs if seqs is not None else [i // 5 for i in range(n)]
    return PerSample(np.asarray(p1, float), np.asarray(p1, float) / 2,
                     np.array(["S1"] * n), np.array([f"a{s}" for s in seqs]),
                     np.zeros(n, np.int64), np.arange(n))


def test_paired_difference_sign_interval_and_alignment(tmp_path):
    rng = np.random.default_rng(0)
    a = _errors(50 + rng.normal(size=200))
    b = _errors(a.p1 + 3.0 + rng.normal(scale=0.5, size=200))
    res = paired_difference(a, b, boot=500)
    assert res["mean"] == pytest.approx(3.0, abs=0.2)
    assert res["ci_low"] < res["mean"] < res["ci_high"] and res["ci_low"] > 2.0
    assert res["p_not_better"] == 0.0 and res["sequences"] == 40
    # reversed: the other model is worse
    assert paired_difference(b, a, boot=200)["mean"] == pytest.approx(-res["mean"])
    # saved and loaded, b shuffled and cut: aligned on keys, same answer on the common samples
    save_per_sample(tmp_path / "a.npz", a)
    order = rng.permutation(200)[:150]
    b_cut = PerSample(b.p1[order], b.p2[order], b.subject[order], b.action[order],
                      b.camera[order], b.frame[order])
    save_per_sample(tmp_path / "b.npz", b_cut)
    la, _ = load_per_sample(tmp_path / "a.npz")
    lb, _ = load_per_sample(tmp_path / "b.npz")
    got = paired_difference(la, lb, boot=200)
    assert got["samples"] == 150
    assert got["mean"] == pytest.approx(float((b.p1[order] - a.p1[order]).mean()), rel=1e-5)


def test_paired_difference_errors(tmp_path):
    a = _errors([1.0, 2.0])
    with pytest.raises(ValueError, match="metric"):
        paired_difference(a, a, metric="p3")
    far = PerSample(a.p1, a.p2, np.array(["S9", "S9"]), a.action, a.camera, a.frame)
    with pytest.raises(ValueError, match="share no samples"):
        paired_difference(a, far)
    with pytest.raises(FileNotFoundError):
        load_per_sample(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", p1=np.zeros(2))
    with pytest.raises(ValueError, match="not a per-sample"):
        load_per_sample(tmp_path / "bad.npz")


def test_cli_model_free_and_per_sample(mini_dir, tmp_path, capsys):
    from skelgnn.cli import main

    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out_json, npz = tmp_path / "out.json", tmp_path / "errors.npz"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(mini_dir), "--model-free",
                 "--per-sample", str(npz), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert f"{result['rare10_p1']:9.2f}" in printed and "rarest 10% P1" in printed
    assert len(load_per_sample(npz)[0]) == result["samples"] == 800
    # the per-sample file may not overwrite the checkpoint; 3dhp has no such subsets
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(mini_dir),
                 "--per-sample", str(ckpt)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(tmp_path),
                 "--dataset", "3dhp", "--model-free"]) == 2
    assert "cmu only" in capsys.readouterr().err


def test_load_per_sample_refuses_non_npz(tmp_path):
    bad = tmp_path / "text.npz"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        load_per_sample(bad)
