"""benchmarks/squeeze.py: val P1 against the squeeze ratio, from hand-written round results."""
from __future__ import annotations

import json

import pytest

from conftest import load_benchmark_script


def _run(d: float, seed: int, p1: float, **train) -> dict:
    return {"model": {"squeeze": d}, "train": {"seed": seed, **train},
            "history": [{"val_p1": p1 + 5, "val_p1_action": p1}, {"val_p1": p1, "val_p1_action": p1 - 1,
                                                                  "val_own_hard10_p1": 2 * p1}]}


def test_seed_means_gates_and_figure(tmp_path):
    sq = load_benchmark_script("squeeze")
    (tmp_path / "r4-squeeze.json").write_text(json.dumps({"protocol": "p", "runs": {
        "d0.5-det": _run(0.5, 1234, 60.0), "d0.5-det-seed2": _run(0.5, 2, 64.0),
        "d1.0-det": _run(1.0, 1234, 70.0)}}))
    gated = _run(1.0, 1234, 66.0, gate_l1=0.1)
    gated["grading"] = {"derived_squeeze": 0.62, "derived_widths": [96, 60, 37],
                        "mass_ratio": [1.0, 0.62, 0.38]}
    (tmp_path / "r6-gate-l1.json").write_text(json.dumps({"runs": {"g": gated}}))
    hops = tmp_path / "hops.json"
    hops.write_text(json.dumps({"target_fit": {"d": 0.79}, "lookhops_fit": {"d": 0.71}}))
    result = sq.collect(tmp_path, hops)
    assert [r["d"] for r in result["fixed"]] == [0.5, 1.0]
    assert result["fixed"][0]["p1_mean"] == pytest.approx(62.0)
    assert result["fixed"][0]["p1_action_mean"] == pytest.approx(61.0)
    assert result["gated"][0]["derived_squeeze"] == 0.62 and result["gated"][0]["gate_l1"] == 0.1
    text = sq.table(result)
    assert "| 0.50 | fixed | 60.0, 64.0 | 62.0 |" in text and "0.62 (gates)" in text
    assert sq.figure(result, tmp_path / "s.png").stat().st_size > 1000


def test_refuses_without_the_r4_round(tmp_path):
    sq = load_benchmark_script("squeeze")
    with pytest.raises(SystemExit, match="r4-squeeze"):
        sq.main(["--val", str(tmp_path), "--out", str(tmp_path)])
