"""One normalisation for every entry point: ``Lifter.predict``, ``skelgnn infer`` and
``skelgnn video`` (its lifting step after detection, :func:`skelgnn.video.pipeline.lift_detections`) give
the same 3D for the same keypoints, by default and with the one option that turns reframing off
(the two commands also level a rolled camera: ``Lifter.predict_full`` given the roll they
record gives their 3D); and ``--device`` / ``--person`` of the two commands."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skelgnn.models.checkpoint import build_payload, save_checkpoint
from skelgnn.cli import main
from skelgnn.cli.motion import DEVICES
from skelgnn.data.codec import PoseCodec
from skelgnn.train.config import load_config
from skelgnn.infer.lifter import INFERENCE_DEVICES, Lifter, check_device
from skelgnn.infer.keypoints import KeypointSequence
from skelgnn.models import build_model
from skelgnn.video.pipeline import lift_detections

IMAGE = (1080.0, 1920.0)  # a portrait phone frame: framed nothing like the training cameras
FRAMES = 12

# A standing person in H36M order, x right / y down, metres (pelvis at the origin).
_STANDING = np.array([
    [0.0, 0.0], [-0.12, 0.0], [-0.13, 0.45], [-0.14, 0.88], [0.12, 0.0], [0.13, 0.45],
    [0.14, 0.88], [0.0, -0.25], [0.0, -0.5], [0.0, -0.58], [0.0, -0.68], [0.18, -0.48],
    [0.22, -0.22], [0.24, 0.02], [-0.18, -0.48], [-0.22, -0.22], [-0.24, 0.02]])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained tiny temporal screen-normalised model (the shipped checkpoints' codec)."""
    cfg = load_config(None, ["model.preset=skelgnn-27f", "model.channels=16", "model.blocks=1"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    assert cfg.data.normalization == "screen"
    return save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [],
                                         None), tmp_path_factory.mktemp("ckpt") / "tiny-27f.pt")


@pytest.fixture(scope="module")
def keypoints() -> np.ndarray:
    """``(F, 17, 3)`` pixels + scores: a 1.6 m tall figure swaying in a portrait frame, one wrist
    below the score threshold in one frame (so gap filling is on the path too)."""
    rng = np.random.default_rng(0)
    t = np.arange(FRAMES)[:, None, None]
    uv = 900.0 * _STANDING[None] + np.array([540.0, 1000.0]) + 30.0 * np.sin(0.5 * t) \
        + rng.normal(0.0, 3.0, (FRAMES, 17, 2))
    scores = rng.uniform(0.6, 1.0, (FRAMES, 17, 1))
    scores[5, 13] = 0.1
    return np.concatenate([uv, scores], -1)


def _infer(tmp_path: Path, checkpoint: Path, keypoints: np.ndarray, *options: str
           ) -> tuple[np.ndarray, float]:
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=keypoints, layout=np.array("h36m17"), image_size=np.array(IMAGE),
             fps=np.array(30.0))
    out = tmp_path / f"infer{'_'.join(options)}.npz"
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(checkpoint), "--out",
                 str(out), *options]) == 0
    with np.load(out, allow_pickle=False) as data:
        return data["poses_3d"], float(data["level_roll_deg"])


def _video(tmp_path: Path, checkpoint: Path, keypoints: np.ndarray, **kwargs
           ) -> tuple[np.ndarray, float]:
    """What ``skelgnn video`` does once MediaPipe has found the keypoints."""
    seq = KeypointSequence(keypoints, np.arange(FRAMES), "h36m17", 30.0, IMAGE, "clip.mp4")
    pred, _, path = lift_detections(seq, tmp_path / "video", Lifter.from_checkpoint(checkpoint),
                                    "h36m17", 0.3, **kwargs)
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["poses_3d"], pred.poses_3d)
        return pred.poses_3d, float(data["level_roll_deg"])


