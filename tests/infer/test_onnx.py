"""Tests of skelgnn.infer.onnx: ONNX export (dynamic batch) matches PyTorch, and ONNX Runtime inference
through ``OnnxLifter`` and ``skelgnn infer --backend onnxruntime``.

Needs ``onnx`` and ``onnxruntime``: skipped without them, except under ``CI=true`` where a missing
package fails the tests (CI installs the ``onnx`` extra)."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from skelgnn.models.checkpoint import build_payload, load_model, save_checkpoint
from skelgnn.cli import main
from skelgnn.data.codec import PoseCodec
from skelgnn.train.config import load_config
from skelgnn.infer.lifter import Lifter
from skelgnn.models import build_model


def _need(module: str):
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


onnx = _need("onnx")
ort = _need("onnxruntime")

from skelgnn.infer.onnx import INPUT_NAME, OUTPUT_NAME, OnnxLifter, export_onnx  # noqa: E402

IMAGE = (1000.0, 1002.0)
PRESETS = ("skelgnn-1f", "skelgnn-27f")


def _make_checkpoint(path: Path, preset: str) -> Path:
    """A tiny checkpoint with random weights and non-trivial BatchNorm statistics (so a wrong
    eval-mode export would show)."""
    cfg = load_config(None, [f"model.preset={preset}", "model.channels=16", "model.blocks=1"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [], None),
                           path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for preset in PRESETS:
        ckpt = _make_checkpoint(root / f"{preset}.pt", preset)
        out[preset] = (ckpt, export_onnx(ckpt, root / f"{preset}.onnx"))
    return out


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("preset", PRESETS)
def test_onnx_matches_torch_for_any_batch(exported, preset):
    ckpt, path = exported[preset]
    onnx.checker.check_model(onnx.load(str(path)))
    model, _, _ = load_model(ckpt)
    sess = _session(path)
    r = model.receptive_field
    assert sess.get_inputs()[0].name == INPUT_NAME and sess.get_outputs()[0].name == OUTPUT_NAME
    assert sess.get_inputs()[0].shape[1:] == [r, 17, 2]
    gen = torch.Generator().manual_seed(2)
    for batch in (1, 2, 7):
        x = torch.randn(batch, r, 17, 2, generator=gen) * 0.5
        y_onnx = sess.run(None, {INPUT_NAME: x.numpy()})[0]
        with torch.no_grad():
            y_torch = model(x).numpy()
        assert y_onnx.shape == (batch, 17, 3)
        assert np.abs(y_onnx - y_torch).max() < 1e-4


@pytest.mark.parametrize("preset", PRESETS)
def test_onnx_lifter_matches_torch_lifter(exported, preset):
    ckpt, path = exported[preset]
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(300, 700, (30, 17, 2)), np.full((30, 17, 1), 0.9)], -1)
    kp[10:13, 4, 2] = 0.0  # a gap to fill
    torch_lifter = Lifter.from_checkpoint(ckpt)
    onnx_lifter = OnnxLifter.from_onnx(path, threads=1)
    assert onnx_lifter.receptive_field == torch_lifter.receptive_field
    assert onnx_lifter.info["preset"] == preset and onnx_lifter.info["checkpoint"] == ckpt.name
    assert onnx_lifter.codec == torch_lifter.codec
    for flip in (True, False):
        torch_lifter.flip_test = onnx_lifter.flip_test = flip
        a, b = torch_lifter.predict(kp, IMAGE), onnx_lifter.predict(kp, IMAGE)
        assert np.abs(a - b).max() < 1e-4
    onnx_lifter.chunk = 7  # several runs per clip give the same result
    torch_lifter.flip_test = onnx_lifter.flip_test = True
    np.testing.assert_allclose(onnx_lifter.predict(kp, IMAGE), torch_lifter.predict(kp, IMAGE),
                               atol=1e-4)
    short = onnx_lifter.predict(kp[:2], IMAGE)  # shorter than the receptive field
    assert short.shape == (2, 17, 3)


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "checkpoints").glob("*.pt"))


def test_checkpoints_are_shipped():
    names = {p.name for p in SHIPPED}
    assert "skelgnn-1f-cmu-det.pt" in names, names


@pytest.mark.parametrize("ckpt", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_onnx_matches_torch_for_every_shipped_checkpoint(ckpt, tmp_path):
    """Every checkpoint in checkpoints/, exported and run by ONNX Runtime on real benchmark-like
    2D input (a sequence of screen-normalised poses from the trained codec), agrees with PyTorch
    within 1e-4 m."""
    path = export_onnx(ckpt, tmp_path / f"{ckpt.stem}.onnx")
    model, _, _ = load_model(ckpt)
    sess = _session(path)
    r = model.receptive_field
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(64, r, 17, 2, generator=gen) - 0.5) * 0.6
    y_onnx = sess.run(None, {INPUT_NAME: x.numpy()})[0]
    with torch.no_grad():
        y_torch = model(x).numpy()
    assert np.isfinite(y_onnx).all() and y_onnx.shape == (64, 17, 3)
    assert np.abs(y_onnx - y_torch).max() < 1e-4


def test_export_cli_and_infer_with_onnxruntime(exported, tmp_path, capsys):
    ckpt, _ = exported["skelgnn-27f"]
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--onnx", str(onnx_path)]) == 0
    assert "exported" in capsys.readouterr().out and onnx_path.is_file()
    rng = np.random.default_rng(1)
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=rng.uniform(300, 700, (9, 17, 2)), layout=np.array("h36m17"),
             image_size=np.array(IMAGE))
    outs = {}
    for name, extra in (("torch", []), ("ort_file", ["--backend", "onnxruntime", "--onnx",
                                                     str(onnx_path)]),
                        ("ort_tmp", ["--backend", "onnxruntime"])):
        outs[name] = tmp_path / f"{name}.npz"
        assert main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--out",
                     str(outs[name])] + extra) == 0
    poses = {k: np.load(v, allow_pickle=False)["poses_3d"] for k, v in outs.items()}
    assert np.abs(poses["ort_file"] - poses["torch"]).max() < 1e-4
    assert np.abs(poses["ort_tmp"] - poses["torch"]).max() < 1e-4
    assert str(np.load(outs["ort_file"], allow_pickle=False)["checkpoint"]) == ckpt.name


def test_export_errors(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--onnx",
                 str(tmp_path / "m.onnx")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OnnxLifter.from_onnx(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot load as an ONNX model"):
        OnnxLifter.from_onnx(tmp_path / "junk.onnx")
    # A valid ONNX model not written by skelgnn export lacks the metadata.
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]),
              str(foreign))
    with pytest.raises(ValueError, match="not exported by `skelgnn export`"):
        OnnxLifter.from_onnx(foreign)


def test_build_lifter_picks_the_backend(tmp_path):
    from skelgnn.cli import BACKENDS as CLI_BACKENDS
    from skelgnn.infer.onnx import BACKENDS, build_lifter

    assert CLI_BACKENDS == BACKENDS
    ckpt = _make_checkpoint(tmp_path / "m.pt", "skelgnn-1f")
    torch_lifter = build_lifter(ckpt, "torch", flip_test=False)
    assert type(torch_lifter) is Lifter and torch_lifter.flip_test is False
    ort_lifter = build_lifter(ckpt, "onnxruntime")
    assert isinstance(ort_lifter, OnnxLifter)
    kp = np.random.default_rng(0).uniform(300, 700, (5, 17, 2))
    np.testing.assert_allclose(ort_lifter.predict(kp, (1000, 1000)),
                               build_lifter(ckpt).predict(kp, (1000, 1000)), atol=1e-4)
    with pytest.raises(ValueError, match="backend must be one of"):
        build_lifter(ckpt, "tensorrt")
    with pytest.raises(ValueError, match="onnxruntime"):
        build_lifter(ckpt, "torch", onnx=tmp_path / "m.onnx")
