"""End-to-end tests of ``skelgnn train`` and ``skelgnn evaluate`` on the mini fixture."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import interrupt_training_at_epoch
from skelgnn.models.checkpoint import load_checkpoint
from skelgnn.cli import main

REPO = Path(__file__).resolve().parents[2]
MINI_TOML = str(REPO / "configs" / "mini.toml")
EVAL_KEYS = {"p1", "p2", "p1_action", "p2_action", "per_action", "own_hard5_p1", "own_hard10_p1",
             "samples", "model", "source", "tta"}


def _train_args(mini_dir, run_dir, *extra: str) -> list[str]:
    return ["train", "--config", MINI_TOML, "--data", str(mini_dir), "--run-dir", str(run_dir),
            "--set", "train.epochs=1", "--set", "train.threads=1", "--no-progress", *extra]


def _printed_p1(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("per-sample mean"))
    return line.split()[2]


@pytest.fixture(scope="module")
def trained(mini_dir, tmp_path_factory):
    """``skelgnn train`` with the mini config for one epoch."""
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(_train_args(mini_dir, run)) == 0
    return run


def test_train_writes_a_run(trained, mini_dir):
    for name in ("config.json", "history.json", "train.log", "last.pt"):
        assert (trained / name).is_file(), name
    config = json.loads((trained / "config.json").read_text())
    assert config["preset"] == "skelgnn-1f"
    assert config["model"]["channels"] == 32 and config["model"]["blocks"] == 1  # from mini.toml
    assert config["train"]["epochs"] == 1 and config["train"]["threads"] == 1  # from --set
    assert load_checkpoint(trained / "last.pt")["epoch"] == 1


def test_train_prints_a_summary(mini_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_train_args(mini_dir, run, "--set", "train.max_samples=128",
                            "--set", "model.channels=16")) == 0
    out = capsys.readouterr().out
    assert out.startswith("trained skelgnn-1f for 1 epochs in ") and str(run / "last.pt") in out


def test_evaluate_json_and_report(trained, mini_dir, tmp_path, capsys):
    out_json = tmp_path / "eval" / "out.json"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(trained / "last.pt"), "--data", str(mini_dir),
                 "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert EVAL_KEYS <= set(result)
    assert result["tta"] is True and result["source"] == "det" and result["model"] == "skelgnn-1f"
    assert result["samples"] == 800  # S08: 2 sequences x 4 cameras x 100 frames
    assert set(result["per_action"]) == {"Walk"}
    assert "hard5_p1" not in result  # the mini fixture has no hard_*.json
    assert _printed_p1(printed) == f"{result['p1']:.2f}"
    assert "flip TTA on" in printed and "samples 800" in printed
    assert result["p1"] > 0 and result["own_hard10_p1"] >= result["p1"]
    assert result["own_hard5_p1"] >= result["own_hard10_p1"]

    no_tta = tmp_path / "no_tta.json"
    assert main(["evaluate", "--checkpoint", str(trained / "last.pt"), "--data", str(mini_dir),
                 "--no-tta", "--json", str(no_tta)]) == 0
    printed = capsys.readouterr().out
    result_no = json.loads(no_tta.read_text())
    assert result_no["tta"] is False and "flip TTA off" in printed
    assert _printed_p1(printed) == f"{result_no['p1']:.2f}"
    assert result_no["p1"] != result["p1"]


def test_training_into_an_existing_run_is_refused(trained, mini_dir, capsys):
    before = (trained / "last.pt").read_bytes()
    capsys.readouterr()
    assert main(_train_args(mini_dir, trained)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already holds a run" in err and "--resume" in err
    assert "Traceback" not in err
    assert (trained / "last.pt").read_bytes() == before


def test_resume_finishes_an_interrupted_run(mini_dir, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = _train_args(mini_dir, run, "--set", "train.epochs=2", "--set", "train.max_samples=128",
                       "--set", "model.channels=16")
    interrupt_training_at_epoch(monkeypatch, 2, KeyboardInterrupt)
    assert main(args) == 130  # Ctrl-C: one `error: interrupted; resume with ...` line
    monkeypatch.undo()
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0
    assert "trained skelgnn-1f for 2 epochs" in capsys.readouterr().out
    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert "resumed from" in (run / "train.log").read_text()


def test_resume_without_a_run_exits_2(mini_dir, tmp_path, capsys):
    assert main(_train_args(mini_dir, tmp_path / "none", "--resume")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume: no checkpoint") and "Traceback" not in err


@pytest.mark.parametrize("override, words", [
    ("train.lrr=0.1", ["train.lrr", "did you mean 'lr'"]),
    ("train.epochs=0", ["train.epochs must be >= 1"]),
    ("data.source=foo", ["data.source"]),
    ("lr=0.1", ["section.key=value"]),
])
def test_bad_set_exits_2(mini_dir, tmp_path, capsys, override, words):
    run = tmp_path / "run"
    assert main(_train_args(mini_dir, run, "--set", override)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for w in words:
        assert w in err
    assert not run.exists()  # nothing written before the config was checked


def test_evaluate_missing_checkpoint_exits_2(mini_dir, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"),
                 "--data", str(mini_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint not found") and "Traceback" not in err


def test_evaluate_non_checkpoint_exits_2(mini_dir, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(bad), "--data", str(mini_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and "Traceback" not in err


def test_console_refuses_to_overwrite(trained, mini_dir):
    """The real process: exit status 2, an ``error:`` line, no traceback."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "skelgnn.cli"] + _train_args(mini_dir, trained),
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    # one error line, last; before it at most the heartbeat of a slow start (a loaded machine)
    *before, last = result.stderr.splitlines()
    assert last.startswith("error: ") and "Traceback" not in result.stderr
    assert all(": still working" in line for line in before), before


def test_fixed_hard_subsets_only_on_the_test_split(trained, mini_dir, tmp_path):
    """hard_<source>_top*.json list test samples: scored on the test split, skipped (not an
    error) when other subjects are scored."""
    import shutil

    from skelgnn.data import load_benchmark
    from skelgnn.evaluate.benchmark import evaluate_checkpoint

    data = tmp_path / "mini"
    shutil.copytree(mini_dir, data)
    rec = load_benchmark(data, "det", subjects=["S08"])[0]
    key = [rec.subject, rec.action, rec.camera, 5]
    for pct in (5, 10):
        (data / f"hard_det_top{pct}.json").write_text(json.dumps({"samples": [key]}))
    on_test = evaluate_checkpoint(trained / "last.pt", data, progress=False)
    assert on_test["hard5_p1"] > 0 and on_test["hard10_p1"] == on_test["hard5_p1"]
    on_train = evaluate_checkpoint(trained / "last.pt", data, subjects=["S07"], progress=False)
    assert "hard5_p1" not in on_train and "hard10_p1" not in on_train
    assert on_train["samples"] == 800 and on_train["p1"] > 0
