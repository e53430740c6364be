"""Information gain per hop (skelgnn.layers.hops) and ``skelgnn analyze hops``."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from skelgnn.layers.hops import (derive_squeeze, fit_exponential, lookhops_information_gain,
                          squeeze_from_json, target_information_gain)

CHAIN5 = (-1, 0, 1, 2, 3)


def _chain_data(n: int = 20000, weights=(1.0, 0.5, 0.25, 0.125), seed: int = 0):
    """A 5-joint chain: y_j's depth is a sum of independent 2D features of joints at hop k with
    weight weights[k] (plus noise), so nearer hops explain more."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5, 2))
    x[:, 0] = 0.0  # root-relative 2D: the root is identically zero
    y = np.zeros((n, 5, 3))
    for j in range(1, 5):
        for i in range(1, 5):
            k = abs(i - j)
            if k < len(weights):
                y[:, j, 2] += weights[k] * x[:, i, 0]
    y += 0.1 * rng.normal(size=y.shape)
    return x, y


def test_fit_recovers_an_exact_exponential():
    ig = [5.0] + [2.0 * math.exp(-0.7 * k) for k in range(1, 6)]
    fit = fit_exponential(ig)
    assert fit.a == pytest.approx(2.0)
    assert fit.b == pytest.approx(0.7)
    assert fit.d == pytest.approx(math.exp(-0.7))
    assert fit.ks == (1, 2, 3, 4, 5) and fit.r2 == pytest.approx(1.0)
    # NaN and non-positive values are skipped, too few points is an error
    assert fit_exponential([np.nan, np.nan, 1.0, 0.5, -1.0]).d == pytest.approx(0.5)
    with pytest.raises(ValueError, match="two positive"):
        fit_exponential([1.0, 0.0, np.nan])


def test_derive_squeeze_clips_to_the_model_range():
    assert derive_squeeze([1, 1.0, 0.5, 0.25]) == pytest.approx(0.5)
    assert derive_squeeze([1, 1.0, 2.0, 4.0]) == 1.0  # growing IG: no squeezing
    assert derive_squeeze([1, 1.0, 1e-3, 1e-6], lo=0.05) == 0.05


def test_target_ig_decays_with_the_hop_weights():
    x, y = _chain_data()
    ig = target_information_gain(x, y, CHAIN5, max_hop=4)
    assert ig.shape == (5,)
    assert np.all(ig[:4] > 0.01)
    assert ig[1] > ig[2] > ig[3] > 0  # weights halve per hop
    assert abs(ig[4]) < 0.01  # nothing 4 hops away matters
    # y independent of x: no gain at any hop
    rng = np.random.default_rng(1)
    ig0 = target_information_gain(x, rng.normal(size=y.shape), CHAIN5, max_hop=3)
    assert np.all(np.abs(ig0) < 5e-3)


def test_lookhops_ig_is_nan_below_two_and_nonnegative():
    x, _ = _chain_data(n=3000)
    ig = lookhops_information_gain(x, CHAIN5, max_hop=4)
    assert np.isnan(ig[:2]).all()
    assert np.all(ig[2:] >= 0) and ig[2] > 0


def test_analyze_hops_cli_on_the_mini_fixture(mini_dir, tmp_path, capsys):
    from skelgnn.cli import main

    out = tmp_path / "hops"
    assert main(["analyze", "hops", "--data", str(mini_dir), "--source", "det", "--out", str(out),
                 "--max-hop", "5", "--fit-max", "4", "--frame-stride", "1"]) == 0
    text = capsys.readouterr().out
    assert "target-aware" in text and "d = exp(-b)" in text
    raw = json.loads((out / "hops.json").read_text())
    assert raw["hops"] == [0, 1, 2, 3, 4, 5]
    assert raw["lookhops_ig"][0] is None and raw["target_ig"][0] > 0
    assert raw["parents"] == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    d = squeeze_from_json(out / "hops.json")
    assert 0.05 <= d <= 1 and d == pytest.approx(min(1.0, max(0.05, raw["target_fit"]["d"])))
    assert (out / "hops.png").stat().st_size > 1000