def test_the_three_entry_points_give_the_same_3d(tmp_path, checkpoint, keypoints, monkeypatch):
    from skelgnn.motion import pipeline

    # what the learnt up reads from an untrained lifter's 3D is arbitrary: say the camera is
    # rolled by 12 degrees, so both commands level it (the roll estimate itself is tested in
    # tests/motion/test_motion.py and tests/motion/test_gravity.py)
    monkeypatch.setattr(pipeline, "camera_roll_deg", lambda up: 12.0)
    monkeypatch.setattr(pipeline, "sideways_tilt_deg", lambda up: 12.0)
    monkeypatch.setattr(pipeline, "camera_pitch_deg", lambda up: 10.0)  # not a steep view
    lifter = Lifter.from_checkpoint(checkpoint)
    infer, roll = _infer(tmp_path, checkpoint, keypoints)
    video, video_roll = _video(tmp_path, checkpoint, keypoints)
    assert video_roll == roll == 12.0
    api = lifter.predict_full(keypoints, IMAGE, "h36m17", roll_deg=roll).poses_3d
    np.testing.assert_allclose(infer, api, atol=1e-6)
    np.testing.assert_allclose(video, api, atol=1e-6)
    # as seen (--no-level): Lifter.predict itself
    plain = lifter.predict(keypoints, IMAGE)
    size = np.linalg.norm(plain, axis=-1).mean()  # an untrained lifter's poses are millimetres
    assert np.linalg.norm(plain - api, axis=-1).mean() > 0.05 * size  # levelling changes them
    np.testing.assert_allclose(_infer(tmp_path, checkpoint, keypoints, "--no-level")[0], plain,
                               atol=1e-6)
    np.testing.assert_allclose(_video(tmp_path, checkpoint, keypoints, level=False)[0], plain,
                               atol=1e-6)
    # the default is the reframed lift, and turning it off is one option, named alike everywhere
    off = lifter.predict(keypoints, IMAGE, reframe=False)
    assert np.linalg.norm(off - plain, axis=-1).mean() > 1e-3  # reframing changes the answer
    np.testing.assert_allclose(_infer(tmp_path, checkpoint, keypoints, "--no-reframe",
                                      "--no-level")[0], off, atol=1e-6)
    np.testing.assert_allclose(_video(tmp_path, checkpoint, keypoints, reframe=False,
                                      level=False)[0], off, atol=1e-6)


def test_infer_reframe_flag_is_removed_with_a_clear_error(tmp_path, checkpoint, keypoints, capsys):
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=keypoints, layout=np.array("h36m17"), image_size=np.array(IMAGE))
    out = tmp_path / "out.npz"
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(checkpoint), "--out",
                 str(out), "--reframe"]) == 2
    assert capsys.readouterr().err == ("error: --reframe was removed: every entry point reframes "
                                       "by default (--no-reframe turns it off)\n")
    assert not out.exists()


def test_device_choices_and_errors(tmp_path, checkpoint, keypoints, capsys, monkeypatch):
    assert DEVICES == INFERENCE_DEVICES  # the parser's list (no torch import) is the checked one
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        check_device("tpu")
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=keypoints, layout=np.array("h36m17"), image_size=np.array(IMAGE))
    args = ["infer", "--keypoints", str(src), "--checkpoint", str(checkpoint), "--out",
            str(tmp_path / "o.npz")]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(args + ["--device", "cuda"]) == 2
    assert "device 'cuda' is not available" in capsys.readouterr().err
    assert main(["video", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "v"),
                 "--device", "cuda"]) == 2  # checked before the video is opened
    assert "device 'cuda' is not available" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert main(args + ["--device", "cuda", "--backend", "onnxruntime"]) == 2
    assert "needs --backend torch" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_lifter_matches_the_cpu(checkpoint, keypoints):
    cpu = Lifter.from_checkpoint(checkpoint).predict(keypoints, IMAGE)
    gpu = Lifter.from_checkpoint(checkpoint).to("cuda").predict(keypoints, IMAGE)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)


def test_video_lifts_one_person(tmp_path, capsys):
    assert main(["video", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "o"),
                 "--person", "all"]) == 2
    err = capsys.readouterr().err
    assert "lifts one person" in err and "skelgnn infer --keypoints FILE.json --person all" in err
