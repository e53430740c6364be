"""Limits and refusals (docs/USAGE.md; with tests/cli/test_robust_cli.py):
outputs never overwrite inputs, resuming needs a resumable checkpoint and
honours a new epoch count, a checkpoint cannot ask for an absurd model, the ONNX opset is
checked before exporting, and a full disk or read-only directory is one line naming the output
with nothing partial left."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_checkpoint
from skelgnn.models.checkpoint import build_payload, save_checkpoint
from skelgnn.cli import main
from skelgnn.data.codec import PoseCodec
from skelgnn.train.config import load_config
from skelgnn.fileio import refuse_overwriting_inputs
from skelgnn.models import build_model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


# --------------------------------------------------------------------------------------------
# 1. an output that is an input is refused
# --------------------------------------------------------------------------------------------

def test_refuse_overwriting_inputs_same_path_and_links(tmp_path):
    src = tmp_path / "in.npz"
    src.write_bytes(b"data")
    sym = tmp_path / "sym.npz"
    sym.symlink_to(src)
    hard = tmp_path / "hard.npz"
    os.link(src, hard)
    for out in (src, sym, hard, tmp_path / "sub" / ".." / "in.npz"):
        with pytest.raises(ValueError, match="refusing to write .* input of this command"):
            refuse_overwriting_inputs([out], [src])
    refuse_overwriting_inputs([tmp_path / "other.npz", None], [src, None])  # distinct: fine
    refuse_overwriting_inputs([tmp_path / "new.npz"], [tmp_path / "missing.npz"])


def _assert_refused(capsys, code: int, path: Path, content: bytes) -> None:
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "refusing to write" in err, err
    assert path.read_bytes() == content


def test_infer_out_equal_to_keypoints_is_refused(ckpt, tmp_path, capsys):
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=np.zeros((4, 17, 2)) + 5, layout=np.array("h36m17"),
             image_size=np.array([640.0, 480.0]))
    before = src.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(src)
    for out in (src, link):
        code = main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--out", str(out)])
        _assert_refused(capsys, code, src, before)
    code = main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--out", str(ckpt)])
    _assert_refused(capsys, code, src, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kp.npz", "link.npz"]


def test_infer_export_onto_the_keypoints_is_refused(ckpt, tmp_path, capsys):
    src = tmp_path / "kp.json"
    src.write_text("[]")
    code = main(["infer", "--keypoints", str(src), "--checkpoint", str(ckpt),
                 "--out", str(tmp_path / "kp.npz"), "--export", "json"])
    _assert_refused(capsys, code, src, b"[]")
    assert not (tmp_path / "kp.npz").exists()


def test_export_onnx_onto_the_checkpoint_is_refused(tmp_path, capsys):
    pt = tiny_checkpoint(tmp_path / "m.pt")
    before = pt.read_bytes()
    hard = tmp_path / "m.onnx"
    os.link(pt, hard)
    for out in (pt, hard):
        code = main(["export", "--checkpoint", str(pt), "--onnx", str(out)])
        _assert_refused(capsys, code, pt, before)


def test_evaluate_json_onto_the_checkpoint_is_refused(tmp_path, capsys):
    pt = tiny_checkpoint(tmp_path / "m.pt")
    before = pt.read_bytes()
    code = main(["evaluate", "--checkpoint", str(pt), "--json", str(pt),
                 "--data", str(tmp_path / "nowhere")])
    _assert_refused(capsys, code, pt, before)


def test_convert_onto_its_input_is_refused(tmp_path, capsys):
    src = tmp_path / "poses.csv"
    src.write_bytes(b"not touched")
    code = main(["convert", str(src), str(src)])
    _assert_refused(capsys, code, src, b"not touched")


# --------------------------------------------------------------------------------------------
# 2. --resume: weights-only checkpoints, a new epoch count
# --------------------------------------------------------------------------------------------

RESUME_TINY = ["model.channels=16", "model.blocks=1", "data.split=test", "data.frame_stride=1",
               "train.batch_size=64", "train.max_samples=128", "train.threads=1"]


def test_resume_from_a_weights_only_checkpoint_is_a_clear_error(mini_dir, tmp_path, capsys):
    from skelgnn.train.loop import train

    cfg = load_config(None, RESUME_TINY + ["train.epochs=2"])
    run = tmp_path / "run"
    run.mkdir()
    model = build_model(cfg.model)
    save_checkpoint(build_payload(cfg.to_dict(), model, PoseCodec(cfg.data.normalization), 1, [], None),
                    run / "last.pt")  # no optimiser state, as shipped
    with pytest.raises(ValueError, match="holds weights only"):
        train(cfg, run, resume=True, progress=False, data_dir=mini_dir)
    args = ["train", "--data", str(mini_dir), "--run-dir", str(run), "--resume", "--no-progress"]
    code = main(args + [a for o in RESUME_TINY for a in ("--set", o)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --resume: ") and "weights only" in err, err
    assert "KeyError" not in err


def test_resume_honours_a_new_epoch_count(mini_dir, tmp_path, capsys):
    from skelgnn.models.checkpoint import load_checkpoint

    run = tmp_path / "run"
    sets = [a for o in RESUME_TINY for a in ("--set", o)]
    base = ["train", "--data", str(mini_dir), "--run-dir", str(run), "--no-progress"] + sets
    assert main(base + ["--set", "train.epochs=1", "--set", "train.lr=5e-4"]) == 0
    capsys.readouterr()
    # resumed without the lr override: the saved lr is kept, the new epoch count honoured
    assert main(base + ["--resume", "--set", "train.epochs=2"]) == 0
    assert "for 2 epochs" in capsys.readouterr().out
    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert state["config"]["train"]["epochs"] == 2 and state["config"]["train"]["lr"] == 5e-4
    log = (run / "train.log").read_text()
    assert "training to train.epochs=2 (the saved run asked for 1)" in log
    assert "epoch 2/2" in log
    # fewer epochs than already done: refused
    assert main(base + ["--resume", "--set", "train.epochs=1"]) == 2
    assert "has already done 2 epochs" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 3. a checkpoint cannot ask for an absurd model
# --------------------------------------------------------------------------------------------

def _with_model_config(src: Path, dst: Path, **changes) -> Path:
    from skelgnn.models.checkpoint import load_checkpoint

    state = load_checkpoint(src)
    state["model_config"] = {**state["model_config"], **changes}
    return save_checkpoint(state, dst)


@pytest.mark.parametrize("changes, match", [
    (dict(channels=4096, blocks=16), "parameters, over the bound of 100,000,000"),  # 5 GB
    (dict(blocks=100000), "blocks=100000 exceeds the bound 32"),
    (dict(max_hop=5_000_000), "max_hop=5000000 exceeds the bound 32"),
    (dict(num_joints=1024, parents=[-1, *range(1023)]), "num_joints=1024 exceeds the bound 128"),
    (dict(channels=32), "do not match the stored model config .*the config gives"),
])
def test_absurd_or_mismatched_model_config_is_refused_before_building(ckpt, tmp_path, monkeypatch,
                                                                      changes, match):
    import skelgnn.models.checkpoint as checkpoint_mod

    bad = _with_model_config(ckpt, tmp_path / "bad.pt", **changes)
    built = []
    real_build = checkpoint_mod.build_model

    def spy(config):
        if torch.get_default_device().type != "meta":
            built.append(config)
        return real_build(config)

    monkeypatch.setattr(checkpoint_mod, "build_model", spy)
    with pytest.raises(ValueError, match=f"{bad}: .*{match}"):
        checkpoint_mod.load_model(bad)
    assert built == []  # refused before any real model was allocated


def test_every_preset_passes_the_meta_check():
    from skelgnn.models.checkpoint import check_model_fits
    from skelgnn.models import PRESETS

    for name, config in PRESETS.items():
        model = build_model(config)
        check_model_fits(config, model.state_dict(), name)


# --------------------------------------------------------------------------------------------
# 4. an unsupported ONNX opset is refused up front
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", ["3", "8", "12", "21", "-1"])
def test_export_refuses_an_unsupported_opset_in_one_line(ckpt, tmp_path, capsys, opset):
    out = tmp_path / "m.onnx"
    code = main(["export", "--checkpoint", str(ckpt), "--onnx", str(out), "--opset", opset])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: ONNX opset {opset} is not supported; choose 13 to 20 " \
                                "(default 17)\n", err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_check_opset_accepts_the_documented_range():
    from skelgnn.infer.onnx import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, check_opset

    assert MIN_OPSET <= DEFAULT_OPSET <= MAX_OPSET
    assert [check_opset(o) for o in range(MIN_OPSET, MAX_OPSET + 1)] == list(range(13, 21))
    for bad in (True, 17.0, "17"):
        with pytest.raises(ValueError):
            check_opset(bad)


# --------------------------------------------------------------------------------------------
# 5. a full disk or a read-only directory: one line naming the output, nothing partial left
# --------------------------------------------------------------------------------------------

def _disk_full(*_args, **_kwargs):
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _read_only(monkeypatch, directory: Path) -> None:
    """Make ``directory`` look read-only to the pre-write check (we may run as root, for whom
    ``chmod`` changes nothing)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False
                        if Path(p) == directory and mode & os.W_OK else real(p, mode, *a, **k))


