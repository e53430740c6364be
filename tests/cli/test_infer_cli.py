"""Tests of ``Lifter.predict`` with detector layouts and of ``skelgnn infer`` end to end, on
keypoint files the tests write and tiny checkpoints built in-test (random weights: these tests
check plumbing, shapes and error handling, not accuracy)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import skelgnn.infer.lifter as inference
from skelgnn.models.checkpoint import build_payload, save_checkpoint
from skelgnn.cli import build_parser, main
from skelgnn.data.codec import PoseCodec
from skelgnn.train.config import load_config
from skelgnn.infer.lifter import Lifter, default_checkpoint
from skelgnn.infer.layouts import COCO17_NAMES, LAYOUT_CHOICES, convert
from skelgnn.models import build_model
from skelgnn.skeleton import H36M17

IMAGE = (1000.0, 1002.0)


def make_checkpoint(path: Path, preset: str) -> Path:
    """A tiny randomly initialised checkpoint of ``preset`` (16 channels, one block)."""
    cfg = load_config(None, [f"model.preset={preset}", "model.channels=16", "model.blocks=1"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    return save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [], None),
                           path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    return {p: make_checkpoint(root / f"{p}.pt", p) for p in ("skelgnn-1f", "skelgnn-27f")}


def _h36m_keypoints(frames: int = 12, seed: int = 0) -> np.ndarray:
    """A plausible-looking moving H36M 2D pose (F, 17, 2) in pixels."""
    rng = np.random.default_rng(seed)
    base = np.array([[500, 500], [470, 500], [470, 650], [470, 800], [530, 500], [530, 650],
                     [530, 800], [500, 400], [500, 300], [500, 260], [500, 220], [560, 310],
                     [600, 400], [620, 480], [440, 310], [400, 400], [380, 480]], np.float64)
    t = np.arange(frames)[:, None, None]
    return base + 10 * np.sin(t / 3.0) + rng.normal(0, 2, (frames, 17, 2))


def _coco_from_h36m(kp: np.ndarray) -> np.ndarray:
    """COCO keypoints (F, 17, 3) whose limbs are the H36M ones; eyes either side of the head."""
    f = kp.shape[0]
    h = {n: i for i, n in enumerate(H36M17.names)}
    out = np.zeros((f, 17, 3))
    out[..., 2] = 0.9
    src = {"nose": "Neck/Nose", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
           "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist",
           "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee",
           "right_knee": "RKnee", "left_ankle": "LFoot", "right_ankle": "RFoot"}
    for name, target in src.items():
        out[:, COCO17_NAMES.index(name), :2] = kp[:, h[target]]
    for name, dx in (("left_eye", 10), ("right_eye", -10), ("left_ear", 20), ("right_ear", -20)):
        out[:, COCO17_NAMES.index(name), :2] = kp[:, h["Head"]] + [dx, 0]
    return out


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------------------------------------------
# Lifter.predict
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["skelgnn-1f", "skelgnn-27f"])
def test_predict_layouts_agree_with_manual_conversion(ckpts, preset):
    lifter = Lifter.from_checkpoint(ckpts[preset])
    kp = _h36m_keypoints()
    y = lifter.predict(kp, IMAGE)  # the old call: (F, 17, 2) H36M pixels
    assert y.shape == (12, 17, 3) and y.dtype == np.float32 and np.isfinite(y).all()
    np.testing.assert_array_equal(y[:, 0], 0.0)
    coco = _coco_from_h36m(kp)
    y_coco = lifter.predict(coco, IMAGE, layout="coco17")
    np.testing.assert_allclose(y_coco, lifter.predict(convert(coco, "coco17"), IMAGE), atol=1e-6)


def test_predict_fills_missing_joints(ckpts):
    lifter = Lifter.from_checkpoint(ckpts["skelgnn-27f"])
    kp = np.concatenate([_h36m_keypoints(), np.ones((12, 17, 1))], -1)
    holed = kp.copy()
    holed[5, 13, :2] = np.nan   # NaN joint
    holed[6, 13, 2] = 0.1       # low score joint
    full = lifter.predict_full(holed, IMAGE)
    assert full.report.missing_joints == 2 and full.report.mask[[5, 6], 13].all()
    expected = kp[4, 13, :2] + (kp[7, 13, :2] - kp[4, 13, :2]) * np.array([[1 / 3], [2 / 3]])
    np.testing.assert_allclose(full.keypoints_2d[5:7, 13], expected, rtol=1e-5)
    assert np.isfinite(full.poses_3d).all()
    # A score column is honoured only through min_score; with 0 every finite joint is used.
    np.testing.assert_allclose(lifter.predict(kp, IMAGE, min_score=0.0), lifter.predict(kp, IMAGE))


def test_predict_short_clip_and_bad_inputs(ckpts):
    lifter = Lifter.from_checkpoint(ckpts["skelgnn-27f"])
    assert lifter.receptive_field == 27
    y = lifter.predict(_h36m_keypoints(frames=3), IMAGE)  # shorter than the receptive field
    assert y.shape == (3, 17, 3) and np.isfinite(y).all()
    y1 = lifter.predict(_h36m_keypoints(frames=1), IMAGE)
    assert y1.shape == (1, 17, 3)
    with pytest.raises(ValueError, match=r"must be \(F, J, 2\) or \(F, J, 3\)"):
        lifter.predict(np.zeros((17, 2)), IMAGE)
    with pytest.raises(ValueError, match="no frames"):
        lifter.predict(np.zeros((0, 17, 2)), IMAGE)
    with pytest.raises(ValueError, match="'blazepose33' has 33 joints but the keypoints have 17"):
        lifter.predict(np.zeros((2, 17, 2)), IMAGE, layout="blazepose33")
    with pytest.raises(ValueError, match="image size must be positive"):
        lifter.predict(_h36m_keypoints(), (0, 1000))
    with pytest.raises(ValueError, match="no usable keypoints"):
        lifter.predict(np.full((3, 17, 2), np.nan), IMAGE)


def test_default_checkpoint(tmp_path, monkeypatch, ckpts):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(inference, "DEFAULT_CHECKPOINTS", ("checkpoints/none-a.pt",
                                                           "checkpoints/none-b.pt"))
    with pytest.raises(FileNotFoundError, match="no default checkpoint found.*--checkpoint PATH"):
        default_checkpoint()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "none-b.pt").write_bytes(ckpts["skelgnn-1f"].read_bytes())
    assert default_checkpoint() == (tmp_path / "checkpoints" / "none-b.pt").resolve()
    (tmp_path / "checkpoints" / "none-a.pt").write_bytes(ckpts["skelgnn-1f"].read_bytes())
    assert default_checkpoint().name == "none-a.pt"  # first choice wins


# --------------------------------------------------------------------------------------------
# skelgnn infer
# --------------------------------------------------------------------------------------------

def test_infer_h36m17_npz(ckpts, tmp_path, capsys):
    kp = _h36m_keypoints()
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=kp.astype(np.float32), layout=np.array("h36m17"), fps=np.array(50.0),
             image_size=np.array(IMAGE))
    out = tmp_path / "poses_3d.npz"
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpts["skelgnn-27f"]),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lifted 12 frames (h36m17, 1000x1002) with skelgnn-27f.pt" in printed
    data = _load(out)
    assert data["poses_3d"].shape == (12, 17, 3) and data["keypoints_2d"].shape == (12, 17, 2)
    assert data["scores"].shape == (12, 17) and data["filled"].shape == (12, 17)
    assert data["joint_names"].tolist() == list(H36M17.names)
    assert str(data["checkpoint"]) == "skelgnn-27f.pt" and float(data["fps"]) == 50.0
    assert str(data["layout"]) == "h36m17"
    assert not bool(data["stance_knees_applied"])  # mocap-layout keypoints: knees as lifted
    np.testing.assert_allclose(data["keypoints_2d"], kp, atol=1e-3)
    # infer's 3D is the API's, levelled by the roll it records (and reframed unless it records
    # a steep view lifted as seen: this small test checkpoint's up is arbitrary)
    ref = Lifter.from_checkpoint(ckpts["skelgnn-27f"]).predict_full(
        kp.astype(np.float32), IMAGE, roll_deg=float(data["level_roll_deg"]),
        reframe=bool(data["reframed"])).poses_3d
    np.testing.assert_allclose(data["poses_3d"], ref, atol=1e-6)


def test_infer_coco17_json(ckpts, tmp_path, capsys):
    coco = _coco_from_h36m(_h36m_keypoints())
    coco[4, 9, 2] = 0.05  # one low-score left wrist
    dets = [{"image_id": i, "category_id": 1, "keypoints": coco[i].reshape(-1).tolist(),
             "score": 0.9} for i in range(12) if i != 7]  # frame 7 has no detection
    src = tmp_path / "coco.json"
    src.write_text(json.dumps(dets))
    out = tmp_path / "out" / "poses.npz"
    assert main(["infer", "--keypoints", str(src), "--layout", "coco17", "--image-size", "1000",
                 "1002", "--checkpoint", str(ckpts["skelgnn-1f"]), "--out", str(out)]) == 0
    assert "filled 18 missing joint(s) in 2 frame(s)" in capsys.readouterr().out
    data = _load(out)
    assert data["poses_3d"].shape == (12, 17, 3) and np.isfinite(data["poses_3d"]).all()
    assert bool(data["stance_knees_applied"]) and data["stance_knees"].shape == (12, 2)
    off = tmp_path / "off.npz"
    assert main(["infer", "--keypoints", str(src), "--layout", "coco17", "--image-size", "1000",
                 "1002", "--checkpoint", str(ckpts["skelgnn-1f"]), "--out", str(off),
                 "--stance-knees", "off"]) == 0
    data_off = _load(off)
    assert not bool(data_off["stance_knees_applied"]) and not data_off["stance_knees"].any()
    moved = np.abs(data["poses_3d"] - data_off["poses_3d"]).max(axis=(0, 2))  # per joint
    assert np.delete(moved, [2, 3, 5, 6]).max() < 1e-5  # only the knees and ankles may move
    assert data["filled"][7].all() and data["filled"][4, 13] and data["filled"].sum() == 18
    assert "fps" not in data
    np.testing.assert_array_equal(data["frames"], np.arange(12))


def test_infer_blazepose33_mmpose_json_auto_layout(ckpts, tmp_path):
    rng = np.random.default_rng(3)
    frames = [{"frame_id": i, "instances": [{
        "keypoints": rng.uniform(300, 700, (33, 2)).tolist(),
        "keypoint_scores": [0.95] * 33, "bbox_score": 0.9}]} for i in range(5)]
    src = tmp_path / "mm.json"
    src.write_text(json.dumps({"fps": 30, "image_size": [1080, 1920], "instance_info": frames}))
    out = tmp_path / "bp.npz"
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpts["skelgnn-27f"]),
                 "--out", str(out)]) == 0
    data = _load(out)
    assert data["poses_3d"].shape == (5, 17, 3) and str(data["layout"]) == "blazepose33"
    np.testing.assert_array_equal(data["image_size"], [1080, 1920])
    assert float(data["fps"]) == 30.0


@pytest.mark.parametrize("extra, keypoints, match", [
    (["--layout", "h36m17"], dict(keypoints=np.zeros((3, 17, 2)) + 5), "pass --image-size W H"),
    (["--image-size", "0", "480", "--layout", "h36m17"], dict(keypoints=np.zeros((3, 17, 2)) + 5),
     "image size must be positive"),
    (["--image-size", "640", "480", "--layout", "auto"], dict(keypoints=np.zeros((3, 17, 2)) + 5),
     "--layout coco17 or --layout h36m17"),
    (["--image-size", "640", "480"], dict(keypoints=np.zeros((3, 23, 2)) + 5),
     "no known keypoint layout has 23 joints"),
    (["--image-size", "640", "480", "--layout", "coco17"],
     dict(keypoints=np.zeros((3, 33, 2)) + 5), "has 17 joints but the keypoints have 33"),
    (["--image-size", "640", "480", "--layout", "h36m17"],
     dict(keypoints=np.concatenate([np.zeros((3, 17, 2)) + 5, np.full((3, 17, 1), 0.1)], -1)),
     "no usable keypoints"),
    (["--image-size", "640", "480", "--layout", "h36m17", "--min-score", "2"],
     dict(keypoints=np.zeros((3, 17, 2)) + 5), "--min-score must be in"),
    (["--image-size", "640", "480", "--layout", "h36m17", "--onnx", "m.onnx"],
     dict(keypoints=np.zeros((3, 17, 2)) + 5), "--onnx needs --backend onnxruntime"),
])
def test_infer_bad_inputs_exit_2_and_keep_existing_output(ckpts, tmp_path, capsys, extra,
                                                          keypoints, match):
    src = tmp_path / "kp.npz"
    np.savez(src, **keypoints)
    out = tmp_path / "poses.npz"
    out.write_bytes(b"previous result")
    code = main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpts["skelgnn-1f"]),
                 "--out", str(out)] + extra)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and match in err, err
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kp.npz", "poses.npz"]  # no temp left


def test_infer_missing_files(ckpts, tmp_path, capsys):
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=_h36m_keypoints(), layout=np.array("h36m17"),
             image_size=np.array(IMAGE))
    assert main(["infer", "--keypoints", str(tmp_path / "none.json"), "--out",
                 str(tmp_path / "o.npz")]) == 2
    assert "keypoints file not found" in capsys.readouterr().err
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(tmp_path / "none.pt"),
                 "--out", str(tmp_path / "o.npz")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_infer_output_not_replaced_when_writing_fails(ckpts, tmp_path, monkeypatch, capsys):
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=_h36m_keypoints(), layout=np.array("h36m17"),
             image_size=np.array(IMAGE))
    out = tmp_path / "poses.npz"
    out.write_bytes(b"previous result")

    def broken_savez(fh, **arrays):
        fh.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    code = main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpts["skelgnn-1f"]),
                 "--out", str(out)])
    assert code == 2 and capsys.readouterr().err == "error: disk full\n"  # one line (limits and refusals)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kp.npz", "poses.npz"]


def test_infer_parser_layout_choices_match_the_library():
    parser = build_parser()
    args = parser.parse_args(["infer", "--keypoints", "k.npz", "--out", "o.npz"])
    assert args.layout == "auto" and args.min_score == 0.3 and args.backend == "torch"
    infer = next(a for a in parser._subparsers._group_actions[0].choices["infer"]._actions
                 if a.dest == "layout")
    assert tuple(infer.choices) == LAYOUT_CHOICES


def test_infer_with_a_checkpoint_trained_on_mini_matches_evaluation(mini_dir, tmp_path):
    """A real (tiny) training run, then ``skelgnn infer --no-reframe`` on a test sequence's
    detections must give exactly what the evaluation path (WindowDataset + predict_sequence)
    gives."""
    from skelgnn.data import WindowDataset, load_benchmark
    from skelgnn.models.checkpoint import load_model
    from skelgnn.models.predict import predict_sequence
    from skelgnn.train.loop import train

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs" / "mini.toml",
                      ["model.preset=skelgnn-27f", "train.epochs=1", "train.threads=1",
                       "model.channels=16", "model.blocks=1", "train.max_samples=256"])
    ckpt = train(cfg, tmp_path / "run", progress=False, data_dir=mini_dir).checkpoint
    rec = load_benchmark(mini_dir, "det", subjects=["S08"])[0]
    src = tmp_path / "det.npz"
    np.savez(src, keypoints=rec.keypoints_2d, layout=np.array("h36m17"),
             image_size=np.array(rec.image_size))
    out = tmp_path / "poses.npz"
    assert main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--out",
                 str(out), "--no-reframe"]) == 0  # the benchmark's cameras: as evaluated
    model, codec, _ = load_model(ckpt)
    _, inputs, _ = next(WindowDataset([rec], model.receptive_field, codec=codec).sequences())
    expected = predict_sequence(model, inputs, flip_test=True, skeleton=H36M17).numpy()
    np.testing.assert_allclose(_load(out)["poses_3d"], expected, atol=1e-5)
