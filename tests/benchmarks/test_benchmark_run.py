"""benchmarks/run.py end to end on the mini fixture: a row is trained, scored, written, tabled and
then skipped, as `make benchmark --only ROW` does on the full benchmark."""
from __future__ import annotations

import json

import pytest

from conftest import load_benchmark_script

SMALL = ["--set", "train.epochs=1", "--set", "model.channels=16", "--set", "model.blocks=1",
         "--set", "data.frame_stride=4", "--set", "train.batch_size=64", "--set",
         "train.threads=1"]


@pytest.fixture(scope="module")
def bench():
    return load_benchmark_script("run")


def test_row_end_to_end_then_skipped(bench, mini_dir, tmp_path, capsys):
    data = mini_dir
    results, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["--only", "skelgnn-1f", "--source", "det", "--data", str(data),
            "--results", str(results), "--runs", str(runs), *SMALL]
    assert bench.main(argv) == 0
    row_path = results / "skelgnn-1f-det.json"
    row = json.loads(row_path.read_text())
    for key in ("p1", "p2", "p1_action", "p2_action", "own_hard5_p1", "own_hard10_p1",
                "samples", "per_action", "commit", "config", "machine", "train_minutes"):
        assert key in row, key
    assert row["row"] == "skelgnn-1f" and row["source"] == "det" and row["epochs"] == 1
    assert row["config"]["model"]["channels"] == 16
    assert row["config"]["data"]["split"] == "test"
    assert 0 < row["p2"] <= row["p1"] <= row["own_hard10_p1"] <= row["own_hard5_p1"]
    table = (results / "TABLE.md").read_text()
    assert "| skelgnn-1f | det |" in table and f"{row['p1']:.1f}" in table
    # the mini fixture has no fixed hard subsets: the table says why the cells are empty
    assert "not reported" in table
    # nothing is shipped from a run on another data directory
    assert not (runs.parent / "checkpoints").exists()

    # a second call skips the committed row: nothing retrained, the row untouched
    before = row_path.read_bytes()
    mtime = (runs / "skelgnn-1f-det" / "last.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert bench.main(argv) == 0
    assert "wrote" not in capsys.readouterr().out
    assert row_path.read_bytes() == before
    assert (runs / "skelgnn-1f-det" / "last.pt").stat().st_mtime_ns == mtime

    assert bench.main(["--list", "--only", "skelgnn-1f", "--results", str(results)]) == 0
    listing = capsys.readouterr().out.split("\n")
    assert any(line.split()[:3] == ["skelgnn-1f", "det", "done"] for line in listing)
    assert any(line.split()[:3] == ["skelgnn-1f", "gt", "todo"] for line in listing)


def test_unknown_row_is_refused(bench, tmp_path):
    with pytest.raises(SystemExit) as err:
        bench.main(["--only", "skelgnn-1f-typo", "--results", str(tmp_path)])
    assert err.value.code == 2
    assert not list(tmp_path.iterdir())
