"""The cross-camera test and virtual-camera training on the mini fixture."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from skelgnn.cli import main
from skelgnn.evaluate.cross_camera import NOVEL_KINDS, novel_records

REPO = Path(__file__).resolve().parents[2]


def test_novel_records_are_fixed_and_unlike_h36m(mini_dir):
    a = novel_records(mini_dir, max_frames=30)
    b = novel_records(mini_dir, max_frames=30)
    assert len(a) == 2 * len(NOVEL_KINDS)  # 2 test sequences x 6 kinds
    assert all(np.array_equal(x.keypoints_2d, y.keypoints_2d) for x, y in zip(a, b))
    assert all(r.num_frames == 30 for r in a)
    by_kind = {k: [r for r in a if r.camera == i] for i, k in enumerate(NOVEL_KINDS)}
    hfov = {k: np.mean([math.degrees(2 * math.atan(r.image_size[0] / 2 / r.calibration.fx))
                        for r in rs]) for k, rs in by_kind.items()}
    height = {k: np.mean([r.calibration.translation[2] for r in rs]) for k, rs in by_kind.items()}
    assert all(r.image_size[1] > r.image_size[0] for r in by_kind["phone_portrait"])
    assert hfov["wide_lens"] > 90 and hfov["long_lens"] < 30
    assert height["low_view"] < 0.6 < 2.0 < height["high_view"]
    for r in by_kind["near_edge"]:  # the pelvis sits far off-centre
        assert abs(np.median(r.keypoints_2d[:, 0, 0]) - r.image_size[0] / 2) > 0.35 * r.image_size[0] / 2
    clean = novel_records(mini_dir, max_frames=30, noise="none")
    err = np.mean([np.abs(x.keypoints_2d - y.keypoints_2d).mean() for x, y in zip(a, clean)])
    assert err > 1.0  # detector noise is on by default
    with pytest.raises(ValueError, match="noise"):
        novel_records(mini_dir, noise="gaussian")


@pytest.mark.slow
def test_analyze_cameras_command(mini_dir, tmp_path, capsys):
    out = tmp_path / "cc.json"
    ckpt = REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"
    assert main(["analyze", "cameras", "--checkpoint", str(ckpt), "--data", str(mini_dir),
                 "--max-frames", "20", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "phone_portrait" in text and "mean of kinds" in text
    res = json.loads(out.read_text())
    assert res["samples"] == 2 * 20 * len(NOVEL_KINDS) and set(res["per_kind"]) == set(NOVEL_KINDS)
    assert all(0 < row["p2"] <= row["p1"] < 1000 for row in res["per_kind"].values())


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--set", "model.preset=skelgnn-27f"]])
def test_training_with_virtual_cameras_and_detector_noise(mini_dir, tmp_path, extra):
    """A few steps of single-frame and 27-frame training with the video options on."""
    run = tmp_path / "run"
    args = ["train", "--config", str(REPO / "configs" / "mini.toml"), "--data", str(mini_dir),
            "--run-dir", str(run), "--no-progress", "--set", "data.virtual_cameras=2",
            "--set", "data.det_noise=detector", "--set", "train.epochs=1",
            "--set", "train.max_samples=256", "--set", "train.threads=1"]
    if extra:
        args = [a for a in args if a != str(REPO / "configs" / "mini.toml")]
        args.remove("--config")
        args += ["--set", "data.split=test", "--set", "data.frame_stride=4",
                 "--set", "train.batch_size=64"] + extra
    assert main(args) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["virtual_cameras"] == 2 and cfg["data"]["det_noise"] == "detector"
    history = json.loads((run / "history.json").read_text())
    assert np.isfinite(history[-1]["train_loss_mm"])


def test_video_configs_turn_the_options_on():
    from skelgnn.train.config import load_config

    for name in ("skelgnn-1f-video", "skelgnn-27f-video"):
        cfg = load_config(REPO / "configs" / f"{name}.toml")
        assert cfg.data.virtual_cameras > 0 and cfg.data.det_noise == "detector"
        assert cfg.data.fixed_cameras and cfg.preset == name.replace("-video", "")


def test_training_records_mix_fixed_and_virtual_views(mini_dir):
    from skelgnn.data.virtual import VIRTUAL_CAMERA_BASE, training_records

    recs = training_records(mini_dir, "gt", ["S07"], virtual_cameras=2, det_noise="none", seed=1)
    fixed = [r for r in recs if r.camera < VIRTUAL_CAMERA_BASE]
    virtual = [r for r in recs if r.camera >= VIRTUAL_CAMERA_BASE]
    assert len(fixed) == 2 * 4 and len(virtual) == 2 * 2
    noisy = training_records(mini_dir, "gt", ["S07"], virtual_cameras=2, det_noise="detector", seed=1)
    assert all(not np.allclose(a.keypoints_2d, b.keypoints_2d) for a, b in zip(recs, noisy))
    assert all(np.array_equal(a.poses_3d, b.poses_3d) for a, b in zip(recs, noisy))
    det = training_records(mini_dir, "det", ["S07"], virtual_cameras=1, det_noise="detector", seed=1)
    from skelgnn.data import load_benchmark

    plain = load_benchmark(mini_dir, "det", subjects=["S07"])  # the det source is left as it is
    assert all(np.array_equal(a.keypoints_2d, b.keypoints_2d) for a, b in zip(plain, det))
    only = training_records(mini_dir, "gt", ["S07"], virtual_cameras=1, fixed_cameras=False)
    assert all(r.camera >= VIRTUAL_CAMERA_BASE for r in only) and len(only) == 2


def test_data_config_checks_the_video_options():
    from skelgnn.train.config import DataConfig

    with pytest.raises(ValueError, match="virtual_cameras"):
        DataConfig(virtual_cameras=-1)
    with pytest.raises(ValueError, match="det_noise"):
        DataConfig(det_noise="gaussian")
    with pytest.raises(ValueError, match="fixed_cameras"):
        DataConfig(fixed_cameras=False)
    assert DataConfig().virtual_cameras == 0 and DataConfig().det_noise == "none"  # benchmark rows


def test_camera_height_max_reaches_raised_views_and_keeps_the_default_draws(mini_dir):
    from skelgnn.data.virtual import VIRTUAL_CAMERA_BASE, training_records
    from skelgnn.train.config import DataConfig

    assert DataConfig().camera_height_max == 2.5
    with pytest.raises(ValueError, match="camera_height_max"):
        DataConfig(virtual_cameras=1, camera_height_max=0.2)

    def heights(limit: float) -> np.ndarray:
        recs = training_records(mini_dir, "gt", ["S07"], virtual_cameras=40, seed=3,
                                fixed_cameras=False, camera_height_max=limit)
        assert all(r.camera >= VIRTUAL_CAMERA_BASE for r in recs)
        return np.array([r.calibration.translation[2] for r in recs])

    default, raised = heights(2.5), heights(3.5)
    assert default.max() <= 2.5 + 1e-6 and default.min() >= 0.3 - 1e-6
    assert raised.max() <= 3.5 + 1e-6 and (raised > 2.5).sum() >= 5
    # the default limit draws exactly what the sampler drew before the option existed
    from skelgnn.data.cameras import CameraSampler
    from skelgnn.data.readers import read_positions_3d
    from skelgnn.data.benchmark import positions_3d_path
    from skelgnn.data.virtual import virtual_records

    plain = virtual_records(read_positions_3d(positions_3d_path(mini_dir)), ["S07"], 40, 3,
                            sampler=CameraSampler())
    assert np.allclose([r.calibration.translation[2] for r in plain], default)
