"""benchmarks/action.py on the mini fixture: a lifted source with its lifter's own error, seeds
summarised as mean and sd, the table, and a bad --lifter refused."""
from __future__ import annotations

import json

import pytest

from conftest import load_benchmark_script


@pytest.fixture(scope="module")
def action():
    return load_benchmark_script("action")


def test_lifted_cell_with_seeds_and_lifter_error(action, mini_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert action.main(["--data", str(mini_dir), "--models", "stgcn", "--sources", "lifted-1f",
                        "--seeds", "0", "1", "--out", str(out), "--cache", str(tmp_path / "c")]) == 0
    r = json.loads((out / "stgcn-lifted-1f.json").read_text())
    assert r["seeds"] == [0, 1] and [run["seed"] for run in r["runs"]] == [0, 1]
    assert r["top1"] == pytest.approx(sum(run["top1"] for run in r["runs"]) / 2)
    assert r["top1_sd"] >= 0 and 0 <= r["balanced"] <= 1
    info = r["source_info"]
    assert info["checkpoint"] == "skelgnn-1f-cmu-det.pt"
    # a trained lifter on the mini test subject: centimetres, not metres and not zero
    assert 10 < info["lifter_p1_mm"] < 200 and info["lifter_frames"] > 0
    # the summed confusion matrix counts every test clip once per seed
    assert sum(map(sum, r["confusion"])) == 2 * r["num_clips"]
    assert (out / "stgcn-lifted-1f.png").is_file()
    table = (out / "TABLE.md").read_text()
    assert f"| stgcn | lifted-1f | {info['lifter_p1_mm']:.1f} |" in table
    assert "mean ± sd over 2 seeds" in table


def test_unknown_lifter_name_is_refused(action, tmp_path):
    with pytest.raises(SystemExit):
        action.main(["--lifter", "5f=x.pt", "--out", str(tmp_path)])