def _one_line_error(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and ".tmp" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_atomic_writer_turns_a_full_disk_into_one_error_naming_the_output(tmp_path, monkeypatch):
    from skelgnn.fileio import WriteError, atomic_write_text

    out = tmp_path / "a.json"
    out.write_text("old")
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(WriteError, match=f"cannot write {out}: No space left on device "
                                         r"\(nothing was written; free some space\)"):
        atomic_write_text(out, "new")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["a.json"]


def test_an_error_reading_inside_the_block_keeps_its_own_message(tmp_path):
    from skelgnn.fileio import atomic_path

    with pytest.raises(FileNotFoundError, match="elsewhere"):
        with atomic_path(tmp_path / "out.txt"):
            open(tmp_path / "elsewhere")
    assert os.listdir(tmp_path) == []


def test_a_read_only_or_blocked_directory_is_refused_before_writing(tmp_path, monkeypatch):
    from skelgnn.fileio import WriteError, check_output_path

    ro = tmp_path / "ro"
    ro.mkdir()
    _read_only(monkeypatch, ro)
    with pytest.raises(WriteError, match=f"cannot write {ro / 'a' / 'b.npz'}: directory {ro} is "
                                         "not writable"):
        check_output_path(ro / "a" / "b.npz")  # the nearest existing directory decides
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match=f"{blocker} is not a directory"):
        check_output_path(blocker / "out.json")
    assert check_output_path(tmp_path / "new" / "deep" / "x.json").name == "x.json"


