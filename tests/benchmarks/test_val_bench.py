"""benchmarks/val.py: collecting a round keeps the runs recorded before whose run directories are
not here (a fresh checkout has none)."""
from __future__ import annotations

import json

from conftest import load_benchmark_script


def _finished(run_dir, p1):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"model": {"arch": "tcn"}, "train": {},
                                                     "data": {}}))
    (run_dir / "history.json").write_text(json.dumps([
        {"epoch": 6, "train_loss_mm": 60.0, "val_p1": p1, "seconds": 10.0}]))


def test_collect_keeps_recorded_runs_and_prefers_fresh_ones(tmp_path):
    val = load_benchmark_script("val")
    round_name = "b1-baselines"
    variants = list(val.ROUNDS[round_name])
    runs = tmp_path / "runs"
    _finished(runs / round_name / variants[1], 70.0)
    recorded = tmp_path / f"{round_name}.json"
    recorded.write_text(json.dumps({"runs": {variants[0]: {"history": [{"val_p1": 80.0}]},
                                             variants[1]: {"history": [{"val_p1": 99.0}]}}}))
    result = val.collect(round_name, runs)
    assert list(result["runs"]) == [variants[1]]
    kept = val.keep_recorded(result, recorded)
    assert kept == [variants[0]]
    assert result["runs"][variants[0]]["history"][0]["val_p1"] == 80.0
    assert result["runs"][variants[1]]["history"][-1]["val_p1"] == 70.0  # the fresh run wins
    assert val.keep_recorded(result, tmp_path / "none.json") == []
