"""benchmarks/seeds.py (seed means, spreads and intervals for each claim, paired tests over samples)
and benchmarks/hard_free.py (checkpoints on the model-free hard subsets) on small inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import load_benchmark_script, tiny_checkpoint
from skelgnn.evaluate.samples import PerSample, save_per_sample


@pytest.fixture(scope="module")
def seeds():
    return load_benchmark_script("seeds")


def _row(path, row, source, p1a, seed=None, **more):
    data = {"row": row, "source": source, "commit": "abc", "p1": p1a + 1, "p1_action": p1a,
            "config": {"train": {"seed": seed if seed is not None else 1234}}, **more}
    path.write_text(json.dumps(data))


def test_stems(seeds):
    assert seeds.parse_stem("skelgnn-1f-det") == ("skelgnn-1f", "det", None)
    assert seeds.parse_stem("skelgnn-1f-static-det-s12") == ("skelgnn-1f-static", "det", 12)
    assert seeds.parse_stem("speed") is None


def test_table_intervals_and_paired(seeds, tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    flag, base = [50.0, 51.0, 50.5], [53.0, 54.0]
    _row(res / "skelgnn-1f-det.json", "skelgnn-1f", "det", flag[0], hard10_p1=90.0)
    _row(res / "skelgnn-1f-det-s1.json", "skelgnn-1f", "det", flag[1], seed=1, hard10_p1=92.0)
    _row(res / "skelgnn-1f-det-s2.json", "skelgnn-1f", "det", flag[2], seed=2)
    _row(res / "tcn-1f-det.json", "tcn-1f", "det", base[0])
    _row(res / "tcn-1f-det-s1.json", "tcn-1f", "det", base[1], seed=1)
    _row(res / "mgcn-1f-det.json", "mgcn-1f", "det", 54.0)
    (res / "speed.json").write_text("{}")  # not a row: ignored
    ps = tmp_path / "ps"
    rng = np.random.default_rng(0)
    n = 60
    keys = dict(subject=np.array(["S08"] * n), action=np.array([f"a{i // 6}" for i in range(n)]),
                camera=np.zeros(n, np.int64), frame=np.arange(n))
    e = 50 + rng.normal(size=n)
    save_per_sample(ps / "skelgnn-1f-det.npz", PerSample(e, e, **keys))
    (ps / "tcn-1f-det-s1").mkdir(parents=True)
    save_per_sample(ps / "tcn-1f-det-s1" / "per_sample.npz", PerSample(e + 2, e, **keys))
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "tcn-1f-det-s1.json").write_text(json.dumps({"rare10_p1": 77.0, "rare5_p1": 80.0,
                                                       "noisy10_p1": 70.0}))
    (hf / "skelgnn-1f-det.json").write_text(json.dumps({"rare10_p1": 75.0}))
    assert seeds.main(["--results", str(res), "--per-sample", str(ps), "--no-rare",
                       "--hard-free", str(hf)]) == 0
    out = json.loads((res / "seeds.json").read_text())
    rows = {(r["row"], r["source"]): r for r in out["rows"]}
    s = rows[("skelgnn-1f", "det")]
    assert s["n"] == 3 and s["seeds"] == [1, 2, 1234]
    assert s["metrics"]["p1_action"]["mean"] == pytest.approx(np.mean(flag))
    assert s["metrics"]["p1_action"]["sd"] == pytest.approx(np.std(flag, ddof=1))
    assert s["metrics"]["hard10_p1"]["n"] == 2
    claims = {(c["other"], c["source"]): c for c in out["claims"]}
    welch = claims[("tcn-1f", "det")]["metrics"]["p1_action"]
    from scipy import stats

    want = stats.ttest_ind(base, flag, equal_var=False)
    assert welch["method"] == "welch" and welch["p"] == pytest.approx(want.pvalue, rel=1e-6)
    assert welch["diff"] == pytest.approx(np.mean(base) - np.mean(flag))
    assert welch["ci_low"] < welch["diff"] < welch["ci_high"]
    assert welch["ratio"] == pytest.approx(np.mean(flag) / np.mean(base))
    pooled = claims[("mgcn-1f", "det")]["metrics"]["p1_action"]
    assert pooled["method"] == "pooled" and pooled["df"] == 2
    paired = claims[("tcn-1f", "det")]["paired_samples"]
    assert paired["mean"] == pytest.approx(2.0) and paired["seeds"] == [[1234], [1]]
    assert "paired_samples" not in claims[("mgcn-1f", "det")]
    assert "paired_samples_rare10" not in claims[("tcn-1f", "det")]
    # model-free figures measured on kept checkpoints fill rows scored before they existed
    assert out["model_free_from_hard_free"] == ["skelgnn-1f-det", "tcn-1f-det-s1"]
    assert rows[("tcn-1f", "det")]["metrics"]["rare10_p1"]["values"] == [77.0]
    assert claims[("tcn-1f", "det")]["metrics"]["rare10_p1"]["diff"] == pytest.approx(2.0)
    md = (res / "SEEDS.md").read_text()
    assert "| skelgnn-1f | det | 3 |" in md and "welch" in md and "pooled" in md


def test_paired_tests_without_their_files_are_kept_and_marked(seeds, tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    _row(res / "skelgnn-1f-det.json", "skelgnn-1f", "det", 50.0)
    _row(res / "tcn-1f-det.json", "tcn-1f", "det", 53.0)
    ps = tmp_path / "ps"
    n = 30
    keys = dict(subject=np.array(["S08"] * n), action=np.array([f"a{i // 6}" for i in range(n)]),
                camera=np.zeros(n, np.int64), frame=np.arange(n))
    e = np.full(n, 50.0)
    save_per_sample(ps / "skelgnn-1f-det.npz", PerSample(e, e, **keys))
    save_per_sample(ps / "tcn-1f-det.npz", PerSample(e + 3, e, **keys))
    assert seeds.main(["--results", str(res), "--per-sample", str(ps), "--no-rare"]) == 0
    first = json.loads((res / "seeds.json").read_text())["claims"][0]["paired_samples"]
    assert first["mean"] == pytest.approx(3.0) and "carried" not in first
    # a fresh checkout: the row JSONs are there, the per-sample files are not
    empty = tmp_path / "empty"
    empty.mkdir()
    _row(res / "tcn-1f-det-s1.json", "tcn-1f", "det", 54.0, seed=1)
    assert seeds.main(["--results", str(res), "--per-sample", str(empty), "--no-rare"]) == 0
    claim = json.loads((res / "seeds.json").read_text())["claims"][0]
    assert claim["seeds"] == [[1234], [1, 1234]]
    kept = claim["paired_samples"]
    assert kept["carried"] is True and kept["mean"] == pytest.approx(3.0)
    assert kept["seeds"] == [[1234], [1234]]
    assert "(seeds 1 / 1)*" in (res / "SEEDS.md").read_text()
    # a run that can redo the test with the same seeds or more replaces it
    assert seeds.main(["--results", str(res), "--per-sample", str(ps), "--no-rare"]) == 0
    redone = json.loads((res / "seeds.json").read_text())["claims"][0]["paired_samples"]
    assert "carried" not in redone and redone["seeds"] == [[1234], [1234]]
    # --fresh drops what cannot be redone
    assert seeds.main(["--results", str(res), "--per-sample", str(empty), "--no-rare",
                       "--fresh"]) == 0
    assert "paired_samples" not in json.loads((res / "seeds.json").read_text())["claims"][0]


def test_one_seed_each_has_no_interval(seeds):
    iv = seeds.seed_interval([50.0], [52.0])
    assert iv["diff"] == 2.0 and iv["ci_low"] is None and iv["method"] is None


def test_hard_free_scores_a_checkpoint(mini_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SKELGNN_CACHE", str(tmp_path / "cache"))
    hard_free = load_benchmark_script("hard_free")
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out, ps = tmp_path / "out", tmp_path / "ps"
    args = ["--no-shipped", "--data", str(mini_dir), "--checkpoint", f"skelgnn-1f-det-s5={ckpt}",
            "--out", str(out), "--per-sample", str(ps)]
    assert hard_free.main(args) == 0
    data = json.loads((out / "hard_free.json").read_text())
    (row,) = data["rows"]
    assert row["row"] == "skelgnn-1f" and row["seed"] == 5 and row["source"] == "det"
    assert {"rare5_p1", "rare10_p1", "noisy10_p1"} <= set(row)
    assert data["model_free"]["spec"]["bank"] == 50_000
    assert (ps / "skelgnn-1f-det-s5.npz").is_file()
    assert "| skelgnn-1f | 5 | det |" in (out / "HARD_FREE.md").read_text()
    with pytest.raises(SystemExit, match="STEM=PT"):
        hard_free.main(["--no-shipped", "--checkpoint", "nonsense"])


def test_hard_free_skips_runs_still_training(tmp_path):
    hard_free = load_benchmark_script("hard_free")
    for name, done in (("tcn-1f-det-s1", 20), ("tcn-1f-det-s2", 13), ("notarow", 20)):
        run = tmp_path / name
        run.mkdir()
        (run / "last.pt").write_bytes(b"")
        (run / "config.json").write_text(json.dumps({"train": {"epochs": 20}}))
        (run / "history.json").write_text(json.dumps([{}] * done))
    assert list(hard_free.from_runs(tmp_path)) == ["tcn-1f-det-s1"]