def test_infer_with_a_full_disk_or_read_only_directory(ckpt, tmp_path, monkeypatch, capsys):
    src = tmp_path / "kp.npz"
    np.savez(src, keypoints=np.random.default_rng(0).uniform(100, 500, (8, 17, 2)),
             layout=np.array("h36m17"), image_size=np.array([640.0, 480.0]))
    outdir = tmp_path / "out"
    outdir.mkdir()
    args = ["infer", "--keypoints", str(src), "--checkpoint", str(ckpt), "--no-tta"]
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", _disk_full)
        code = main(args + ["--out", str(outdir / "p.npz")])
    _one_line_error(capsys, code, f"cannot write {outdir / 'p.npz'}", "No space left on device")
    assert os.listdir(outdir) == []
    import skelgnn.infer.onnx as export_mod

    _read_only(monkeypatch, outdir)
    monkeypatch.setattr(export_mod, "build_lifter", lambda *a, **k: pytest.fail("work was done"))
    code = main(args + ["--out", str(outdir / "p.npz")])
    _one_line_error(capsys, code, f"directory {outdir} is not writable")
    assert os.listdir(outdir) == []


def test_export_with_a_full_disk_or_read_only_directory(ckpt, tmp_path, monkeypatch, capsys):
    import skelgnn.infer.onnx as export_mod

    pytest.importorskip("onnx")
    out = tmp_path / "m.onnx"

    def partial_then_full(model, tmp, *a, **k):
        Path(tmp).write_bytes(b"half an onnx file")
        _disk_full()

    with monkeypatch.context() as m:
        m.setattr(export_mod, "_export_to", partial_then_full)
        code = main(["export", "--checkpoint", str(ckpt), "--onnx", str(out)])
    _one_line_error(capsys, code, f"cannot write {out}: No space left on device")
    assert os.listdir(tmp_path) == []
    _read_only(monkeypatch, tmp_path)
    code = main(["export", "--checkpoint", str(ckpt), "--onnx", str(out)])
    _one_line_error(capsys, code, f"directory {tmp_path} is not writable")
    assert os.listdir(tmp_path) == []


