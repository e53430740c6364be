"""Nothing lost, whatever the input: the output rule for every writing command, lock and log
files never followed through links, bounded readers (sizes checked before anything is
allocated), verified checkpoints, writers that apply the readers' checks, a full disk and Ctrl-C
as one ``error:`` line. Every test here is fast (well under two seconds) and runs by default."""
from __future__ import annotations

import argparse
import errno
import gzip
import io
import json
import logging
import os
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import interrupt_training_at_epoch, tiny_bvh, tiny_checkpoint
from skelgnn.cli import COMMANDS, build_parser, main
from skelgnn.fileio import (INFLATION_FREE_BYTES, WriteError, Writes, check_npz_members,
                            open_append_nofollow, open_lock_file, refuse_overwriting_inputs)

REPO = Path(__file__).resolve().parents[1]
MINI_TOML = str(REPO / "configs" / "mini.toml")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("hostile") / "tiny.pt")


def _one_line(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("WARNING", "INFO"))]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def _poses_npz(path: Path, poses=None, **extra) -> Path:
    poses = np.zeros((4, 17, 3)) if poses is None else poses
    np.savez(path, poses_3d=poses, **extra)
    return path


# --------------------------------------------------------------------------------------------
# The output rule: declared by every writing command, applied before any work
# --------------------------------------------------------------------------------------------

READ_ONLY_COMMANDS = {"data check"}
"""Commands that write nothing; every other command declares its outputs (``writes``)."""


def _leaf_parsers(parser: argparse.ArgumentParser):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for sub in subs:
        for child in dict.fromkeys(sub.choices.values()):
            yield from _leaf_parsers(child)


def test_every_writing_command_declares_its_outputs():
    """A new verb that writes must declare ``writes=`` (skelgnn.fileio.Writes) so that main
    applies the output rule to it; this fails when one is added without it."""
    declared = {p.get_default("command"): p.get_default("writes") for p in _leaf_parsers(build_parser())}
    assert set(declared) == set(COMMANDS)
    missing = sorted(c for c, w in declared.items() if w is None and c not in READ_ONLY_COMMANDS)
    assert not missing, f"writing commands without writes=: {missing}"
    assert set(COMMANDS) - READ_ONLY_COMMANDS == set(COLLISIONS) | {"models"}


