"""benchmarks/level.py (extra camera rolls), footage_reframe.py (the turned camera) and
precise_bn.py (re-estimated batch-norm statistics of a finished checkpoint)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO, load_benchmark_script

CKPT = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"


def test_rolled_view_is_what_the_rolled_camera_sees():
    level = load_benchmark_script("level")
    rng = np.random.default_rng(0)
    pts = rng.normal([0.0, 0.0, 4.0], [0.5, 0.8, 0.2], (10, 17, 3))
    f, c = 1000.0, np.array([500.0, 400.0])

    def project(x):
        return x[..., :2] / x[..., 2:] * f + c
    up = np.array([0.0, -1.0, 0.0])
    uv, rolled, rolled_up = level.roll_view(project(pts), pts, up, c, 12.0)
    np.testing.assert_allclose(uv, project(rolled), atol=1e-9)
    from skelgnn.geometry import camera_roll_deg

    assert camera_roll_deg(rolled_up) == pytest.approx(12.0)


def test_turned_camera_looks_along_the_ray_and_keeps_the_lift_in_the_real_camera(tmp_path):
    reframe = load_benchmark_script("footage_reframe")
    d = np.array([0.3, -0.2, 1.0])
    np.testing.assert_allclose(reframe.look_rotation(d) @ (d / np.linalg.norm(d)), [0, 0, 1],
                               atol=1e-12)
    np.testing.assert_allclose(reframe.look_rotation(np.array([0, 0, 2.0])), np.eye(3))
    from skelgnn.infer.lifter import Lifter

    lifter = Lifter.from_checkpoint(CKPT)
    rng = np.random.default_rng(1)
    uv = np.array([[300.0, 200.0]]) + rng.normal(0, 40, (20, 17, 2))
    poses = reframe.perspective_lift(lifter, uv, (1280, 720), None)
    assert poses.shape == (20, 17, 3) and np.isfinite(poses).all()
    np.testing.assert_allclose(poses[:, 0], 0.0, atol=1e-6)  # root-relative, turned back


def test_precise_bn_on_a_finished_checkpoint(mini_dir, tmp_path, capsys):
    from skelgnn.train.config import load_config
    from skelgnn.train.loop import train

    cfg = load_config(None, ["model.preset=tcn-1f", "model.channels=32", "data.split=test",
                             "train.epochs=1", "train.batch_size=64", "train.threads=1"])
    run = train(cfg, tmp_path / "run", progress=False, data_dir=mini_dir)
    bench = load_benchmark_script("precise_bn")
    out = tmp_path / "pbn.json"
    assert bench.main(["--checkpoint", f"tiny={run.checkpoint}", "--data", str(mini_dir),
                       "--batches", "3", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["tiny"]
    assert row["batches"] == 3
    assert np.isfinite([row["p1"], row["p1_precise"]]).all()
    assert row["p1"] != row["p1_precise"]  # the statistics moved
    assert "| tiny | 3 |" in capsys.readouterr().out