def test_evaluate_json_read_only_is_refused_before_scoring(ckpt, tmp_path, monkeypatch, capsys):
    import skelgnn.evaluate.benchmark as evaluate_mod

    monkeypatch.setattr(evaluate_mod, "evaluate_checkpoint",
                        lambda *a, **k: pytest.fail("scored before checking the output"))
    _read_only(monkeypatch, tmp_path)
    code = main(["evaluate", "--checkpoint", str(ckpt), "--json", str(tmp_path / "r.json")])
    _one_line_error(capsys, code, f"directory {tmp_path} is not writable")


def test_evaluate_json_disk_full_after_scoring(ckpt, tmp_path, monkeypatch, capsys):
    import skelgnn.evaluate.benchmark as evaluate_mod

    monkeypatch.setattr(evaluate_mod, "evaluate_checkpoint", lambda *a, **k: {"p1": 1.0})
    monkeypatch.setattr(evaluate_mod, "format_report", lambda result: "report")
    monkeypatch.setattr(os, "fsync", _disk_full)
    out = tmp_path / "r.json"
    code = main(["evaluate", "--checkpoint", str(ckpt), "--json", str(out)])
    _one_line_error(capsys, code, f"cannot write {out}: No space left on device")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow  # a real (tiny) training run: ~15 s on a loaded CPU
def test_train_with_a_full_disk_keeps_no_partial_checkpoint(mini_dir, tmp_path, monkeypatch,
                                                             capsys):
    import skelgnn.models.checkpoint as checkpoint_mod

    run = tmp_path / "run"
    sets = [a for o in RESUME_TINY + ["train.epochs=1"] for a in ("--set", o)]
    monkeypatch.setattr(checkpoint_mod.torch, "save", _disk_full)
    code = main(["train", "--data", str(mini_dir), "--run-dir", str(run), "--no-progress"] + sets)
    _one_line_error(capsys, code, f"cannot write checkpoint {run / 'last.pt'}: No space left on "
                                  "device; the previous checkpoint is intact")
    assert not [p for p in os.listdir(run) if p.endswith((".pt", ".tmp"))], os.listdir(run)


def test_train_into_a_read_only_directory_is_one_line(tmp_path, monkeypatch, capsys):
    _read_only(monkeypatch, tmp_path)
    import skelgnn.train.loop as train_mod

    def refuse(*a, **k):
        import errno
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "run"))

    monkeypatch.setattr(train_mod.Path, "mkdir", refuse)
    code = main(["train", "--run-dir", str(tmp_path / "run"), "--no-progress"])
    # refused by the output rule before any work: the run directory's parent is not writable
    _one_line_error(capsys, code, f"cannot write {tmp_path / 'run'}", "is not writable")


# --------------------------------------------------------------------------------------------
# 6. loaders bound what a small file may make them allocate
# --------------------------------------------------------------------------------------------

def _object_npz(path: Path, pickle_bytes: bytes) -> Path:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                                  "shape": ()})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("positions_3d.npy", header.getvalue() + pickle_bytes)
    return path