def _file(path: Path, data: bytes = b"precious input\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _video_case(t: Path):
    clip = _file(t / "v" / "side_by_side.mp4")
    return ["video", str(clip), "--out", str(t / "v"), "--max-frames", "30", "--no-render"], clip


def _data_dir(t: Path) -> Path:
    d = t / "data"
    _file(d / "data_3d_cmu.npz")
    _file(d / "cameras.json")
    return d


COLLISIONS = {
    # `video` deleted its own input when it sat in --out under an output name
    "video": _video_case,
    # an output equal to a checkpoint, a model, a hops file, a camera table or inside the data
    "analyze cameras": lambda t: (["analyze", "cameras", "--checkpoint", str(_file(t / "m.pt")),
                                   "--json", str(t / "m.pt")], t / "m.pt"),
    "action train": lambda t: (["action", "train", "--source", "lifted", "--checkpoint",
                                str(_file(t / "m.pt")), "--out", str(t / "m.pt")], t / "m.pt"),
    "action evaluate": lambda t: (["action", "evaluate", str(_file(t / "a.pt")), "--json",
                                   str(t / "a.pt")], t / "a.pt"),
    "evaluate": lambda t: (["evaluate", "--checkpoint", str(_file(t / "m.pt")), "--data",
                            str(_data_dir(t)), "--json", str(t / "data" / "cameras.json")],
                           t / "data" / "cameras.json"),
    "analyze grading": lambda t: (["analyze", "grading", "--checkpoint", str(_file(t / "m.pt")),
                                   "--hops", str(_file(t / "hops.json")), "--json",
                                   str(t / "hops.json")], t / "hops.json"),
    "prepare bvh": lambda t: (["prepare", "bvh", "--bvh", str(_file(t / "bvh" / "a.bvh").parent),
                               "--cameras", str(_file(t / "out" / "cameras.json")), "--out",
                               str(t / "out"), "--force"], t / "out" / "cameras.json"),
    # the rest of the writing commands
    "prepare h36m": lambda t: (["prepare", "h36m", "--h36m", str(_file(t / "h36m" / "x").parent),
                                "--out", str(t / "h36m" / "out")], t / "h36m" / "x"),
    "infer": lambda t: (["infer", "--keypoints", str(_file(t / "k.npz")), "--out",
                         str(t / "k.npz")], t / "k.npz"),
    "export": lambda t: (["export", "--checkpoint", str(_file(t / "m.pt")), "--onnx",
                          str(t / "m.pt")], t / "m.pt"),
    "render": lambda t: (["render", "--poses", str(_file(t / "p.npz")), "--out", str(t / "p.npz")],
                         t / "p.npz"),
    "convert": lambda t: (["convert", str(_file(t / "p.npz")), str(t / "p.npz")], t / "p.npz"),
    "view": lambda t: (["view", str(_file(t / "v.html")), "--out", str(t / "v.html")], t / "v.html"),
    "bench": lambda t: (["bench", "--video", str(_file(t / "b" / "speed.json")), "--out",
                         str(t / "b")], t / "b" / "speed.json"),
    "train": lambda t: (["train", "--config", str(_file(t / "run" / "config.json")), "--run-dir",
                         str(t / "run")], t / "run" / "config.json"),
    "analyze hops": lambda t: (["analyze", "hops", "--data", str(_data_dir(t)), "--out",
                                str(t / "data")], t / "data" / "data_3d_cmu.npz"),
}


@pytest.mark.parametrize("command", sorted(COLLISIONS))
def test_an_output_that_is_or_sits_in_an_input_is_refused_before_any_work(command, tmp_path,
                                                                          capsys):
    argv, victim = COLLISIONS[command](tmp_path)
    before = victim.read_bytes()
    start = time.perf_counter()
    code = main(argv)
    _one_line(capsys, code, "refusing to write")
    assert time.perf_counter() - start < 2.0  # refused up front, nothing read or computed
    assert victim.read_bytes() == before


def test_video_refuses_a_clip_in_its_out_dir_under_an_output_name_and_keeps_it(tmp_path, capsys):
    """The library refuses it too: ``process_video`` deleted the older outputs of
    ``out_dir`` before checking that the clip was not one of them."""
    from skelgnn.video.pipeline import process_video

    argv, clip = _video_case(tmp_path)
    with pytest.raises(ValueError, match="refusing to write"):
        process_video(clip, clip.parent, lifter=None, detector=lambda f: None)  # type: ignore[arg-type]
    assert clip.read_bytes() == b"precious input\n"


def test_output_through_a_link_or_inside_an_input_directory_is_refused(tmp_path):
    src = _file(tmp_path / "in.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(src)
    data = tmp_path / "data"
    data.mkdir()
    dlink = tmp_path / "dlink"
    dlink.symlink_to(data)
    for out, inputs in ((link, [src]), (data / "x.json", [data]), (dlink / "x.json", [data]),
                        (data / "sub" / "x.json", [dlink])):
        with pytest.raises(ValueError, match="refusing to write"):
            refuse_overwriting_inputs([out], inputs)
    refuse_overwriting_inputs([tmp_path / "other.json"], [src, data])  # a sibling is fine
    Writes([tmp_path / "x.npz", None], [None]).check()


@settings(max_examples=40, deadline=None)
@given(out_parts=st.lists(st.sampled_from(["a", "b", "..", "."]), min_size=1, max_size=4),
       in_parts=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=3),
       in_is_dir=st.booleans())
def test_output_rule_property(out_parts, in_parts, in_is_dir):
    """Whatever the relative layout: refused exactly when the output resolves to the input or
    below it (an input directory); otherwise allowed."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "root"
        src = root.joinpath(*in_parts)
        if in_is_dir:
            src.mkdir(parents=True)
        else:
            _file(src)
        out = root.joinpath(*out_parts, "out.bin")
        resolved = out.resolve()
        collide = resolved == src.resolve() or (in_is_dir and src.resolve() in resolved.parents)
        try:
            refuse_overwriting_inputs([out], [src])
            refused = False
        except ValueError as exc:
            if "refusing" not in str(exc):  # unwritable for another reason (a file in the way)
                return
            refused = True
    assert refused == collide


# --------------------------------------------------------------------------------------------
# Lock file and train.log: never through a link, never truncated
# --------------------------------------------------------------------------------------------

def test_train_refuses_a_lock_file_link_and_leaves_its_target_alone(mini_dir, tmp_path, capsys):
    notes = _file(tmp_path / "notes.txt", b"important\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").symlink_to(notes)
    code = main(["train", "--config", MINI_TOML, "--data", str(mini_dir), "--run-dir", str(run),
                 "--set", "train.epochs=1", "--no-progress"])
    _one_line(capsys, code, "lock file", "symbolic link")
    assert notes.read_bytes() == b"important\n"


def test_train_refuses_a_dangling_log_link(mini_dir, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").symlink_to(tmp_path / "outside.log")
    code = main(["train", "--config", MINI_TOML, "--data", str(mini_dir), "--run-dir", str(run),
                 "--set", "train.epochs=1", "--no-progress"])
    _one_line(capsys, code, "train.log")
    assert not (tmp_path / "outside.log").exists()


def test_lock_file_is_created_exclusively_and_never_truncated(tmp_path):
    lock = tmp_path / ".lock"
    fd = open_lock_file(lock)
    os.close(fd)
    assert lock.read_text() == f"{os.getpid()}\n"
    lock.write_text("12345\n")  # left by a killed run
    os.close(open_lock_file(lock))
    assert lock.read_text() == "12345\n"
    with pytest.raises(ValueError, match="not a regular file"):
        open_lock_file(tmp_path)  # a directory
    with pytest.raises(ValueError, match="symbolic link"):
        (tmp_path / "log").symlink_to(tmp_path / "elsewhere")
        open_append_nofollow(tmp_path / "log")
    assert not (tmp_path / "elsewhere").exists()


# --------------------------------------------------------------------------------------------
# Full disk: one line, nothing partial
# --------------------------------------------------------------------------------------------

def test_an_unfinished_mp4_is_refused_and_removed(tmp_path, monkeypatch, capsys):
    """ffmpeg cut by a full disk leaves an mp4 without its moov index; render exited 0."""
    import imageio.v2 as iio2

    class CutWriter:
        def __init__(self, path, **kw):
            self.path = path

        def append_data(self, img):
            pass

        def close(self):
            with open(self.path, "wb") as fh:  # ftyp, then an mdat cut short, no moov
                fh.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x01\x00\x00mdat")

    monkeypatch.setattr(iio2, "get_writer", lambda path, **kw: CutWriter(path))
    poses = _poses_npz(tmp_path / "p.npz")
    code = main(["render", "--poses", str(poses), "--out", str(tmp_path / "a.mp4"), "--size", "64", "64"])
    _one_line(capsys, code, "cannot write", "a.mp4", "incomplete")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]


def test_check_mp4_complete_accepts_a_whole_mp4_and_refuses_a_cut_one(tmp_path):
    from skelgnn.video.render import check_mp4_complete, write_video

    out = tmp_path / "ok.mp4"
    write_video(out, (np.full((32, 32, 3), i * 20, np.uint8) for i in range(5)), 10.0)
    check_mp4_complete(out)
    data = out.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="incomplete"):
        check_mp4_complete(cut)


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_checkpoint_write_on_a_full_disk_is_one_line_and_keeps_last(ckpt, tmp_path, monkeypatch):
    from skelgnn.models.checkpoint import load_checkpoint, save_rotating

    last = tmp_path / "last.pt"
    last.write_bytes(ckpt.read_bytes())
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(WriteError, match="cannot write checkpoint .*last.pt: No space left") as info:
        save_rotating(load_checkpoint(ckpt), last)
    assert "\n" not in str(info.value)
    assert last.read_bytes() == ckpt.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_npz_write_on_a_full_disk_leaves_no_zipfile_traceback(tmp_path, monkeypatch, capfd):
    import gc

    from skelgnn.infer.lifter import save_npz_atomic

    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(WriteError, match="No space left"):
        save_npz_atomic(tmp_path / "out.npz", {"a": np.zeros(1000)})
    gc.collect()
    assert "Exception ignored" not in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Bounded readers: sizes checked before allocating
# --------------------------------------------------------------------------------------------

def _deflated_zeros_npz(path: Path, key: str, shape) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(f"{key}.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": shape})
        chunk = bytes(1 << 20)
        for _ in range(int(np.prod(shape)) * 8 >> 20):
            f.write(chunk)
    return path


@pytest.fixture(scope="module")
def zero_bomb(tmp_path_factory) -> Path:
    """40 MB of deflated zeros in 40 KB (a keypoints npz whose header is honest)."""
    return _deflated_zeros_npz(tmp_path_factory.mktemp("bomb") / "k.npz", "keypoints", (100_000, 17, 3))


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    except ValueError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def test_a_deflated_zero_keypoints_npz_is_refused_before_inflating(zero_bomb):
    from skelgnn.infer.keypoints import read_keypoints

    assert zero_bomb.stat().st_size < 200_000
    with pytest.raises(ValueError, match="compression bomb"):
        read_keypoints(zero_bomb)
    assert _peak_mb(lambda: read_keypoints(zero_bomb)) < 5


def test_a_deflated_pickle_is_refused_before_unpickling(tmp_path):
    from skelgnn.data.npz import load_npz_object

    payload = io.BytesIO()
    np.save(payload, np.array({"S1": np.zeros(5_000_000)}, dtype=object), allow_pickle=True)
    path = tmp_path / "data_3d_x.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("positions_3d.npy", payload.getvalue())
    assert path.stat().st_size < 200_000
    with pytest.raises(ValueError, match="compression bomb"):
        load_npz_object(path, "positions_3d")
    assert _peak_mb(lambda: load_npz_object(path, "positions_3d")) < 5


def test_npz_members_within_the_free_size_or_ratio_read(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, small=np.zeros(INFLATION_FREE_BYTES // 16), real=np.random.rand(1000, 17, 3))
    check_npz_members(path)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=3),
       dtype=st.sampled_from(["<f8", "<f4", "<i8", "|b1", "<c16"]),
       body=st.integers(0, 4096), compress=st.booleans())
def test_npz_header_property(shape, dtype, body, compress):
    """Any declared shape over any stored body: ``check_npz_members`` passes only when the
    declared bytes are held and within the bounds, and never allocates them (under a second)."""
    import tempfile

    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False,
                                                  "shape": tuple(shape)})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.npz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
            zf.writestr("keypoints.npy", member.getvalue() + bytes(body))
        declared = int(np.prod(shape)) * np.dtype(dtype).itemsize
        start = time.perf_counter()
        try:
            check_npz_members(path)
            ok = True
        except ValueError:
            ok = False
        assert time.perf_counter() - start < 1.0
    assert ok == (declared <= body)  # every body here is far below the inflation bounds


def test_coco_json_bounds_joints_span_and_size(tmp_path):
    from skelgnn.infer import keypoints as kp_mod

    many = tmp_path / "joints.json"
    kp = [0.0] * (3 * 9375)
    many.write_text(json.dumps([{"image_id": 0, "keypoints": kp, "score": 1},
                                {"image_id": 10_000, "keypoints": kp, "score": 1}]))
    with pytest.raises(ValueError, match="9375 joints per person, over the bound"):
        kp_mod.read_keypoints(many)
    sparse = tmp_path / "sparse.json"
    with open(sparse, "wb") as fh:
        fh.truncate(kp_mod.MAX_JSON_BYTES + 1)  # sparse: costs nothing on disk
    start = time.perf_counter()
    with pytest.raises(ValueError, match="over the .* a keypoints JSON file may have"):
        kp_mod.read_keypoints(sparse)
    assert time.perf_counter() - start < 0.5


def _bvh(tmp_path: Path, text: str, name: str = "x.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, match", [
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 0\n}\nMOTION\nFrames: 100000000\n"
     "Frame Time: 0.01\n", "no joint has CHANNELS"),
    (tiny_bvh("0 " * 12).replace("Frames: 1", "Frames: 100000000"), "over the bound|truncated"),
    (tiny_bvh("0 " * 12).replace("Frames: 1", "Frames: 90000"), "truncated or its frame count"),
    (tiny_bvh("0 " * 12, frame_time=1e-300), "Frame Time must be between"),
    (tiny_bvh("0 " * 12).replace("OFFSET 0 0 0", "OFFSET 0 1e300 0", 1), "OFFSET values"),
    (tiny_bvh("1e300 " + "0 " * 11), "over the bound"),
])
def test_hostile_bvh_headers_are_refused_fast(tmp_path, text, match):
    from skelgnn.prepare.bvh_reader import read_bvh

    path = _bvh(tmp_path, text)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        read_bvh(path)
    assert time.perf_counter() - start < 1.0


def test_a_bvh_gz_inflating_past_the_bound_is_refused(tmp_path, monkeypatch):
    from skelgnn.prepare import bvh_reader

    monkeypatch.setattr(bvh_reader, "MAX_BVH_BYTES", 1 << 20)
    path = tmp_path / "x.bvh.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b" " * (3 << 20))
    with pytest.raises(ValueError, match="bytes of BVH text"):
        bvh_reader.read_bvh(path)
    assert _peak_mb(lambda: bvh_reader.read_bvh(path)) < 8


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(0, 10 ** 12), frame_time=st.sampled_from(
    ["0.01", "1e-300", "1e300", "nan", "inf", "-1", "0"]), channels=st.integers(0, 6))
def test_bvh_header_property(frames, frame_time, channels):
    """Any Frames / Frame Time / channel count: parsed, or one ValueError, within a second."""
    import tempfile

    from skelgnn.prepare.bvh_reader import read_bvh

    names = " ".join(["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"][:channels])
    text = (f"HIERARCHY\nROOT Hips\n{{\n OFFSET 0 0 0\n CHANNELS {channels} {names}\n}}\n"
            f"MOTION\nFrames: {frames}\nFrame Time: {frame_time}\n" + ("0 " * channels + "\n") * 2)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.bvh"
        path.write_text(text)
        start = time.perf_counter()
        try:
            read_bvh(path)
        except ValueError:
            pass
        assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------------
# Checkpoints: bounded configs, verified contents
# --------------------------------------------------------------------------------------------

def _edited(ckpt: Path, dst: Path, model_config=None, weights=None) -> Path:
    from skelgnn.models.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(ckpt)
    state["model_config"] = {**state["model_config"], **(model_config or {})}
    state["model"] = {**state["model"], **(weights or {})}
    return save_checkpoint(state, dst)


@pytest.mark.parametrize("change, match", [
    (dict(model_config=dict(max_hop=5_000_000)), "max_hop=5000000 exceeds the bound 32"),
    (dict(model_config=dict(num_joints=1024, parents=[-1, *range(1023)])), "num_joints=1024 exceeds"),
    (dict(weights={"extra": torch.zeros(1).expand(1_500_000_000)}), "stride-0 or overlapping view"),
])
def test_tiny_checkpoints_asking_for_minutes_or_gigabytes_are_refused_fast(ckpt, tmp_path, change, match):
    from skelgnn.models.checkpoint import load_model

    bad = _edited(ckpt, tmp_path / "bad.pt", **change)
    assert bad.stat().st_size < 2_000_000
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        load_model(bad)
    assert time.perf_counter() - start < 2.0


def test_a_flipped_bit_in_a_weight_fails_the_crc(ckpt, tmp_path):
    from skelgnn.models.checkpoint import load_model

    data = bytearray(ckpt.read_bytes())
    with zipfile.ZipFile(ckpt) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", bytes(data[info.header_offset + 26:info.header_offset + 30]))
    offset = info.header_offset + 30 + name_len + extra_len + 8  # the local header's own extra
    data[offset + 3] ^= 0x40  # one exponent bit of one float32
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="fails its CRC-32 check"):
        load_model(bad)


def test_integer_and_implausible_weights_are_refused(ckpt, tmp_path):
    from skelgnn.models.checkpoint import load_checkpoint, load_model

    weights = load_checkpoint(ckpt)["model"]
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 10)
    as_int = _edited(ckpt, tmp_path / "int.pt", weights={name: weights[name].round().long()})
    with pytest.raises(ValueError, match=f"weight {name} is stored as torch.int64"):
        load_model(as_int)
    huge = weights[name].clone()
    huge.view(-1)[0] = 1e30
    big = _edited(ckpt, tmp_path / "big.pt", weights={name: huge})
    with pytest.raises(ValueError, match="over the plausible bound"):
        load_model(big)


# --------------------------------------------------------------------------------------------
# Writers apply the readers' checks
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("poses, extra, match", [
    (np.zeros((100, 17, 3), bool), {}, "must hold real numbers, found dtype bool"),
    (np.zeros((100, 17, 3), complex), {}, "must hold real numbers, found dtype complex128"),
    (np.full((10, 17, 3), 1e29), {}, "over the bound of 10000 m"),
    (np.zeros((10, 17, 3)), {"fps": np.array(1e300)}, "fps must be between"),
])
def test_convert_refuses_what_no_reader_would_accept(tmp_path, capsys, poses, extra, match):
    src = _poses_npz(tmp_path / "p.npz", poses, **extra)
    for suffix in (".bvh", ".json"):
        _one_line(capsys, main(["convert", str(src), str(tmp_path / f"out{suffix}")]))
    code = main(["convert", str(src), str(tmp_path / "out.csv")])
    err = _one_line(capsys, code)
    assert pytest.importorskip("re").search(match, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]


def test_bvh_frame_time_is_written_so_that_our_reader_reads_it_back(tmp_path):
    from skelgnn.motion.animation import FPS_RANGE, write_bvh
    from skelgnn.prepare.bvh_reader import read_bvh

    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.3, (3, 17, 3)) + np.array([0, 1, 0])
    for fps in (FPS_RANGE[0], 29.97, 120.0, FPS_RANGE[1]):
        write_bvh(poses, tmp_path / "m.bvh", fps)
        assert abs(read_bvh(tmp_path / "m.bvh").frame_time * fps - 1) < 1e-6


def test_prepare_bvh_refuses_an_offset_that_would_write_inf(tmp_path, capsys):
    bvh = tmp_path / "bvh"
    bvh.mkdir()
    _bvh(bvh, tiny_bvh("0 " * 12).replace("OFFSET 0 0 0", "OFFSET 0 1e300 0", 1), "01_01.bvh")
    code = main(["prepare", "bvh", "--bvh", str(bvh), "--out", str(tmp_path / "out"), "--no-progress"])
    _one_line(capsys, code, "OFFSET")
    assert not (tmp_path / "out" / "data_3d_cmu.npz").exists()


# --------------------------------------------------------------------------------------------
# One error: line everywhere
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("override, words", [
    ("model.channels=1000000", ["channels=1000000 exceeds the bound 4096"]),
    ("model.max_hop=100000", ["max_hop=100000 exceeds the bound 32"]),
    ("model.blocks=1000", ["blocks=1000 exceeds the bound 32"]),
    ("train.seed=1e30", ["train.seed must be an integer in [0, 2**63)"]),
])
def test_absurd_training_configs_are_one_line_up_front(tmp_path, capsys, override, words):
    start = time.perf_counter()
    code = main(["train", "--config", MINI_TOML, "--run-dir", str(tmp_path / "r"), "--set", override])
    _one_line(capsys, code, *words)
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content, words", [
    ("[" * 100_000 + "\n", ["not valid TOML"]),
    ("a = " + "[" * 100_000 + "\n", ["not valid TOML"]),
    (b'a = "\xff"\n', ["bad.toml", "not UTF-8"]),
])
def test_hostile_toml_names_its_file(tmp_path, capsys, content, words):
    path = tmp_path / "bad.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _one_line(capsys, main(["train", "--config", str(path), "--run-dir", str(tmp_path / "r")]),
              str(path), *words)


@pytest.mark.parametrize("argv, words", [
    (["bench", "--threads", "0", "--video", "none"], ["--threads must be between 1 and"]),
    (["render", "--size", "100000", "100000"], ["at most 8192 x 8192"]),
    (["render", "--azim", "inf"], ["azimuth must be a finite number"]),
    (["render", "--elev", "nan"], ["elevation must be a finite number"]),
])
def test_bad_options_are_one_line(tmp_path, capsys, argv, words):
    if argv[0] == "render":
        argv = argv + ["--poses", str(_poses_npz(tmp_path / "p.npz")), "--out", str(tmp_path / "a.png")]
    else:
        argv = argv + ["--out", str(tmp_path / "b")]
    _one_line(capsys, main(argv), *words)


def test_bench_on_a_text_file_named_mp4_is_one_line(tmp_path, capsys):
    clip = _file(tmp_path / "text.mp4", b"not a video at all\n" * 10)
    start = time.perf_counter()
    code = main(["bench", "--video", str(clip), "--out", str(tmp_path / "b"), "--preset", "skelgnn-1f"])
    _one_line(capsys, code, "cannot read as a video")
    assert time.perf_counter() - start < 5.0


def test_focal_and_scores_out_of_range(tmp_path):
    from skelgnn.motion.pipeline import build_motion
    from skelgnn.motion.trajectory import default_intrinsics

    with pytest.raises(ValueError, match="not a camera's focal length"):
        default_intrinsics((640, 480), 1e-300)
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (5, 17, 3))
    poses -= poses[:, :1]
    uv = rng.uniform(100, 400, (5, 17, 2))
    motion = build_motion(poses, uv, (640, 480), 30.0, np.full((5, 17), 1e300))
    assert np.isfinite(motion.poses_world).all() and np.isfinite(motion.trajectory).all()


def test_huge_video_frames_are_refused_before_decoding(tmp_path, monkeypatch):
    from skelgnn.video import pipeline
    from skelgnn.video.render import write_video

    clip = tmp_path / "c.mp4"
    write_video(clip, (np.zeros((64, 96, 3), np.uint8) for _ in range(3)), 10.0)
    monkeypatch.setattr(pipeline, "MAX_VIDEO_SIDE", 80)
    with pytest.raises(ValueError, match="frames of 96 x 64 pixels, over the bound"):
        pipeline.read_video_info(clip)


def test_a_truncated_video_warns(tmp_path, caplog):
    from skelgnn.video.pipeline import VideoInfo, warn_if_truncated

    info = VideoInfo(fps=25.0, size=(64, 64), duration=4.0)  # 100 frames declared
    with caplog.at_level(logging.WARNING, logger="skelgnn.video.pipeline"):
        assert warn_if_truncated("cut.mp4", 57, info)
        assert not warn_if_truncated("whole.mp4", 100, info)
        assert not warn_if_truncated("first30.mp4", 30, info, max_frames=30)
    assert "decoded 57 of the 100 frames" in caplog.text and "truncated" in caplog.text
    assert caplog.text.count("truncated") == 1


def test_ctrl_c_during_train_is_one_line_with_the_resume_command(mini_dir, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    interrupt_training_at_epoch(monkeypatch, 1, KeyboardInterrupt)
    code = main(["train", "--config", MINI_TOML, "--data", str(mini_dir), "--run-dir", str(run),
                 "--set", "train.epochs=1", "--set", "train.max_samples=64", "--no-progress"])
    assert code == 130
    _one_line(capsys, code, "interrupted; resume with `skelgnn train --resume --run-dir", str(run))


def test_a_run_stopped_before_its_first_checkpoint_can_be_restarted(mini_dir, tmp_path, monkeypatch, capsys,
                                                                    caplog):
    run = tmp_path / "run"
    args = ["train", "--config", MINI_TOML, "--data", str(mini_dir), "--run-dir", str(run),
            "--set", "train.epochs=1", "--set", "train.max_samples=64", "--set", "model.channels=16",
            "--no-progress"]
    interrupt_training_at_epoch(monkeypatch, 1, KeyboardInterrupt)
    assert main(args) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert (run / "config.json").exists() and not (run / "last.pt").exists()
    _one_line(capsys, main(args), "pass --resume to start it again")
    with caplog.at_level(logging.WARNING, logger="skelgnn.train.loop"):
        assert main(args + ["--resume"]) == 0
    assert (run / "last.pt").exists()
    assert "starting it again from epoch 0" in caplog.text


def test_unwritable_out_is_found_before_the_work(tmp_path, capsys):
    """``analyze hops`` / ``action train`` did all their work before finding --out unwritable."""
    blocker = _file(tmp_path / "file")
    for argv in (["analyze", "hops", "--out", str(blocker / "sub")],
                 ["action", "train", "--out", str(blocker / "m.pt")]):
        start = time.perf_counter()
        _one_line(capsys, main(argv), "cannot write")
        assert time.perf_counter() - start < 2.0