@pytest.mark.parametrize("pickled, what", [
    # list(bytes(200_000_000)): 1.6 GB from a 300-byte file
    (b"\x80\x02cbuiltins\nlist\ncbuiltins\nbytes\nJ\x00\xc2\xeb\x0b\x85R\x85R.",
     r"bytes\(\) would allocate 200,000,000 bytes"),
    # numpy.core.multiarray._reconstruct(ndarray, (100000, 100000), 'f8'): 80 GB
    (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\xa0\x86\x01\x00"
     b"J\xa0\x86\x01\x00\x86X\x02\x00\x00\x00f8\x87R.",
     r"_reconstruct\(\) would allocate 80,000,000,000 bytes"),
    # numpy.ndarray((100000, 100000)) called directly: ndarray is not callable from a pickle
    (b"\x80\x02cnumpy\nndarray\nJ\xa0\x86\x01\x00J\xa0\x86\x01\x00\x86\x85R.", "not callable"),
    # bytes.__new__(bytes, 2e8) through NEWOBJ
    (b"\x80\x02cbuiltins\nbytes\nJ\x00\xc2\xeb\x0b\x85\x81.", "could not be unpickled"),
])
def test_the_restricted_unpickler_refuses_before_allocating(tmp_path, pickled, what):
    import resource

    from skelgnn.data.npz import load_npz_object

    path = _object_npz(tmp_path / "bomb.npz", pickled)
    assert path.stat().st_size < 400
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match=f"bomb.npz.*{what}"):
        load_npz_object(path, "positions_3d")
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000, grown_kb  # never came near the 200 MB / 80 GB asked for


def test_the_unpickle_budget_keeps_real_pickles(tmp_path):
    from skelgnn.data.npz import load_npz_object

    import collections
    import pickle

    value = {"S1": collections.OrderedDict(walk=[np.arange(12.0).reshape(3, 4)] * 3),
             "names": ("a", "b"), "s": {1, 2}, "f": frozenset([b"x"]), "n": np.float32(2.5)}
    for protocol in (3, 4, 5):  # np.save pickles with 3
        arr = np.empty((), dtype=object)
        arr[()] = value
        path = tmp_path / f"p{protocol}.npz"
        with open(path, "wb") as fh:  # what np.savez writes for an object array, any protocol
            import io
            import zipfile

            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(arr))
            with zipfile.ZipFile(fh, "w") as zf:
                zf.writestr("positions_3d.npy", header.getvalue() + pickle.dumps(arr, protocol))
        got = load_npz_object(path, "positions_3d")
        assert got["S1"]["walk"][2].tolist() == value["S1"]["walk"][0].tolist()
        assert got["names"] == ("a", "b") and got["s"] == {1, 2} and got["n"] == np.float32(2.5)


def test_checkpoint_files_are_bounded_before_torch_reads_them(ckpt, tmp_path, monkeypatch):
    import zipfile

    import skelgnn.models.checkpoint as checkpoint_mod
    from skelgnn.models.checkpoint import load_checkpoint

    assert load_checkpoint(ckpt)["format"] == checkpoint_mod.FORMAT
    monkeypatch.setattr(checkpoint_mod, "MAX_CHECKPOINT_BYTES", ckpt.stat().st_size - 1)
    with pytest.raises(ValueError, match=r"tiny.pt: [\d,]+ bytes, over the checkpoint bound"):
        load_checkpoint(ckpt)
    monkeypatch.undo()
    # torch.save stores members uncompressed: a deflated one is refused
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(ckpt) as src, zipfile.ZipFile(packed, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"packed.pt: member .* is compressed"):
        load_checkpoint(packed)
    monkeypatch.setattr(checkpoint_mod, "MAX_CHECKPOINT_BYTES", 1 << 16)
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as dst:  # a zip bomb
        dst.writestr("big/data.pkl", b"\0" * 40_000)
        dst.writestr("big/data/0", b"\0" * 40_000)
    assert big.stat().st_size < 1000
    with pytest.raises(ValueError, match=r"big.pt: its members declare 80,000 bytes, over"):
        load_checkpoint(big)


# --------------------------------------------------------------------------------------------
# 7. non-finite weights are refused by name
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_export_and_evaluate_refuse_non_finite_weights(ckpt, tmp_path, capsys, bad):
    from skelgnn.models.checkpoint import load_checkpoint, load_model

    state = load_checkpoint(ckpt)
    name = sorted(k for k, v in state["model"].items() if v.is_floating_point())[-1]
    state["model"][name].view(-1)[0] = bad
    broken = save_checkpoint(state, tmp_path / "diverged.pt")
    with pytest.raises(ValueError, match=f"diverged.pt: weight {name} holds 1 non-finite value"):
        load_model(broken)
    out = tmp_path / "m.onnx"
    code = main(["export", "--checkpoint", str(broken), "--onnx", str(out)])
    _one_line_error(capsys, code, f"weight {name} holds 1 non-finite value", "diverged run")
    assert not out.exists()
    code = main(["evaluate", "--checkpoint", str(broken), "--data", str(tmp_path / "nowhere")])
    _one_line_error(capsys, code, f"weight {name} holds 1 non-finite value")
    assert "LinAlgError" not in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 8. keypoints: numeric strings refused, implausible image sizes and layouts warned about
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("odd, shown", [("12.5", "str '12.5'"), (True, "bool True"),
                                        ([1.0], "list"), ({"x": 1}, "dict")])
def test_json_keypoints_must_be_numbers(tmp_path, odd, shown):
    import json

    from skelgnn.infer.keypoints import read_keypoints

    entries = [{"image_id": i, "keypoints": [100.0 + i, 200.0, 0.9] * 17, "score": 0.9}
               for i in range(3)]
    entries[1]["keypoints"][4] = odd
    path = tmp_path / "k.json"
    path.write_text(json.dumps(entries))
    match = "entry 1: 'keypoints' must hold numbers" if shown in ("list", "dict") else \
        f"entry 1: 'keypoints' must hold numbers .*found {shown}"
    with pytest.raises(ValueError, match=match):
        read_keypoints(path)
    mm = [{"frame_id": 0, "instances": [{"keypoints": [[1.0, 2.0]] * 16 + [["3", 4.0]]}]}]
    path.write_text(json.dumps(mm))
    with pytest.raises(ValueError, match="instance 'keypoints' must hold numbers .*str '3'"):
        read_keypoints(path)
    entries[1]["keypoints"][4] = None  # null: a missing value, still fine
    path.write_text(json.dumps(entries))
    assert np.isnan(read_keypoints(path).keypoints[1, 1, 1])


def _person(frames: int = 6, scale: float = 1.0, shift=(300.0, 200.0)) -> np.ndarray:
    """(F, 17, 2) H36M-order pixels of a standing person about 300 px tall (x scale)."""
    offsets = np.array([[0, 0], [-15, 0], [-17, 70], [-18, 140], [15, 0], [17, 70], [18, 140],
                        [0, -50], [0, -100], [0, -115], [0, -135], [20, -95], [35, -50],
                        [40, -5], [-20, -95], [-35, -50], [-40, -5]], dtype=float)
    wobble = np.random.default_rng(0).normal(0, 1, (frames, 17, 2))
    return (offsets + wobble) * scale + np.asarray(shift)


@pytest.mark.parametrize("uv, size, expected", [
    (_person(), (640, 480), None),
    (_person(shift=(900, 500)), (100, 100), "lie outside the 100 x 100 image"),
    (_person(shift=(1500, 500)), (1080, 1920), "width and height look swapped"),  # swapped
    (_person(scale=1 / 600, shift=(0.5, 0.5)), (1000, 1000), "normalised"),
])
def test_keypoints_that_do_not_fit_the_image_are_warned_about(uv, size, expected):
    from skelgnn.infer.plausibility import keypoints_image_warnings

    messages = keypoints_image_warnings(uv, size)
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1 and expected in messages[0], messages


def test_lifter_warns_on_an_image_size_that_does_not_fit(ckpt, caplog):
    from skelgnn.infer.lifter import Lifter

    lifter = Lifter.from_checkpoint(ckpt, flip_test=False)
    with caplog.at_level("WARNING", logger="skelgnn"):
        lifter.predict(_person(), (640, 480))
    assert not caplog.records
    with caplog.at_level("WARNING", logger="skelgnn"):
        lifter.predict(_person(shift=(900, 500)), (100, 100))
    assert any("outside the 100 x 100 image" in r.getMessage() for r in caplog.records)


def test_coco_order_read_as_h36m_is_warned_about(caplog):
    from skelgnn.infer.gaps import prepare_keypoints

    h36m = _person()
    with caplog.at_level("WARNING", logger="skelgnn"):
        prepare_keypoints(h36m, "h36m17")
    assert not caplog.records
    # COCO order: nose, eyes, ears (a face), shoulders, elbows, wrists, hips, knees, ankles
    face = h36m[:, [10, 10, 10, 10, 10]] + np.array([[0, 0], [-4, -3], [4, -3], [-8, 0], [8, 0]])
    body = h36m[:, [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]]
    coco = np.concatenate([face, body], axis=1)
    with caplog.at_level("WARNING", logger="skelgnn"):
        prepare_keypoints(coco, "h36m17")
    assert any("look like COCO's face joints. Pass layout='coco17'" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="skelgnn"):
        prepare_keypoints(coco, "coco17")
    assert not caplog.records


def test_a_layout_that_does_not_fit_says_which_would():
    from skelgnn.infer.gaps import prepare_keypoints

    with pytest.raises(ValueError, match="33 per frame; pass their layout .*'blazepose33'"):
        prepare_keypoints(np.zeros((2, 33, 2)) + 5, "h36m17")


# --------------------------------------------------------------------------------------------
# 9. same seed, same weights
# --------------------------------------------------------------------------------------------

@pytest.mark.slow  # three tiny training runs: ~25 s on a loaded CPU
def test_same_seed_same_weights_on_cpu(mini_dir, tmp_path):
    """The train.py docstring's promise: a seed fixes the weights after N steps on one machine
    with ``train.threads=1`` (dropout, the sample order and the flips are all seeded). With 2
    threads two such runs differed (every tensor): CPU kernels split their sums across threads
    differently from run to run, so that is documented as not reproducible."""
    threads = 1
    from skelgnn.models.checkpoint import load_checkpoint
    from skelgnn.train.loop import train

    def run(name: str, seed: int) -> dict:
        cfg = load_config(None, [o for o in RESUME_TINY if not o.startswith("train.threads")]
                          + ["train.epochs=2", f"train.threads={threads}", f"train.seed={seed}",
                             "model.dropout=0.25"])
        train(cfg, tmp_path / name, progress=False, data_dir=mini_dir)
        return load_checkpoint(tmp_path / name / "last.pt")["model"]

    a, b, c = run("a", 3), run("b", 3), run("c", 4)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the seed does change them


# --------------------------------------------------------------------------------------------
# 10. a non-editable install finds the shipped weights
# --------------------------------------------------------------------------------------------

@pytest.mark.slow  # builds a wheel: ~20 s
def test_the_wheel_ships_the_default_checkpoints(tmp_path):
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")], check=True,
                   cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("skelgnn-*.whl")
    assert wheel.stat().st_size < 20 * 2**20  # the repository's size budget
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert {"skelgnn/checkpoints/skelgnn-27f-video.pt", "skelgnn/checkpoints/skelgnn-27f-cmu-det.pt",
            "skelgnn/checkpoints/skelgnn-1f-cmu-det.pt"} <= names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = subprocess.run(
        [sys.executable, "-c", "from skelgnn.infer.lifter import default_checkpoint as d; "
         "from skelgnn.models.checkpoint import load_checkpoint as l; p = d(); l(p); print(p)"],
        cwd=elsewhere, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True, text=True, check=True).stdout.strip()
    assert found == str(tmp_path / "site" / "skelgnn" / "checkpoints" / "skelgnn-27f-video.pt")
